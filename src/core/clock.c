/* clock.c - wall/monotonic time, RFC 3339 and the New York calendar.
 *
 * Calendar arithmetic uses Howard Hinnant's days_from_civil/civil_from_days
 * (proleptic Gregorian, exact for all int64 day counts we can reach), so the
 * hot path needs neither tzdata nor locale. */
#include "config.h"

#include "core/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

#define SECS_PER_DAY 86400LL

int64_t clock_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_SEC + ts.tv_nsec;
}

int64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_SEC + ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);                        /* [0, 399] */
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y_out, unsigned *m_out, unsigned *d_out)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*y_out = (int64_t)yoe + era * 400 + (m <= 2);
	*m_out = m;
	*d_out = d;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Two ASCII digits at s; -1 if either is not a digit. */
static inline int d2(const char *s)
{
	unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0';
	return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

int clock_parse_rfc3339(const char *s, size_t n, int64_t *ns_out)
{
	/* date-time = YYYY-MM-DD "T" hh:mm:ss [.f{1,9}] ("Z" / ("+"/"-") hh:mm);
	 * "T" and "Z" are case-insensitive per RFC 3339 section 5.6. */
	if (!s || n < 20)
		return -EINVAL;
	int yh = d2(s), yl = d2(s + 2), mo = d2(s + 5), d = d2(s + 8);
	int hh = d2(s + 11), mi = d2(s + 14), ss = d2(s + 17);
	int y = yh < 0 || yl < 0 ? -1 : yh * 100 + yl;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || hh < 0 || hh > 23 || mi < 0 || mi > 59 ||
	    ss < 0 || ss > 59) /* leap second 60 cannot be represented: rejected */
		return -EINVAL;
	if ((unsigned)d > days_in_month(y, (unsigned)mo))
		return -EINVAL;

	size_t i = 19;
	int64_t frac = 0;
	if (i < n && s[i] == '.') {
		size_t start = ++i, lim = n - i < 9 ? n : i + 9;
		for (unsigned c; i < lim && (c = (unsigned char)s[i] - '0') <= 9; i++)
			frac = frac * 10 + c;
		size_t nd = i - start;
		if (nd == 0)
			return -EINVAL;
		if (i < n && (unsigned)((unsigned char)s[i] - '0') <= 9)
			return -EINVAL; /* more than 9 fractional digits */
		static const int64_t scale[10] = {1,      100000000, 10000000, 1000000, 100000,
						  10000,  1000,      100,      10,      1};
		frac *= scale[nd];
	}

	int64_t off = 0;
	if (i >= n)
		return -EINVAL;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (n - i < 6 || s[i + 3] != ':')
			return -EINVAL;
		int oh = d2(s + i + 1), om = d2(s + i + 4);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		off = (int64_t)oh * 3600 + om * 60;
		if (s[i] == '-')
			off = -off;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != n)
		return -EINVAL;

	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * SECS_PER_DAY +
		       (int64_t)hh * 3600 + mi * 60 + ss - off;
	/* Years 0000-9999 keep secs far from overflow; only the ns scaling can.
	 * Borrow a second first so INT64_MIN itself is reachable. */
	if (secs < 0 && frac > 0) {
		secs++;
		frac -= CLOCK_NS_PER_SEC;
	}
	int64_t ns;
	if (__builtin_mul_overflow(secs, CLOCK_NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return -ERANGE;
	if (ns_out)
		*ns_out = ns;
	return 0;
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

int clock_format_rfc3339(int64_t ns, int frac_digits, char *buf, size_t cap)
{
	if (frac_digits < CLOCK_FRAC_AUTO || frac_digits > 9)
		return -EINVAL;
	int64_t secs = floor_div(ns, CLOCK_NS_PER_SEC);
	int64_t sub = ns % CLOCK_NS_PER_SEC; /* not ns - secs*1e9: overflows at INT64_MIN */
	if (sub < 0)
		sub += CLOCK_NS_PER_SEC;
	int64_t days = floor_div(secs, SECS_PER_DAY);
	int64_t sod = secs - days * SECS_PER_DAY;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d); /* int64 ns spans years 1677..2262 */

	int nd = frac_digits;
	if (nd == CLOCK_FRAC_AUTO)
		nd = sub == 0 ? 0 : sub % 1000000 == 0 ? 3 : sub % 1000 == 0 ? 6 : 9;
	size_t len = 20 + (nd ? (size_t)nd + 1 : 0);
	if (!buf || cap < len + 1)
		return -ENOSPC;

	char *p = buf;
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p[4] = '-';
	put2(p + 5, m);
	p[7] = '-';
	put2(p + 8, d);
	p[10] = 'T';
	put2(p + 11, (unsigned)(sod / 3600));
	p[13] = ':';
	put2(p + 14, (unsigned)(sod / 60 % 60));
	p[16] = ':';
	put2(p + 17, (unsigned)(sod % 60));
	p += 19;
	if (nd) {
		/* Truncates (never rounds) so a formatted time never moves forward. */
		*p++ = '.';
		int64_t f = sub;
		for (int k = nd; k < 9; k++)
			f /= 10;
		for (int k = nd - 1; k >= 0; k--) {
			p[k] = (char)('0' + f % 10);
			f /= 10;
		}
		p += nd;
	}
	*p++ = 'Z';
	*p = '\0';
	return (int)len;
}

/* 0 = Sunday. 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	int64_t w = (days + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

/* Days since the epoch of the first Sunday on or after y-m-d. */
static int64_t sunday_on_or_after(int64_t y, unsigned m, unsigned d)
{
	int64_t days = days_from_civil(y, m, d);
	return days + (7 - weekday(days)) % 7;
}

/* The New York UTC offset at an instant, by the US rules in force since
 * 2007 (Energy Policy Act of 2005): EDT from the second Sunday of March
 * 02:00 EST (07:00 UTC) to the first Sunday of November 02:00 EDT (06:00
 * UTC). Earlier years get the same rule; no Alpaca data predates 2015. */
static int32_t ny_offset(int64_t secs)
{
	int64_t days = floor_div(secs, SECS_PER_DAY);
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (m < 3 || m > 11)
		return -18000;
	if (m > 3 && m < 11)
		return -14400;
	int64_t start = sunday_on_or_after(y, 3, 8) * SECS_PER_DAY + 7 * 3600;
	int64_t end = sunday_on_or_after(y, 11, 1) * SECS_PER_DAY + 6 * 3600;
	return secs >= start && secs < end ? -14400 : -18000;
}

void clock_ny(int64_t ns, struct clock_ny *out)
{
	int64_t secs = floor_div(ns, CLOCK_NS_PER_SEC);
	int32_t off = ny_offset(secs);
	int64_t local = secs + off;
	int64_t days = floor_div(local, SECS_PER_DAY);
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	out->date = (int32_t)(y * 10000 + m * 100 + d);
	out->sec_of_day = (int32_t)(local - days * SECS_PER_DAY);
	out->utc_offset = off;
}

enum clock_session clock_ny_session(int64_t ns)
{
	/* Time of day only, as wire.md defines marketSession: weekends and
	 * exchange holidays are not special-cased. */
	struct clock_ny ny;
	clock_ny(ns, &ny);
	int32_t s = ny.sec_of_day;
	if (s < 4 * 3600)
		return CLOCK_SESSION_OVERNIGHT;
	if (s < 9 * 3600 + 30 * 60)
		return CLOCK_SESSION_PRE;
	if (s < 16 * 3600)
		return CLOCK_SESSION_REGULAR;
	if (s < 20 * 3600)
		return CLOCK_SESSION_POST;
	return CLOCK_SESSION_OVERNIGHT;
}

const char *clock_session_name(enum clock_session s)
{
	switch (s) {
	case CLOCK_SESSION_OVERNIGHT: return "overnight";
	case CLOCK_SESSION_PRE: return "pre";
	case CLOCK_SESSION_REGULAR: return "regular";
	case CLOCK_SESSION_POST: return "post";
	}
	return "unknown"; /* never NULL: callers print it */
}
