/* test_envelope_in.c - source/envelope_in, the inverse of sink/envelope.
 *
 * Round trips go the daemon's way: an Alpaca frame through source/frame,
 * the event through envelope_write with ingest's meta, the record back
 * through envelope_in_decode; every field TA uses must come back equal, bit
 * for bit. Then upstream-style envelopes written by hand, malformed ones
 * with their messages, and a fuzz loop over damaged records. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "sink/envelope.h"
#include "source/envelope_in.h"
#include "source/frame.h"

#define ENV_CAP 4096
#define TRADE_HEAD_FOR_NUMBERS "{\"channel\":\"trades\",\"symbol\":\"X\",\"eventTs\":\"2025-01-15T14:30:00Z\","

/* splitmix64: reproducible runs */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct rng *r, unsigned n)
{
	return (unsigned)(rnd(r) % n);
}

static int64_t utc_ns(int y, int mo, int d, int h, int mi, int s, int64_t frac_ns)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm) * CLOCK_NS_PER_SEC + frac_ns;
}

/* ---- the daemon's way: frame -> event -> envelope ----------------------- */

struct one {
	int n;
	struct event ev;
};

static void take(void *arg, const struct event *ev)
{
	struct one *o = arg;
	o->n++;
	o->ev = *ev;
}

/* The single event of an Alpaca frame (its slices point into frame). */
static struct event frame_event(struct frame_parser *fp, const char *frame)
{
	struct one o = { 0 };
	int rc = frame_parse(fp, frame, strlen(frame), 1736951400000000000LL, 42, take, &o);
	if (rc != 1 || o.n != 1)
		fail_msg("frame_parse gave %d: %s", rc, frame);
	return o.ev;
}

/* As daemon/ingest.c builds it. */
static int encode(const struct event *ev, int64_t seq, struct envelope_cache *c, char *buf)
{
	struct envelope_meta m = { .ingest_ns = ev->recv_real_ns, .feed = "iex", .seq = seq,
				   .source = ENVELOPE_SOURCE_WS, .cache = c };
	int n = envelope_write(ev, &m, buf, ENV_CAP);
	assert_true(n > 0);
	return n;
}

/* What the payload must be: raw minus the "T" member. */
static size_t payload_of(const struct event *ev, char *out)
{
	memcpy(out, ev->raw.p, ev->type_off);
	size_t rest = ev->raw.n - ev->type_off - ev->type_len;
	memcpy(out + ev->type_off, ev->raw.p + ev->type_off + ev->type_len, rest);
	return ev->type_off + rest;
}

static void assert_f64_same(double a, double b, const char *what)
{
	if (isnan(a) && isnan(b))
		return;
	if (memcmp(&a, &b, sizeof(a)) != 0)
		fail_msg("%s: %.17g != %.17g", what, a, b);
}

/* Every field TA uses, and raw against the payload that was written. */
static void assert_same(const struct event *want, const struct event *got)
{
	assert_int_equal(got->kind, want->kind);
	assert_string_equal(got->symbol, want->symbol);
	assert_int_equal(got->symbol_len, want->symbol_len);
	assert_int_equal(got->t_ns, want->t_ns);
	assert_int_equal(got->type_off, 0);
	assert_int_equal(got->type_len, 0);
	char pay[ENV_CAP];
	size_t n = payload_of(want, pay);
	assert_int_equal(got->raw.n, n);
	assert_memory_equal(got->raw.p, pay, n);
	switch (want->kind) {
	case EVENT_TRADE:
		assert_int_equal(got->u.trade.id, want->u.trade.id);
		assert_f64_same(got->u.trade.price, want->u.trade.price, "p");
		assert_f64_same(got->u.trade.size, want->u.trade.size, "s");
		break;
	case EVENT_QUOTE:
		assert_f64_same(got->u.quote.bid_px, want->u.quote.bid_px, "bp");
		assert_f64_same(got->u.quote.bid_sz, want->u.quote.bid_sz, "bs");
		assert_f64_same(got->u.quote.ask_px, want->u.quote.ask_px, "ap");
		assert_f64_same(got->u.quote.ask_sz, want->u.quote.ask_sz, "as");
		break;
	case EVENT_BAR:
	case EVENT_UPDATED_BAR:
		assert_f64_same(got->u.bar.o, want->u.bar.o, "o");
		assert_f64_same(got->u.bar.h, want->u.bar.h, "h");
		assert_f64_same(got->u.bar.l, want->u.bar.l, "l");
		assert_f64_same(got->u.bar.c, want->u.bar.c, "c");
		assert_f64_same(got->u.bar.v, want->u.bar.v, "v");
		assert_f64_same(got->u.bar.vw, want->u.bar.vw, "vw");
		assert_int_equal(got->u.bar.n, want->u.bar.n);
		break;
	default: fail_msg("kind %d", want->kind);
	}
}

/* frame -> envelope -> decode, compared; the decoded event in *got. */
static void round_trip(struct frame_parser *fp, const char *frame, struct envelope_cache *c,
		       struct event *got)
{
	struct event want = frame_event(fp, frame);
	char buf[ENV_CAP], err[128];
	int n = encode(&want, 7, c, buf);

	memset(got, 0, sizeof(*got));
	got->recv_real_ns = 11;
	got->recv_mono_ns = 22;
	int rc = envelope_in_decode(buf, (size_t)n, got, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode %d (%s): %s", rc, err, buf);
	assert_string_equal(err, "");
	assert_same(&want, got);
	assert_int_equal(got->recv_real_ns, 11); /* the caller's */
	assert_int_equal(got->recv_mono_ns, 22);
	assert_true(got->raw.p > buf && got->raw.p + got->raw.n < buf + n);
}

static void test_examples(void **state)
{
	(void)state;
	struct frame_parser *fp = frame_parser_new();
	struct event ev;

	round_trip(fp, "[{\"T\":\"t\",\"S\":\"NVDA\",\"i\":1,\"x\":\"V\",\"p\":136.5,\"s\":100,\"c\":[\"@\"],"
		       "\"t\":\"2025-01-15T14:30:00.123456789Z\",\"z\":\"C\"}]", NULL, &ev);
	assert_int_equal(ev.kind, EVENT_TRADE);
	assert_string_equal(ev.symbol, "NVDA");
	assert_int_equal(ev.t_ns, utc_ns(2025, 1, 15, 14, 30, 0, 123456789));
	assert_int_equal(ev.u.trade.id, 1);
	assert_true(ev.u.trade.price == 136.5 && ev.u.trade.size == 100);

	round_trip(fp, "[{\"T\":\"q\",\"S\":\"AAPL\",\"bx\":\"V\",\"bp\":0,\"bs\":0,\"ax\":\"V\",\"ap\":229.9,"
		       "\"as\":3,\"c\":[\"R\"],\"t\":\"2025-01-15T14:30:01Z\",\"z\":\"C\"}]", NULL, &ev);
	assert_int_equal(ev.kind, EVENT_QUOTE);
	assert_true(ev.u.quote.bid_px == 0 && ev.u.quote.ask_px == 229.9 && ev.u.quote.ask_sz == 3);
	assert_int_equal(ev.t_ns, utc_ns(2025, 1, 15, 14, 30, 1, 0));

	round_trip(fp, "[{\"T\":\"b\",\"S\":\"SPY\",\"o\":590.1,\"h\":591,\"l\":589.5,\"c\":590.75,"
		       "\"v\":123456,\"t\":\"2025-01-15T14:30:00Z\",\"n\":812,\"vw\":590.33}]", NULL, &ev);
	assert_int_equal(ev.kind, EVENT_BAR);
	assert_true(ev.u.bar.c == 590.75 && ev.u.bar.vw == 590.33 && ev.u.bar.n == 812);

	round_trip(fp, "[{\"T\":\"u\",\"S\":\"SPY\",\"o\":590.1,\"h\":591,\"l\":589.5,\"c\":590.8,"
		       "\"v\":123999,\"t\":\"2025-01-15T14:30:00Z\"}]", NULL, &ev);
	assert_int_equal(ev.kind, EVENT_UPDATED_BAR);
	assert_true(isnan(ev.u.bar.vw));
	assert_int_equal(ev.u.bar.n, -1);

	/* a symbol that needs escapes both ways */
	round_trip(fp, "[{\"T\":\"t\",\"S\":\"A\\\"B\\\\C\",\"i\":9223372036854775807,\"p\":1e-3,\"s\":0.5,"
		       "\"t\":\"2025-01-15T14:30:00.5Z\"}]", NULL, &ev);
	assert_string_equal(ev.symbol, "A\"B\\C");
	assert_int_equal(ev.u.trade.id, INT64_MAX);
	frame_parser_free(fp);
}

/* ---- the property: random messages of every kind ------------------------ */

/* A positive number as some producer may write it. */
static void rand_num(struct rng *r, bool allow_zero, char *out, size_t cap)
{
	unsigned whole = below(r, 8) == 0 ? 0 : 1 + below(r, 999999);
	unsigned frac = below(r, 1000000);
	switch (allow_zero && below(r, 10) == 0 ? 4 : below(r, 4)) {
	case 0: snprintf(out, cap, "%u", whole ? whole : 1); break;
	case 1: snprintf(out, cap, "%u.%0*u", whole, 6, frac ? frac : 1); break;
	case 2: snprintf(out, cap, "%.17g", (double)(rnd(r) >> 11) / 9007199254740992.0 * 1e6 + 1e-9); break;
	case 3: snprintf(out, cap, "%ue%s%u", whole ? whole : 7, below(r, 2) ? "-" : "", below(r, 9)); break;
	default: snprintf(out, cap, "0"); break;
	}
}

static void rand_symbol(struct rng *r, char *out)
{
	static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./-";
	unsigned n = below(r, 20) == 0 ? EVENT_SYMBOL_MAX - 1 : 1 + below(r, 11), o = 0;
	for (unsigned i = 0; i < n; i++) {
		if (below(r, 50) == 0) { /* "\"" in JSON: one byte of the symbol */
			out[o++] = '\\';
			out[o++] = '"';
		} else {
			out[o++] = cs[below(r, sizeof(cs) - 1)];
		}
	}
	out[o] = '\0';
}

/* A time Alpaca may send: 2000..2099, 0 to 9 fractional digits. */
static void rand_time(struct rng *r, char *out, size_t cap)
{
	int64_t ns = utc_ns(2000, 1, 1, 0, 0, 0, 0) +
		     (int64_t)(rnd(r) % (100ULL * 365 * 86400 * CLOCK_NS_PER_SEC));
	assert_true(clock_format_rfc3339(ns, (int)below(r, 10), out, cap) > 0);
}

/* Members in random order, joined into one frame. */
static void shuffle_join(struct rng *r, char (*m)[64], unsigned n, char *frame, size_t cap)
{
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = below(r, i + 1);
		char tmp[64];
		memcpy(tmp, m[i], 64);
		memcpy(m[i], m[j], 64);
		memcpy(m[j], tmp, 64);
	}
	size_t o = (size_t)snprintf(frame, cap, "[{");
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(frame + o, cap - o, "%s%s", i ? "," : "", m[i]);
	snprintf(frame + o, cap - o, "}]");
}

static void rand_frame(struct rng *r, char *frame, size_t cap)
{
	char m[12][64], sym[2 * EVENT_SYMBOL_MAX], t[CLOCK_RFC3339_MAX], a[40], b[40], c[40], d[40];
	unsigned n = 0;
	rand_symbol(r, sym);
	rand_time(r, t, sizeof(t));
	snprintf(m[n++], 64, "\"S\":\"%s\"", sym);
	snprintf(m[n++], 64, "\"t\":\"%s\"", t);
	switch (below(r, 4)) {
	case 0:
		rand_num(r, false, a, sizeof(a));
		rand_num(r, true, b, sizeof(b));
		snprintf(m[n++], 64, "\"T\":\"t\"");
		snprintf(m[n++], 64, "\"i\":%llu", (unsigned long long)(rnd(r) >> below(r, 64)) >> 1);
		snprintf(m[n++], 64, "\"p\":%s", a);
		snprintf(m[n++], 64, "\"s\":%s", b);
		snprintf(m[n++], 64, "\"x\":\"V\"");
		snprintf(m[n++], 64, "\"c\":[\"@\",\"I\"]");
		snprintf(m[n++], 64, "\"z\":\"C\"");
		break;
	case 1:
		rand_num(r, true, a, sizeof(a));
		rand_num(r, true, b, sizeof(b));
		rand_num(r, true, c, sizeof(c));
		rand_num(r, true, d, sizeof(d));
		snprintf(m[n++], 64, "\"T\":\"q\"");
		snprintf(m[n++], 64, "\"bp\":%s", a);
		snprintf(m[n++], 64, "\"bs\":%s", b);
		snprintf(m[n++], 64, "\"ap\":%s", c);
		snprintf(m[n++], 64, "\"as\":%s", d);
		snprintf(m[n++], 64, "\"bx\":\"V\",\"ax\":\"Q\"");
		snprintf(m[n++], 64, "\"c\":[\"R\"]");
		break;
	default:
		snprintf(m[n++], 64, "\"T\":\"%s\"", below(r, 2) ? "b" : "u");
		rand_num(r, false, a, sizeof(a));
		snprintf(m[n++], 64, "\"o\":%s", a);
		rand_num(r, false, a, sizeof(a));
		snprintf(m[n++], 64, "\"h\":%s", a);
		rand_num(r, false, a, sizeof(a));
		snprintf(m[n++], 64, "\"l\":%s", a);
		rand_num(r, false, a, sizeof(a));
		snprintf(m[n++], 64, "\"c\":%s", a);
		rand_num(r, true, a, sizeof(a));
		snprintf(m[n++], 64, "\"v\":%s", a);
		if (below(r, 2)) {
			rand_num(r, true, a, sizeof(a));
			snprintf(m[n++], 64, "\"vw\":%s", a);
		}
		if (below(r, 2))
			snprintf(m[n++], 64, "\"n\":%u", below(r, 100000));
		break;
	}
	shuffle_join(r, m, n, frame, cap);
}

static void test_round_trip_random(void **state)
{
	(void)state;
	struct frame_parser *fp = frame_parser_new();
	struct envelope_cache cache = { 0 };
	struct rng r = { 20250115 };
	unsigned kinds[EVENT_KIND_COUNT] = { 0 };

	for (int i = 0; i < 20000; i++) {
		char frame[1024];
		struct event got;
		rand_frame(&r, frame, sizeof(frame));
		round_trip(fp, frame, i % 3 ? &cache : NULL, &got);
		kinds[got.kind]++;
	}
	assert_true(kinds[EVENT_TRADE] > 1000 && kinds[EVENT_QUOTE] > 1000);
	assert_true(kinds[EVENT_BAR] > 1000 && kinds[EVENT_UPDATED_BAR] > 1000);
	frame_parser_free(fp);
}

/* Numbers read bit for bit as strtod reads them: decimals of up to 20
 * digits with the point anywhere, some with exponents. */
static void test_numbers_as_strtod(void **state)
{
	(void)state;
	struct rng r = { 4242 };
	for (int it = 0; it < 50000; it++) {
		char num[64], json[256], err[96];
		unsigned nd = 1 + below(&r, 20), point = below(&r, nd + 1), o = 0;
		num[o++] = (char)('1' + below(&r, 9));
		for (unsigned i = 1; i < nd; i++) {
			if (i == point)
				num[o++] = '.';
			num[o++] = (char)('0' + below(&r, 10));
		}
		if (below(&r, 8) == 0)
			o += (unsigned)snprintf(num + o, sizeof(num) - o, "e%s%u", below(&r, 2) ? "-" : "", below(&r, 30));
		num[o] = '\0';
		snprintf(json, sizeof(json), TRADE_HEAD_FOR_NUMBERS "\"payload\":{\"i\":1,\"p\":%s,\"s\":%s}}", num, num);
		struct event ev;
		int rc = envelope_in_decode(json, strlen(json), &ev, err, sizeof(err));
		double want = strtod(num, NULL);
		if (want == 0 || !isfinite(want))
			continue;
		if (rc != 0)
			fail_msg("%s: %d %s", num, rc, err);
		assert_f64_same(ev.u.trade.price, want, num);
		assert_f64_same(ev.u.trade.size, want, num);
	}
}

/* ---- upstream-style envelopes ------------------------------------------- */

static void decode_ok(const char *json, struct event *ev)
{
	char err[128];
	memset(ev, 0, sizeof(*ev));
	int rc = envelope_in_decode(json, strlen(json), ev, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode %d (%s): %s", rc, err, json);
}

static void test_upstream_style(void **state)
{
	(void)state;
	struct event ev;

	/* another key order, pretty-printed, unknown keys of every shape, no
	 * payload t (eventTs counts), payload keys in another order */
	decode_ok("{\n  \"version\": 2,\n  \"window\": {\"size\": \"PT1M\", \"a\": [1, {\"b\": null}]},\n"
		  "  \"payload\": {\"z\": \"C\", \"s\": 25, \"c\": [\"@\", \"F\"], \"p\": 101.25,"
		  " \"extra\": {\"deep\": [[], {}]}, \"i\": 52983525029461, \"S\": \"IGNORED\"},\n"
		  "  \"symbol\": \"MSFT\", \"channel\": \"trades\", \"isFinal\": true,\n"
		  "  \"eventTs\": \"2025-01-15T09:30:00-05:00\", \"seq\": 1, \"newKey\": \"tolerated\"\n}\n",
		  &ev);
	assert_int_equal(ev.kind, EVENT_TRADE);
	assert_string_equal(ev.symbol, "MSFT");
	assert_int_equal(ev.symbol_len, 4);
	assert_int_equal(ev.t_ns, utc_ns(2025, 1, 15, 14, 30, 0, 0));
	assert_int_equal(ev.u.trade.id, 52983525029461LL);
	assert_true(ev.u.trade.price == 101.25 && ev.u.trade.size == 25);
	assert_true(ev.raw.n > 2 && ev.raw.p[0] == '{' && ev.raw.p[ev.raw.n - 1] == '}');

	/* payload t wins over a rounded eventTs */
	decode_ok("{\"eventTs\":\"2025-01-15T14:30:00.123Z\",\"channel\":\"trades\",\"symbol\":\"NVDA\","
		  "\"payload\":{\"t\":\"2025-01-15T14:30:00.123456789Z\",\"i\":1,\"p\":1,\"s\":1}}", &ev);
	assert_int_equal(ev.t_ns, utc_ns(2025, 1, 15, 14, 30, 0, 123456789));

	/* bars: vw and n absent, then null; exponents */
	decode_ok("{\"channel\":\"bars\",\"symbol\":\"SPY\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		  "\"payload\":{\"o\":5.9e2,\"h\":591,\"l\":589.5,\"c\":590.75,\"v\":0}}", &ev);
	assert_int_equal(ev.kind, EVENT_BAR);
	assert_true(ev.u.bar.o == 590 && ev.u.bar.v == 0 && isnan(ev.u.bar.vw));
	assert_int_equal(ev.u.bar.n, -1);
	decode_ok("{\"channel\":\"bars\",\"symbol\":\"SPY\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		  "\"payload\":{\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"vw\":null,\"n\":null}}", &ev);
	assert_true(isnan(ev.u.bar.vw));
	assert_int_equal(ev.u.bar.n, -1);

	/* an unfinished minute on the bars channel is an updated bar */
	decode_ok("{\"channel\":\"bars\",\"isFinal\":false,\"symbol\":\"SPY\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		  "\"payload\":{\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10,\"vw\":1.2,\"n\":3}}", &ev);
	assert_int_equal(ev.kind, EVENT_UPDATED_BAR);
	assert_true(ev.u.bar.vw == 1.2 && ev.u.bar.n == 3);
	decode_ok("{\"channel\":\"updatedBars\",\"isFinal\":false,\"symbol\":\"SPY\","
		  "\"eventTs\":\"2025-01-15T14:31:00Z\",\"payload\":{\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10}}", &ev);
	assert_int_equal(ev.kind, EVENT_UPDATED_BAR);

	/* escapes in the symbol, a key and the channel */
	decode_ok("{\"channel\":\"q\\u0075otes\",\"symbol\":\"BRK\\/B\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		  "\"payload\":{\"b\\u0070\":0,\"bs\":0,\"ap\":1.5,\"as\":2}}", &ev);
	assert_int_equal(ev.kind, EVENT_QUOTE);
	assert_string_equal(ev.symbol, "BRK/B");
	assert_true(ev.u.quote.bid_px == 0 && ev.u.quote.ask_px == 1.5 && ev.u.quote.ask_sz == 2);
	decode_ok("{\"channel\":\"trades\",\"symbol\":\"\\u00c4X\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		  "\"payload\":{\"i\":0,\"p\":1,\"s\":0}}", &ev);
	assert_string_equal(ev.symbol, "\xc3\x84X");

	/* not NUL-terminated: the length is what counts */
	const char *rec = "{\"channel\":\"trades\",\"symbol\":\"X\",\"eventTs\":\"2025-01-15T14:31:00Z\","
			  "\"payload\":{\"i\":0,\"p\":1,\"s\":0}}GARBAGE";
	assert_int_equal(envelope_in_decode(rec, strlen(rec) - 7, &ev, NULL, 0), 0);
	assert_int_equal(ev.kind, EVENT_TRADE);
}

static void test_not_for_ta(void **state)
{
	(void)state;
	char buf[ENV_CAP], err[128];
	struct event ev;
	struct envelope_conn_status cs = { .ingest_ns = 1736951400000000000LL,
					   .event_ns = 1736951400000000000LL, .feed = "iex", .seq = 3,
					   .status = ENVELOPE_CONN_SUBSCRIBED };
	int n = envelope_write_conn_status(&cs, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(envelope_in_decode(buf, (size_t)n, &ev, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "channel: "));

	struct frame_parser *fp = frame_parser_new();
	static const char *const frames[] = {
		"[{\"T\":\"d\",\"S\":\"SPY\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"t\":\"2025-01-15T05:00:00Z\"}]",
		"[{\"T\":\"s\",\"S\":\"SPY\",\"sc\":\"H\",\"t\":\"2025-01-15T14:30:00Z\"}]",
		"[{\"T\":\"l\",\"S\":\"SPY\",\"u\":2,\"d\":1,\"t\":\"2025-01-15T14:30:00Z\"}]",
	};
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		struct event in = frame_event(fp, frames[i]);
		n = encode(&in, 1, NULL, buf);
		assert_int_equal(envelope_in_decode(buf, (size_t)n, &ev, err, sizeof(err)), -ENOTSUP);
	}
	frame_parser_free(fp);
}

/* ---- malformed records -------------------------------------------------- */

#define TRADE_HEAD "{\"channel\":\"trades\",\"symbol\":\"NVDA\",\"eventTs\":\"2025-01-15T14:30:00Z\","
#define QUOTE_HEAD "{\"channel\":\"quotes\",\"symbol\":\"NVDA\",\"eventTs\":\"2025-01-15T14:30:00Z\","
#define BAR_HEAD "{\"channel\":\"bars\",\"symbol\":\"NVDA\",\"eventTs\":\"2025-01-15T14:30:00Z\","
#define TRADE_OK "\"payload\":{\"i\":1,\"p\":136.5,\"s\":100}}"
#define QUOTE_P(bp, as) "\"payload\":{\"bp\":" bp ",\"bs\":1,\"ap\":2" as "}}"
#define BAR_P(o, rest) "\"payload\":{\"o\":" o ",\"h\":2,\"l\":1,\"c\":1.5,\"v\":9" rest "}}"

static const struct bad {
	const char *json, *msg;
} bad[] = {
	{ "", "envelope: not valid JSON" },
	{ "   ", "envelope: not valid JSON" },
	{ "{", "envelope: not valid JSON" },
	{ "[]", "envelope: not an object" },
	{ "\"trades\"", "envelope: not an object" },
	{ TRADE_HEAD TRADE_OK "x", "envelope: not valid JSON" },
	{ TRADE_HEAD TRADE_OK "{}", "envelope: not valid JSON" },
	{ TRADE_HEAD TRADE_OK "}", "envelope: not valid JSON" },
	{ "{\"a\":tru}", "envelope: not valid JSON" },
	{ "{\"a\":1 \"b\":2}", "envelope: not valid JSON" },
	{ "{\"a\" 1}", "envelope: not valid JSON" },
	{ "{\"a\":1,}", "envelope: not valid JSON" },
	{ "{\"a\":[1,]}", "envelope: not valid JSON" },
	{ "{\"a\":[1 2]}", "envelope: not valid JSON" },
	{ "{a:1}", "envelope: not valid JSON" },
	{ "{\"a\":\"x}", "envelope: not valid JSON" },
	{ "{\"a\":\"x\\\"}", "envelope: not valid JSON" },
	{ "{\"a\":1}}", "envelope: not valid JSON" },
	{ "{}", "channel: missing" },
	{ " {\"a\":\"x\\\\\"} ", "channel: missing" },
	{ "{\"channel\":5}", "channel: not a string" },
	{ "{\"channel\":null}", "channel: not a string" },
	{ "{\"channel\":\"trades\",\"channel\":\"trades\"}", "channel: duplicate key" },
	{ "{\"channel\":\"trades\"}", "symbol: missing" },
	{ "{\"channel\":\"trades\",\"symbol\":null}", "symbol: not a string" },
	{ "{\"channel\":\"trades\",\"symbol\":\"\"}", "symbol: empty" },
	{ "{\"channel\":\"trades\",\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWX\"}", "symbol: longer than 23 bytes" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\\u0001\"}", "symbol: has a control character" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\\u0000\"}", "symbol: has a control character" },
	{ "{\"channel\":\"trades\",\"symbol\":\"\\ud83d\\ude00\"}", "symbol: a bad escape or too long" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"symbol\":\"B\"}", "symbol: duplicate key" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\"}", "eventTs: missing" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"eventTs\":null}", "eventTs: not an RFC 3339 time" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"eventTs\":\"2025-13-01T00:00:00Z\"}",
	  "eventTs: not an RFC 3339 time" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"eventTs\":1736951400}", "eventTs: not an RFC 3339 time" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"eventTs\":\"1969-12-31T23:59:59Z\"}",
	  "eventTs: not after 1970-01-01T00:00:00Z" },
	{ "{\"channel\":\"trades\",\"symbol\":\"A\",\"eventTs\":\"1970-01-01T00:00:00Z\"}",
	  "eventTs: not after 1970-01-01T00:00:00Z" },
	{ "{\"isFinal\":\"false\",\"channel\":\"bars\"}", "isFinal: not a boolean" },
	{ "{\"isFinal\":null,\"channel\":\"bars\"}", "isFinal: not a boolean" },
	{ TRADE_HEAD "\"seq\":1}", "payload: missing" },
	{ TRADE_HEAD "\"payload\":null}", "payload: not an object" },
	{ TRADE_HEAD "\"payload\":[]}", "payload: not an object" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"s\":100}}", "payload.p: missing" },
	{ TRADE_HEAD "\"payload\":{\"p\":1,\"s\":100}}", "payload.i: missing" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1}}", "payload.s: missing" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":\"136.5\",\"s\":100}}", "payload.p: not a number" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":null,\"s\":100}}", "payload.p: not a number" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":true,\"s\":100}}", "payload.p: not a number" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":01,\"s\":100}}", "envelope: not valid JSON" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1.,\"s\":100}}", "envelope: not valid JSON" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":.5,\"s\":100}}", "envelope: not valid JSON" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1e,\"s\":100}}", "envelope: not valid JSON" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":0x10,\"s\":100}}", "envelope: not valid JSON" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":0,\"s\":100}}", "payload.p: not a finite number > 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":-1,\"s\":100}}", "payload.p: not a finite number > 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1e999,\"s\":100}}", "payload.p: not a finite number > 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1,\"s\":-5}}", "payload.s: not a finite number >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1.5,\"p\":1,\"s\":1}}", "payload.i: not an integer >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":-1,\"p\":1,\"s\":1}}", "payload.i: not an integer >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1e3,\"p\":1,\"s\":1}}", "payload.i: not an integer >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":9223372036854775808,\"p\":1,\"s\":1}}", "payload.i: not an integer >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":\"1\",\"p\":1,\"s\":1}}", "payload.i: not an integer >= 0" },
	{ TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1,\"p\":2,\"s\":1}}", "payload.p: duplicate key" },
	{ TRADE_HEAD "\"payload\":{\"t\":\"yesterday\",\"i\":1,\"p\":1,\"s\":1}}", "payload.t: not an RFC 3339 time" },
	{ TRADE_HEAD "\"payload\":{\"t\":\"1960-01-01T00:00:00Z\",\"i\":1,\"p\":1,\"s\":1}}",
	  "payload.t: not after 1970-01-01T00:00:00Z" },
	{ QUOTE_HEAD QUOTE_P("0", ""), "payload.as: missing" },
	{ QUOTE_HEAD QUOTE_P("-0.01", ",\"as\":1"), "payload.bp: not a finite number >= 0" },
	{ BAR_HEAD BAR_P("0", ""), "payload.o: not a finite number > 0" },
	{ BAR_HEAD BAR_P("1", ",\"n\":-1"), "payload.n: not an integer >= 0" },
	{ BAR_HEAD BAR_P("1", ",\"n\":2.5"), "payload.n: not an integer >= 0" },
	{ BAR_HEAD BAR_P("1", ",\"vw\":-1"), "payload.vw: not a finite number >= 0" },
	{ BAR_HEAD BAR_P("1", ",\"vw\":\"1\""), "payload.vw: not a number" },
	{ BAR_HEAD "\"payload\":{\"o\":1,\"h\":1,\"l\":1,\"c\":1}}", "payload.v: missing" },
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];
		struct event ev;
		memset(&ev, 0xa5, sizeof(ev));
		int rc = envelope_in_decode(bad[i].json, strlen(bad[i].json), &ev, err, sizeof(err));
		if (rc != -EINVAL || strcmp(err, bad[i].msg) != 0)
			fail_msg("%s: got %d \"%s\", want \"%s\"", bad[i].json, rc, err, bad[i].msg);
		for (size_t k = 0; k < sizeof(ev); k++) /* untouched on error */
			assert_int_equal(((unsigned char *)&ev)[k], 0xa5);
	}
}

static void test_malformed_more(void **state)
{
	(void)state;
	char err[128], small[8];
	struct event ev;

	/* a NUL inside: jsmn stops there, the length says there is more */
	static const char nul[] = TRADE_HEAD "\"payload\":{\"i\":1,\"p\":1,\"s\":1}\0}";
	assert_int_equal(envelope_in_decode(nul, sizeof(nul) - 1, &ev, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "envelope: not valid JSON");

	/* unknown values of any size are fine; nesting is bounded */
	static char big[65536];
	size_t o = (size_t)snprintf(big, sizeof(big), TRADE_HEAD "\"window\":[");
	for (int i = 0; i < 3000; i++) /* about 40 KB */
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s{\"k%d\":\"v\"}", i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "]," TRADE_OK);
	assert_int_equal(envelope_in_decode(big, strlen(big), &ev, err, sizeof(err)), 0);
	for (int depth = ENVELOPE_IN_DEPTH_MAX - 1; depth <= ENVELOPE_IN_DEPTH_MAX; depth++) {
		o = (size_t)snprintf(big, sizeof(big), TRADE_HEAD "\"window\":");
		for (int i = 0; i < depth; i++)
			big[o++] = '[';
		for (int i = 0; i < depth; i++)
			big[o++] = ']';
		snprintf(big + o, sizeof(big) - o, "," TRADE_OK);
		int rc = envelope_in_decode(big, strlen(big), &ev, err, sizeof(err));
		if (depth < ENVELOPE_IN_DEPTH_MAX) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_string_equal(err, "envelope: nested too deep");
		}
	}

	/* err: truncated, NUL-terminated; or absent */
	const char *j = TRADE_HEAD "\"payload\":{}}";
	assert_int_equal(envelope_in_decode(j, strlen(j), &ev, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "payload");
	assert_int_equal(envelope_in_decode(j, strlen(j), &ev, NULL, 0), -EINVAL);
	assert_int_equal(envelope_in_decode(NULL, 0, &ev, err, sizeof(err)), -EINVAL);
	assert_int_equal(envelope_in_decode(j, strlen(j), NULL, err, sizeof(err)), -EINVAL);
}

/* ---- fuzz --------------------------------------------------------------- */

/* What a 0 promises (envelope_in.h), checked on whatever was decoded. */
static void assert_in_contract(const struct event *ev, const char *buf, size_t len)
{
	assert_true(ev->kind == EVENT_TRADE || ev->kind == EVENT_QUOTE || ev->kind == EVENT_BAR ||
		    ev->kind == EVENT_UPDATED_BAR);
	assert_true(ev->symbol_len >= 1 && ev->symbol_len < EVENT_SYMBOL_MAX);
	assert_int_equal(strlen(ev->symbol), ev->symbol_len);
	for (int i = 0; i < ev->symbol_len; i++)
		assert_true((unsigned char)ev->symbol[i] >= 0x20);
	assert_true(ev->t_ns > 0);
	assert_true(ev->raw.p >= buf && ev->raw.n >= 2 && ev->raw.n <= len - (size_t)(ev->raw.p - buf));
	assert_true(ev->raw.p[0] == '{' && ev->raw.p[ev->raw.n - 1] == '}');
	assert_true(ev->type_off == 0 && ev->type_len == 0);
	assert_true(ev->recv_real_ns == 5 && ev->recv_mono_ns == 6);
	switch (ev->kind) {
	case EVENT_TRADE:
		assert_true(ev->u.trade.id >= 0);
		assert_true(isfinite(ev->u.trade.price) && ev->u.trade.price > 0);
		assert_true(isfinite(ev->u.trade.size) && ev->u.trade.size >= 0);
		break;
	case EVENT_QUOTE:
		assert_true(isfinite(ev->u.quote.bid_px) && ev->u.quote.bid_px >= 0);
		assert_true(isfinite(ev->u.quote.ask_px) && ev->u.quote.ask_px >= 0);
		assert_true(isfinite(ev->u.quote.bid_sz) && ev->u.quote.bid_sz >= 0);
		assert_true(isfinite(ev->u.quote.ask_sz) && ev->u.quote.ask_sz >= 0);
		break;
	default: {
		const struct event_bar *b = &ev->u.bar;
		assert_true(isfinite(b->o) && b->o > 0 && isfinite(b->h) && b->h > 0);
		assert_true(isfinite(b->l) && b->l > 0 && isfinite(b->c) && b->c > 0);
		assert_true(isfinite(b->v) && b->v >= 0);
		assert_true(isnan(b->vw) || (isfinite(b->vw) && b->vw >= 0));
		assert_true(b->n >= -1);
		break;
	}
	}
}

static void test_fuzz(void **state)
{
	(void)state;
	static const char *const frames[] = {
		"[{\"T\":\"t\",\"S\":\"NVDA\",\"i\":1,\"x\":\"V\",\"p\":136.5,\"s\":100,\"c\":[\"@\"],"
		"\"t\":\"2025-01-15T14:30:00.123456789Z\",\"z\":\"C\"}]",
		"[{\"T\":\"q\",\"S\":\"AAPL\",\"bx\":\"V\",\"bp\":229.1,\"bs\":2,\"ax\":\"V\",\"ap\":229.9,"
		"\"as\":3,\"c\":[\"R\"],\"t\":\"2025-01-15T14:30:01Z\",\"z\":\"C\"}]",
		"[{\"T\":\"b\",\"S\":\"SPY\",\"o\":590.1,\"h\":591,\"l\":589.5,\"c\":590.75,"
		"\"v\":123456,\"t\":\"2025-01-15T14:30:00Z\",\"n\":812,\"vw\":590.33}]",
		"[{\"T\":\"u\",\"S\":\"B\\\"F\",\"o\":1e1,\"h\":11,\"l\":9,\"c\":10,\"v\":5,\"t\":\"2025-01-15T14:30:00Z\"}]",
	};
	static const char *const upstream[] = {
		"{\n \"payload\": {\"z\": \"C\", \"s\": 25, \"p\": 101.25, \"i\": 5},\n \"symbol\": \"BRK\\/B\","
		" \"window\": {\"a\": [1, {\"b\": null}]}, \"channel\": \"trades\", \"eventTs\": \"2025-01-15T09:30:00-05:00\"\n}",
		"{\"channel\":\"bars\",\"isFinal\":false,\"symbol\":\"SPY\",\"eventTs\":\"2025-01-15T14:31:00Z\","
		"\"payload\":{\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10,\"vw\":null,\"n\":null}}",
	};
	static const char interesting[] = "\"\\{}[],:0123456789eE.-+ntfu \t\x01\xc3";
	enum { NBASE = 6 };
	char base[NBASE][ENV_CAP];
	size_t blen[NBASE];
	struct frame_parser *fp = frame_parser_new();
	for (int i = 0; i < 4; i++) {
		struct event in = frame_event(fp, frames[i]);
		blen[i] = (size_t)encode(&in, 1, NULL, base[i]);
	}
	frame_parser_free(fp);
	for (int i = 0; i < 2; i++) {
		blen[4 + i] = strlen(upstream[i]);
		memcpy(base[4 + i], upstream[i], blen[4 + i]);
	}

	struct rng r = { 77 };
	unsigned ok = 0, inval = 0, notsup = 0;
	for (int it = 0; it < 200000; it++) {
		unsigned b = below(&r, NBASE);
		size_t len = blen[b];
		char *buf = malloc(len); /* exact size: ASan sees any over-read */
		assert_non_null(buf);
		memcpy(buf, base[b], len);
		unsigned how = below(&r, 4);
		if (how == 0 || how == 3)
			len = below(&r, (unsigned)len + 1);
		if (how >= 1 && len > 0) {
			for (unsigned k = 1 + below(&r, 3); k > 0; k--) {
				size_t at = below(&r, (unsigned)len);
				buf[at] = how == 1 ? (char)below(&r, 256)
						   : interesting[below(&r, sizeof(interesting) - 1)];
			}
		}
		struct event ev = { .recv_real_ns = 5, .recv_mono_ns = 6 };
		char err[96];
		int rc = envelope_in_decode(buf, len, &ev, err, sizeof(err));
		if (rc == 0) {
			ok++;
			assert_string_equal(err, "");
			assert_in_contract(&ev, buf, len);
		} else {
			assert_true(rc == -EINVAL || rc == -ENOTSUP);
			assert_non_null(strstr(err, ": "));
			inval += rc == -EINVAL;
			notsup += rc == -ENOTSUP;
		}
		free(buf);
	}
	/* the loop must exercise both outcomes to mean anything */
	assert_true(ok > 10000 && inval > 10000 && notsup > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_numbers_as_strtod),
		cmocka_unit_test(test_upstream_style),
		cmocka_unit_test(test_not_for_ta),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_more),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
