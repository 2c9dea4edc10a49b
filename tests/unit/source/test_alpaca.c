/* Tests of the Alpaca session state machine: scripted sessions with a fake
 * clock and recording callbacks, no sockets. Every recorded text (status
 * details, fatal messages, results, sent messages other than auth) is
 * checked for the credentials as it is recorded. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source/alpaca.h"
#include "source/alpaca_backoff.h"
#include "source/frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ (1000000000LL)
#define MS (1000000LL)
#define KEY "AKTESTKEY1234567890"
#define SECRET "sEcReTsEcReT0123456789abcdef"
#define MID 0x80000000u /* rng value that gives exactly the nominal delay */

#define MAXST 512
#define MAXSENT 256
#define MAXRES 64

struct rec {
	struct alpaca *s;
	int64_t now;
	uint32_t rnd;
	int connect_rc;      /* what connect() returns */
	bool down_in_connect; /* connect() reports the failure itself, re-entrantly */
	bool down_in_disconnect;
	int connects, disconnects;
	uint16_t close_code;
	int nsent;
	char *sent[MAXSENT];
	int nst;
	struct {
		struct alpaca_status_ev ev;
		char detail[ALPACA_DETAIL_MAX];
	} st[MAXST];
	int fatals, fatal_code;
	char fatal_msg[ALPACA_DETAIL_MAX];
	int nres;
	struct {
		uint32_t req;
		int code;
		char detail[ALPACA_DETAIL_MAX];
	} res[MAXRES];
};

/* Neither credential, nor the first 6 bytes of one (a cut echo). */
static void no_creds(const char *text)
{
	if (strstr(text, KEY) || strstr(text, SECRET) || strstr(text, "AKTEST") ||
	    strstr(text, "sEcReT"))
		fail_msg("credential in emitted text: %s", text);
}

static int cb_send(void *arg, const char *json, size_t n)
{
	struct rec *r = arg;
	assert_int_equal(strlen(json), n);
	if (strncmp(json, "{\"action\":\"auth\"", 16) != 0)
		no_creds(json);
	assert_true(r->nsent < MAXSENT);
	r->sent[r->nsent++] = strdup(json);
	return 0;
}

static int cb_connect(void *arg)
{
	struct rec *r = arg;
	r->connects++;
	if (r->down_in_connect) {
		alpaca_on_transport_down(r->s, r->now, "connection refused", 0, ALPACA_DOWN_TRANSPORT);
		return -ECONNREFUSED;
	}
	return r->connect_rc;
}

static void cb_disconnect(void *arg, uint16_t code)
{
	struct rec *r = arg;
	r->disconnects++;
	r->close_code = code;
	if (r->down_in_disconnect)
		alpaca_on_transport_down(r->s, r->now, "closed", 0, ALPACA_DOWN_CLOSED);
}

static void cb_status(void *arg, const struct alpaca_status_ev *ev)
{
	struct rec *r = arg;
	no_creds(ev->detail);
	assert_true(r->nst < MAXST);
	r->st[r->nst].ev = *ev;
	snprintf(r->st[r->nst].detail, ALPACA_DETAIL_MAX, "%s", ev->detail);
	r->st[r->nst].ev.detail = r->st[r->nst].detail;
	if (ev->error_class != ALPACA_CLASS_NONE)
		assert_string_equal(ev->error_class_name, alpaca_class_name(ev->error_class));
	else
		assert_null(ev->error_class_name);
	r->nst++;
}

static void cb_fatal(void *arg, int code, const char *msg)
{
	struct rec *r = arg;
	no_creds(msg);
	r->fatals++;
	r->fatal_code = code;
	snprintf(r->fatal_msg, sizeof(r->fatal_msg), "%s", msg);
}

static void cb_result(void *arg, uint32_t req, int code, const char *detail)
{
	struct rec *r = arg;
	no_creds(detail);
	assert_true(r->nres < MAXRES);
	r->res[r->nres].req = req;
	r->res[r->nres].code = code;
	snprintf(r->res[r->nres].detail, ALPACA_DETAIL_MAX, "%s", detail);
	r->nres++;
}

static uint32_t fixed_rng(void *arg)
{
	return ((struct rec *)arg)->rnd;
}

static const struct alpaca_cbs cbs = {cb_send, cb_connect, cb_disconnect, cb_status, cb_fatal,
				      cb_result};

static struct alpaca_opts default_opts(struct rec *r)
{
	struct alpaca_opts o = {0};
	o.key = KEY;
	o.secret = SECRET;
	o.reconnect_base = 500 * MS;
	o.reconnect_max = 30 * S_;
	o.idle_timeout = 30 * S_;
	o.rng = fixed_rng;
	o.rng_arg = r;
	return o;
}

static struct rec *rec_new_opts(const struct alpaca_opts *o)
{
	struct rec *r = calloc(1, sizeof(*r));
	r->now = 1000 * S_;
	r->rnd = MID;
	struct alpaca_opts oo = *o;
	oo.rng_arg = r;
	assert_int_equal(alpaca_new(&r->s, &oo, &cbs, r), 0);
	return r;
}

static struct rec *rec_new(void)
{
	struct alpaca_opts o = default_opts(NULL);
	return rec_new_opts(&o);
}

static void rec_free(struct rec *r)
{
	alpaca_free(r->s);
	for (int i = 0; i < r->nsent; i++)
		free(r->sent[i]);
	free(r);
}

static const char *last_sent(const struct rec *r)
{
	return r->nsent ? r->sent[r->nsent - 1] : "";
}

static const struct alpaca_status_ev *last_st(const struct rec *r)
{
	assert_true(r->nst > 0);
	return &r->st[r->nst - 1].ev;
}

/* The latest status of a kind at index >= from, or NULL. */
static const struct alpaca_status_ev *find_st(const struct rec *r, int from, enum alpaca_status k)
{
	for (int i = r->nst - 1; i >= from; i--)
		if (r->st[i].ev.status == k)
			return &r->st[i].ev;
	return NULL;
}

static int count_st(const struct rec *r, int from, enum alpaca_status k)
{
	int n = 0;
	for (int i = from; i < r->nst; i++)
		n += r->st[i].ev.status == k;
	return n;
}

/* ---- events as the frame parser delivers them ---- */

static struct event ev_success(const char *msg)
{
	struct event e = {.kind = EVENT_CTL_SUCCESS};
	e.u.ctl.msg.p = msg;
	e.u.ctl.msg.n = (uint32_t)strlen(msg);
	return e;
}

static struct event ev_error(int code, const char *msg)
{
	struct event e = {.kind = EVENT_CTL_ERROR};
	e.u.ctl.code = code;
	e.u.ctl.msg.p = msg;
	e.u.ctl.msg.n = (uint32_t)strlen(msg);
	return e;
}

static struct event ev_sub(const char *json)
{
	struct event e = {.kind = EVENT_CTL_SUBSCRIPTION};
	e.raw.p = json;
	e.raw.n = (uint32_t)strlen(json);
	return e;
}

static struct event ev_data(enum event_kind k, const char *sym, int64_t t)
{
	struct event e = {.kind = k, .t_ns = t};
	snprintf(e.symbol, sizeof(e.symbol), "%s", sym);
	e.symbol_len = (uint8_t)strlen(sym);
	return e;
}

static int feed(struct rec *r, struct event e)
{
	return alpaca_on_event(r->s, r->now, &e);
}

static void up(struct rec *r)
{
	assert_int_equal(alpaca_on_transport_up(r->s, r->now), 0);
}

static void down(struct rec *r, const char *why, int http, enum alpaca_down hint)
{
	assert_int_equal(alpaca_on_transport_down(r->s, r->now, why, http, hint), 0);
}

/* The owner's timer: fire every deadline up to t, in order. */
static void run_until(struct rec *r, int64_t t)
{
	for (int guard = 0; guard < 10000; guard++) {
		int64_t d = alpaca_next_deadline(r->s);
		if (d > t)
			break;
		if (d > r->now)
			r->now = d;
		alpaca_on_timer(r->s, r->now);
	}
	if (t > r->now)
		r->now = t;
}

static void want(struct rec *r, const char *const *trades, size_t nt, const char *const *quotes,
		 size_t nq, uint32_t *req)
{
	struct alpaca_symbols w = {0};
	w.sym[ALPACA_CH_TRADES] = trades;
	w.n[ALPACA_CH_TRADES] = nt;
	w.sym[ALPACA_CH_QUOTES] = quotes;
	w.n[ALPACA_CH_QUOTES] = nq;
	char err[128];
	uint32_t id;
	assert_int_equal(alpaca_set_symbols(r->s, r->now, &w, req ? req : &id, err, sizeof(err)), 0);
}

static const char *const AM[] = {"AAPL", "MSFT"};
#define REPLY_AM                                                                                   \
	"{\"T\":\"subscription\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"AAPL\",\"MSFT\"],"     \
	"\"bars\":[],\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],\"lulds\":[],"             \
	"\"corrections\":[\"AAPL\",\"MSFT\"],\"cancelErrors\":[\"AAPL\",\"MSFT\"]}"

/* From a fresh machine (or BACKOFF) to authenticated. */
static void to_authenticated(struct rec *r)
{
	if (alpaca_stats(r->s)->state == ALPACA_ST_IDLE)
		assert_int_equal(alpaca_start(r->s, r->now), 0);
	else if (alpaca_stats(r->s)->state == ALPACA_ST_BACKOFF)
		run_until(r, alpaca_next_deadline(r->s));
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_CONNECTING);
	r->now += 100 * MS;
	up(r);
	feed(r, ev_success("connected"));
	assert_string_equal(last_sent(r), "{\"action\":\"auth\",\"key\":\"" KEY "\",\"secret\":\"" SECRET "\"}");
	feed(r, ev_success("authenticated"));
}

/* trades+quotes AAPL,MSFT confirmed. */
static void to_subscribed(struct rec *r)
{
	to_authenticated(r);
	assert_string_equal(last_sent(r),
			    "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"AAPL\",\"MSFT\"]}");
	feed(r, ev_sub(REPLY_AM));
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBED);
}

static struct rec *subscribed_rec(void)
{
	struct rec *r = rec_new();
	want(r, AM, 2, AM, 2, NULL);
	to_subscribed(r);
	return r;
}

/* ---- tests ---- */

static void test_happy_path(void **state)
{
	struct rec *r = rec_new();
	uint32_t req;
	want(r, AM, 2, AM, 2, &req);
	/* Not started: the request is kept for the next connection. */
	assert_int_equal(r->nres, 1);
	assert_int_equal(r->res[0].req, req);
	assert_int_equal(r->res[0].code, -ENOTCONN);

	assert_int_equal(alpaca_start(r->s, r->now), 0);
	assert_int_equal(r->connects, 1);
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_CONNECTING);
	assert_int_equal(last_st(r)->attempt, 1);
	up(r);
	assert_int_equal(r->nsent, 0); /* auth waits for "connected" */
	feed(r, ev_success("connected"));
	assert_int_equal(r->nsent, 1);
	assert_string_equal(r->sent[0], "{\"action\":\"auth\",\"key\":\"" KEY "\",\"secret\":\"" SECRET "\"}");
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_AUTHENTICATING);
	feed(r, ev_success("authenticated"));
	assert_int_equal(r->nsent, 2);
	assert_string_equal(r->sent[1],
			    "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"AAPL\",\"MSFT\"]}");
	feed(r, ev_sub(REPLY_AM));

	assert_int_equal(r->nst, 3);
	assert_int_equal(r->st[0].ev.status, ALPACA_STATUS_CONNECTING);
	assert_int_equal(r->st[1].ev.status, ALPACA_STATUS_AUTHENTICATED);
	assert_int_equal(r->st[2].ev.status, ALPACA_STATUS_SUBSCRIBED);
	assert_int_equal(r->st[2].ev.state, ALPACA_ST_SUBSCRIBED);
	assert_string_equal(r->st[2].detail, "trades=2 quotes=2");
	const struct alpaca_stats *st = alpaca_stats(r->s);
	assert_int_equal(st->state, ALPACA_ST_SUBSCRIBED);
	assert_int_equal(st->connects, 1);
	assert_int_equal(st->sessions_authenticated, 1);
	assert_int_equal(st->sessions_subscribed, 1);
	assert_int_equal(st->sub_messages, 1);
	/* Confirmed per channel, as the server listed it. */
	assert_int_equal(alpaca_confirmed_count(r->s, ALPACA_CH_TRADES), 2);
	assert_string_equal(alpaca_confirmed_at(r->s, ALPACA_CH_TRADES, 1), "MSFT");
	assert_int_equal(alpaca_confirmed_count(r->s, ALPACA_CH_CORRECTIONS), 2);
	assert_int_equal(alpaca_confirmed_count(r->s, ALPACA_CH_BARS), 0);
	/* No further sends and only the idle watchdog pending (no data yet). */
	assert_int_equal(alpaca_next_deadline(r->s), r->now + 30 * S_);
	assert_int_equal(r->disconnects, 0);
	rec_free(r);
}

static void deliver(void *arg, const struct event *ev)
{
	struct rec *r = arg;
	alpaca_on_event(r->s, r->now, ev);
}

/* The same session through the real frame parser: the raw slice of a
 * subscription message is what alpaca parses. */
static void test_through_frame_parser(void **state)
{
	struct rec *r = rec_new();
	struct frame_parser *p = frame_parser_new();
	want(r, AM, 2, AM, 2, NULL);
	alpaca_start(r->s, r->now);
	up(r);
	static const char *const frames[] = {
		"[{\"T\":\"success\",\"msg\":\"connected\"}]",
		"[{\"T\":\"success\",\"msg\":\"authenticated\"}]",
		"[" REPLY_AM "]",
		"[{\"T\":\"t\",\"S\":\"AAPL\",\"i\":1,\"x\":\"V\",\"p\":1.5,\"s\":1,\"t\":\"2024-01-02T15:00:00.5Z\",\"z\":\"C\"}]",
	};
	for (size_t i = 0; i < 4; i++)
		assert_true(frame_parse(p, frames[i], strlen(frames[i]), 0, 0, deliver, r) == 1);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBED);
	assert_int_equal(alpaca_confirmed_count(r->s, ALPACA_CH_QUOTES), 2);
	assert_int_equal(alpaca_stats(r->s)->ch[ALPACA_CH_TRADES].events, 1);
	assert_true(alpaca_channel_last_t(r->s, ALPACA_CH_TRADES) > 0);
	frame_parser_free(p);
	rec_free(r);
}

static void test_reply_missing_keys(void **state)
{
	struct rec *r = rec_new();
	const char *const t[] = {"MSFT", "AAPL"}, *const q[] = {"AAPL"}, *const all[] = {"*"};
	struct alpaca_symbols w = {0};
	w.sym[ALPACA_CH_TRADES] = t;
	w.n[ALPACA_CH_TRADES] = 2;
	w.sym[ALPACA_CH_QUOTES] = q;
	w.n[ALPACA_CH_QUOTES] = 1;
	w.sym[ALPACA_CH_BARS] = all;
	w.n[ALPACA_CH_BARS] = 1;
	uint32_t req;
	/* Asked while connecting: pending until the server confirms it. */
	assert_int_equal(alpaca_start(r->s, r->now), 0);
	assert_int_equal(alpaca_set_symbols(r->s, r->now, &w, &req, NULL, 0), 0);
	to_authenticated(r);
	assert_int_equal(r->nres, 0);
	assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],"
					  "\"quotes\":[\"AAPL\"],\"bars\":[\"*\"]}");
	/* The server lists only trades, and only AAPL: the rest is missing. */
	feed(r, ev_sub("{\"T\":\"subscription\",\"trades\":[\"AAPL\"]}"));
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBING);
	assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"MSFT\"],"
					  "\"quotes\":[\"AAPL\"],\"bars\":[\"*\"]}");
	int n = r->nsent;
	feed(r, ev_sub("{\"T\":\"subscription\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"AAPL\"],"
		       "\"bars\":[\"*\"],\"corrections\":[\"AAPL\",\"MSFT\"]}"));
	assert_int_equal(r->nsent, n);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBED);
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_SUBSCRIBED);
	assert_int_equal(r->nres, 1);
	assert_int_equal(r->res[0].req, req);
	assert_int_equal(r->res[0].code, 0);
	rec_free(r);
}

static void test_runtime_unsubscribe_then_subscribe(void **state)
{
	struct rec *r = subscribed_rec();
	int n = r->nsent, nres = r->nres;
	const char *const t2[] = {"NVDA", "MSFT"};
	uint32_t req;
	want(r, t2, 2, AM, 2, &req);
	/* Removals first, alone in their message. */
	assert_int_equal(r->nsent, n + 1);
	assert_string_equal(last_sent(r), "{\"action\":\"unsubscribe\",\"trades\":[\"AAPL\"]}");
	/* One message in flight: a second change waits for the reply. */
	const char *const t3[] = {"NVDA", "MSFT", "TSLA"};
	uint32_t req2;
	want(r, t3, 3, AM, 2, &req2);
	assert_int_equal(r->nsent, n + 1);
	assert_int_equal(r->nres, nres);
	feed(r, ev_sub("{\"T\":\"subscription\",\"trades\":[\"MSFT\"],\"quotes\":[\"AAPL\",\"MSFT\"]}"));
	assert_int_equal(r->nsent, n + 2);
	assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"NVDA\",\"TSLA\"]}");
	feed(r, ev_sub("{\"T\":\"subscription\",\"trades\":[\"MSFT\",\"NVDA\",\"TSLA\"],"
		       "\"quotes\":[\"AAPL\",\"MSFT\"]}"));
	assert_int_equal(r->nsent, n + 2);
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_SUBSCRIBED);
	assert_int_equal(r->nres, nres + 2);
	assert_int_equal(r->res[nres].req, req);
	assert_int_equal(r->res[nres].code, 0);
	assert_int_equal(r->res[nres + 1].req, req2);
	assert_int_equal(r->res[nres + 1].code, 0);
	/* Asking for what is already confirmed: answered at once, nothing sent. */
	want(r, t3, 3, AM, 2, &req);
	assert_int_equal(r->nsent, n + 2);
	assert_int_equal(r->res[r->nres - 1].req, req);
	assert_int_equal(r->res[r->nres - 1].code, 0);
	rec_free(r);
}

/* The server answers but never lists NVDA: bounded resends, then partial. */
static void test_resubscribe_bounded(void **state)
{
	struct rec *r = subscribed_rec();
	const char *const t2[] = {"AAPL", "MSFT", "NVDA"};
	uint32_t req;
	int n = r->nsent;
	want(r, t2, 3, AM, 2, &req);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->nsent, n + 1 + i);
		assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"NVDA\"]}");
		feed(r, ev_sub(REPLY_AM));
	}
	assert_int_equal(r->nsent, n + 3); /* 1 + sub_retries(2), no more */
	const struct alpaca_status_ev *e = find_st(r, 0, ALPACA_STATUS_ERROR);
	assert_non_null(e);
	assert_string_equal(e->error_class_name, "alpaca_subscription");
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_SUBSCRIBED);
	assert_non_null(strstr(r->st[r->nst - 1].detail, "partial"));
	assert_int_equal(r->res[r->nres - 1].req, req);
	assert_int_equal(r->res[r->nres - 1].code, -EREMOTEIO);
	assert_int_equal(alpaca_stats(r->s)->sub_given_up, 1);
	assert_int_equal(r->disconnects, 0);
	/* Still stalled: another identical reply sends nothing. */
	feed(r, ev_sub(REPLY_AM));
	assert_int_equal(r->nsent, n + 3);
	rec_free(r);
}

/* No reply at all: resend after 3 s, twice, then rebuild the session. */
static void test_reply_timeout(void **state)
{
	struct rec *r = rec_new();
	want(r, AM, 2, AM, 2, NULL);
	to_authenticated(r);
	int n = r->nsent;
	assert_int_equal(alpaca_next_deadline(r->s), r->now + 3 * S_);
	run_until(r, r->now + 3 * S_);
	assert_int_equal(r->nsent, n + 1);
	assert_string_equal(r->sent[n], r->sent[n - 1]);
	run_until(r, r->now + 3 * S_);
	assert_int_equal(r->nsent, n + 2);
	assert_int_equal(r->disconnects, 0);
	run_until(r, r->now + 3 * S_);
	assert_int_equal(r->nsent, n + 2);
	assert_int_equal(r->disconnects, 1);
	assert_int_equal(r->close_code, 1000);
	assert_string_equal(last_st(r)->error_class_name, "alpaca_subscription");
	assert_int_equal(alpaca_stats(r->s)->sub_reply_timeouts, 3);
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_BACKOFF);
	assert_int_equal(alpaca_stats(r->s)->reconnects_by_class[ALPACA_CLASS_SUBSCRIPTION], 1);
	rec_free(r);
}

enum outcome { O_REPORT, O_RECONNECT, O_FATAL, O_REFUSE };

/* Every documented error code and what it does to a subscribed session
 * (or, for the refusals, to the change in flight). */
static void test_error_codes(void **state)
{
	static const struct {
		int code;
		enum outcome o;
		const char *cls;
	} cases[] = {
		{400, O_REFUSE, "alpaca_invalid_syntax"},
		{401, O_RECONNECT, "alpaca_auth"},
		{402, O_FATAL, "alpaca_auth"},
		{403, O_REPORT, "alpaca_protocol"},
		{404, O_RECONNECT, "alpaca_auth_timeout"},
		{405, O_REFUSE, "alpaca_symbol_limit"},
		{406, O_RECONNECT, "alpaca_406_second_connection"},
		{407, O_RECONNECT, "alpaca_slow_client"},
		{408, O_FATAL, "alpaca_insufficient_subscription"},
		{409, O_FATAL, "alpaca_insufficient_subscription"},
		{410, O_REFUSE, "alpaca_invalid_subscription"},
		{411, O_FATAL, "alpaca_auth"},
		{412, O_FATAL, "alpaca_msgpack_required"},
		{413, O_REFUSE, "alpaca_invalid_subscription"},
		{500, O_RECONNECT, "alpaca_server_error"},
		{499, O_REPORT, "unknown"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rec *r = subscribed_rec();
		uint32_t req = 0;
		if (cases[i].o == O_REFUSE) {
			const char *const t2[] = {"AAPL", "MSFT", "NVDA"};
			want(r, t2, 3, AM, 2, &req);
			assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"NVDA\"]}");
		}
		int nst = r->nst, nsent = r->nsent, nres = r->nres;
		feed(r, ev_error(cases[i].code, "some message"));
		const struct alpaca_status_ev *e = find_st(r, nst, ALPACA_STATUS_ERROR);
		assert_non_null(e);
		assert_int_equal(e->error_code, cases[i].code);
		assert_string_equal(e->error_class_name, cases[i].cls);
		assert_non_null(strstr(r->st[nst].detail, "some message"));
		assert_int_equal(alpaca_stats(r->s)->errors_by_code[alpaca_code_slot(cases[i].code)], 1);
		const struct alpaca_stats *st = alpaca_stats(r->s);
		switch (cases[i].o) {
		case O_REPORT:
			assert_int_equal(r->disconnects, 0);
			assert_int_equal(st->state, ALPACA_ST_SUBSCRIBED);
			break;
		case O_REFUSE:
			/* Reported to the caller, dropped, no reconnect, no resend. */
			assert_int_equal(r->disconnects, 0);
			assert_int_equal(r->nsent, nsent);
			assert_int_equal(r->nres, nres + 1);
			assert_int_equal(r->res[nres].req, req);
			assert_int_equal(r->res[nres].code, cases[i].code);
			assert_non_null(strstr(r->res[nres].detail, "NVDA"));
			assert_int_equal(alpaca_desired_count(r->s, ALPACA_CH_TRADES), 2);
			assert_int_equal(st->state, ALPACA_ST_SUBSCRIBED);
			assert_int_equal(st->sub_rejected, 1);
			break;
		case O_RECONNECT:
			assert_int_equal(r->disconnects, 1);
			assert_int_equal(r->fatals, 0);
			assert_int_equal(st->state, ALPACA_ST_DISCONNECTING);
			down(r, "closed by peer", 0, ALPACA_DOWN_CLOSED);
			assert_int_equal(st->state, ALPACA_ST_BACKOFF);
			assert_string_equal(last_st(r)->error_class_name, cases[i].cls);
			assert_int_equal(last_st(r)->status, ALPACA_STATUS_DISCONNECTED);
			assert_int_equal(st->reconnects, 1);
			run_until(r, r->now + 60 * S_);
			assert_int_equal(r->connects, 2);
			break;
		case O_FATAL:
			assert_int_equal(r->fatals, 1);
			assert_int_equal(r->fatal_code, cases[i].code);
			assert_int_equal(r->disconnects, 1);
			assert_int_equal(st->state, ALPACA_ST_FATAL);
			down(r, "closed", 0, ALPACA_DOWN_CLOSED);
			assert_int_equal(last_st(r)->status, ALPACA_STATUS_DISCONNECTED);
			assert_int_equal(alpaca_next_deadline(r->s), INT64_MAX);
			run_until(r, r->now + 3600 * S_);
			assert_int_equal(r->connects, 1); /* no retry loop */
			assert_int_equal(st->reconnects, 0);
			break;
		}
		rec_free(r);
	}
}

/* A refusal with nothing in flight (here 405) is only reported. */
static void test_refusal_without_request(void **state)
{
	struct rec *r = subscribed_rec();
	int nres = r->nres;
	feed(r, ev_error(405, "symbol limit exceeded"));
	assert_string_equal(last_st(r)->error_class_name, "alpaca_symbol_limit");
	assert_int_equal(r->nres, nres);
	assert_int_equal(r->disconnects, 0);
	assert_int_equal(alpaca_desired_count(r->s, ALPACA_CH_TRADES), 2);
	rec_free(r);
}

/* An unsubscribe the server refuses stays desired, so it is not retried. */
static void test_refused_unsubscribe_kept(void **state)
{
	struct rec *r = subscribed_rec();
	const char *const t[] = {"MSFT"};
	uint32_t req;
	want(r, t, 1, AM, 2, &req);
	assert_string_equal(last_sent(r), "{\"action\":\"unsubscribe\",\"trades\":[\"AAPL\"]}");
	int n = r->nsent;
	feed(r, ev_error(400, "invalid syntax"));
	assert_int_equal(r->nsent, n);
	assert_int_equal(alpaca_desired_count(r->s, ALPACA_CH_TRADES), 2);
	assert_int_equal(r->res[r->nres - 1].code, 400);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBED);
	rec_free(r);
}

static void test_http_upgrade_refusals(void **state)
{
	/* 429: contention backoff, at least 12 s even at the lowest jitter. */
	struct rec *r = rec_new();
	r->rnd = 0;
	alpaca_start(r->s, r->now);
	down(r, "HTTP 429 Too Many Requests", 429, ALPACA_DOWN_HTTP);
	const struct alpaca_status_ev *e = last_st(r);
	assert_int_equal(e->status, ALPACA_STATUS_DISCONNECTED);
	assert_int_equal(e->error_code, 429);
	assert_string_equal(e->error_class_name, "alpaca_429_rate_limited");
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 12 * S_);
	assert_int_equal(r->fatals, 0);
	rec_free(r);

	/* 401 at the upgrade (header auth with bad keys): fatal, no retry. */
	r = rec_new();
	alpaca_start(r->s, r->now);
	down(r, "HTTP 401", 401, ALPACA_DOWN_HTTP);
	assert_int_equal(r->fatals, 1);
	assert_int_equal(r->fatal_code, 401);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_FATAL);
	assert_string_equal(last_st(r)->error_class_name, "alpaca_auth");
	assert_int_equal(alpaca_next_deadline(r->s), INT64_MAX);
	/* An operator can start again after fixing it. */
	assert_int_equal(alpaca_start(r->s, r->now), 0);
	assert_int_equal(r->connects, 2);
	rec_free(r);

	/* 503: an ordinary backoff. */
	r = rec_new();
	alpaca_start(r->s, r->now);
	down(r, "HTTP 503", 503, ALPACA_DOWN_HTTP);
	assert_string_equal(last_st(r)->error_class_name, "http_upgrade");
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 500 * MS);
	rec_free(r);
}

static void test_backoff_values(void **state)
{
	struct alpaca_backoff b = {500 * MS, 30 * S_, 15 * S_};
	static const int64_t nominal[] = {500 * MS, 1 * S_, 2 * S_, 4 * S_, 8 * S_, 16 * S_, 30 * S_, 30 * S_};
	for (unsigned f = 1; f <= 8; f++) {
		assert_int_equal(alpaca_backoff_delay(&b, f, false, MID), nominal[f - 1]);
		/* -20 % (but never below base), +20 % (never above max) */
		int64_t lo = nominal[f - 1] * 8 / 10, hi = nominal[f - 1] * 12 / 10;
		assert_int_equal(alpaca_backoff_delay(&b, f, false, 0), lo < b.base ? b.base : lo);
		int64_t h = alpaca_backoff_delay(&b, f, false, UINT32_MAX);
		assert_true(h <= (hi > b.max ? b.max : hi));
		assert_true(h >= (hi > b.max ? b.max : hi) - 1000);
	}
	assert_int_equal(alpaca_backoff_delay(&b, 1000, false, MID), 30 * S_); /* no overflow */
	assert_int_equal(alpaca_backoff_delay(&b, 1, true, MID), 15 * S_);
	assert_int_equal(alpaca_backoff_delay(&b, 1, true, 0), 12 * S_);
	assert_int_equal(alpaca_backoff_delay(&b, 6, true, MID), 16 * S_);

	/* Through the machine: consecutive failures follow the same sequence. */
	struct rec *r = rec_new();
	alpaca_start(r->s, r->now);
	for (int i = 0; i < 8; i++) {
		down(r, "connection refused", 0, ALPACA_DOWN_TRANSPORT);
		assert_int_equal(alpaca_next_deadline(r->s) - r->now, nominal[i]);
		assert_string_equal(last_st(r)->error_class_name, "transport");
		run_until(r, alpaca_next_deadline(r->s));
		assert_int_equal(last_st(r)->status, ALPACA_STATUS_CONNECTING);
		assert_int_equal(last_st(r)->attempt, (uint32_t)i + 2);
	}
	assert_int_equal(alpaca_stats(r->s)->reconnects_by_class[ALPACA_CLASS_TRANSPORT], 8);
	rec_free(r);
}

static void fail_n(struct rec *r, int n)
{
	for (int i = 0; i < n; i++) {
		down(r, "reset", 0, ALPACA_DOWN_TRANSPORT);
		run_until(r, alpaca_next_deadline(r->s));
	}
}

static void test_reset_after_healthy(void **state)
{
	struct rec *r = rec_new();
	want(r, AM, 2, AM, 2, NULL);
	alpaca_start(r->s, r->now);
	fail_n(r, 4); /* next delay would be 8 s */
	to_subscribed(r);
	/* Subscribed with data for 30 s: healthy, so the backoff restarts. */
	for (int i = 0; i < 30; i++) {
		r->now += S_;
		feed(r, ev_data(EVENT_TRADE, "AAPL", r->now));
	}
	down(r, "reset", 0, ALPACA_DOWN_TRANSPORT);
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 500 * MS);
	assert_int_equal(last_st(r)->attempt, 5); /* the attempt that ended */
	run_until(r, alpaca_next_deadline(r->s));
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_CONNECTING);
	assert_int_equal(last_st(r)->attempt, 1); /* a new streak */

	/* Subscribed with data for only 10 s: not healthy, keeps growing. */
	to_subscribed(r);
	for (int i = 0; i < 10; i++) {
		r->now += S_;
		feed(r, ev_data(EVENT_QUOTE, "AAPL", r->now));
	}
	down(r, "reset", 0, ALPACA_DOWN_TRANSPORT);
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 500 * MS);
	run_until(r, alpaca_next_deadline(r->s));
	assert_int_equal(last_st(r)->attempt, 2);

	/* Subscribed 40 s but no data at all: not healthy either. */
	struct alpaca_symbols none = {0};
	to_authenticated(r);
	uint32_t req;
	alpaca_set_symbols(r->s, r->now, &none, &req, NULL, 0); /* nothing to watch: no idle */
	feed(r, ev_sub("{\"T\":\"subscription\"}"));
	r->now += 40 * S_;
	down(r, "reset", 0, ALPACA_DOWN_TRANSPORT);
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 1 * S_);
	rec_free(r);
}

/* 406 at every attempt: retries go on past 2 minutes (the ~90 s a dead
 * session holds the slot), without a storm. */
static void test_406_keeps_retrying(void **state)
{
	for (int pass = 0; pass < 2; pass++) {
		struct rec *r = rec_new();
		r->rnd = pass == 0 ? MID : 0; /* nominal, then the shortest jitter */
		want(r, AM, 2, AM, 2, NULL);
		int64_t t0 = r->now;
		alpaca_start(r->s, r->now);
		int in_2min = 0;
		int64_t prev = 0, min_gap = INT64_MAX;
		while (r->now < t0 + 240 * S_) {
			assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_CONNECTING);
			if (r->now < t0 + 120 * S_)
				in_2min++;
			if (prev && r->now - prev < min_gap)
				min_gap = r->now - prev;
			prev = r->now;
			r->now += 100 * MS;
			up(r);
			feed(r, ev_success("connected"));
			feed(r, ev_error(406, "connection limit exceeded"));
			assert_int_equal(r->close_code, 1000); /* a clean close frees our side */
			r->now += 50 * MS;
			down(r, "closed", 0, ALPACA_DOWN_CLOSED);
			assert_string_equal(last_st(r)->error_class_name, "alpaca_406_second_connection");
			run_until(r, alpaca_next_deadline(r->s));
		}
		assert_int_equal(r->fatals, 0);
		assert_true(min_gap >= 12 * S_);
		assert_true(in_2min >= 5 && in_2min <= 11);
		/* Still trying after 4 minutes: the slot will come free. */
		assert_true(r->connects > in_2min);
		to_subscribed(r);
		rec_free(r);
	}
}

static void test_idle_watchdog(void **state)
{
	struct rec *r = subscribed_rec();
	r->now += 5 * S_;
	feed(r, ev_data(EVENT_TRADE, "AAPL", 1));
	int64_t last = r->now;
	assert_int_equal(alpaca_next_deadline(r->s), last + 30 * S_);
	run_until(r, last + 30 * S_ - 1);
	assert_int_equal(r->disconnects, 0);
	run_until(r, last + 30 * S_);
	assert_int_equal(r->disconnects, 1);
	assert_int_equal(r->close_code, 1000);
	assert_string_equal(last_st(r)->error_class_name, "market_data_channel_starvation");
	/* The owner gets disconnect, then later connect. */
	int c = r->connects;
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	run_until(r, alpaca_next_deadline(r->s));
	assert_int_equal(r->connects, c + 1);
	assert_int_equal(alpaca_stats(r->s)->reconnects_by_class[ALPACA_CLASS_STARVATION], 1);
	rec_free(r);

	/* Sparse channels only: nothing to watch. */
	r = rec_new();
	const char *const a[] = {"AAPL"};
	struct alpaca_symbols w = {0};
	w.sym[ALPACA_CH_STATUSES] = a;
	w.n[ALPACA_CH_STATUSES] = 1;
	uint32_t req;
	alpaca_set_symbols(r->s, r->now, &w, &req, NULL, 0);
	to_authenticated(r);
	feed(r, ev_sub("{\"T\":\"subscription\",\"statuses\":[\"AAPL\"]}"));
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_SUBSCRIBED);
	assert_int_equal(alpaca_next_deadline(r->s), INT64_MAX);
	rec_free(r);
}

static void test_auth_timeout(void **state)
{
	struct rec *r = rec_new();
	alpaca_start(r->s, r->now);
	up(r);
	int64_t t_up = r->now;
	feed(r, ev_success("connected"));
	assert_int_equal(r->nsent, 1);
	run_until(r, t_up + 10 * S_ - 1);
	assert_int_equal(r->disconnects, 0);
	run_until(r, t_up + 10 * S_);
	assert_int_equal(r->disconnects, 1);
	assert_string_equal(last_st(r)->error_class_name, "alpaca_auth_timeout");
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_BACKOFF);
	rec_free(r);

	/* Header auth: no auth message; "authenticated" is still required. */
	struct alpaca_opts o = default_opts(NULL);
	o.header_auth = true;
	o.key = o.secret = NULL;
	r = rec_new_opts(&o);
	want(r, AM, 1, NULL, 0, NULL);
	alpaca_start(r->s, r->now);
	up(r);
	feed(r, ev_success("connected"));
	assert_int_equal(r->nsent, 0);
	feed(r, ev_success("authenticated"));
	assert_string_equal(last_sent(r), "{\"action\":\"subscribe\",\"trades\":[\"AAPL\"]}");
	rec_free(r);

	r = rec_new_opts(&o);
	alpaca_start(r->s, r->now);
	up(r);
	feed(r, ev_success("connected"));
	run_until(r, r->now + 10 * S_);
	assert_int_equal(r->disconnects, 1);
	assert_non_null(strstr(r->st[r->nst - 1].detail, "header auth"));
	rec_free(r);
}

static void test_gap_on_407(void **state)
{
	struct rec *r = subscribed_rec();
	const int64_t t1 = 1700000000LL * S_, t2 = t1 + 250 * MS, t3 = t1 + 9 * S_;
	feed(r, ev_data(EVENT_TRADE, "AAPL", t2));
	feed(r, ev_data(EVENT_BAR, "AAPL", t1)); /* a bar's t is its minute start: older */
	feed(r, ev_error(407, "slow client"));
	const struct alpaca_status_ev *e = last_st(r);
	assert_int_equal(e->status, ALPACA_STATUS_ERROR);
	assert_string_equal(e->error_class_name, "alpaca_slow_client");
	assert_int_equal(e->gap_start_ns, t2);
	assert_int_equal(r->disconnects, 1);
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	e = last_st(r);
	assert_int_equal(e->status, ALPACA_STATUS_DISCONNECTED);
	assert_string_equal(e->error_class_name, "alpaca_slow_client");
	assert_int_equal(e->gap_start_ns, t2);
	assert_int_equal(e->gap_end_ns, 0);
	assert_true(alpaca_stats(r->s)->gap_open);
	/* A failed attempt in between keeps the same gap open. */
	run_until(r, alpaca_next_deadline(r->s));
	down(r, "reset", 0, ALPACA_DOWN_TRANSPORT);
	assert_int_equal(last_st(r)->gap_start_ns, t2);
	/* The new session resubscribes the full desired set... */
	int nst = r->nst;
	to_subscribed(r);
	assert_int_equal(count_st(r, nst, ALPACA_STATUS_GAP), 0);
	/* ...and the first data closes the gap. */
	feed(r, ev_data(EVENT_QUOTE, "MSFT", t3));
	e = last_st(r);
	assert_int_equal(e->status, ALPACA_STATUS_GAP);
	assert_int_equal(e->gap_start_ns, t2);
	assert_int_equal(e->gap_end_ns, t3);
	feed(r, ev_data(EVENT_QUOTE, "MSFT", t3 + 1));
	assert_int_equal(count_st(r, nst, ALPACA_STATUS_GAP), 1);
	assert_false(alpaca_stats(r->s)->gap_open);
	assert_int_equal(alpaca_stats(r->s)->gaps, 1);
	assert_int_equal(alpaca_channel_last_t(r->s, ALPACA_CH_BARS), t1);
	rec_free(r);
}

/* Credentials never leave except in the auth message, even when the server
 * or the transport echo them, whole or cut. (no_creds runs on every text.) */
static void test_credentials_never_leak(void **state)
{
	struct rec *r = subscribed_rec();
	int nauth = 0;
	for (int i = 0; i < r->nsent; i++)
		if (strstr(r->sent[i], SECRET))
			nauth++;
	assert_int_equal(nauth, 1);
	feed(r, ev_error(499, "bad request {\"key\":\"" KEY "\",\"secret\":\"" SECRET "\"}"));
	assert_non_null(strstr(r->st[r->nst - 1].detail, "bad request"));
	/* An echo cut by the length limit in the middle of the secret. */
	char longmsg[400];
	memset(longmsg, 'x', sizeof(longmsg));
	memcpy(longmsg + 118, SECRET, strlen(SECRET));
	longmsg[118 + strlen(SECRET)] = '\0';
	feed(r, ev_error(400, longmsg));
	feed(r, ev_error(402, "auth failed for " KEY));
	assert_int_equal(r->fatals, 1);
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	assert_non_null(strstr(r->st[r->nst - 1].detail, "auth failed"));
	rec_free(r);

	/* A transport reason echoing a credential: masked, the rest kept. */
	r = rec_new();
	alpaca_start(r->s, r->now);
	down(r, "peer said: " SECRET, 0, ALPACA_DOWN_CLOSED);
	assert_non_null(strstr(r->st[r->nst - 1].detail, "peer said: *****"));
	rec_free(r);
}

/* connect() failing, reported by its return or re-entrantly: one failure. */
static void test_connect_failure_reentrant(void **state)
{
	struct rec *r = rec_new();
	r->connect_rc = -ECONNREFUSED;
	alpaca_start(r->s, r->now);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_BACKOFF);
	assert_int_equal(alpaca_stats(r->s)->reconnects, 1);
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_DISCONNECTED);
	r->connect_rc = 0;
	r->down_in_connect = true;
	run_until(r, alpaca_next_deadline(r->s));
	assert_int_equal(r->connects, 2);
	assert_int_equal(alpaca_stats(r->s)->reconnects, 2);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_BACKOFF);
	assert_int_equal(alpaca_next_deadline(r->s) - r->now, 1 * S_);
	/* Statuses stay in causal order: connecting, then disconnected. */
	assert_int_equal(r->st[r->nst - 2].ev.status, ALPACA_STATUS_CONNECTING);
	assert_int_equal(r->st[r->nst - 1].ev.status, ALPACA_STATUS_DISCONNECTED);
	rec_free(r);

	/* disconnect() closing synchronously. */
	r = subscribed_rec();
	r->down_in_disconnect = true;
	feed(r, ev_error(500, "internal error"));
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_BACKOFF);
	assert_int_equal(last_st(r)->status, ALPACA_STATUS_DISCONNECTED);
	rec_free(r);
}

static void test_stop_and_invalid_symbols(void **state)
{
	struct rec *r = subscribed_rec();
	const char *const bad[] = {"AAPL", "aapl"};
	char err[128] = "";
	struct alpaca_symbols w = {0};
	w.sym[ALPACA_CH_TRADES] = bad;
	w.n[ALPACA_CH_TRADES] = 2;
	uint32_t req;
	assert_int_equal(alpaca_set_symbols(r->s, r->now, &w, &req, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "trades: invalid symbol \"aapl\"");
	assert_int_equal(alpaca_desired_count(r->s, ALPACA_CH_TRADES), 2);

	assert_int_equal(alpaca_stop(r->s, r->now), 0);
	assert_int_equal(r->close_code, 1001);
	down(r, "closed", 0, ALPACA_DOWN_CLOSED);
	assert_int_equal(alpaca_stats(r->s)->state, ALPACA_ST_IDLE);
	assert_string_equal(last_st(r)->error_class_name, "stopped");
	assert_int_equal(alpaca_next_deadline(r->s), INT64_MAX);
	assert_int_equal(alpaca_confirmed_count(r->s, ALPACA_CH_TRADES), 0);
	/* Late inputs are refused, not acted on. */
	assert_int_equal(alpaca_on_transport_down(r->s, r->now, "x", 0, ALPACA_DOWN_CLOSED), -EALREADY);
	assert_int_equal(feed(r, ev_success("connected")), -EPROTO);
	rec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_through_frame_parser),
		cmocka_unit_test(test_reply_missing_keys),
		cmocka_unit_test(test_runtime_unsubscribe_then_subscribe),
		cmocka_unit_test(test_resubscribe_bounded),
		cmocka_unit_test(test_reply_timeout),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_refusal_without_request),
		cmocka_unit_test(test_refused_unsubscribe_kept),
		cmocka_unit_test(test_http_upgrade_refusals),
		cmocka_unit_test(test_backoff_values),
		cmocka_unit_test(test_reset_after_healthy),
		cmocka_unit_test(test_406_keeps_retrying),
		cmocka_unit_test(test_idle_watchdog),
		cmocka_unit_test(test_auth_timeout),
		cmocka_unit_test(test_gap_on_407),
		cmocka_unit_test(test_credentials_never_leak),
		cmocka_unit_test(test_connect_failure_reentrant),
		cmocka_unit_test(test_stop_and_invalid_symbols),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
