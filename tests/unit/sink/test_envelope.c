/* test_envelope.c - sink/envelope: every output is parsed back with jansson.
 *
 * Events are built by hand (raw message + the T range), as the frame parser
 * will produce them. Instants are computed with timegm so the expectations
 * do not depend on the clock module under test. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/clock.h"
#include "sink/envelope.h"

static const char *const env_keys[] = {
	"ingestTs", "eventTs", "feed", "channel", "symbol", "seq", "payload", "accountLabel",
	"isFinal", "source", "window", "version", "provider", "marketSession", "delayClass",
};
#define N_ENV_KEYS (sizeof(env_keys) / sizeof(env_keys[0]))

static const char *const conn_keys[] = {
	"component", "status", "error_code", "error_class", "detail", "attempt", "gap_start",
	"gap_end", "dropped", "schema_version",
};
#define N_CONN_KEYS (sizeof(conn_keys) / sizeof(conn_keys[0]))

/* UTC nanoseconds of a calendar instant. */
static int64_t utc_ns(int y, int mo, int d, int h, int mi, int s, int64_t frac_ns)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm) * CLOCK_NS_PER_SEC + frac_ns;
}

/* Checks the object's keys are exactly `keys`, in that order (jansson keeps
 * insertion order), and rejects duplicates at parse time. */
static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	size_t i = 0;
	const char *k;
	json_t *v;

	assert_true(json_is_object(o));
	json_object_foreach(o, k, v) {
		assert_true(i < n);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static json_t *parse(const char *buf, int len)
{
	json_error_t err;
	json_t *j;

	assert_true(len > 0);
	assert_int_equal(strlen(buf), (size_t)len); /* NUL-terminated, no NUL inside */
	j = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("invalid JSON (%s at %d): %s", err.text, err.position, buf);
	return j;
}

static void assert_str(json_t *o, const char *key, const char *exp)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	if (!exp) {
		assert_true(json_is_null(v));
		return;
	}
	assert_true(json_is_string(v));
	assert_int_equal(json_string_length(v), strlen(exp));
	assert_memory_equal(json_string_value(v), exp, strlen(exp));
}

static void assert_int(json_t *o, const char *key, int64_t exp)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	assert_true(json_integer_value(v) == exp);
}

static void assert_jnull(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_null(v));
}

static void assert_ts(json_t *o, const char *key, int64_t ns)
{
	char t[CLOCK_RFC3339_MAX];

	assert_true(clock_format_rfc3339(ns, CLOCK_FRAC_AUTO, t, sizeof(t)) > 0);
	assert_str(o, key, t);
}

/* The envelope fields common to all envelopes, with their types. */
static void assert_common(json_t *j, const char *feed, const char *delay, const char *source)
{
	assert_keys(j, env_keys, N_ENV_KEYS);
	assert_true(json_is_string(json_object_get(j, "ingestTs")));
	assert_str(j, "feed", feed);
	assert_true(json_is_integer(json_object_get(j, "seq")));
	assert_jnull(j, "accountLabel");
	assert_str(j, "source", source);
	assert_jnull(j, "window");
	assert_int(j, "version", 2);
	assert_str(j, "provider", "alpaca");
	assert_str(j, "delayClass", delay);
}

/* ---- market-data envelopes ---- */

static const char trade_raw[] =
	"{\"T\":\"t\",\"S\":\"AAPL\",\"i\":96921,\"x\":\"D\",\"p\":126.55,\"s\":1,"
	"\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"}";
static const char trade_payload[] =
	"{\"S\":\"AAPL\",\"i\":96921,\"x\":\"D\",\"p\":126.55,\"s\":1,"
	"\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"}";

static void set_raw(struct event *ev, const char *raw, const char *cut)
{
	const char *at = strstr(raw, cut);

	assert_non_null(at);
	ev->raw.p = raw;
	ev->raw.n = (uint32_t)strlen(raw);
	ev->type_off = (uint32_t)(at - raw);
	ev->type_len = (uint32_t)strlen(cut);
}

static void make_trade(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = EVENT_TRADE;
	strcpy(ev->symbol, "AAPL");
	ev->symbol_len = 4;
	ev->t_ns = utc_ns(2021, 2, 22, 15, 51, 44, 208000000);
	ev->u.trade.id = 96921;
	ev->u.trade.price = 126.55;
	ev->u.trade.size = 1;
	set_raw(ev, trade_raw, "\"T\":\"t\",");
}

static const struct envelope_meta iex_meta = {
	.ingest_ns = 1614009104208123456LL, .feed = "iex", .seq = 7,
};

static void test_trade(void **state)
{
	struct event ev;
	char buf[1024];
	int len;
	json_t *j, *want;
	char *expect_payload;

	make_trade(&ev);
	len = envelope_write(&ev, &iex_meta, buf, sizeof(buf));
	j = parse(buf, len);
	assert_common(j, "iex", "real_time_exchange_only", "ws");
	assert_str(j, "ingestTs", "2021-02-22T15:51:44.208123456Z");
	assert_str(j, "eventTs", "2021-02-22T15:51:44.208Z");
	assert_str(j, "channel", "trades");
	assert_str(j, "symbol", "AAPL");
	assert_int(j, "seq", 7);
	assert_true(json_is_true(json_object_get(j, "isFinal")));
	assert_str(j, "marketSession", "regular"); /* 10:51 EST */

	want = json_loads(trade_payload, 0, NULL);
	assert_non_null(want);
	assert_true(json_equal(json_object_get(j, "payload"), want));
	assert_null(json_object_get(json_object_get(j, "payload"), "T"));
	json_decref(want);
	json_decref(j);

	/* byte for byte: the payload is the raw text minus "T":"t", */
	assert_true(asprintf(&expect_payload, ",\"payload\":%s,\"accountLabel\":", trade_payload) > 0);
	assert_non_null(strstr(buf, expect_payload));
	free(expect_payload);
	/* and the whole envelope, in order */
	assert_string_equal(buf,
		"{\"ingestTs\":\"2021-02-22T15:51:44.208123456Z\","
		"\"eventTs\":\"2021-02-22T15:51:44.208Z\",\"feed\":\"iex\",\"channel\":\"trades\","
		"\"symbol\":\"AAPL\",\"seq\":7,\"payload\":"
		"{\"S\":\"AAPL\",\"i\":96921,\"x\":\"D\",\"p\":126.55,\"s\":1,"
		"\"t\":\"2021-02-22T15:51:44.208Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"},"
		"\"accountLabel\":null,\"isFinal\":true,\"source\":\"ws\",\"window\":null,"
		"\"version\":2,\"provider\":\"alpaca\",\"marketSession\":\"regular\","
		"\"delayClass\":\"real_time_exchange_only\"}");
}

static void test_payload_cuts(void **state)
{
	static const struct {
		const char *raw, *cut, *want;
	} cases[] = {
		/* T last: the comma before it goes */
		{ "{\"S\":\"SPY\",\"bp\":1.5,\"T\":\"q\"}", ",\"T\":\"q\"", "{\"S\":\"SPY\",\"bp\":1.5}" },
		/* T in the middle */
		{ "{\"S\":\"SPY\",\"T\":\"b\",\"o\":1}", "\"T\":\"b\",", "{\"S\":\"SPY\",\"o\":1}" },
		/* T alone */
		{ "{\"T\":\"s\"}", "\"T\":\"s\"", "{}" },
		/* escapes and UTF-8 inside the payload are kept verbatim */
		{ "{\"T\":\"t\",\"c\":[\"\\u0040\",\"\\\"\"],\"n\":\"\xc3\xa9\"}", "\"T\":\"t\",",
		  "{\"c\":[\"\\u0040\",\"\\\"\"],\"n\":\"\xc3\xa9\"}" },
		/* whitespace as Alpaca might send it */
		{ "{ \"T\" : \"q\" , \"S\":\"X\" }", "\"T\" : \"q\" , ", "{ \"S\":\"X\" }" },
	};
	char buf[1024], *pat;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev;
		json_t *j, *want;
		int len;

		make_trade(&ev);
		ev.kind = EVENT_QUOTE;
		set_raw(&ev, cases[i].raw, cases[i].cut);
		len = envelope_write(&ev, &iex_meta, buf, sizeof(buf));
		j = parse(buf, len);
		want = json_loads(cases[i].want, 0, NULL);
		assert_non_null(want);
		assert_true(json_equal(json_object_get(j, "payload"), want));
		assert_true(asprintf(&pat, "\"payload\":%s,\"accountLabel\"", cases[i].want) > 0);
		assert_non_null(strstr(buf, pat));
		free(pat);
		json_decref(want);
		json_decref(j);
	}
}

static void test_channels_and_final(void **state)
{
	static const struct {
		enum event_kind k;
		const char *channel;
		bool final;
	} cases[] = {
		{ EVENT_TRADE, "trades", true },
		{ EVENT_QUOTE, "quotes", true },
		{ EVENT_BAR, "bars", true },
		{ EVENT_UPDATED_BAR, "updatedBars", false },
		{ EVENT_DAILY_BAR, "dailyBars", true },
		{ EVENT_TRADING_STATUS, "status", true },
		{ EVENT_LULD, "lulds", true },
		{ EVENT_CORRECTION, "corrections", true },
		{ EVENT_CANCEL_ERROR, "cancelErrors", true },
		{ EVENT_IMBALANCE, "imbalances", true },
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev;
		json_t *j;

		make_trade(&ev);
		ev.kind = cases[i].k;
		assert_string_equal(envelope_channel(cases[i].k), cases[i].channel);
		j = parse(buf, envelope_write(&ev, &iex_meta, buf, sizeof(buf)));
		assert_str(j, "channel", cases[i].channel);
		assert_true(json_is_boolean(json_object_get(j, "isFinal")));
		assert_int_equal(json_is_true(json_object_get(j, "isFinal")), cases[i].final);
		json_decref(j);
	}

	/* an explicit channel wins; REST backfill says so */
	{
		struct event ev;
		struct envelope_meta m = iex_meta;
		json_t *j;

		make_trade(&ev);
		m.channel = "trades.backfill";
		m.source = ENVELOPE_SOURCE_REST;
		m.seq = INT64_MAX;
		j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
		assert_common(j, "iex", "real_time_exchange_only", "rest");
		assert_str(j, "channel", "trades.backfill");
		assert_int(j, "seq", INT64_MAX);
		json_decref(j);
		m.seq = INT64_MIN;
		j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
		assert_int(j, "seq", INT64_MIN);
		json_decref(j);
	}
}

static void test_delay_class(void **state)
{
	static const struct {
		const char *feed, *delay;
	} cases[] = {
		{ "iex", "real_time_exchange_only" },
		{ "sip", "real_time_consolidated" },
		{ "delayed_sip", "delayed_15m_consolidated" },
		{ "test", NULL },
		{ "otc", NULL },
		{ "IEX", NULL },
		{ "sipx", NULL },
		{ "", NULL },
	};
	char buf[1024];

	assert_null(envelope_delay_class(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev;
		struct envelope_meta m = iex_meta;
		struct envelope_conn_status cs = { .ingest_ns = 1, .event_ns = 1, .feed = cases[i].feed };
		json_t *j;

		make_trade(&ev);
		m.feed = cases[i].feed;
		j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
		assert_common(j, cases[i].feed, cases[i].delay, "ws");
		json_decref(j);
		j = parse(buf, envelope_write_conn_status(&cs, buf, sizeof(buf)));
		assert_common(j, cases[i].feed, cases[i].delay, "ws");
		json_decref(j);
	}
}

static void test_market_session(void **state)
{
	/* New York local boundaries on a winter (EST, UTC-5), a summer (EDT,
	 * UTC-4) and the spring-forward day (2024-03-10: EDT from 02:00). */
	static const struct {
		int y, mo, d, off_h;
	} days[] = { { 2024, 1, 17, 5 }, { 2024, 7, 17, 4 }, { 2024, 3, 10, 4 }, { 2024, 11, 4, 5 } };
	static const struct {
		int h, m, s;
		int64_t frac;
		const char *session;
	} pts[] = {
		{ 0, 0, 0, 0, "overnight" },
		{ 3, 59, 59, 999999999, "overnight" },
		{ 4, 0, 0, 0, "pre" },
		{ 9, 29, 59, 999999999, "pre" },
		{ 9, 30, 0, 0, "regular" },
		{ 15, 59, 59, 999999999, "regular" },
		{ 16, 0, 0, 0, "post" },
		{ 19, 59, 59, 999999999, "post" },
		{ 20, 0, 0, 0, "overnight" },
		{ 23, 59, 59, 999999999, "overnight" },
	};
	char buf[1024];

	for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
		for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
			struct event ev;
			json_t *j;

			make_trade(&ev);
			/* local time + offset = UTC (timegm normalizes h >= 24) */
			ev.t_ns = utc_ns(days[d].y, days[d].mo, days[d].d, pts[i].h + days[d].off_h,
					 pts[i].m, pts[i].s, pts[i].frac);
			j = parse(buf, envelope_write(&ev, &iex_meta, buf, sizeof(buf)));
			assert_ts(j, "eventTs", ev.t_ns);
			if (strcmp(json_string_value(json_object_get(j, "marketSession")),
				   pts[i].session) != 0)
				fail_msg("%04d-%02d-%02d %02d:%02d:%02d NY: got %s, want %s", days[d].y,
					 days[d].mo, days[d].d, pts[i].h, pts[i].m, pts[i].s,
					 json_string_value(json_object_get(j, "marketSession")),
					 pts[i].session);
			json_decref(j);
		}
	}
}

static void test_empty_fields(void **state)
{
	struct event ev;
	char buf[1024];
	json_t *j;

	make_trade(&ev);
	ev.t_ns = 0;        /* absent t: eventTs and marketSession null */
	ev.symbol[0] = 0;   /* no symbol: null */
	ev.symbol_len = 0;
	ev.raw.p = NULL;    /* nothing to carry: null payload */
	ev.raw.n = 0;
	ev.type_off = ev.type_len = 0;
	j = parse(buf, envelope_write(&ev, &iex_meta, buf, sizeof(buf)));
	assert_common(j, "iex", "real_time_exchange_only", "ws");
	assert_jnull(j, "eventTs");
	assert_jnull(j, "marketSession");
	assert_jnull(j, "symbol");
	assert_jnull(j, "payload");
	json_decref(j);
}

/* Hostile input, what jansson must read back, and a writer's escaping. */
static const char hostile[] =
	"q\"b\\s/\b\f\n\r\t\x01\x1f\x7f "            /* ASCII: quotes, backslash, controls */
	"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "        /* é € 😀 */
	"\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xf4\x90\x80\x80|\x80"; /* ill-formed */
static const char hostile_read[] =
	"q\"b\\s/\b\f\n\r\t\x01\x1f\x7f "
	"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
	"\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|"
	"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd";
static const char hostile_json[] =
	"\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f "
	"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
	"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\"";

static void test_escaping(void **state)
{
	struct event ev;
	struct envelope_meta m = iex_meta;
	char buf[2048];
	json_t *j;

	make_trade(&ev);
	strcpy(ev.symbol, "A\"B\\C\n\x02");
	ev.symbol_len = (uint8_t)strlen(ev.symbol);
	m.feed = hostile;
	m.channel = hostile;
	j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
	assert_str(j, "symbol", "A\"B\\C\n\x02");
	assert_str(j, "feed", hostile_read);
	assert_str(j, "channel", hostile_read);
	json_decref(j);
	assert_non_null(strstr(buf, "\"symbol\":\"A\\\"B\\\\C\\n\\u0002\""));
	assert_non_null(strstr(buf, hostile_json));
	/* no raw control byte anywhere in the output */
	for (const char *p = buf; *p; p++)
		assert_true((unsigned char)*p >= 0x20);

	/* every single byte value on its own */
	for (int c = 1; c < 256; c++) {
		char s[2] = { (char)c, 0 };
		m.feed = s;
		m.channel = NULL;
		j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
		if (c < 0x80)
			assert_str(j, "feed", s);
		else
			assert_str(j, "feed", "\xef\xbf\xbd");
		json_decref(j);
	}
	/* ... and at every offset of a longer string (the writer copies clean
	 * 8-byte words whole) */
	for (int c = 1; c < 256; c++) {
		for (int at = 0; at < 19; at++) {
			char s[20], want[24];
			memset(s, 'a', 19);
			s[19] = '\0';
			s[at] = (char)c;
			snprintf(want, sizeof(want), "%.*s%s%s", at, s, c < 0x80 ? (char[]){(char)c, 0} : "\xef\xbf\xbd",
				 s + at + 1);
			m.feed = s;
			j = parse(buf, envelope_write(&ev, &m, buf, sizeof(buf)));
			assert_str(j, "feed", want);
			json_decref(j);
		}
	}
}

static void test_enospc(void **state)
{
	struct event ev;
	char full[1024];
	int len;
	struct envelope_conn_status cs = {
		.ingest_ns = 1, .event_ns = 2, .feed = "sip", .seq = 3,
		.status = ENVELOPE_CONN_ERROR, .detail = "x\"y",
	};

	make_trade(&ev);
	len = envelope_write(&ev, &iex_meta, full, sizeof(full));
	assert_true(len > 0);
	/* buffers malloc'd to size: ASan catches a write past the end */
	for (size_t cap = 0; cap <= (size_t)len; cap++) {
		char *b = cap ? malloc(cap) : NULL;
		assert_int_equal(envelope_write(&ev, &iex_meta, b, cap), -ENOSPC);
		free(b);
	}
	{
		char *b = malloc((size_t)len + 1); /* room for the NUL */
		assert_int_equal(envelope_write(&ev, &iex_meta, b, (size_t)len + 1), len);
		assert_string_equal(b, full);
		free(b);
	}

	len = envelope_write_conn_status(&cs, full, sizeof(full));
	assert_true(len > 0);
	for (size_t cap = 0; cap <= (size_t)len; cap++) {
		char *b = cap ? malloc(cap) : NULL;
		assert_int_equal(envelope_write_conn_status(&cs, b, cap), -ENOSPC);
		free(b);
	}
}

static void test_einval(void **state)
{
	struct event ev;
	struct envelope_meta m = iex_meta;
	struct envelope_conn_status cs = { .feed = NULL };
	char buf[1024];

	make_trade(&ev);
	ev.kind = EVENT_CTL_SUCCESS; /* control messages have no envelope */
	assert_int_equal(envelope_write(&ev, &m, buf, sizeof(buf)), -EINVAL);
	make_trade(&ev);
	m.feed = NULL;
	assert_int_equal(envelope_write(&ev, &m, buf, sizeof(buf)), -EINVAL);
	m.feed = "iex";
	ev.type_off = ev.raw.n; /* the T range outside raw */
	ev.type_len = 1;
	assert_int_equal(envelope_write(&ev, &m, buf, sizeof(buf)), -EINVAL);
	ev.type_off = 1;
	ev.type_len = UINT32_MAX; /* would overflow a naive sum */
	assert_int_equal(envelope_write(&ev, &m, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(envelope_write_conn_status(&cs, buf, sizeof(buf)), -EINVAL);
	cs.feed = "iex";
	cs.status = ENVELOPE_CONN_COUNT;
	assert_int_equal(envelope_write_conn_status(&cs, buf, sizeof(buf)), -EINVAL);
	cs.status = (enum envelope_conn_state)-1;
	assert_int_equal(envelope_write_conn_status(&cs, buf, sizeof(buf)), -EINVAL);
}

/* ---- connection status ---- */

static void full_conn(struct envelope_conn_status *cs)
{
	*cs = (struct envelope_conn_status){
		.ingest_ns = utc_ns(2024, 7, 17, 13, 30, 0, 500000000),
		.event_ns = utc_ns(2024, 7, 17, 13, 29, 59, 1000),
		.feed = "sip",
		.seq = 12,
		.status = ENVELOPE_CONN_GAP,
		.has_error_code = true,
		.error_code = 406,
		.error_class = "alpaca_406_second_connection",
		.detail = hostile,
		.has_attempt = true,
		.attempt = 3,
		.has_gap_start = true,
		.gap_start_ns = utc_ns(2024, 7, 17, 13, 29, 0, 0),
		.has_gap_end = true,
		.gap_end_ns = utc_ns(2024, 7, 17, 13, 29, 59, 1000),
		.has_dropped = true,
		.dropped = 5000000000LL,
	};
}

static void test_conn_status_full(void **state)
{
	struct envelope_conn_status cs;
	char buf[2048];
	json_t *j, *p;

	full_conn(&cs);
	j = parse(buf, envelope_write_conn_status(&cs, buf, sizeof(buf)));
	assert_common(j, "sip", "real_time_consolidated", "ws");
	assert_str(j, "ingestTs", "2024-07-17T13:30:00.500Z");
	assert_str(j, "eventTs", "2024-07-17T13:29:59.000001Z");
	assert_str(j, "channel", "status");
	assert_str(j, "symbol", "sip");
	assert_int(j, "seq", 12);
	assert_true(json_is_true(json_object_get(j, "isFinal")));
	assert_str(j, "marketSession", "pre"); /* 09:29:59 EDT */

	p = json_object_get(j, "payload");
	assert_keys(p, conn_keys, N_CONN_KEYS);
	assert_str(p, "component", "torghutd");
	assert_str(p, "status", "gap");
	assert_int(p, "error_code", 406);
	assert_str(p, "error_class", "alpaca_406_second_connection");
	assert_str(p, "detail", hostile_read);
	assert_int(p, "attempt", 3);
	assert_str(p, "gap_start", "2024-07-17T13:29:00Z");
	assert_str(p, "gap_end", "2024-07-17T13:29:59.000001Z");
	assert_int(p, "dropped", 5000000000LL);
	assert_int(p, "schema_version", 1);
	json_decref(j);

	/* negative and extreme integers stay integers */
	cs.error_code = -1;
	cs.attempt = INT64_MAX;
	cs.dropped = 0;
	j = parse(buf, envelope_write_conn_status(&cs, buf, sizeof(buf)));
	p = json_object_get(j, "payload");
	assert_int(p, "error_code", -1);
	assert_int(p, "attempt", INT64_MAX);
	assert_int(p, "dropped", 0);
	json_decref(j);
}

/* The checkpoint marker that kafka_markers_match reads back. */
static void test_marker(void **state)
{
	char buf[1024];
	json_t *j = parse(buf, envelope_write_marker("iex", 7, 42, "txn=t tag=r.3", buf, sizeof(buf))), *p;
	assert_str(j, "channel", "status");
	assert_str(j, "symbol", "iex");
	assert_int(j, "seq", 7);
	p = json_object_get(j, "payload");
	assert_keys(p, conn_keys, N_CONN_KEYS);
	assert_str(p, "status", "checkpoint");
	assert_int(p, "attempt", 42);
	assert_str(p, "detail", "txn=t tag=r.3");
	json_decref(j);
	assert_int_equal(envelope_write_marker("iex", 7, 42, "x", buf, 8), -ENOSPC);
}

static void test_conn_status_nulls(void **state)
{
	static const char *const names[ENVELOPE_CONN_COUNT] = {
		"connecting", "authenticated", "subscribed", "disconnected", "error", "gap", "checkpoint",
	};
	char buf[1024];

	assert_null(envelope_conn_state_name(ENVELOPE_CONN_COUNT));
	for (int s = 0; s < ENVELOPE_CONN_COUNT; s++) {
		struct envelope_conn_status cs = {
			.ingest_ns = utc_ns(2024, 1, 17, 1, 0, 0, 0), /* 20:00 EST the day before */
			.event_ns = utc_ns(2024, 1, 17, 1, 0, 0, 0),
			.feed = "test", .seq = 1, .status = (enum envelope_conn_state)s,
		};
		json_t *j, *p;

		assert_string_equal(envelope_conn_state_name(cs.status), names[s]);
		j = parse(buf, envelope_write_conn_status(&cs, buf, sizeof(buf)));
		assert_common(j, "test", NULL, "ws");
		assert_str(j, "channel", "status");
		assert_str(j, "symbol", "test");
		assert_str(j, "marketSession", "overnight");
		p = json_object_get(j, "payload");
		assert_keys(p, conn_keys, N_CONN_KEYS);
		assert_str(p, "component", "torghutd");
		assert_str(p, "status", names[s]);
		for (size_t k = 2; k < N_CONN_KEYS - 1; k++)
			assert_jnull(p, conn_keys[k]);
		assert_int(p, "schema_version", 1);
		json_decref(j);
	}

	/* no event time: eventTs and marketSession null */
	{
		struct envelope_conn_status cs = { .ingest_ns = 5, .feed = "iex" };
		json_t *j = parse(buf, envelope_write_conn_status(&cs, buf, sizeof(buf)));
		assert_str(j, "ingestTs", "1970-01-01T00:00:00.000000005Z");
		assert_jnull(j, "eventTs");
		assert_jnull(j, "marketSession");
		json_decref(j);
	}
}


/* A writer's cache changes nothing: the same bytes as without one, over
 * times that stay in a day or minute, cross day, minute, session and DST
 * bounds, jump around, and reach both ends of int64. */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_cache_same_bytes(void **state)
{
	(void)state;
	struct event ev;
	struct envelope_cache cache;
	struct envelope_meta m = iex_meta, mc = iex_meta;
	char a[1024], b[1024];
	uint64_t x = 88172645463325252ULL;
	const int64_t S = 1000000000LL, H = 3600 * S;
	const int64_t fixed[] = {
		INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX, 999999999, 1000000000,
		utc_ns(2025, 3, 9, 6, 59, 59, 999999999), utc_ns(2025, 3, 9, 7, 0, 0, 0), /* DST */
		utc_ns(2025, 1, 15, 14, 29, 59, 999000000), utc_ns(2025, 1, 15, 14, 30, 0, 0), /* 09:30 NY */
		utc_ns(2025, 1, 15, 23, 59, 59, 999999000), utc_ns(2025, 1, 16, 0, 0, 0, 1000),
		utc_ns(1969, 12, 31, 23, 59, 59, 500000000),
	};

	memset(&cache, 0, sizeof(cache));
	mc.cache = &cache;
	make_trade(&ev);
	int64_t t = utc_ns(2025, 1, 15, 9, 0, 0, 0);
	for (int i = 0; i < 200000; i++) {
		uint64_t r = next_rand(&x);
		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			t = fixed[i];
		} else {
			switch (r % 8) {
			case 0: t = (int64_t)next_rand(&x); break;      /* anywhere */
			case 1: t += (int64_t)(r >> 40) % (2 * H); break; /* hours on */
			case 2: t -= (int64_t)(r >> 50); break;           /* a little back */
			case 3: t = t / S * S; break;                     /* whole second */
			case 4: t = t / 1000000 * 1000000; break;         /* ms */
			case 5: t = t / 1000 * 1000 + 1000; break;        /* us */
			default: t += (int64_t)(r >> 44); break;          /* up to ~1 s on */
			}
		}
		ev.t_ns = t;
		m.ingest_ns = mc.ingest_ns = (r & 1) ? t : t + (int64_t)(r >> 50);
		int na = envelope_write(&ev, &m, a, sizeof(a));
		int nb = envelope_write(&ev, &mc, b, sizeof(b));
		if (na != nb || memcmp(a, b, (size_t)(na > 0 ? na : 0)) != 0)
			fail_msg("t=%lld: without cache %d %.*s\nwith cache %d %.*s", (long long)t, na, na, a, nb,
				 nb, b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trade),
		cmocka_unit_test(test_payload_cuts),
		cmocka_unit_test(test_channels_and_final),
		cmocka_unit_test(test_delay_class),
		cmocka_unit_test(test_market_session),
		cmocka_unit_test(test_empty_fields),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_conn_status_full),
		cmocka_unit_test(test_conn_status_nulls),
		cmocka_unit_test(test_marker),
		cmocka_unit_test(test_cache_same_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
