/* envelope.c - the JSON ingest envelope writer (see envelope.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/clock.h"
#include "sink/envelope.h"

/* A bounded output cursor; the first error sticks, so writers need no checks. */
struct jw {
	char *p, *end, *start;
	int err;
};

static void jw_init(struct jw *w, char *buf, size_t cap)
{
	w->start = w->p = buf;
	w->end = buf ? buf + cap : buf;
	w->err = 0;
}

static void put(struct jw *w, const void *src, size_t n)
{
	if (w->err || n == 0)
		return;
	if ((size_t)(w->end - w->p) < n) {
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->p, src, n);
	w->p += n;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_i64(struct jw *w, int64_t v)
{
	char b[24], *q = b + sizeof(b);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	put(w, q, (size_t)(b + sizeof(b) - q));
}

/* The UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <=
 * U+10FFFF): returns its length if valid, else 0 and sets *bad to the length
 * of its maximal ill-formed prefix, replaced by one U+FFFD (Unicode's
 * recommended practice, as browsers do). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	*bad = 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/* True if no byte of x is a control byte, '"', '\\' or non-ASCII (a word
 * of the common case: copied as is). Each test may report a byte that is
 * not there only above one that is, so a clean word is never misjudged. */
static inline bool plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	uint64_t hits = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
	return !(hits & highs);
}

/* A JSON string literal: runs of safe bytes are copied in one go. */
static void put_jstrn(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	PUT_LIT(w, "\"");
	/* the common case, eight bytes at a time: nothing to escape */
	for (uint64_t x; i + 8 <= n && (memcpy(&x, s + i, 8), plain8(x));)
		i += 8;
	while (i < n) {
		unsigned char c = s[i];
		char esc[6];
		size_t elen = 0, skip = 1;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_seq(s + i, n - i, &skip);
			if (len) {
				i += len;
				continue;
			}
		}
		put(w, s + run, i - run);
		switch (c) {
		case '"': memcpy(esc, "\\\"", elen = 2); break;
		case '\\': memcpy(esc, "\\\\", elen = 2); break;
		case '\b': memcpy(esc, "\\b", elen = 2); break;
		case '\f': memcpy(esc, "\\f", elen = 2); break;
		case '\n': memcpy(esc, "\\n", elen = 2); break;
		case '\r': memcpy(esc, "\\r", elen = 2); break;
		case '\t': memcpy(esc, "\\t", elen = 2); break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				elen = 6;
			} else {
				/* ill-formed UTF-8: replace it, keep the rest */
				memcpy(esc, "\\ufffd", elen = 6);
			}
			break;
		}
		put(w, esc, elen);
		i += skip;
		run = i;
	}
	put(w, s + run, n - run);
	PUT_LIT(w, "\"");
}

static void put_jstr(struct jw *w, const char *s)
{
	if (s)
		put_jstrn(w, s, strlen(s));
	else
		PUT_LIT(w, "null");
}

static void put_ts(struct jw *w, int64_t ns)
{
	char t[CLOCK_RFC3339_MAX];
	int n = clock_format_rfc3339(ns, CLOCK_FRAC_AUTO, t, sizeof(t));

	if (n < 0) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	PUT_LIT(w, "\"");
	put(w, t, (size_t)n); /* digits, '-', ':', 'T', '.', 'Z': nothing to escape */
	PUT_LIT(w, "\"");
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* put_ts, the date from the cache when ns is on its day: the time of day
 * written as clock_format_rfc3339 writes it with CLOCK_FRAC_AUTO. */
static void put_ts_cached(struct jw *w, int64_t ns, struct envelope_cache *c)
{
	int64_t secs = floor_div(ns, CLOCK_NS_PER_SEC);
	int64_t sub = ns % CLOCK_NS_PER_SEC; /* not ns - secs*1e9: overflows at INT64_MIN */
	if (sub < 0)
		sub += CLOCK_NS_PER_SEC;
	int64_t day = floor_div(secs, 86400);
	if (!c || !c->have_day || c->day != day) {
		put_ts(w, ns);
		if (c && !w->err) {
			/* the date just written: after the opening quote */
			memcpy(c->date, w->p - (sub == 0 ? 21 : sub % 1000000 == 0 ? 25 : sub % 1000 == 0 ? 28 : 31), 11);
			c->day = day;
			c->have_day = true;
		}
		return;
	}
	char t[CLOCK_RFC3339_MAX + 2];
	unsigned sod = (unsigned)(secs - day * 86400);
	size_t n = 0;
	t[n++] = '"';
	memcpy(t + n, c->date, 11);
	n += 11;
	put2(t + n, sod / 3600);
	t[n + 2] = ':';
	put2(t + n + 3, sod / 60 % 60);
	t[n + 5] = ':';
	put2(t + n + 6, sod % 60);
	n += 8;
	if (sub) {
		int nd = sub % 1000000 == 0 ? 3 : sub % 1000 == 0 ? 6 : 9;
		int64_t f = nd == 3 ? sub / 1000000 : nd == 6 ? sub / 1000 : sub;
		t[n++] = '.';
		for (int k = nd - 1; k >= 0; k--) {
			t[n + (size_t)k] = (char)('0' + f % 10);
			f /= 10;
		}
		n += (size_t)nd;
	}
	t[n++] = 'Z';
	t[n++] = '"';
	put(w, t, n);
}

static void put_opt_ts(struct jw *w, bool has, int64_t ns)
{
	if (has)
		put_ts(w, ns);
	else
		PUT_LIT(w, "null");
}

static void put_opt_i64(struct jw *w, bool has, int64_t v)
{
	if (has)
		put_i64(w, v);
	else
		PUT_LIT(w, "null");
}

/* NUL-terminates (not counted) and returns the length or the first error. */
static int jw_done(struct jw *w)
{
	size_t n;

	put(w, "", 1);
	if (w->err)
		return w->err;
	n = (size_t)(w->p - w->start) - 1;
	return n > INT_MAX ? -ERANGE : (int)n;
}

const char *envelope_channel(enum event_kind k)
{
	if (k == EVENT_TRADING_STATUS)
		return "status";
	return event_channel(k);
}

const char *envelope_delay_class(const char *feed)
{
	if (!feed)
		return NULL;
	if (strcmp(feed, "iex") == 0)
		return "real_time_exchange_only";
	if (strcmp(feed, "sip") == 0)
		return "real_time_consolidated";
	if (strcmp(feed, "delayed_sip") == 0)
		return "delayed_15m_consolidated";
	return NULL;
}

const char *envelope_conn_state_name(enum envelope_conn_state s)
{
	static const char *const names[ENVELOPE_CONN_COUNT] = {
		[ENVELOPE_CONN_CONNECTING] = "connecting",
		[ENVELOPE_CONN_AUTHENTICATED] = "authenticated",
		[ENVELOPE_CONN_SUBSCRIBED] = "subscribed",
		[ENVELOPE_CONN_DISCONNECTED] = "disconnected",
		[ENVELOPE_CONN_ERROR] = "error",
		[ENVELOPE_CONN_GAP] = "gap",
		[ENVELOPE_CONN_CHECKPOINT] = "checkpoint",
	};

	if ((unsigned)s >= ENVELOPE_CONN_COUNT)
		return NULL;
	return names[s];
}

/* ingestTs .. seq; the caller continues with ,"payload": */
static void put_head(struct jw *w, int64_t ingest_ns, bool has_event_ts, int64_t event_ns,
		     const char *feed, const char *channel, const char *symbol, size_t symbol_len,
		     int64_t seq, struct envelope_cache *c)
{
	PUT_LIT(w, "{\"ingestTs\":");
	put_ts_cached(w, ingest_ns, c);
	PUT_LIT(w, ",\"eventTs\":");
	if (has_event_ts)
		put_ts_cached(w, event_ns, c);
	else
		PUT_LIT(w, "null");
	PUT_LIT(w, ",\"feed\":");
	put_jstr(w, feed);
	PUT_LIT(w, ",\"channel\":");
	put_jstr(w, channel);
	PUT_LIT(w, ",\"symbol\":");
	if (symbol_len)
		put_jstrn(w, symbol, symbol_len);
	else
		PUT_LIT(w, "null");
	PUT_LIT(w, ",\"seq\":");
	put_i64(w, seq);
}

/* accountLabel .. delayClass and the closing brace. */
static void put_tail(struct jw *w, bool is_final, enum envelope_source source,
		     bool has_event_ts, int64_t event_ns, const char *feed, struct envelope_cache *c)
{
	PUT_LIT(w, ",\"accountLabel\":null,\"isFinal\":");
	if (is_final)
		PUT_LIT(w, "true");
	else
		PUT_LIT(w, "false");
	if (source == ENVELOPE_SOURCE_REST)
		PUT_LIT(w, ",\"source\":\"rest\"");
	else
		PUT_LIT(w, ",\"source\":\"ws\"");
	PUT_LIT(w, ",\"window\":null,\"version\":2,\"provider\":\"alpaca\",\"marketSession\":");
	if (has_event_ts) {
		/* New York's session bounds are whole minutes and its offsets whole
		 * hours: one UTC minute has one session */
		int64_t minute = floor_div(event_ns, 60 * CLOCK_NS_PER_SEC);
		if (!c || !c->have_minute || c->minute != minute) {
			enum clock_session s = clock_ny_session(event_ns);
			if (c) {
				c->minute = minute;
				c->session = (int)s;
				c->have_minute = true;
			}
			put_jstr(w, clock_session_name(s));
		} else {
			put_jstr(w, clock_session_name((enum clock_session)c->session));
		}
	} else {
		PUT_LIT(w, "null");
	}
	PUT_LIT(w, ",\"delayClass\":");
	put_jstr(w, envelope_delay_class(feed));
	PUT_LIT(w, "}");
}

int envelope_write(const struct event *ev, const struct envelope_meta *m, char *buf, size_t cap)
{
	struct jw w;
	const char *channel = m->channel ? m->channel : envelope_channel(ev->kind);
	bool has_ts = ev->t_ns != 0;
	size_t raw_n = ev->raw.p ? ev->raw.n : 0;

	if (!channel || !m->feed)
		return -EINVAL;
	if (raw_n && (ev->type_off > raw_n || ev->type_len > raw_n - ev->type_off))
		return -EINVAL;

	jw_init(&w, buf, cap);
	put_head(&w, m->ingest_ns, has_ts, ev->t_ns, m->feed, channel, ev->symbol,
		 strnlen(ev->symbol, sizeof(ev->symbol)), m->seq, m->cache);
	PUT_LIT(&w, ",\"payload\":");
	if (raw_n) {
		/* the message minus its "T" member: two copies around the cut */
		put(&w, ev->raw.p, ev->type_off);
		put(&w, ev->raw.p + ev->type_off + ev->type_len,
		    raw_n - ev->type_off - ev->type_len);
	} else {
		PUT_LIT(&w, "null");
	}
	put_tail(&w, ev->kind != EVENT_UPDATED_BAR, m->source, has_ts, ev->t_ns, m->feed, m->cache);
	return jw_done(&w);
}

int envelope_write_conn_status(const struct envelope_conn_status *s, char *buf, size_t cap)
{
	struct jw w;
	const char *state = envelope_conn_state_name(s->status);
	bool has_ts = s->event_ns != 0;

	if (!s->feed || !state)
		return -EINVAL;

	jw_init(&w, buf, cap);
	put_head(&w, s->ingest_ns, has_ts, s->event_ns, s->feed, "status", s->feed,
		 strlen(s->feed), s->seq, NULL);
	PUT_LIT(&w, ",\"payload\":{\"component\":\"torghutd\",\"status\":");
	put_jstr(&w, state);
	PUT_LIT(&w, ",\"error_code\":");
	put_opt_i64(&w, s->has_error_code, s->error_code);
	PUT_LIT(&w, ",\"error_class\":");
	put_jstr(&w, s->error_class);
	PUT_LIT(&w, ",\"detail\":");
	put_jstr(&w, s->detail);
	PUT_LIT(&w, ",\"attempt\":");
	put_opt_i64(&w, s->has_attempt, s->attempt);
	PUT_LIT(&w, ",\"gap_start\":");
	put_opt_ts(&w, s->has_gap_start, s->gap_start_ns);
	PUT_LIT(&w, ",\"gap_end\":");
	put_opt_ts(&w, s->has_gap_end, s->gap_end_ns);
	PUT_LIT(&w, ",\"dropped\":");
	put_opt_i64(&w, s->has_dropped, s->dropped);
	PUT_LIT(&w, ",\"schema_version\":1}");
	put_tail(&w, true, ENVELOPE_SOURCE_WS, has_ts, s->event_ns, s->feed, NULL);
	return jw_done(&w);
}

int envelope_write_marker(const char *feed, int64_t seq, uint64_t id, const char *detail, char *buf, size_t cap)
{
	int64_t now = clock_real_ns();
	struct envelope_conn_status cs = {.ingest_ns = now, .event_ns = now, .feed = feed, .seq = seq,
					  .status = ENVELOPE_CONN_CHECKPOINT, .detail = detail, .has_attempt = true,
					  .attempt = (int64_t)id};
	return envelope_write_conn_status(&cs, buf, cap);
}
