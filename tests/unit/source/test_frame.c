/* Tests of the Alpaca frame parser: every message type, batches, escapes,
 * numbers (bit-exact against strtod), malformed frames and messages, and
 * the "T" cut (checked with jansson on every delivered event). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/clock.h"
#include "source/frame.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXEV 6000

struct got {
	int n;
	struct event ev[MAXEV];
};

/* raw minus [type_off, type_off+type_len) must be valid JSON equal to raw
 * without its "T" member. */
static void check_cut(const struct event *ev)
{
	json_error_t err;
	/* INT_AS_REAL: jansson refuses integers beyond int64, which JSON allows */
	json_t *whole = json_loadb(ev->raw.p, ev->raw.n, JSON_DECODE_INT_AS_REAL, &err);
	if (!whole)
		fail_msg("raw is not JSON: %s (%.*s)", err.text, (int)ev->raw.n, ev->raw.p);
	assert_true(json_is_object(whole));
	assert_non_null(json_object_get(whole, "T"));
	assert_int_equal(json_object_del(whole, "T"), 0);

	assert_true(ev->type_off <= ev->raw.n && ev->type_len <= ev->raw.n - ev->type_off);
	size_t n = ev->raw.n - ev->type_len;
	char *cut = malloc(n + 1);
	memcpy(cut, ev->raw.p, ev->type_off);
	memcpy(cut + ev->type_off, ev->raw.p + ev->type_off + ev->type_len,
	       ev->raw.n - ev->type_off - ev->type_len);
	json_t *rest = json_loadb(cut, n, JSON_DECODE_INT_AS_REAL, &err);
	if (!rest)
		fail_msg("cut is not JSON: %s (%.*s)", err.text, (int)n, cut);
	if (!json_equal(whole, rest))
		fail_msg("cut differs: %.*s", (int)n, cut);
	assert_null(json_object_get(rest, "T"));
	json_decref(whole);
	json_decref(rest);
	free(cut);
}

static void collect(void *arg, const struct event *ev)
{
	struct got *g = arg;
	assert_true(g->n < MAXEV);
	assert_int_equal(ev->symbol_len, strlen(ev->symbol));
	check_cut(ev);
	g->ev[g->n++] = *ev;
}

struct fx {
	struct frame_parser *p;
	struct got *g;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->p = frame_parser_new();
	f->g = calloc(1, sizeof(*f->g));
	assert_non_null(f->p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	frame_parser_free(f->p);
	free(f->g);
	free(f);
	return 0;
}

static int parse(struct fx *f, const char *s)
{
	f->g->n = 0;
	return frame_parse(f->p, s, strlen(s), 111, 222, collect, f->g);
}

static bool slice_is(struct event_slice s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* ---- message types (examples from the Alpaca stock stream docs) ------- */

static void test_trade(void **state)
{
	struct fx *f = *state;
	const char *fr = "[{\"T\":\"t\",\"i\":96921,\"S\":\"AAPL\",\"x\":\"D\",\"p\":126.55,\"s\":1,"
			 "\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"}]";
	assert_int_equal(parse(f, fr), 1);
	const struct event *e = &f->g->ev[0];
	assert_int_equal(e->kind, EVENT_TRADE);
	assert_string_equal(e->symbol, "AAPL");
	assert_int_equal(e->symbol_len, 4);
	assert_int_equal(e->t_ns, 1614009104208000000LL);
	assert_int_equal(e->u.trade.id, 96921);
	assert_true(e->u.trade.price == 126.55);
	assert_true(e->u.trade.size == 1.0);
	assert_int_equal(e->recv_real_ns, 111);
	assert_int_equal(e->recv_mono_ns, 222);
	assert_ptr_equal(e->raw.p, fr + 1);
	assert_int_equal(e->raw.n, strlen(fr) - 2);
	assert_int_equal(e->type_off, 1);
	assert_int_equal(e->type_len, strlen("\"T\":\"t\","));
	const struct frame_stats *st = frame_parser_stats(f->p);
	assert_int_equal(st->frames, 1);
	assert_int_equal(st->messages, 1);
	assert_int_equal(st->events, 1);
	assert_int_equal(st->rejected, 0);

	/* a big exchange id and the SIP batch shape */
	fr = "[{\"T\":\"t\",\"S\":\"EEM\",\"i\":52983525033527,\"x\":\"M\",\"p\":39.1582,\"s\":440000,"
	     "\"c\":[\" \",\"7\"],\"t\":\"2021-02-22T15:51:45.3355677Z\",\"z\":\"B\"},"
	     "{\"T\":\"t\",\"S\":\"EEM\",\"i\":9223372036854775807,\"x\":\"M\",\"p\":39.16,\"s\":100,"
	     "\"c\":[\"@\"],\"t\":\"2021-02-22T15:51:45.3355678Z\",\"z\":\"B\"}]";
	assert_int_equal(parse(f, fr), 2);
	assert_int_equal(f->g->ev[0].u.trade.id, 52983525033527LL);
	assert_int_equal(f->g->ev[0].t_ns, 1614009105335567700LL);
	assert_int_equal(f->g->ev[1].u.trade.id, INT64_MAX);
	assert_true(f->g->ev[1].u.trade.size == 100.0);
}

static void test_quote(void **state)
{
	struct fx *f = *state;
	const char *fr = "[{\"T\":\"q\",\"S\":\"AMD\",\"bx\":\"U\",\"bp\":87.66,\"bs\":1,\"ax\":\"Q\","
			 "\"ap\":87.68,\"as\":4,\"t\":\"2021-02-22T15:51:45.335689322Z\",\"c\":[\"R\"],"
			 "\"z\":\"C\"}]";
	assert_int_equal(parse(f, fr), 1);
	const struct event *e = &f->g->ev[0];
	assert_int_equal(e->kind, EVENT_QUOTE);
	assert_string_equal(e->symbol, "AMD");
	assert_int_equal(e->t_ns, 1614009105335689322LL);
	assert_true(e->u.quote.bid_px == 87.66);
	assert_true(e->u.quote.ask_px == 87.68);
	assert_true(e->u.quote.bid_sz == 1.0);
	assert_true(e->u.quote.ask_sz == 4.0);
}

static void test_bars(void **state)
{
	struct fx *f = *state;
	const char *fr = "[{\"T\":\"b\",\"S\":\"SPY\",\"o\":388.985,\"h\":389.13,\"l\":388.975,\"c\":389.12,"
			 "\"v\":49378,\"t\":\"2021-02-22T19:15:00Z\",\"n\":461,\"vw\":389.062639},"
			 "{\"T\":\"u\",\"S\":\"SPY\",\"o\":388.985,\"h\":389.13,\"l\":388.975,\"c\":389.1,"
			 "\"v\":49400,\"t\":\"2021-02-22T19:15:00Z\",\"n\":462,\"vw\":389.06},"
			 "{\"T\":\"d\",\"S\":\"SPY\",\"o\":387,\"h\":390,\"l\":386.5,\"c\":389.1,"
			 "\"v\":1.5e7,\"t\":\"2021-02-22T05:00:00Z\"}]";
	assert_int_equal(parse(f, fr), 3);
	const struct event *e = f->g->ev;
	assert_int_equal(e[0].kind, EVENT_BAR);
	assert_int_equal(e[1].kind, EVENT_UPDATED_BAR);
	assert_int_equal(e[2].kind, EVENT_DAILY_BAR);
	assert_int_equal(e[0].t_ns, 1614021300LL * 1000000000LL);
	assert_true(e[0].u.bar.o == 388.985 && e[0].u.bar.h == 389.13 && e[0].u.bar.l == 388.975);
	assert_true(e[0].u.bar.c == 389.12 && e[0].u.bar.v == 49378 && e[0].u.bar.vw == 389.062639);
	assert_int_equal(e[0].u.bar.n, 461);
	assert_int_equal(e[1].u.bar.n, 462);
	assert_true(e[2].u.bar.o == 387.0 && e[2].u.bar.v == 15000000.0);
	assert_true(isnan(e[2].u.bar.vw)); /* absent */
	assert_int_equal(e[2].u.bar.n, -1);  /* absent */
}

static void test_status_luld_imbalance(void **state)
{
	struct fx *f = *state;
	const char *fr =
		"[{\"T\":\"s\",\"S\":\"AAPL\",\"sc\":\"H\",\"sm\":\"Trading Halt\",\"rc\":\"T12\","
		"\"rm\":\"Trading Halted; For information requested by NASDAQ\","
		"\"t\":\"2021-02-22T19:15:00.000000000Z\",\"z\":\"C\"},"
		"{\"T\":\"l\",\"S\":\"IONM\",\"u\":3.6,\"d\":3.0,\"i\":\"B\","
		"\"t\":\"2021-02-22T19:15:01.12Z\",\"z\":\"C\"},"
		"{\"T\":\"i\",\"S\":\"VOO\",\"p\":362.88,\"z\":\"B\",\"t\":\"2021-02-22T19:15:02Z\"}]";
	assert_int_equal(parse(f, fr), 3);
	const struct event *e = f->g->ev;
	assert_int_equal(e[0].kind, EVENT_TRADING_STATUS);
	assert_string_equal(e[0].symbol, "AAPL");
	assert_int_equal(e[0].t_ns, 1614021300LL * 1000000000LL);
	assert_int_equal(e[1].kind, EVENT_LULD);
	assert_string_equal(e[1].symbol, "IONM");
	assert_int_equal(e[1].t_ns, 1614021301120000000LL);
	assert_int_equal(e[2].kind, EVENT_IMBALANCE);
	assert_int_equal(e[2].t_ns, 1614021302LL * 1000000000LL);
}

static void test_correction_cancel(void **state)
{
	struct fx *f = *state;
	const char *fr =
		"[{\"T\":\"c\",\"S\":\"EEM\",\"x\":\"M\",\"oi\":52983525033527,\"op\":39.1582,\"os\":440000,"
		"\"oc\":[\"@\"],\"ci\":52983525034326,\"cp\":39.1809,\"cs\":440000,\"cc\":[\"@\"],"
		"\"z\":\"B\",\"t\":\"2023-04-06T13:13:19.470337723Z\"},"
		"{\"T\":\"x\",\"S\":\"TSLA\",\"i\":53,\"x\":\"T\",\"p\":1009.9,\"s\":100,\"a\":\"C\","
		"\"z\":\"C\",\"t\":\"2021-02-22T15:51:44.208Z\"},"
		"{\"T\":\"x\",\"S\":\"TSLA\",\"i\":54,\"a\":\"E\",\"t\":\"2021-02-22T15:51:44.208Z\"}]";
	assert_int_equal(parse(f, fr), 3);
	const struct event *e = f->g->ev;
	assert_int_equal(e[0].kind, EVENT_CORRECTION);
	assert_int_equal(e[0].u.trade.id, 52983525034326LL);
	assert_true(e[0].u.trade.price == 39.1809 && e[0].u.trade.size == 440000.0);
	assert_int_equal(e[0].t_ns, 1680786799470337723LL);
	assert_int_equal(e[1].kind, EVENT_CANCEL_ERROR);
	assert_int_equal(e[1].u.trade.id, 53);
	assert_true(e[1].u.trade.price == 1009.9 && e[1].u.trade.size == 100.0);
	assert_int_equal(e[2].u.trade.id, 54);
	assert_true(isnan(e[2].u.trade.price) && isnan(e[2].u.trade.size));
	/* a correction without corrected fields still passes through */
	assert_int_equal(parse(f, "[{\"T\":\"c\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\"}]"), 1);
	assert_int_equal(f->g->ev[0].u.trade.id, -1);
	assert_true(isnan(f->g->ev[0].u.trade.price));
}

static void test_control(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse(f, "[{\"T\":\"success\",\"msg\":\"connected\"}]"), 1);
	const struct event *e = f->g->ev;
	assert_int_equal(e->kind, EVENT_CTL_SUCCESS);
	assert_true(slice_is(e->u.ctl.msg, "connected"));
	assert_int_equal(e->u.ctl.code, 0);
	assert_string_equal(e->symbol, "");
	assert_int_equal(e->t_ns, 0);

	assert_int_equal(parse(f, "[{\"T\":\"success\",\"msg\":\"authenticated\"}]"), 1);
	assert_true(slice_is(e->u.ctl.msg, "authenticated"));

	static const struct {
		int code;
		const char *msg;
	} errs[] = {{400, "invalid syntax"},	 {401, "not authenticated"},
		    {402, "auth failed"},		 {403, "already authenticated"},
		    {404, "auth timeout"},		 {405, "symbol limit exceeded"},
		    {406, "connection limit exceeded"}, {407, "slow client"},
		    {408, "v2 not enabled"},		 {409, "insufficient subscription"},
		    {410, "invalid subscribe action for this feed"}, {411, "insufficient scope"},
		    {412, "option messages are only available in MsgPack format"},
		    {413, "star subscription is not allowed for option quotes"},
		    {500, "internal error"}};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		char fr[256];
		snprintf(fr, sizeof(fr), "[{\"T\":\"error\",\"code\":%d,\"msg\":\"%s\"}]", errs[i].code,
			 errs[i].msg);
		assert_int_equal(parse(f, fr), 1);
		assert_int_equal(e->kind, EVENT_CTL_ERROR);
		assert_int_equal(e->u.ctl.code, errs[i].code);
		assert_true(slice_is(e->u.ctl.msg, errs[i].msg));
	}
	/* msg is the raw slice: escapes are left as they are */
	assert_int_equal(parse(f, "[{\"T\":\"error\",\"msg\":\"a \\\"b\\\"\",\"code\":400}]"), 1);
	assert_true(slice_is(e->u.ctl.msg, "a \\\"b\\\""));
	/* error without code: still delivered, code 0 */
	assert_int_equal(parse(f, "[{\"T\":\"error\",\"msg\":\"x\"}]"), 1);
	assert_int_equal(e->u.ctl.code, 0);

	const char *sub = "[{\"T\":\"subscription\",\"trades\":[\"AAPL\"],\"quotes\":[],\"bars\":[\"*\"],"
			  "\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],\"lulds\":[],"
			  "\"corrections\":[\"AAPL\"],\"cancelErrors\":[\"AAPL\"]}]";
	assert_int_equal(parse(f, sub), 1);
	assert_int_equal(e->kind, EVENT_CTL_SUBSCRIPTION);
	assert_ptr_equal(e->raw.p, sub + 1);
	assert_int_equal(e->raw.n, strlen(sub) - 2);
	/* a lone "T" member: cut leaves {} */
	assert_int_equal(parse(f, "[{\"T\":\"subscription\"}]"), 1);
	assert_int_equal(e->type_off, 1);
	assert_int_equal(e->type_len, e->raw.n - 2);
}

/* ---- batches ---------------------------------------------------------- */

static void test_mixed_batch(void **state)
{
	struct fx *f = *state;
	size_t cap = 1 << 20;
	char *fr = malloc(cap);
	size_t o = 0;
	fr[o++] = '[';
	for (int i = 0; i < 300; i++) {
		if (i)
			fr[o++] = ',';
		switch (i % 3) {
		case 0:
			o += (size_t)snprintf(fr + o, cap - o,
					      "{\"T\":\"t\",\"S\":\"AAPL\",\"i\":%d,\"x\":\"V\",\"p\":189.45,"
					      "\"s\":100,\"c\":[\"@\"],\"t\":\"2024-05-01T13:30:00.%06dZ\",\"z\":\"C\"}",
					      i, i);
			break;
		case 1:
			o += (size_t)snprintf(fr + o, cap - o,
					      "{\"T\":\"q\",\"S\":\"MSFT\",\"bx\":\"V\",\"bp\":401.1,\"bs\":2,"
					      "\"ax\":\"V\",\"ap\":401.2,\"as\":3,\"c\":[\"R\"],"
					      "\"t\":\"2024-05-01T13:30:00.%06dZ\",\"z\":\"C\",\"q%d\":1}",
					      i, i);
			break;
		default:
			o += (size_t)snprintf(fr + o, cap - o,
					      "{\"T\":\"b\",\"S\":\"NVDA\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,"
					      "\"v\":10,\"n\":%d,\"vw\":1.2,\"t\":\"2024-05-01T13:30:00.%06dZ\"}",
					      i, i);
			break;
		}
	}
	fr[o++] = ']';
	fr[o] = '\0';
	assert_int_equal(parse(f, fr), 300);
	for (int i = 0; i < 300; i++) {
		const struct event *e = &f->g->ev[i];
		assert_int_equal(e->t_ns, 1714570200000000000LL + i * 1000LL);
		switch (i % 3) {
		case 0:
			assert_int_equal(e->kind, EVENT_TRADE);
			assert_int_equal(e->u.trade.id, i);
			assert_string_equal(e->symbol, "AAPL");
			break;
		case 1:
			assert_int_equal(e->kind, EVENT_QUOTE);
			assert_string_equal(e->symbol, "MSFT");
			break;
		default:
			assert_int_equal(e->kind, EVENT_BAR);
			assert_int_equal(e->u.bar.n, i);
			break;
		}
	}
	free(fr);
}

static void test_token_growth(void **state)
{
	struct fx *f = *state;
	const int n = 5000; /* ~20 tokens each: the array must grow several times */
	size_t cap = (size_t)n * 200 + 16;
	char *fr = malloc(cap);
	size_t o = 0;
	fr[o++] = '[';
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(fr + o, cap - o,
				      "%s{\"T\":\"t\",\"S\":\"S%d\",\"i\":%d,\"x\":\"V\",\"p\":1.25,\"s\":1,"
				      "\"c\":[\"@\",\"I\"],\"t\":\"2024-05-01T13:30:00Z\",\"z\":\"C\"}",
				      i ? "," : "", i, i);
	fr[o++] = ']';
	assert_int_equal(frame_parse(f->p, fr, o, 0, 0, collect, f->g), n);
	f->g->n = 0;
	assert_int_equal(f->g->ev[n - 1].u.trade.id, n - 1);
	/* and small frames still work afterwards */
	assert_int_equal(parse(f, "[{\"T\":\"success\",\"msg\":\"connected\"}]"), 1);
	assert_int_equal(parse(f, "[]"), 0);
	assert_int_equal(parse(f, " [ ] \n"), 0);
	free(fr);
}

/* ---- timestamps ------------------------------------------------------- */

static void test_timestamps(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *t;
		int64_t ns;
	} ts[] = {
		{"2021-02-22T15:51:44Z", 1614009104000000000LL},
		{"2021-02-22T15:51:44.2Z", 1614009104200000000LL},
		{"2021-02-22T15:51:44.20Z", 1614009104200000000LL},
		{"2021-02-22T15:51:44.208Z", 1614009104208000000LL},
		{"2021-02-22T15:51:44.2081Z", 1614009104208100000LL},
		{"2021-02-22T15:51:44.20812Z", 1614009104208120000LL},
		{"2021-02-22T15:51:44.208123Z", 1614009104208123000LL},
		{"2021-02-22T15:51:44.2081234Z", 1614009104208123400LL},
		{"2021-02-22T15:51:44.20812345Z", 1614009104208123450LL},
		{"2021-02-22T15:51:44.208123456Z", 1614009104208123456LL},
		{"2021-02-22T10:51:44.208123456-05:00", 1614009104208123456LL},
		{"2021-02-22T16:51:44+01:00", 1614009104000000000LL},
	};
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		char fr[256];
		snprintf(fr, sizeof(fr),
			 "[{\"T\":\"q\",\"S\":\"X\",\"bp\":1,\"ap\":2,\"bs\":1,\"as\":1,\"t\":\"%s\"}]", ts[i].t);
		assert_int_equal(parse(f, fr), 1);
		assert_int_equal(f->g->ev[0].t_ns, ts[i].ns);
	}
	/* an escaped timestamp is still a timestamp */
	assert_int_equal(parse(f, "[{\"T\":\"i\",\"S\":\"X\",\"t\":\"2021-02-22T15:51:44\\u002e5Z\"}]"), 1);
	assert_int_equal(f->g->ev[0].t_ns, 1614009104500000000LL);
}

/* ---- unknown things --------------------------------------------------- */

static void test_unknown_fields_and_types(void **state)
{
	struct fx *f = *state;
	const char *fr =
		"[{\"T\":\"o\",\"S\":\"BTC/USD\",\"t\":\"2024-01-01T00:00:00Z\",\"b\":[{\"p\":1,\"s\":2}],"
		"\"a\":[],\"r\":true},"
		"{\"T\":\"t\",\"S\":\"AAPL\",\"NewField\":{\"deep\":[1,[2,{\"x\":null}]],\"T\":\"zz\"},"
		"\"r\":\"2024-01-01T00:00:00.5Z\",\"i\":1,\"p\":1.5,\"s\":3,\"extra\":[\"p\",\"i\"],"
		"\"t\":\"2024-01-01T00:00:00Z\",\"tks\":\"B\",\"u\":false,\"w\":null,\"e\":-1.5e-3,"
		"\"long\":\"\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe2\x82\xac ~\x7f and a longer tail\"},"
		"{\"T\":\"news\",\"headline\":\"x\"},"
		"{\"T\":\"\"},"
		"{\"T\":\"tt\",\"S\":\"A\",\"t\":\"2024-01-01T00:00:00Z\"},"
		"{\"T\":\"Success\"}]";
	assert_int_equal(parse(f, fr), 1);
	const struct event *e = &f->g->ev[0];
	assert_int_equal(e->kind, EVENT_TRADE);
	assert_int_equal(e->u.trade.id, 1);
	assert_true(e->u.trade.price == 1.5 && e->u.trade.size == 3.0);
	const struct frame_stats *st = frame_parser_stats(f->p);
	assert_int_equal(st->unknown_type, 5);
	assert_int_equal(st->rejected, 0);
	assert_int_equal(st->messages, 6);
}

/* ---- malformed frames ------------------------------------------------- */

static int never_calls(struct fx *f, const char *s, size_t n)
{
	f->g->n = 0;
	int rc = frame_parse(f->p, s, n, 0, 0, collect, f->g);
	assert_int_equal(f->g->n, 0);
	return rc;
}

static void test_bad_frames(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = {
		"", " ", "{}", "{\"T\":\"t\"}", "\"x\"", "1", "null", "true",
		"[", "]", "[[]", "[]]", "[] []", "[]x", "x[]", "[],",
		"[1,]", "[,1]", "[1,,2]", "[1 2]", "[{},]", "[{}{}]",
		"[{\"T\":\"t\",}]", "[{,\"T\":\"t\"}]", "[{\"T\" \"t\"}]", "[{\"T\":\"t\" \"S\":\"A\"}]",
		"[{\"T\"}]", "[{\"T\":}]", "[{\"T\"::\"t\"}]", "[{1:2}]", "[{\"a\":1:2}]",
		"[tru]", "[nul]", "[True]", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]", "[0x10]",
		"[\"a\\x\"]", "[\"\\u12\"]", "[\"a\tb\"]", "[\"a\nb\"]",
		"[\"0123456789abcdef\x1f\"]", "[\"01234567\x01\"]", "[\"0123456\x7f\x01\"]",
		"[\"0123\x1f" "56789\"]", "[{\"T\":\"t\",\"z\":\"\x01" "bcdefghijk\"}]",
		"[{\"T\":\"t\",\"c\":[\"@\" \"I\"]}]", "[{\"T\":\"t\",\"c\":[\"@\",]}]",
		"[{\"T\":\"t\"}", "[{\"T\":\"t\"]", "[{\"T\":\"t\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = never_calls(f, bad[i], strlen(bad[i]));
		if (rc != -EPROTO)
			fail_msg("'%s' gave %d, want -EPROTO", bad[i], rc);
	}
	/* an embedded NUL ends nothing: it is garbage */
	assert_int_equal(never_calls(f, "[]\0", 3), -EPROTO);
	assert_int_equal(never_calls(f, "[\"a\0\"]", 5), -EPROTO);
	/* the length is honoured: bytes past len are not read */
	assert_int_equal(never_calls(f, "[]garbage", 2), 0);

	/* every strict prefix of a good frame is rejected whole */
	const char *good = "[{\"T\":\"t\",\"i\":96921,\"S\":\"AAPL\",\"x\":\"D\",\"p\":126.55,\"s\":1,"
			   "\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"},"
			   "{\"T\":\"q\",\"S\":\"AMD\",\"bp\":87.66,\"bs\":1,\"ap\":87.68,\"as\":4,"
			   "\"t\":\"2021-02-22T15:51:45.335689322Z\"}]";
	size_t n = strlen(good);
	for (size_t k = 0; k < n; k++) {
		char *cp = malloc(k + 1); /* exact size so ASan sees any overread */
		memcpy(cp, good, k);
		int rc = never_calls(f, cp, k);
		if (rc != -EPROTO)
			fail_msg("prefix %zu gave %d", k, rc);
		free(cp);
	}
	char *cp = malloc(n);
	memcpy(cp, good, n);
	f->g->n = 0;
	assert_int_equal(frame_parse(f->p, cp, n, 0, 0, collect, f->g), 2);
	free(cp);

	assert_int_equal(frame_parse(NULL, "[]", 2, 0, 0, collect, NULL), -EINVAL);
	assert_int_equal(frame_parse(f->p, NULL, 0, 0, 0, collect, NULL), -EINVAL);
	assert_int_equal(frame_parse(f->p, "[]", 2, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(frame_parse(f->p, "[]", (size_t)INT_MAX, 0, 0, collect, NULL), -EMSGSIZE);

	/* nesting: 64 levels is the limit */
	char deep[300];
	size_t d = 0;
	for (int i = 0; i < 64; i++)
		deep[d++] = '[';
	for (int i = 0; i < 64; i++)
		deep[d++] = ']';
	assert_int_equal(never_calls(f, deep, d), 0);
	memmove(deep + 1, deep, d);
	deep[0] = '[';
	deep[d + 1] = ']';
	assert_int_equal(never_calls(f, deep, d + 2), -EPROTO);

	const struct frame_stats *st = frame_parser_stats(f->p);
	assert_true(st->frames_bad >= sizeof(bad) / sizeof(bad[0]) + n);
	assert_int_equal(st->events, 2);
}

/* ---- malformed messages: skipped and counted ---------------------------- */

static void test_bad_messages(void **state)
{
	struct fx *f = *state;
#define TR(fields) "{\"T\":\"t\",\"S\":\"AAPL\",\"t\":\"2021-02-22T15:51:44Z\"," fields "}"
#define GOOD TR("\"i\":1,\"p\":1.5,\"s\":2")
	static const struct {
		const char *msg;
		enum frame_reject why;
	} cases[] = {
		{"1", FRAME_REJ_NOT_OBJECT},
		{"\"t\"", FRAME_REJ_NOT_OBJECT},
		{"null", FRAME_REJ_NOT_OBJECT},
		{"[" GOOD "]", FRAME_REJ_NOT_OBJECT},
		{"{}", FRAME_REJ_NO_TYPE},
		{"{\"S\":\"AAPL\",\"i\":1}", FRAME_REJ_NO_TYPE},
		{"{\"T\":1}", FRAME_REJ_NO_TYPE},
		{"{\"T\":[\"t\"]}", FRAME_REJ_NO_TYPE},
		{"{\"T\":\"t\",\"T\":\"t\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_NO_TYPE},
		{"{\"T\":\"t\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}", FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1}", FRAME_REJ_MISSING_FIELD},
		{TR("\"p\":1.5,\"s\":2"), FRAME_REJ_MISSING_FIELD},
		{TR("\"i\":1,\"s\":2"), FRAME_REJ_MISSING_FIELD},
		{TR("\"i\":1,\"p\":2"), FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"q\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\",\"bp\":1,\"ap\":1,\"bs\":1}",
		 FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"b\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\",\"o\":1,\"h\":1,\"l\":1,\"v\":1}",
		 FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"x\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\"}", FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"s\",\"S\":\"A\"}", FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"l\",\"t\":\"2021-02-22T15:51:44Z\"}", FRAME_REJ_MISSING_FIELD},
		{"{\"T\":\"t\",\"S\":1,\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_SYMBOL},
		{"{\"T\":\"t\",\"S\":\"\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_SYMBOL},
		{"{\"T\":\"t\",\"S\":\"ABCDEFGHIJKLMNOPQRSTUVWX\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,"
		 "\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_SYMBOL},
		{"{\"T\":\"t\",\"S\":\"A\\u0000B\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_SYMBOL},
		{"{\"T\":\"t\",\"S\":\"A\\ud800\",\"t\":\"2021-02-22T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_SYMBOL},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":\"2021-02-22 15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_TIME},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":\"2021-02-30T15:51:44Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_TIME},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44.1234567891Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_TIME},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":\"3000-01-01T00:00:00Z\",\"i\":1,\"p\":1,\"s\":1}",
		 FRAME_REJ_BAD_TIME},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":1614009104,\"i\":1,\"p\":1,\"s\":1}", FRAME_REJ_BAD_TIME},
		{"{\"T\":\"t\",\"S\":\"A\",\"t\":\"\",\"i\":1,\"p\":1,\"s\":1}", FRAME_REJ_BAD_TIME},
		{TR("\"i\":9223372036854775808,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":18446744073709551616,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":99999999999999999999999,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":-1,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1.5,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1e3,\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":\"1\",\"p\":1.5,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1,\"p\":\"1.5\",\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1,\"p\":null,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1,\"p\":true,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1,\"p\":1e400,\"s\":2"), FRAME_REJ_BAD_NUMBER},
		{TR("\"i\":1,\"p\":1.5,\"s\":[2]"), FRAME_REJ_BAD_NUMBER},
		{"{\"T\":\"b\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
		 "\"v\":1,\"n\":-2}",
		 FRAME_REJ_BAD_NUMBER},
		{"{\"T\":\"b\",\"S\":\"A\",\"t\":\"2021-02-22T15:51:44Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
		 "\"v\":1,\"vw\":\"x\"}",
		 FRAME_REJ_BAD_NUMBER},
		{"{\"T\":\"error\",\"code\":\"402\",\"msg\":\"auth failed\"}", FRAME_REJ_BAD_NUMBER},
		{"{\"T\":\"error\",\"code\":4294967296,\"msg\":\"x\"}", FRAME_REJ_BAD_NUMBER},
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < nc; i++) {
		/* the bad message sits between two good ones, which still arrive */
		char fr[1024];
		snprintf(fr, sizeof(fr), "[" GOOD ",%s," GOOD "]", cases[i].msg);
		struct frame_stats before = *frame_parser_stats(f->p);
		int rc = parse(f, fr);
		const struct frame_stats *st = frame_parser_stats(f->p);
		if (rc != 2 || st->by_reason[cases[i].why] != before.by_reason[cases[i].why] + 1)
			fail_msg("case %zu (%s): rc %d, want reason %s", i, cases[i].msg, rc,
				 frame_reject_name(cases[i].why));
		assert_int_equal(st->rejected, before.rejected + 1);
		assert_int_equal(st->events, before.events + 2);
		assert_int_equal(st->messages, before.messages + 3);
	}
	/* boundaries that are accepted */
	assert_int_equal(parse(f, "[" TR("\"i\":0,\"p\":0,\"s\":0") "]"), 1);
	assert_int_equal(parse(f, "[{\"T\":\"t\",\"S\":\"ABCDEFGHIJKLMNOPQRSTUVW\",\"t\":\"2021-02-22T15:51:44Z\","
				  "\"i\":1,\"p\":1,\"s\":1}]"),
			 1);
	assert_int_equal(f->g->ev[0].symbol_len, EVENT_SYMBOL_MAX - 1);
	assert_int_equal(parse(f, "[{\"T\":\"error\",\"code\":-2147483648}]"), 1);
	assert_int_equal(f->g->ev[0].u.ctl.code, INT32_MIN);

	const char *names[] = {"not_object", "no_type", "missing_field", "bad_symbol", "bad_time",
			       "bad_number"};
	for (int r = 0; r < FRAME_REJ_COUNT; r++)
		assert_string_equal(frame_reject_name((enum frame_reject)r), names[r]);
	assert_string_equal(frame_reject_name(FRAME_REJ_COUNT), "unknown");
#undef GOOD
#undef TR
}

/* ---- escapes and whitespace ------------------------------------------- */

static void test_escapes(void **state)
{
	struct fx *f = *state;
	const char *fr =
		"[{\"T\":\"t\",\"S\":\"BRK\\/A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"},"
		"{\"T\":\"t\",\"S\":\"\\u0041APL\",\"i\":2,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"},"
		"{\"\\u0054\":\"\\u0074\",\"\\u0053\":\"X\",\"i\":3,\"p\":1,\"s\":1,"
		"\"t\":\"2021-02-22T15:51:44Z\"},"
		"{\"T\":\"t\",\"S\":\"\\ud83d\\ude00\\u00e9\",\"i\":4,\"p\":1,\"s\":1,"
		"\"t\":\"2021-02-22T15:51:44Z\"},"
		"{\"T\":\"t\",\"S\":\"A\\\"B\\\\C\",\"i\":5,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\","
		"\"z\":\"\\\"}]{,:\"}]";
	assert_int_equal(parse(f, fr), 5);
	const struct event *e = f->g->ev;
	assert_string_equal(e[0].symbol, "BRK/A");
	assert_string_equal(e[1].symbol, "AAPL");
	assert_int_equal(e[2].kind, EVENT_TRADE);
	assert_string_equal(e[2].symbol, "X");
	assert_string_equal(e[3].symbol, "\xf0\x9f\x98\x80\xc3\xa9");
	assert_int_equal(e[3].symbol_len, 6);
	assert_string_equal(e[4].symbol, "A\"B\\C");
	/* a 23-byte symbol reached only through escapes is accepted; 24 is not */
	assert_int_equal(parse(f, "[{\"T\":\"t\",\"S\":\"\\u0041BCDEFGHIJKLMNOPQRSTUVW\",\"i\":1,\"p\":1,"
				  "\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]"),
			 1);
	assert_int_equal(parse(f, "[{\"T\":\"t\",\"S\":\"\\u0041BCDEFGHIJKLMNOPQRSTUVWX\",\"i\":1,\"p\":1,"
				  "\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]"),
			 0);
}

static void test_whitespace_and_cut_positions(void **state)
{
	struct fx *f = *state;
	/* pretty-printed, T first / middle / last, spaces around the comma */
	const char *fr = " \n[\n"
			 "  { \"T\" : \"t\" , \"S\" : \"A\", \"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\" },\r\n"
			 "  {\"S\":\"B\",\"i\":2,\"T\":\"t\",\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"},\n"
			 "  {\"S\":\"C\",\"i\":3,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\" ,\t\"T\":\"t\"\n}\n"
			 "]\t\n";
	assert_int_equal(parse(f, fr), 3);
	const struct event *e = f->g->ev;
	/* first: the member and the following comma */
	assert_true(slice_is((struct event_slice){e[0].raw.p + e[0].type_off, e[0].type_len},
			     "\"T\" : \"t\" ,"));
	/* middle: the member and the following comma */
	assert_true(slice_is((struct event_slice){e[1].raw.p + e[1].type_off, e[1].type_len},
			     "\"T\":\"t\","));
	/* last: the preceding comma and the member */
	assert_true(slice_is((struct event_slice){e[2].raw.p + e[2].type_off, e[2].type_len},
			     ",\t\"T\":\"t\""));
}

/* ---- numbers: bit-exact against strtod ---------------------------------- */

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void check_price(struct fx *f, const char *lit)
{
	char fr[256];
	snprintf(fr, sizeof(fr),
		 "[{\"T\":\"t\",\"S\":\"A\",\"i\":1,\"p\":%s,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]", lit);
	if (parse(f, fr) != 1)
		fail_msg("price %s not accepted", lit);
	double want = strtod(lit, NULL);
	double got = f->g->ev[0].u.trade.price;
	if (memcmp(&want, &got, sizeof(double)) != 0)
		fail_msg("price %s: got %.17g want %.17g", lit, got, want);
}

static void test_numbers_exact(void **state)
{
	struct fx *f = *state;
	static const char *lits[] = {
		"0", "-0", "0.0", "1", "-1", "126.55", "0.1", "0.3", "87.66", "389.062639",
		"1009.9", "39.1582", "9007199254740992", "9007199254740993", "9007199254740991.5",
		"1e22", "1e23", "1.5e-7", "123456789012345678901234567890", "0.000000000000000000001",
		"1.7976931348623157e308", "4.9e-324", "2.2250738585072011e-308",
		"2.2250738585072014e-308", "1E5", "1e+5", "1e-5", "0e0", "-0.0e-0",
		"3.14159265358979323846264338327950288", "100000000000000000000000",
		"0.30000000000000004", "123.456e-2", "12345678901234567890",
		"1844674407370955161.5", "8.988465674311579e307", "1e-400",
	};
	for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++)
		check_price(f, lits[i]);

	uint64_t seed = 1;
	char lit[64];
	for (int k = 0; k < 100000; k++) {
		uint64_t r = mix(&seed);
		switch (k % 5) {
		case 0: /* price-like: up to 6 integer and 1-6 fraction digits */
			snprintf(lit, sizeof(lit), "%llu.%0*llu", (unsigned long long)(r % 1000000),
				 (int)(1 + (r >> 40) % 6), (unsigned long long)((r >> 20) % 1000000));
			break;
		case 1: /* sub-penny */
			snprintf(lit, sizeof(lit), "0.%08llu", (unsigned long long)(r % 100000000));
			break;
		case 2: /* integers up to 2^64 */
			snprintf(lit, sizeof(lit), "%llu", (unsigned long long)(r >> (r % 64)));
			break;
		case 3: /* random doubles printed with 17 digits */
		{
			double d;
			uint64_t bits = r & 0x7fefffffffffffffULL;
			memcpy(&d, &bits, sizeof(d));
			snprintf(lit, sizeof(lit), "%.17g", d);
			break;
		}
		default: /* mantissa and exponent */
			snprintf(lit, sizeof(lit), "%llue%d", (unsigned long long)(r % 100000000000ULL),
				 (int)((r >> 50) % 60) - 30);
			break;
		}
		check_price(f, lit);
	}
}


/* ---- the single pass and the jsmn path agree ---------------------------- */

/* Parses s, then " " + s: leading whitespace sends a frame to the jsmn
 * path, which must deliver the same (slices one byte further on) with the
 * same stats. Returns the first result; *fast says whether the single pass
 * took s. */
static int both_paths(struct got *ga, struct got *gb, const char *s, size_t len, bool *fast)
{
	struct frame_parser *a = frame_parser_new(), *b = frame_parser_new();
	char *sp = malloc(len + 1);
	ga->n = gb->n = 0;
	assert_true(a && b && ga && gb && sp);
	sp[0] = ' ';
	memcpy(sp + 1, s, len);
	int ra = frame_parse(a, s, len, 1, 2, collect, ga);
	int rb = frame_parse(b, sp, len + 1, 1, 2, collect, gb);
	const struct frame_stats *sa = frame_parser_stats(a), *sb = frame_parser_stats(b);
	assert_int_equal(sb->frames_general, 1);
	*fast = sa->frames_general == 0;
	if (ra != rb)
		fail_msg("single pass %d, jsmn %d: %.*s", ra, rb, (int)len, s);
	assert_int_equal(sa->frames, sb->frames);
	assert_int_equal(sa->frames_bad, sb->frames_bad);
	assert_int_equal(sa->messages, sb->messages);
	assert_int_equal(sa->events, sb->events);
	assert_int_equal(sa->unknown_type, sb->unknown_type);
	assert_int_equal(sa->rejected, sb->rejected);
	for (int r = 0; r < FRAME_REJ_COUNT; r++)
		assert_int_equal(sa->by_reason[r], sb->by_reason[r]);
	assert_int_equal(ga->n, gb->n);
	for (int i = 0; i < ga->n; i++) {
		const struct event *x = &ga->ev[i], *y = &gb->ev[i];
		assert_int_equal(x->kind, y->kind);
		assert_string_equal(x->symbol, y->symbol);
		assert_int_equal(x->symbol_len, y->symbol_len);
		assert_int_equal(x->t_ns, y->t_ns);
		assert_int_equal(x->raw.p - s, y->raw.p - (sp + 1));
		assert_int_equal(x->raw.n, y->raw.n);
		assert_int_equal(x->type_off, y->type_off);
		assert_int_equal(x->type_len, y->type_len);
		if (x->kind >= EVENT_CTL_SUCCESS) {
			assert_int_equal(x->u.ctl.code, y->u.ctl.code);
			assert_int_equal(x->u.ctl.msg.n, y->u.ctl.msg.n);
			if (x->u.ctl.msg.p)
				assert_int_equal(x->u.ctl.msg.p - s, y->u.ctl.msg.p - (sp + 1));
			else
				assert_null(y->u.ctl.msg.p);
		} else {
			/* both zeroed before filling: NaNs and unused bytes compare */
			assert_memory_equal(&x->u, &y->u, sizeof(x->u));
		}
	}
	frame_parser_free(a);
	frame_parser_free(b);
	free(sp);
	return ra;
}

static int both(const char *s, bool *fast)
{
	struct got *ga = calloc(2, sizeof(*ga));
	int rc = both_paths(ga, ga + 1, s, strlen(s), fast);
	free(ga);
	return rc;
}

#define TRADE_A "{\"T\":\"t\",\"S\":\"NVDA\",\"i\":66233746652708,\"x\":\"D\",\"p\":135.96,\"s\":24," \
		"\"c\":[\"@\",\"T\",\"I\"],\"t\":\"2025-01-15T14:25:22.858310247Z\",\"z\":\"C\"}"
#define QUOTE_A "{\"T\":\"q\",\"S\":\"XAAAC\",\"bx\":\"Q\",\"bp\":30.21,\"bs\":7,\"ax\":\"Q\",\"ap\":30.3," \
		"\"as\":4,\"c\":[\"R\"],\"z\":\"C\",\"t\":\"2025-01-15T14:25:50.603471945Z\"}"
#define BAR_A "{\"T\":\"b\",\"S\":\"NVDA\",\"o\":135.96,\"h\":135.96,\"l\":135.72,\"c\":135.73,\"v\":231," \
	      "\"t\":\"2025-01-15T14:25:00Z\",\"n\":3,\"vw\":135.7535930736}"

static void test_single_pass(void **state)
{
	struct fx *f = *state;
	bool fast;
	/* what Alpaca sends takes the single pass */
	static const char *compact[] = {
		"[" TRADE_A "]",
		"[" TRADE_A "," QUOTE_A "," BAR_A "]",
		"[{\"T\":\"success\",\"msg\":\"connected\"}]",
		"[{\"T\":\"error\",\"code\":406,\"msg\":\"connection limit exceeded\"}]",
		"[{\"T\":\"subscription\",\"trades\":[\"AAPL\"],\"quotes\":[\"AMD\",\"CLDR\"],\"bars\":[]}]",
		"[{\"T\":\"c\",\"S\":\"EEM\",\"x\":\"M\",\"oi\":1,\"op\":39.1,\"os\":1,\"oc\":[\" \"],\"ci\":2,"
		"\"cp\":39.2,\"cs\":2,\"cc\":[\" \"],\"z\":\"B\",\"t\":\"2021-02-22T15:51:45Z\"}]",
		"[{\"T\":\"x\",\"S\":\"EEM\",\"i\":1,\"x\":\"M\",\"p\":1,\"s\":1,\"a\":\"C\",\"z\":\"B\","
		"\"t\":\"2021-02-22T15:51:45Z\"}]",
		"[{\"T\":\"s\",\"S\":\"AAPL\",\"sc\":\"H\",\"sm\":\"Trading Halt\",\"rc\":\"T12\",\"z\":\"C\","
		"\"t\":\"2021-02-22T15:51:44Z\",\"ok\":true,\"no\":false,\"nil\":null}]",
		/* a message skipped for a reason, and an unknown type, in a good frame */
		"[" TRADE_A ",{\"T\":\"t\",\"S\":\"A\"},{\"T\":\"zz\",\"S\":\"A\"},{\"S\":\"A\"}," QUOTE_A "]",
		/* numbers in every form of the grammar */
		"[{\"T\":\"q\",\"S\":\"X\",\"bp\":-0.5e+3,\"ap\":1E2,\"bs\":0,\"as\":1e-1,"
		"\"t\":\"2021-02-22T15:51:44Z\"}]",
	};
	for (size_t i = 0; i < sizeof(compact) / sizeof(compact[0]); i++) {
		int rc = both(compact[i], &fast);
		if (rc < 1 || !fast)
			fail_msg("compact frame %zu: rc %d, single pass %d", i, rc, fast);
	}
	assert_int_equal(both("[" TRADE_A "," QUOTE_A "," BAR_A "]", &fast), 3);

	/* valid JSON the single pass leaves to jsmn */
	static const char *general[] = {
		"[]",
		"[{}]",
		"[1," TRADE_A "]",
		"[" TRADE_A ",\"x\"]",
		"[" TRADE_A "]\n",
		"[" TRADE_A " ]",
		"[{\"T\": \"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]",
		"[{\"T\":\"t\",\"S\":\"A\\u0042\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]",
		"[{\"\\u0054\":\"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\"}]",
		"[{\"T\":\"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\",\"q\":{\"a\":1}}]",
		"[{\"T\":\"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\",\"c\":[[\"@\"]]}]",
		"[{\"T\":\"t\",\"S\":\"A\",\"i\":1,\"p\":1,\"s\":1,\"t\":\"2021-02-22T15:51:44Z\",\"c\":[{}]}]",
	};
	for (size_t i = 0; i < sizeof(general) / sizeof(general[0]); i++) {
		int rc = both(general[i], &fast);
		if (rc < 0 || fast)
			fail_msg("frame %zu: rc %d, single pass %d", i, rc, fast);
	}
	assert_int_equal(both("[" TRADE_A ",\"x\"]", &fast), 1);

	/* malformed frames: the single pass gives up, jsmn refuses */
	static const char *bad[] = {
		"[", "]", "[{", "[{]", "[{\"T\"}]", "[{\"T\":}]", "[{\"T\":\"t\"}", "[{\"T\":\"t\"}]]",
		"[{\"T\":\"t\"},]", "[{\"T\":\"t\",}]", "[{\"T\":\"t\"}{\"T\":\"t\"}]", "[{\"T\":\"t\"},,{}]",
		"[{\"T\":\"t\",\"p\":01}]", "[{\"T\":\"t\",\"p\":1.}]", "[{\"T\":\"t\",\"p\":-}]",
		"[{\"T\":\"t\",\"p\":.5}]", "[{\"T\":\"t\",\"p\":1e}]", "[{\"T\":\"t\",\"p\":1e+}]",
		"[{\"T\":\"t\",\"p\":+1}]", "[{\"T\":\"t\",\"p\":tru}]", "[{\"T\":\"t\",\"p\":truex}]",
		"[{\"T\":\"t\",\"p\":nul}]", "[{\"T\":\"t\",\"p\":True}]", "[{\"T\":\"t\",\"p\":1 2}]",
		"[{\"T\":\"t\",\"S\":\"A\x01\"}]", "[{\"T\":\"t\",\"S\":\"A}]", "[{\"T\":\"t\",\"a\":\"b\":1}]",
		"[{\"T\":\"t\",\"c\":[\"@\",]}]", "[{\"T\":\"t\",\"c\":[\"@\"}]", "[{\"T\":\"t\",\"c\":[\"@\"]]}]",
		"[{\"T\":\"t\"}]x", "[{T:\"t\"}]", "[{\"T\":'t'}]", "{\"T\":\"t\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = both(bad[i], &fast);
		if (rc != -EPROTO)
			fail_msg("bad frame %zu (%s): rc %d", i, bad[i], rc);
	}

	/* the counter behind it, on the fixture's parser */
	assert_int_equal(parse(f, "[" TRADE_A "]"), 1);
	assert_int_equal(frame_parser_stats(f->p)->frames_general, 0);
	assert_int_equal(parse(f, " [" TRADE_A "]"), 1);
	assert_int_equal(frame_parser_stats(f->p)->frames_general, 1);
}

/* The cached date: every form clock_parse_rfc3339 takes or refuses, with
 * the date changing between messages of one parser. */
static void test_single_pass_times(void **state)
{
	struct fx *f = *state;
	static const char *ts[] = {
		"2025-01-15T14:25:22.858310247Z", "2025-01-15T14:25:22Z", "2025-01-15T00:00:00.000000001Z",
		"2025-01-15T23:59:59.999999999Z", "2025-01-16T00:00:00Z", "2025-01-15T09:30:00.5Z",
		"2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2025-02-30T12:00:00Z", "2025-13-01T00:00:00Z",
		"2025-01-15T24:00:00Z", "2025-01-15T23:60:00Z", "2025-01-15T23:59:60Z",
		"2025-01-15T14:25:22.Z", "2025-01-15T14:25:22.1234567890Z", "2025-01-15T14:25:22.12a4Z",
		"2025-01-15t14:25:22Z", "2025-01-15T14:25:22z", "2025-01-15T14:25:22+01:00",
		"2025-01-15T14:25:22.5-05:00", "2025-01-15 14:25:22Z", "2025-01-15T14:25Z", "2025-1-15T14:25:22Z",
		"1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "1677-09-21T00:12:43.145224192Z",
		"1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775807Z",
		"2262-04-11T23:47:16.854775808Z", "2262-04-11T00:00:00Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z", "2025-01-15T14:25:22.858310247Z", "x025-01-15T14:25:22Z",
	};
	char fr[4096];
	size_t o = 0;
	fr[o++] = '[';
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		o += (size_t)snprintf(fr + o, sizeof(fr) - o, "%s{\"T\":\"i\",\"S\":\"A%zu\",\"t\":\"%s\"}",
				      i ? "," : "", i, ts[i]);
	fr[o++] = ']';
	fr[o] = '\0';
	bool fast;
	int n = both(fr, &fast);
	assert_true(fast);
	assert_int_equal(parse(f, fr), n);
	int k = 0;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		int64_t want;
		if (clock_parse_rfc3339(ts[i], strlen(ts[i]), &want) < 0)
			continue; /* refused by both: skipped as bad_time */
		char sym[8];
		snprintf(sym, sizeof(sym), "A%zu", i);
		assert_true(k < n);
		assert_string_equal(f->g->ev[k].symbol, sym);
		if (f->g->ev[k].t_ns != want)
			fail_msg("%s: %lld, want %lld", ts[i], (long long)f->g->ev[k].t_ns, (long long)want);
		k++;
	}
	assert_int_equal(k, n);
	assert_true(frame_parser_stats(f->p)->by_reason[FRAME_REJ_BAD_TIME] > 5);
}

/* Random edits of compact frames: whatever they become, both paths agree
 * (the single pass must never accept what jsmn refuses, nor read it
 * differently). */
static void test_single_pass_mutations(void **state)
{
	(void)state;
	static const char base[] = "[" TRADE_A "," QUOTE_A "," BAR_A
				   ",{\"T\":\"success\",\"msg\":\"ok\"},{\"T\":\"x\",\"S\":\"A\",\"i\":7,"
				   "\"t\":\"2021-02-22T15:51:45Z\",\"f\":[1,true,null,\"s\"]}]";
	static const char alphabet[] = "\"{}[],:\\ 0123456789.-+eEtfnulTSZqbxi\x01\x7f"; /* ASCII: the cut check decodes UTF-8 */
	uint64_t seed = 7;
	char buf[sizeof(base) + 64];
	struct got *g = calloc(2, sizeof(*g));
	int n_fast = 0, n_general = 0, n_good = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = sizeof(base) - 1;
		memcpy(buf, base, len);
		int edits = 1 + (int)(mix(&seed) % 3);
		for (int e = 0; e < edits; e++) {
			uint64_t r = mix(&seed);
			size_t at = (size_t)(r % (len + 1));
			char c = alphabet[(r >> 32) % (sizeof(alphabet) - 1)];
			switch ((r >> 24) % 3) {
			case 0: /* replace */
				if (at < len)
					buf[at] = c;
				break;
			case 1: /* delete */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default: /* insert */
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = c;
				len++;
				break;
			}
		}
		bool fast;
		int rc = both_paths(g, g + 1, buf, len, &fast);
		n_fast += fast;
		n_general += !fast;
		n_good += rc >= 0;
	}
	free(g);
	/* both paths and both outcomes were exercised */
	assert_true(n_fast > 1000 && n_general > 1000 && n_good > 1000 && n_good < 19000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_luld_imbalance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_correction_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_fields_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whitespace_and_cut_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_pass_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_pass_mutations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
