/* clock.h - wall and monotonic time, RFC 3339, and the New York market calendar.
 *
 * Event times are int64 nanoseconds since the Unix epoch (UTC). The New York
 * calendar (America/New_York, US DST rules since 2007) is computed
 * arithmetically so the hot path never touches tzdata files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CLOCK_NS_PER_SEC 1000000000LL
#define CLOCK_RFC3339_MAX 40 /* buffer size that always fits a formatted time + NUL */
#define CLOCK_FRAC_AUTO (-1) /* 0, 3, 6 or 9 fractional digits, the fewest that are exact */

int64_t clock_real_ns(void); /* CLOCK_REALTIME */
int64_t clock_mono_ns(void); /* CLOCK_MONOTONIC */

/* Parses an RFC 3339 timestamp with 0-9 fractional digits and `Z` or a
 * `+hh:mm`/`-hh:mm` offset into UTC nanoseconds. Returns 0 or -EINVAL (syntax,
 * out-of-range field) or -ERANGE (outside int64 nanoseconds). */
int clock_parse_rfc3339(const char *s, size_t n, int64_t *ns_out);

/* Formats UTC nanoseconds as "YYYY-MM-DDTHH:MM:SS[.f...]Z" with frac_digits
 * (0-9) fractional digits or CLOCK_FRAC_AUTO. Writes a NUL; returns the length
 * (without NUL) or -ENOSPC if cap is too small. */
int clock_format_rfc3339(int64_t ns, int frac_digits, char *buf, size_t cap);

enum clock_session {
	CLOCK_SESSION_OVERNIGHT = 0, /* < 04:00 or >= 20:00 New York time */
	CLOCK_SESSION_PRE,           /* 04:00 - 09:30 */
	CLOCK_SESSION_REGULAR,       /* 09:30 - 16:00 */
	CLOCK_SESSION_POST           /* 16:00 - 20:00 */
};

/* New York local facts of an instant. */
struct clock_ny {
	int32_t date;       /* local calendar date as yyyymmdd (the trading date) */
	int32_t sec_of_day; /* local seconds since midnight, 0..86399 */
	int32_t utc_offset; /* seconds east of UTC: -14400 (EDT) or -18000 (EST) */
};

void clock_ny(int64_t ns, struct clock_ny *out);
enum clock_session clock_ny_session(int64_t ns);
const char *clock_session_name(enum clock_session s); /* "overnight", "pre", "regular", "post" */
