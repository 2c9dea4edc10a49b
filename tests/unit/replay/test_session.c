/* test_session.c - the replay server's per-connection Alpaca rules without
 * sockets: client text in, reply frames out, a fake clock for the auth
 * timeout and the 406 dead-session hold. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/session.h"

#define MAX_FRAMES 16

struct out {
	char *frames[MAX_FRAMES];
	int n;
};

static void emit(void *ctx, const char *frame, size_t len)
{
	struct out *o = ctx;
	assert_true(o->n < MAX_FRAMES);
	assert_int_equal(strlen(frame), len); /* NUL-terminated too */
	o->frames[o->n++] = strndup(frame, len);
}

static void out_clear(struct out *o)
{
	for (int i = 0; i < o->n; i++)
		free(o->frames[i]);
	o->n = 0;
}

struct fx {
	struct replay_session_reg *reg;
	struct out out;
	struct replay_session_opts opts;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct replay_session_reg_opts ro = {.conn_limit = 1, .dead_hold_ms = 90000};
	assert_int_equal(replay_session_reg_new(&f->reg, &ro), 0);
	assert_int_equal(replay_session_reg_add_key(f->reg, "AK", "SK", NULL), 0);
	assert_int_equal(replay_session_reg_add_key(f->reg, "IEXONLY", "S2", "iex"), 0);
	f->opts.endpoint = "v2/sip";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	out_clear(&f->out);
	replay_session_reg_free(f->reg);
	free(f);
	return 0;
}

static struct replay_session *open_session(struct fx *f, uint64_t now)
{
	struct replay_session *s;
	assert_int_equal(replay_session_new(&s, f->reg, &f->opts, emit, &f->out), 0);
	assert_int_equal(replay_session_open(s, now, NULL, NULL), 0);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.frames[0], "[{\"T\":\"success\",\"msg\":\"connected\"}]");
	out_clear(&f->out);
	return s;
}

/* Sends msg, expects exactly one reply frame equal to want; returns actions. */
static int say(struct fx *f, struct replay_session *s, uint64_t now, const char *msg,
               const char *want)
{
	int r = replay_session_message(s, msg, strlen(msg), now);
	assert_true(r >= 0);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.frames[0], want);
	out_clear(&f->out);
	return r;
}

#define AUTH_OK "{\"action\":\"auth\",\"key\":\"AK\",\"secret\":\"SK\"}"
#define AUTHED "[{\"T\":\"success\",\"msg\":\"authenticated\"}]"
#define ERR(code, text) "[{\"T\":\"error\",\"code\":" #code ",\"msg\":\"" text "\"}]"
#define EMPTY_SNAP                                                                             \
	"[{\"T\":\"subscription\",\"trades\":[],\"quotes\":[],\"bars\":[],\"updatedBars\":[]," \
	"\"dailyBars\":[],\"statuses\":[],\"lulds\":[],\"imbalances\":[],\"corrections\":[],"  \
	"\"cancelErrors\":[]}]"

static void test_auth_ok_and_403(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 1000);
	assert_false(replay_session_authenticated(s));
	assert_int_equal(replay_session_deadline(s), 11000);
	assert_int_equal(say(f, s, 1100, AUTH_OK, AUTHED), 0);
	assert_true(replay_session_authenticated(s));
	assert_string_equal(replay_session_key(s), "AK");
	assert_int_equal(replay_session_deadline(s), UINT64_MAX);
	say(f, s, 1200, AUTH_OK, ERR(403, "already authenticated"));
	assert_int_equal(replay_session_tick(s, 50000), 0); /* no timeout once authenticated */
	assert_int_equal(f->out.n, 0);
	replay_session_free(s, true, 2000);
}

static void test_auth_failed_then_retry(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, "{\"action\":\"auth\",\"key\":\"AK\",\"secret\":\"bad\"}", ERR(402, "auth failed"));
	say(f, s, 2, "{\"action\":\"auth\",\"key\":\"nobody\",\"secret\":\"SK\"}", ERR(402, "auth failed"));
	assert_false(replay_session_authenticated(s));
	/* Still unauthenticated: actions are refused, the connection stays. */
	say(f, s, 3, "{\"action\":\"subscribe\",\"trades\":[\"AAPL\"]}", ERR(401, "not authenticated"));
	say(f, s, 4, AUTH_OK, AUTHED);
	replay_session_free(s, true, 5);
}

static void test_reject_auth_fault(void **state)
{
	struct fx *f = *state;
	f->opts.reject_auth = true;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, ERR(402, "auth failed"));
	replay_session_free(s, true, 2);
}

static void test_feed_not_granted_409(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, "{\"action\":\"auth\",\"key\":\"IEXONLY\",\"secret\":\"S2\"}",
	    ERR(409, "insufficient subscription"));
	replay_session_free(s, true, 2);
	f->opts.endpoint = "v2/iex";
	s = open_session(f, 0);
	say(f, s, 1, "{\"action\":\"auth\",\"key\":\"IEXONLY\",\"secret\":\"S2\"}", AUTHED);
	replay_session_free(s, true, 2);
}

static void test_auth_timeout(void **state)
{
	struct fx *f = *state;
	f->opts.auth_timeout_ms = 500;
	struct replay_session *s = open_session(f, 100);
	assert_int_equal(replay_session_deadline(s), 600);
	assert_int_equal(replay_session_tick(s, 599), 0);
	assert_int_equal(f->out.n, 0);
	assert_int_equal(replay_session_tick(s, 600), REPLAY_SESSION_ACT_CLOSE);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.frames[0], ERR(404, "auth timeout"));
	out_clear(&f->out);
	assert_true(replay_session_closing(s));
	/* Nothing more is answered once closing. */
	assert_int_equal(replay_session_message(s, AUTH_OK, strlen(AUTH_OK), 700), 0);
	assert_int_equal(f->out.n, 0);
	replay_session_free(s, true, 700);
}

static void test_late_auth_times_out(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0); /* default 10 s */
	int r = replay_session_message(s, AUTH_OK, strlen(AUTH_OK), 10000);
	assert_int_equal(r, REPLAY_SESSION_ACT_CLOSE);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.frames[0], ERR(404, "auth timeout"));
	replay_session_free(s, true, 10000);
}

static void test_syntax_errors(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, "{not json", ERR(400, "invalid syntax"));
	say(f, s, 1, "[1,2]", ERR(400, "invalid syntax"));
	say(f, s, 1, "{\"key\":\"AK\"}", ERR(400, "invalid syntax"));
	say(f, s, 1, "{\"action\":\"listen\"}", ERR(400, "invalid syntax"));
	say(f, s, 1, "{\"action\":\"auth\",\"key\":1,\"secret\":\"SK\"}", ERR(400, "invalid syntax"));
	say(f, s, 1, AUTH_OK, AUTHED);
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":\"AAPL\"}", ERR(400, "invalid syntax"));
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[\"AA PL\"]}", ERR(400, "invalid syntax"));
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[7]}", ERR(400, "invalid syntax"));
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[\"AAPL\"],\"orderbooks\":[\"X\"]}",
	    ERR(410, "invalid subscribe action for this feed"));
	say(f, s, 2, "{\"action\":\"bogus\"}", ERR(400, "invalid syntax"));
	/* A refused message changed nothing. */
	assert_int_equal(replay_session_symbol_count(s), 0);
	assert_false(replay_session_wants(s, "t", 1, "AAPL", 4));
	replay_session_free(s, true, 3);
}

static void test_subscribe_deltas_and_star(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, AUTHED);
	int r = say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],\"bars\":[\"*\"]}",
	            "[{\"T\":\"subscription\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[],"
	            "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	            "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"AAPL\",\"MSFT\"],"
	            "\"cancelErrors\":[\"AAPL\",\"MSFT\"]}]");
	assert_int_equal(r, REPLAY_SESSION_ACT_START | REPLAY_SESSION_ACT_SUBS);
	assert_true(replay_session_wants(s, "t", 1, "AAPL", 4));
	assert_true(replay_session_wants(s, "c", 1, "MSFT", 4)); /* corrections follow trades */
	assert_true(replay_session_wants(s, "x", 1, "AAPL", 4));
	assert_false(replay_session_wants(s, "q", 1, "AAPL", 4));
	assert_true(replay_session_wants(s, "b", 1, "ANY", 3)); /* bars: * */
	assert_false(replay_session_wants(s, "t", 1, "NVDA", 4));
	assert_false(replay_session_wants(s, "success", 7, "", 0));
	assert_false(replay_session_wants(s, "subscription", 12, "", 0));
	/* Unknown type: any channel for the symbol, or any star. */
	assert_true(replay_session_wants(s, "zz", 2, "NVDA", 4));

	/* Delta add: quotes for NVDA, trades again for AAPL (no duplicate). START
	 * was reported once only. */
	r = say(f, s, 3, "{\"action\":\"subscribe\",\"quotes\":[\"NVDA\"],\"trades\":[\"AAPL\"]}",
	        "[{\"T\":\"subscription\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"NVDA\"],"
	        "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	        "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"AAPL\",\"MSFT\"],"
	        "\"cancelErrors\":[\"AAPL\",\"MSFT\"]}]");
	assert_int_equal(r, REPLAY_SESSION_ACT_SUBS);
	assert_int_equal(replay_session_symbol_count(s), 3);

	/* Delta remove: AAPL trades, the bars wildcard, a never-subscribed name. */
	say(f, s, 4, "{\"action\":\"unsubscribe\",\"trades\":[\"AAPL\",\"ZZZ\"],\"bars\":[\"*\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"MSFT\"],\"quotes\":[\"NVDA\"],"
	    "\"bars\":[],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"MSFT\"],"
	    "\"cancelErrors\":[\"MSFT\"]}]");
	assert_false(replay_session_wants(s, "t", 1, "AAPL", 4));
	assert_false(replay_session_wants(s, "b", 1, "ANY", 3));
	assert_int_equal(replay_session_symbol_count(s), 2);

	/* Star and named symbols coexist; removing the star keeps the names. */
	say(f, s, 5, "{\"action\":\"subscribe\",\"quotes\":[\"*\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"MSFT\"],\"quotes\":[\"*\",\"NVDA\"],"
	    "\"bars\":[],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"MSFT\"],"
	    "\"cancelErrors\":[\"MSFT\"]}]");
	assert_true(replay_session_wants(s, "q", 1, "IBM", 3));
	say(f, s, 6, "{\"action\":\"unsubscribe\",\"quotes\":[\"*\",\"NVDA\"],\"trades\":[\"MSFT\"]}",
	    EMPTY_SNAP);
	assert_int_equal(replay_session_symbol_count(s), 0);
	assert_false(replay_session_wants(s, "q", 1, "NVDA", 4));
	replay_session_free(s, true, 7);
}

static void test_many_symbols(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, AUTHED);
	/* Enough to grow the index several times. */
	char msg[16384];
	size_t w = (size_t)snprintf(msg, sizeof(msg), "{\"action\":\"subscribe\",\"trades\":[");
	for (int i = 0; i < 500; i++)
		w += (size_t)snprintf(msg + w, sizeof(msg) - w, "%s\"S%d\"", i ? "," : "", i);
	snprintf(msg + w, sizeof(msg) - w, "]}");
	assert_int_equal(replay_session_message(s, msg, strlen(msg), 2),
	                 REPLAY_SESSION_ACT_START | REPLAY_SESSION_ACT_SUBS);
	assert_int_equal(f->out.n, 1);
	out_clear(&f->out);
	assert_int_equal(replay_session_symbol_count(s), 500);
	for (int i = 0; i < 500; i++) {
		char sym[16];
		int n = snprintf(sym, sizeof(sym), "S%d", i);
		assert_true(replay_session_wants(s, "t", 1, sym, (size_t)n));
	}
	assert_false(replay_session_wants(s, "t", 1, "S500", 4));
	replay_session_free(s, true, 3);
}

static void test_symbol_limit_405(void **state)
{
	struct fx *f = *state;
	f->opts.symbol_limit = 3;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, AUTHED);
	/* The same symbol on two channels counts once; "*" does not count. */
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[\"A\",\"B\"],\"quotes\":[\"A\"],\"bars\":[\"*\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"A\",\"B\"],\"quotes\":[\"A\"],"
	    "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"A\",\"B\"],"
	    "\"cancelErrors\":[\"A\",\"B\"]}]");
	/* Two new symbols would make 4: refused, nothing changes (not even the
	 * star on quotes in the same message). */
	say(f, s, 3, "{\"action\":\"subscribe\",\"quotes\":[\"C\",\"D\",\"*\"]}",
	    ERR(405, "symbol limit exceeded"));
	assert_int_equal(replay_session_symbol_count(s), 2);
	assert_false(replay_session_wants(s, "q", 1, "C", 1));
	assert_false(replay_session_wants(s, "q", 1, "Z", 1));
	/* Exactly the limit is fine. */
	say(f, s, 4, "{\"action\":\"subscribe\",\"quotes\":[\"C\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"A\",\"B\"],\"quotes\":[\"A\",\"C\"],"
	    "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"A\",\"B\"],"
	    "\"cancelErrors\":[\"A\",\"B\"]}]");
	assert_true(replay_session_wants(s, "q", 1, "C", 1));
	/* Freeing a symbol makes room. */
	say(f, s, 5, "{\"action\":\"unsubscribe\",\"trades\":[\"B\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"A\"],\"quotes\":[\"A\",\"C\"],"
	    "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"A\"],"
	    "\"cancelErrors\":[\"A\"]}]");
	assert_int_equal(replay_session_symbol_count(s), 2);
	say(f, s, 6, "{\"action\":\"subscribe\",\"lulds\":[\"D\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"A\"],\"quotes\":[\"A\",\"C\"],"
	    "\"bars\":[\"*\"],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[\"D\"],\"imbalances\":[],\"corrections\":[\"A\"],"
	    "\"cancelErrors\":[\"A\"]}]");
	replay_session_free(s, true, 7);
}

static void test_omit_empty(void **state)
{
	struct fx *f = *state;
	f->opts.omit_empty = true;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, AUTHED);
	say(f, s, 2, "{\"action\":\"subscribe\",\"quotes\":[\"A\"]}",
	    "[{\"T\":\"subscription\",\"quotes\":[\"A\"]}]");
	say(f, s, 3, "{\"action\":\"unsubscribe\",\"quotes\":[\"A\"]}", "[{\"T\":\"subscription\"}]");
	replay_session_free(s, true, 4);
}

static void test_connection_limit_406(void **state)
{
	struct fx *f = *state;
	struct replay_session *a = open_session(f, 0);
	say(f, a, 1, AUTH_OK, AUTHED);
	assert_int_equal(replay_session_reg_count(f->reg, "AK", "v2/sip", 1), 1);

	/* Second session, same key and endpoint, while the first is live. */
	struct replay_session *b = open_session(f, 10);
	say(f, b, 11, AUTH_OK, ERR(406, "connection limit exceeded"));
	assert_false(replay_session_authenticated(b));

	/* Another endpoint counts separately. */
	f->opts.endpoint = "v2/iex";
	struct replay_session *c = open_session(f, 12);
	say(f, c, 13, AUTH_OK, AUTHED);
	replay_session_free(c, true, 14);
	f->opts.endpoint = "v2/sip";

	/* Clean end: the slot is free at once; b retries on its socket. */
	replay_session_free(a, true, 20);
	assert_int_equal(replay_session_reg_count(f->reg, "AK", "v2/sip", 20), 0);
	say(f, b, 21, AUTH_OK, AUTHED);

	/* Unclean end: held for dead_hold_ms (90 s here). */
	replay_session_free(b, false, 1000);
	assert_int_equal(replay_session_reg_count(f->reg, "AK", "v2/sip", 1000), 1);
	f->opts.auth_timeout_ms = 1000000; /* keep d's auth window open */
	struct replay_session *d = open_session(f, 2000);
	say(f, d, 2000, AUTH_OK, ERR(406, "connection limit exceeded"));
	say(f, d, 90999, AUTH_OK, ERR(406, "connection limit exceeded"));
	replay_session_free(d, true, 90999);
	struct replay_session *e = open_session(f, 91000);
	say(f, e, 91000, AUTH_OK, AUTHED);
	replay_session_free(e, false, 92000);
}

static void test_connection_limit_no_hold(void **state)
{
	struct fx *f = *state;
	replay_session_reg_free(f->reg);
	struct replay_session_reg_opts ro = {.conn_limit = 2, .dead_hold_ms = 0};
	assert_int_equal(replay_session_reg_new(&f->reg, &ro), 0);
	/* No keys: any non-empty pair is accepted. */
	struct replay_session *a = open_session(f, 0), *b = open_session(f, 0), *c = open_session(f, 0);
	say(f, a, 1, "{\"action\":\"auth\",\"key\":\"X\",\"secret\":\"Y\"}", AUTHED);
	say(f, b, 1, "{\"action\":\"auth\",\"key\":\"X\",\"secret\":\"Z\"}", AUTHED);
	say(f, c, 1, "{\"action\":\"auth\",\"key\":\"X\",\"secret\":\"Y\"}",
	    ERR(406, "connection limit exceeded"));
	say(f, c, 1, "{\"action\":\"auth\",\"key\":\"\",\"secret\":\"Y\"}", ERR(402, "auth failed"));
	replay_session_free(a, false, 2); /* no hold configured */
	say(f, c, 3, "{\"action\":\"auth\",\"key\":\"X\",\"secret\":\"Y\"}", AUTHED);
	replay_session_free(b, true, 4);
	replay_session_free(c, true, 4);
}

static void test_header_auth(void **state)
{
	struct fx *f = *state;
	struct replay_session *s;
	assert_int_equal(replay_session_new(&s, f->reg, &f->opts, emit, &f->out), 0);
	assert_int_equal(replay_session_open(s, 0, "AK", "SK"), 0);
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.frames[0], "[{\"T\":\"success\",\"msg\":\"connected\"}]");
	assert_string_equal(f->out.frames[1], AUTHED);
	out_clear(&f->out);
	assert_true(replay_session_authenticated(s));
	say(f, s, 1, AUTH_OK, ERR(403, "already authenticated"));
	replay_session_free(s, true, 2);

	assert_int_equal(replay_session_new(&s, f->reg, &f->opts, emit, &f->out), 0);
	assert_int_equal(replay_session_open(s, 0, "AK", "nope"), 0);
	assert_int_equal(f->out.n, 2);
	assert_string_equal(f->out.frames[1], ERR(402, "auth failed"));
	out_clear(&f->out);
	say(f, s, 1, AUTH_OK, AUTHED); /* message auth still possible */
	replay_session_free(s, true, 2);
}

static void test_slow(void **state)
{
	struct fx *f = *state;
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, AUTH_OK, AUTHED);
	say(f, s, 2, "{\"action\":\"subscribe\",\"trades\":[\"*\"]}",
	    "[{\"T\":\"subscription\",\"trades\":[\"*\"],\"quotes\":[],"
	    "\"bars\":[],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],"
	    "\"lulds\":[],\"imbalances\":[],\"corrections\":[\"*\"],"
	    "\"cancelErrors\":[\"*\"]}]");
	assert_int_equal(replay_session_slow(s), REPLAY_SESSION_ACT_CLOSE);
	assert_int_equal(f->out.n, 1);
	assert_string_equal(f->out.frames[0], ERR(407, "slow client"));
	out_clear(&f->out);
	assert_false(replay_session_wants(s, "t", 1, "AAPL", 4));
	replay_session_free(s, false, 3);
}

static void test_keys_file(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/test_session_keysXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("# comment\n\nK1 S1\nK2 S2 iex,sip\n", fp);
	fclose(fp);
	replay_session_reg_free(f->reg);
	assert_int_equal(replay_session_reg_new(&f->reg, NULL), 0);
	char err[256] = "";
	assert_int_equal(replay_session_reg_load_keys(f->reg, path, err, sizeof(err)), 0);
	struct replay_session *s = open_session(f, 0);
	say(f, s, 1, "{\"action\":\"auth\",\"key\":\"K1\",\"secret\":\"S2\"}", ERR(402, "auth failed"));
	say(f, s, 1, "{\"action\":\"auth\",\"key\":\"K2\",\"secret\":\"S2\"}", AUTHED);
	replay_session_free(s, true, 2);

	fp = fopen(path, "w");
	fputs("K1 S1\nK2 S2 iex extra\n", fp);
	fclose(fp);
	assert_int_equal(replay_session_reg_load_keys(f->reg, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	unlink(path);
	assert_int_equal(replay_session_reg_load_keys(f->reg, path, err, sizeof(err)), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth_ok_and_403, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_failed_then_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_auth_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_not_granted_409, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_auth_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_deltas_and_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_symbols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbol_limit_405, setup, teardown),
		cmocka_unit_test_setup_teardown(test_omit_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit_406, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit_no_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
