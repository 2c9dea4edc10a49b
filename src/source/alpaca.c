/* alpaca.c - the Alpaca market-data session state machine (see alpaca.h).
 *
 * Decisions (alpaca-ws.md is the reference for every protocol fact):
 * - Outputs are queued and run after the state is updated, so a callback
 *   that re-enters the machine (a connect() failing at once, a disconnect()
 *   whose close completes synchronously) sees a consistent state. Queued
 *   sends and disconnects carry the session generation and are dropped if
 *   that session is gone by the time they run.
 * - Header auth: the reference does not say whether the server still sends
 *   "authenticated". We require it (within auth_timeout, like message auth)
 *   rather than assume success, so a silent server is an alpaca_auth_timeout
 *   error with a hint, not a session that quietly streams nothing.
 * - One subscription message in flight, one action per message, removals
 *   first (they free plan symbol slots before additions use them, 405).
 *   Every reply is a full snapshot: missing keys are empty, the next message
 *   is recomputed from (desired - confirmed) and (confirmed - desired).
 *   A change the server answers but does not apply is resent sub_retries
 *   times, then given up (error status, session kept: partial). A change
 *   with no reply at all is resent likewise, then the session is rebuilt.
 * - 400/405/410/413 refuse the in-flight message: its symbols leave the
 *   desired set (or, for an unsubscribe, return to it), so no loop retries a
 *   request the server has refused; the control caller gets the code.
 * - Healthy session = subscribed for >= healthy_after AND data received in
 *   it. "Data received" alone would let a server that drops us after one
 *   message drive a reconnect storm at the base delay; "subscribed" alone
 *   would reset the backoff on every idle-watchdog reconnect overnight.
 * - The idle watchdog is armed only while trades, quotes or bars are
 *   confirmed: statuses/lulds/imbalances are sparse by nature.
 * - Gap: a transport loss after data had flowed opens a gap at the latest
 *   event time seen; the first data event of a later session closes it.
 *   Several failed reconnects in between keep one gap. */
#include "config.h"

#include "source/alpaca.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/conf_parse.h"
#include "source/alpaca_backoff.h"
#include "source/alpaca_subs.h"

#define NS_PER_S 1000000000LL

enum act_kind { ACT_STATUS, ACT_SEND, ACT_CONNECT, ACT_DISCONNECT, ACT_FATAL, ACT_RESULT };

struct action {
	enum act_kind kind;
	uint32_t session; /* generation when decided */
	int code;
	uint32_t req;
	char *text; /* ACT_SEND, owned */
	size_t len;
	bool secret; /* wipe text after sending */
	struct alpaca_status_ev ev;
	char detail[ALPACA_DETAIL_MAX];
};

struct alpaca {
	struct alpaca_opts o;
	char *key, *secret;
	struct alpaca_cbs cb;
	void *arg;
	struct alpaca_backoff bo;
	uint64_t rng_state;

	enum alpaca_state st;
	int64_t now;      /* latest input time, for queued actions that fail */
	uint32_t session; /* +1 per connect() */
	bool xport;       /* connect() asked, transport down not seen yet */
	bool up;          /* transport open */
	bool stopping;
	unsigned fails;   /* consecutive unhealthy sessions */
	uint32_t attempt;

	int64_t reconnect_at, connect_deadline, auth_deadline, reply_deadline;
	int64_t subscribed_at; /* first SUBSCRIBED of this session; 0 before */
	int64_t idle_ref;      /* idle watchdog runs from here */
	uint64_t session_data;

	/* Why the current session is ending (first cause wins). */
	enum alpaca_class cause;
	int cause_code;
	char cause_detail[ALPACA_DETAIL_MAX];

	struct alpaca_symset want[ALPACA_CH_SUB_COUNT];
	struct alpaca_symset have[ALPACA_CH_COUNT];  /* as the server confirmed */
	struct alpaca_symset reply[ALPACA_CH_COUNT]; /* scratch for parsing */
	struct alpaca_symset infl[ALPACA_CH_SUB_COUNT];
	struct alpaca_symset tmp[ALPACA_CH_SUB_COUNT];
	bool inflight, infl_unsub;
	char *last_msg; /* latest change sent, to spot one the server ignores */
	unsigned same_sends, reply_timeouts;
	bool stalled;   /* gave up on the desired set until it changes */
	uint32_t req_last, req_done;

	bool have_data;
	int64_t max_t;

	struct action *q;
	size_t qn, qcap, qhead;
	int depth;

	struct alpaca_stats stats;
};

static const char *const ch_names[ALPACA_CH_COUNT] = {
	"trades", "quotes", "bars", "updatedBars", "dailyBars",
	"statuses", "lulds", "imbalances", "corrections", "cancelErrors"};

static const char *const state_names[ALPACA_ST_COUNT] = {
	"idle", "backoff", "connecting", "connected", "authenticating",
	"subscribing", "subscribed", "disconnecting", "fatal"};

static const char *const status_names[ALPACA_STATUS_COUNT] = {
	"connecting", "authenticated", "subscribed", "disconnected", "error", "gap"};

static const char *const class_names[ALPACA_CLASS_COUNT] = {
	NULL,
	"unknown",
	"alpaca_406_second_connection",
	"alpaca_429_rate_limited",
	"alpaca_auth",
	"alpaca_auth_timeout",
	"alpaca_insufficient_subscription",
	"alpaca_slow_client",
	"alpaca_symbol_limit",
	"alpaca_invalid_syntax",
	"alpaca_invalid_subscription",
	"alpaca_msgpack_required",
	"alpaca_server_error",
	"alpaca_protocol",
	"alpaca_subscription",
	"market_data_channel_starvation",
	"tls",
	"transport",
	"timeout",
	"http_upgrade",
	"stopped"};

const char *alpaca_channel_name(enum alpaca_channel ch)
{
	return (unsigned)ch < ALPACA_CH_COUNT ? ch_names[ch] : NULL;
}

int alpaca_channel_parse(const char *name, size_t n)
{
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++)
		if (strlen(ch_names[ch]) == n && memcmp(ch_names[ch], name, n) == 0)
			return ch;
	return -EINVAL;
}

const char *alpaca_state_name(enum alpaca_state st)
{
	return (unsigned)st < ALPACA_ST_COUNT ? state_names[st] : "?";
}

const char *alpaca_status_name(enum alpaca_status st)
{
	return (unsigned)st < ALPACA_STATUS_COUNT ? status_names[st] : "?";
}

const char *alpaca_class_name(enum alpaca_class c)
{
	return (unsigned)c < ALPACA_CLASS_COUNT ? class_names[c] : NULL;
}

int alpaca_code_slot(int code)
{
	if (code >= 400 && code <= 413)
		return code - 400;
	if (code == 500)
		return 14;
	return 15;
}

int alpaca_slot_code(int slot)
{
	if (slot >= 0 && slot <= 13)
		return 400 + slot;
	return slot == 14 ? 500 : -1;
}

static enum alpaca_channel kind_channel(enum event_kind k)
{
	switch (k) {
	case EVENT_TRADE: return ALPACA_CH_TRADES;
	case EVENT_QUOTE: return ALPACA_CH_QUOTES;
	case EVENT_BAR: return ALPACA_CH_BARS;
	case EVENT_UPDATED_BAR: return ALPACA_CH_UPDATED_BARS;
	case EVENT_DAILY_BAR: return ALPACA_CH_DAILY_BARS;
	case EVENT_TRADING_STATUS: return ALPACA_CH_STATUSES;
	case EVENT_LULD: return ALPACA_CH_LULDS;
	case EVENT_IMBALANCE: return ALPACA_CH_IMBALANCES;
	case EVENT_CORRECTION: return ALPACA_CH_CORRECTIONS;
	case EVENT_CANCEL_ERROR: return ALPACA_CH_CANCEL_ERRORS;
	default: return ALPACA_CH_COUNT;
	}
}

/* ---- texts: one line, never a credential ---- */

/* Masks every occurrence of cred in buf, and a prefix of cred cut off at
 * the end of buf (a truncated echo must not leak the first bytes either).
 * Credentials shorter than 4 bytes are not searched: masking them would
 * garble ordinary words, and real Alpaca keys are 20+ characters. */
static void mask(char *buf, const char *cred)
{
	size_t n = cred ? strlen(cred) : 0, len = strlen(buf);
	if (n < 4)
		return;
	for (char *p = strstr(buf, cred); p; p = strstr(p + n, cred))
		memset(p, '*', n);
	for (size_t k = n - 1 < len ? n - 1 : len; k >= 4; k--) {
		if (memcmp(buf + len - k, cred, k) == 0) {
			memset(buf + len - k, '*', k);
			break;
		}
	}
}

/* Copies p[0..n) into out (cap bytes) as one clean line without credentials. */
static void clip(const struct alpaca *s, const char *p, size_t n, char *out, size_t cap)
{
	/* Mask on the whole text first so a cut cannot split a credential. */
	char *full = malloc(n + 1);
	if (!full) {
		snprintf(out, cap, "(out of memory)");
		return;
	}
	if (n)
		memcpy(full, p, n);
	full[n] = '\0';
	mask(full, s->key);
	mask(full, s->secret);
	snprintf(out, cap, "%s", full);
	free(full);
	mask(out, s->key);
	mask(out, s->secret);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
}

static void vtext(const struct alpaca *s, char *out, size_t cap, const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	clip(s, buf, strlen(buf), out, cap);
}

static void fmt_dur(char *buf, size_t cap, int64_t ns)
{
	snprintf(buf, cap, "%.3gs", (double)ns / NS_PER_S);
}

/* "trades[AAPL,MSFT,+3] quotes[AAPL]" */
static void describe(const struct alpaca_symset *sets, char *buf, size_t cap)
{
	size_t w = 0;
	buf[0] = '\0';
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT && w + 1 < cap; ch++) {
		if (!sets[ch].n)
			continue;
		w += (size_t)snprintf(buf + w, cap - w, "%s%s[", w ? " " : "", ch_names[ch]);
		for (size_t i = 0; i < sets[ch].n && i < 4 && w + 1 < cap; i++)
			w += (size_t)snprintf(buf + w, cap - w, "%s%s", i ? "," : "", sets[ch].v[i]);
		if (sets[ch].n > 4 && w + 1 < cap)
			w += (size_t)snprintf(buf + w, cap - w, ",+%zu", sets[ch].n - 4);
		if (w + 1 < cap)
			w += (size_t)snprintf(buf + w, cap - w, "]");
	}
}

/* ---- the action queue ---- */

static struct action *push(struct alpaca *s, enum act_kind kind)
{
	if (s->qn == s->qcap) {
		size_t cap = s->qcap ? s->qcap * 2 : 16;
		struct action *q = realloc(s->q, cap * sizeof(*q));
		if (!q)
			return NULL;
		s->q = q;
		s->qcap = cap;
	}
	struct action *a = &s->q[s->qn++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->session = s->session;
	return a;
}

static void set_state(struct alpaca *s, enum alpaca_state st)
{
	s->st = st;
	s->stats.state = st;
}

static void emit(struct alpaca *s, enum alpaca_status status, enum alpaca_class cls, int code,
		 int64_t gap_start, int64_t gap_end, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void emit(struct alpaca *s, enum alpaca_status status, enum alpaca_class cls, int code,
		 int64_t gap_start, int64_t gap_end, const char *fmt, ...)
{
	struct action *a = push(s, ACT_STATUS);
	if (!a)
		return;
	va_list ap;
	va_start(ap, fmt);
	vtext(s, a->detail, sizeof(a->detail), fmt, ap);
	va_end(ap);
	a->ev.status = status;
	a->ev.state = s->st;
	a->ev.error_code = code;
	a->ev.error_class = cls;
	a->ev.error_class_name = alpaca_class_name(cls);
	a->ev.attempt = s->attempt;
	a->ev.gap_start_ns = gap_start;
	a->ev.gap_end_ns = gap_end;
}

static void push_send(struct alpaca *s, char *text, size_t len, bool secret)
{
	struct action *a = push(s, ACT_SEND);
	if (!a) {
		if (secret)
			explicit_bzero(text, len);
		free(text);
		return;
	}
	a->text = text;
	a->len = len;
	a->secret = secret;
}

static void push_disconnect(struct alpaca *s, uint16_t code)
{
	struct action *a = push(s, ACT_DISCONNECT);
	if (a)
		a->code = code;
}

/* Reports the outcome of every pending alpaca_set_symbols request. */
static void complete(struct alpaca *s, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void complete(struct alpaca *s, int result, const char *fmt, ...)
{
	if (s->req_done == s->req_last)
		return;
	char detail[ALPACA_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vtext(s, detail, sizeof(detail), fmt, ap);
	va_end(ap);
	while (s->req_done != s->req_last) {
		struct action *a = push(s, ACT_RESULT);
		s->req_done++;
		if (!a)
			continue;
		a->req = s->req_done;
		a->code = result;
		memcpy(a->detail, detail, sizeof(detail));
	}
}

static void session_fail(struct alpaca *s, enum alpaca_class cls, int code, int64_t gap_start,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int handle_down(struct alpaca *s, int64_t now, const char *reason, int http,
		       enum alpaca_down hint);

static void run(struct alpaca *s, struct action *a)
{
	switch (a->kind) {
	case ACT_STATUS:
		a->ev.detail = a->detail;
		if (s->cb.status)
			s->cb.status(s->arg, &a->ev);
		break;
	case ACT_SEND: {
		int rc = 0;
		if (a->session == s->session && s->up)
			rc = s->cb.send_text(s->arg, a->text, a->len);
		if (a->secret)
			explicit_bzero(a->text, a->len);
		free(a->text);
		if (rc < 0 && a->session == s->session && s->up)
			session_fail(s, ALPACA_CLASS_TRANSPORT, 0, 0, "send failed (%s)", strerror(-rc));
		break;
	}
	case ACT_CONNECT:
		if (a->session == s->session && s->xport && !s->up && s->st == ALPACA_ST_CONNECTING) {
			int rc = s->cb.connect(s->arg);
			/* Unless the owner already reported the failure itself. */
			if (rc < 0 && a->session == s->session && s->xport && !s->up) {
				char why[96];
				snprintf(why, sizeof(why), "connect failed (%s)", strerror(-rc));
				handle_down(s, s->now, why, 0, ALPACA_DOWN_TRANSPORT);
			}
		}
		break;
	case ACT_DISCONNECT:
		if (a->session == s->session && s->xport)
			s->cb.disconnect(s->arg, (uint16_t)a->code);
		break;
	case ACT_FATAL:
		if (s->cb.fatal)
			s->cb.fatal(s->arg, a->code, a->detail);
		break;
	case ACT_RESULT:
		if (s->cb.sub_result)
			s->cb.sub_result(s->arg, a->req, a->code, a->detail);
		break;
	}
}

/* Runs queued actions, unless an outer call is already running them (then
 * that call picks up what was just queued). */
static void flush(struct alpaca *s)
{
	if (s->depth)
		return;
	s->depth++;
	while (s->qhead < s->qn) {
		/* By value: a re-entrant push may move the queue. */
		struct action a = s->q[s->qhead++];
		run(s, &a);
	}
	s->qhead = s->qn = 0;
	s->depth--;
}

/* ---- transitions ---- */

static uint32_t rnd(struct alpaca *s)
{
	if (s->o.rng)
		return s->o.rng(s->o.rng_arg);
	/* splitmix64: no global state, good enough for jitter. */
	uint64_t z = (s->rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static void connect_now(struct alpaca *s, int64_t now)
{
	s->session++;
	s->xport = true;
	s->up = false;
	s->attempt = s->fails + 1;
	s->stats.attempt = s->attempt;
	s->cause = ALPACA_CLASS_NONE;
	s->cause_code = 0;
	s->cause_detail[0] = '\0';
	s->subscribed_at = 0;
	s->session_data = 0;
	s->inflight = false;
	s->stalled = false;
	s->same_sends = s->reply_timeouts = 0;
	free(s->last_msg);
	s->last_msg = NULL;
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++)
		alpaca_symset_clear(&s->have[ch]);
	s->connect_deadline = now + s->o.connect_timeout;
	s->stats.connects++;
	set_state(s, ALPACA_ST_CONNECTING);
	emit(s, ALPACA_STATUS_CONNECTING, ALPACA_CLASS_NONE, 0, 0, 0, "attempt %u", s->attempt);
	push(s, ACT_CONNECT);
}

static void record_cause(struct alpaca *s, enum alpaca_class cls, int code, const char *detail)
{
	if (s->cause != ALPACA_CLASS_NONE)
		return;
	s->cause = cls;
	s->cause_code = code;
	snprintf(s->cause_detail, sizeof(s->cause_detail), "%s", detail);
}

/* A recoverable failure: report it, close the transport; the reconnect is
 * scheduled when the transport is down. */
static void session_fail(struct alpaca *s, enum alpaca_class cls, int code, int64_t gap_start,
			 const char *fmt, ...)
{
	char detail[ALPACA_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vtext(s, detail, sizeof(detail), fmt, ap);
	va_end(ap);
	bool act = s->xport && s->st != ALPACA_ST_DISCONNECTING && s->st != ALPACA_ST_FATAL;
	if (s->xport)
		record_cause(s, cls, code, detail);
	if (act) {
		s->inflight = false;
		set_state(s, ALPACA_ST_DISCONNECTING);
	}
	emit(s, ALPACA_STATUS_ERROR, cls, code, gap_start, 0, "%s", detail);
	if (act)
		push_disconnect(s, 1000);
}

/* An error retrying cannot fix: stop here until alpaca_start. */
static void go_fatal(struct alpaca *s, enum alpaca_class cls, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void go_fatal(struct alpaca *s, enum alpaca_class cls, int code, const char *fmt, ...)
{
	char detail[ALPACA_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vtext(s, detail, sizeof(detail), fmt, ap);
	va_end(ap);
	s->cause = cls;
	s->cause_code = code;
	snprintf(s->cause_detail, sizeof(s->cause_detail), "%s", detail);
	s->stats.fatals++;
	s->inflight = false;
	s->stopping = false;
	set_state(s, ALPACA_ST_FATAL);
	emit(s, ALPACA_STATUS_ERROR, cls, code, 0, 0, "%s", detail);
	complete(s, -ECANCELED, "fatal: %s", detail);
	if (s->xport)
		push_disconnect(s, 1000);
	else
		emit(s, ALPACA_STATUS_DISCONNECTED, cls, code,
		     s->stats.gap_open ? s->stats.gap_start_ns : 0, 0, "%s (no retry)", detail);
	struct action *a = push(s, ACT_FATAL);
	if (a) {
		a->code = code;
		memcpy(a->detail, detail, sizeof(detail));
	}
}

static void open_gap(struct alpaca *s)
{
	if (s->have_data && !s->stats.gap_open) {
		s->stats.gap_open = true;
		s->stats.gap_start_ns = s->max_t;
		s->stats.gaps++;
	}
}

static int handle_down(struct alpaca *s, int64_t now, const char *reason, int http,
		       enum alpaca_down hint)
{
	if (!s->xport) {
		s->stats.unexpected++;
		return -EALREADY;
	}
	s->xport = s->up = false;
	s->inflight = false;
	free(s->last_msg);
	s->last_msg = NULL;
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++)
		alpaca_symset_clear(&s->have[ch]);

	char why[ALPACA_DETAIL_MAX];
	clip(s, reason ? reason : "", reason ? strlen(reason) : 0, why, sizeof(why));

	if (s->stopping) {
		s->stopping = false;
		set_state(s, ALPACA_ST_IDLE);
		emit(s, ALPACA_STATUS_DISCONNECTED, ALPACA_CLASS_STOPPED, 0, 0, 0, "stopped%s%s",
		     why[0] ? ": " : "", why);
		return 0;
	}
	/* Data that flowed before this loss is missing until a later session. */
	open_gap(s);
	int64_t gap_start = s->stats.gap_open ? s->stats.gap_start_ns : 0;
	if (s->st == ALPACA_ST_FATAL) {
		emit(s, ALPACA_STATUS_DISCONNECTED, s->cause, s->cause_code, gap_start, 0,
		     "%s (no retry)", s->cause_detail);
		return 0;
	}

	if (s->cause == ALPACA_CLASS_NONE) {
		enum alpaca_class cls = ALPACA_CLASS_TRANSPORT;
		if (http || hint == ALPACA_DOWN_HTTP) {
			if (http == 429) {
				cls = ALPACA_CLASS_RATE_LIMITED;
			} else if (http == 401 || http == 403) {
				go_fatal(s, ALPACA_CLASS_AUTH, http,
					 "upgrade refused with HTTP %d (credentials): %s", http, why);
				return 0;
			} else if (http >= 400 && http < 500 && http != 408) {
				/* Wrong URL or feed: retrying cannot help (the Go SDK agrees). */
				go_fatal(s, ALPACA_CLASS_HTTP, http, "upgrade refused with HTTP %d: %s",
					 http, why);
				return 0;
			} else {
				cls = ALPACA_CLASS_HTTP;
			}
		} else if (hint == ALPACA_DOWN_TLS) {
			cls = ALPACA_CLASS_TLS;
		} else if (hint == ALPACA_DOWN_TIMEOUT) {
			cls = ALPACA_CLASS_TIMEOUT;
		}
		record_cause(s, cls, http, why);
		why[0] = '\0'; /* now the cause detail; do not repeat it */
	}

	bool healthy = s->subscribed_at && now - s->subscribed_at >= s->o.healthy_after &&
		       s->session_data > 0;
	/* The end of a healthy session is no failure: the next attempt is the
	 * first of a new streak, after the base delay. */
	if (healthy)
		s->fails = 0;
	else
		s->fails++;
	bool contention = s->cause == ALPACA_CLASS_SECOND_CONNECTION ||
			  s->cause == ALPACA_CLASS_RATE_LIMITED;
	int64_t delay = alpaca_backoff_delay(&s->bo, s->fails ? s->fails : 1, contention, rnd(s));
	s->reconnect_at = now + delay;
	s->stats.reconnects++;
	s->stats.reconnects_by_class[s->cause]++;
	set_state(s, ALPACA_ST_BACKOFF);
	complete(s, -ENOTCONN, "disconnected: applied on the next connection");
	char d[32];
	fmt_dur(d, sizeof(d), delay);
	emit(s, ALPACA_STATUS_DISCONNECTED, s->cause, s->cause_code, gap_start, 0,
	     "%s%s%s; reconnect in %s", s->cause_detail, why[0] ? "; " : "", why, d);
	return 0;
}

/* ---- subscriptions ---- */

static bool any(const struct alpaca_symset *sets)
{
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
		if (sets[ch].n)
			return true;
	return false;
}

static void in_sync(struct alpaca *s, int64_t now, bool partial)
{
	s->same_sends = 0;
	free(s->last_msg);
	s->last_msg = NULL;
	if (!s->subscribed_at) {
		s->subscribed_at = now;
		s->stats.sessions_subscribed++;
	}
	char buf[160];
	size_t w = 0;
	buf[0] = '\0';
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT && w + 1 < sizeof(buf); ch++)
		if (s->have[ch].n)
			w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%s%s=%zu", w ? " " : "",
					      ch_names[ch], s->have[ch].n);
	/* A no-op change (desired set already confirmed) is no state change. */
	if (s->st != ALPACA_ST_SUBSCRIBED) {
		set_state(s, ALPACA_ST_SUBSCRIBED);
		s->idle_ref = now;
		emit(s, ALPACA_STATUS_SUBSCRIBED, ALPACA_CLASS_NONE, 0, 0, 0, "%s%s",
		     partial ? "partial: " : "", w ? buf : "no symbols");
	}
	if (!partial)
		complete(s, 0, "subscribed: %s", w ? buf : "no symbols");
}

static void sub_nomem(struct alpaca *s)
{
	session_fail(s, ALPACA_CLASS_UNKNOWN, 0, 0, "out of memory building a subscription");
}

/* Sends the next change toward the desired set, or reports it reached.
 * resend: a retry after a reply timeout (not evidence the server ignored it). */
static void sub_step(struct alpaca *s, int64_t now, bool resend)
{
	if (s->inflight || s->stalled ||
	    (s->st != ALPACA_ST_SUBSCRIBING && s->st != ALPACA_ST_SUBSCRIBED))
		return;
	const char *action = "unsubscribe";
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
		if (alpaca_symset_diff(&s->tmp[ch], &s->have[ch], &s->want[ch]) < 0)
			{ sub_nomem(s); return; }
	if (!any(s->tmp)) {
		action = "subscribe";
		for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
			if (alpaca_symset_diff(&s->tmp[ch], &s->want[ch], &s->have[ch]) < 0)
				{ sub_nomem(s); return; }
		if (!any(s->tmp))
			{ in_sync(s, now, false); return; }
	}
	size_t len;
	char *msg = alpaca_subs_message(action, s->tmp, &len);
	char *copy = msg ? strdup(msg) : NULL;
	if (!copy) {
		free(msg);
		{ sub_nomem(s); return; }
	}
	if (resend) {
		/* keep the count */
	} else if (s->last_msg && strcmp(msg, s->last_msg) == 0) {
		/* Answered, yet not applied: bounded retries, then give up. */
		if (++s->same_sends > s->o.sub_retries) {
			char what[160];
			describe(s->tmp, what, sizeof(what));
			s->stalled = true;
			s->stats.sub_given_up++;
			emit(s, ALPACA_STATUS_ERROR, ALPACA_CLASS_SUBSCRIPTION, 0, 0, 0,
			     "server did not apply %s %s after %u attempts", action, what,
			     s->o.sub_retries + 1);
			complete(s, -EREMOTEIO, "server did not apply %s %s", action, what);
			free(msg);
			free(copy);
			in_sync(s, now, true);
			return;
		}
	} else {
		s->same_sends = 0;
	}
	free(s->last_msg);
	s->last_msg = copy;
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
		if (alpaca_symset_copy(&s->infl[ch], &s->tmp[ch]) < 0) {
			free(msg);
			{ sub_nomem(s); return; }
		}
	s->infl_unsub = action[0] == 'u';
	s->inflight = true;
	s->reply_deadline = now + s->o.reply_timeout;
	s->stats.sub_messages++;
	set_state(s, ALPACA_ST_SUBSCRIBING);
	push_send(s, msg, len, false);
}

static int on_subscription(struct alpaca *s, int64_t now, const struct event *ev)
{
	if (s->st != ALPACA_ST_SUBSCRIBING && s->st != ALPACA_ST_SUBSCRIBED) {
		s->stats.unexpected++;
		return -EPROTO;
	}
	unsigned bad = 0;
	int rc = alpaca_subs_parse_reply(ev->raw.p, ev->raw.n, s->reply, &bad);
	if (rc == -ENOMEM) {
		sub_nomem(s);
		return rc;
	}
	if (rc < 0) {
		/* Not a reply we can use; the reply deadline decides. */
		s->stats.unexpected++;
		emit(s, ALPACA_STATUS_ERROR, ALPACA_CLASS_PROTOCOL, 0, 0, 0,
		     "unparsable subscription reply ignored");
		return rc;
	}
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++) {
		struct alpaca_symset t = s->have[ch];
		s->have[ch] = s->reply[ch];
		s->reply[ch] = t;
	}
	s->stats.reply_bad_entries += bad;
	s->inflight = false;
	s->reply_timeouts = 0;
	sub_step(s, now, false);
	return 0;
}

/* The server refused the in-flight change (400 405 410 413). */
static void sub_refused(struct alpaca *s, int64_t now, int code, enum alpaca_class cls,
			const char *msg)
{
	char what[160];
	describe(s->infl, what, sizeof(what));
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		if (!s->infl_unsub)
			alpaca_symset_remove(&s->want[ch], &s->infl[ch]);
		else if (alpaca_symset_merge(&s->want[ch], &s->infl[ch]) < 0)
			{ sub_nomem(s); return; }
	}
	s->stats.sub_rejected++;
	s->inflight = false;
	s->same_sends = 0;
	free(s->last_msg);
	s->last_msg = NULL;
	const char *act = s->infl_unsub ? "unsubscribe" : "subscribe";
	emit(s, ALPACA_STATUS_ERROR, cls, code, 0, 0, "%s %s refused (%d %s); %s", act, what, code,
	     msg, s->infl_unsub ? "kept in the desired set" : "dropped from the desired set");
	complete(s, code, "%s %s refused: %d %s", act, what, code, msg);
	sub_step(s, now, false);
}

/* ---- inputs ---- */

static bool slice_is(const struct event_slice *sl, const char *lit)
{
	size_t n = strlen(lit);
	return sl->n == n && memcmp(sl->p, lit, n) == 0;
}

/* JSON string body with the escapes RFC 8259 requires. */
static size_t json_put(char *out, const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			out[w++] = '\\';
			out[w++] = (char)*p;
		} else if (*p < 0x20) {
			w += (size_t)sprintf(out + w, "\\u%04x", *p);
		} else {
			out[w++] = (char)*p;
		}
	}
	return w;
}

static void send_auth(struct alpaca *s)
{
	size_t cap = 6 * (strlen(s->key) + strlen(s->secret)) + 64;
	char *m = malloc(cap);
	if (!m)
		{ sub_nomem(s); return; }
	size_t w = (size_t)sprintf(m, "{\"action\":\"auth\",\"key\":\"");
	w += json_put(m + w, s->key);
	w += (size_t)sprintf(m + w, "\",\"secret\":\"");
	w += json_put(m + w, s->secret);
	w += (size_t)sprintf(m + w, "\"}");
	push_send(s, m, w, true);
}

static void on_error(struct alpaca *s, int64_t now, int code, const struct event_slice *text)
{
	char m[128];
	clip(s, text->p ? text->p : "", text->p ? text->n : 0, m, sizeof(m));
	s->stats.errors_by_code[alpaca_code_slot(code)]++;
	enum alpaca_class cls = ALPACA_CLASS_UNKNOWN;
	switch (code) {
	case 402:
		go_fatal(s, ALPACA_CLASS_AUTH, code, "auth failed (402 %s): check the key and secret", m);
		return;
	case 408:
		go_fatal(s, ALPACA_CLASS_INSUFFICIENT_SUBSCRIPTION, code,
			 "market data v2 not enabled for the account (408 %s)", m);
		return;
	case 409:
		go_fatal(s, ALPACA_CLASS_INSUFFICIENT_SUBSCRIPTION, code,
			 "insufficient subscription (409 %s): the plan does not include this feed", m);
		return;
	case 411:
		go_fatal(s, ALPACA_CLASS_AUTH, code,
			 "insufficient scope (411 %s): the token cannot stream market data", m);
		return;
	case 412:
		go_fatal(s, ALPACA_CLASS_MSGPACK_REQUIRED, code,
			 "this stream needs MessagePack (412 %s)", m);
		return;
	case 406:
		session_fail(s, ALPACA_CLASS_SECOND_CONNECTION, code, 0,
			     "connection limit exceeded (406 %s): another session holds the slot", m);
		return;
	case 404:
		session_fail(s, ALPACA_CLASS_AUTH_TIMEOUT, code, 0, "auth timeout (404 %s)", m);
		return;
	case 401:
		session_fail(s, ALPACA_CLASS_AUTH, code, 0, "not authenticated (401 %s)", m);
		return;
	case 407:
		session_fail(s, ALPACA_CLASS_SLOW_CLIENT, code, s->have_data ? s->max_t : 0,
			     "slow client (407 %s): the server dropped data", m);
		return;
	case 500:
		session_fail(s, ALPACA_CLASS_SERVER_ERROR, code, 0, "server error (500 %s)", m);
		return;
	case 403:
		/* We never authenticate twice; harmless, but a sign of a bug. */
		emit(s, ALPACA_STATUS_ERROR, ALPACA_CLASS_PROTOCOL, code, 0, 0,
		     "already authenticated (403 %s): ignored", m);
		return;
	case 400: cls = ALPACA_CLASS_INVALID_SYNTAX; break;
	case 405: cls = ALPACA_CLASS_SYMBOL_LIMIT; break;
	case 410:
	case 413: cls = ALPACA_CLASS_INVALID_SUBSCRIPTION; break;
	default:
		emit(s, ALPACA_STATUS_ERROR, ALPACA_CLASS_UNKNOWN, code, 0, 0, "alpaca error %d: %s", code, m);
		return;
	}
	if (s->inflight && (s->st == ALPACA_ST_SUBSCRIBING || s->st == ALPACA_ST_SUBSCRIBED))
		{ sub_refused(s, now, code, cls, m); return; }
	emit(s, ALPACA_STATUS_ERROR, cls, code, 0, 0, "alpaca error %d: %s", code, m);
}

static int on_data(struct alpaca *s, int64_t now, const struct event *ev, enum alpaca_channel ch)
{
	int64_t t = ev->t_ns ? ev->t_ns : ev->recv_real_ns;
	struct alpaca_channel_stats *c = &s->stats.ch[ch];
	c->events++;
	c->last_recv = now;
	if (t > c->last_t_ns)
		c->last_t_ns = t;
	s->stats.data_events++;
	s->stats.last_data = now;
	s->idle_ref = now;
	s->session_data++;
	s->have_data = true;
	if (t > s->max_t)
		s->max_t = t;
	/* Rare: only the first event after a loss does more than count. */
	if (s->stats.gap_open && s->up) {
		s->stats.gap_open = false;
		emit(s, ALPACA_STATUS_GAP, ALPACA_CLASS_NONE, 0, s->stats.gap_start_ns, t,
		     "data resumed on %s", ch_names[ch]);
		flush(s);
	}
	return 0;
}

int alpaca_on_event(struct alpaca *s, int64_t now, const struct event *ev)
{
	s->now = now;
	int rc = 0;
	switch (ev->kind) {
	case EVENT_CTL_SUCCESS:
		if (slice_is(&ev->u.ctl.msg, "connected") && s->st == ALPACA_ST_CONNECTED) {
			set_state(s, ALPACA_ST_AUTHENTICATING);
			if (!s->o.header_auth)
				send_auth(s);
		} else if (slice_is(&ev->u.ctl.msg, "authenticated") &&
			   (s->st == ALPACA_ST_CONNECTED || s->st == ALPACA_ST_AUTHENTICATING)) {
			s->stats.sessions_authenticated++;
			set_state(s, ALPACA_ST_SUBSCRIBING);
			emit(s, ALPACA_STATUS_AUTHENTICATED, ALPACA_CLASS_NONE, 0, 0, 0, "%s auth",
			     s->o.header_auth ? "header" : "message");
			sub_step(s, now, false);
		} else {
			s->stats.unexpected++;
			rc = -EPROTO;
		}
		break;
	case EVENT_CTL_ERROR:
		if (!s->xport) {
			s->stats.unexpected++;
			rc = -EPROTO;
			break;
		}
		on_error(s, now, ev->u.ctl.code, &ev->u.ctl.msg);
		break;
	case EVENT_CTL_SUBSCRIPTION:
		rc = on_subscription(s, now, ev);
		break;
	default: {
		enum alpaca_channel ch = kind_channel(ev->kind);
		if (ch == ALPACA_CH_COUNT) {
			s->stats.unexpected++;
			return -EPROTO;
		}
		return on_data(s, now, ev, ch); /* the hot path: no flush needed */
	}
	}
	flush(s);
	return rc;
}

int alpaca_on_transport_up(struct alpaca *s, int64_t now)
{
	s->now = now;
	if (!s->xport || s->up) {
		s->stats.unexpected++;
		return -EPROTO;
	}
	s->up = true;
	s->stats.transports_up++;
	if (s->st != ALPACA_ST_CONNECTING)
		return 0; /* a close is already asked for; its down will follow */
	s->auth_deadline = now + s->o.auth_timeout;
	set_state(s, ALPACA_ST_CONNECTED);
	return 0;
}

int alpaca_on_transport_down(struct alpaca *s, int64_t now, const char *reason, int http_status,
			     enum alpaca_down hint)
{
	s->now = now;
	int rc = handle_down(s, now, reason, http_status, hint);
	flush(s);
	return rc;
}

static bool idle_armed(const struct alpaca *s)
{
	return s->o.idle_timeout > 0 && s->subscribed_at &&
	       (s->st == ALPACA_ST_SUBSCRIBING || s->st == ALPACA_ST_SUBSCRIBED) &&
	       (s->have[ALPACA_CH_TRADES].n || s->have[ALPACA_CH_QUOTES].n ||
		s->have[ALPACA_CH_BARS].n);
}

int64_t alpaca_next_deadline(const struct alpaca *s)
{
	int64_t d = INT64_MAX;
	switch (s->st) {
	case ALPACA_ST_BACKOFF: return s->reconnect_at;
	case ALPACA_ST_CONNECTING: return s->connect_deadline;
	case ALPACA_ST_CONNECTED:
	case ALPACA_ST_AUTHENTICATING: return s->auth_deadline;
	case ALPACA_ST_SUBSCRIBING:
	case ALPACA_ST_SUBSCRIBED:
		if (s->inflight)
			d = s->reply_deadline;
		if (idle_armed(s) && s->idle_ref + s->o.idle_timeout < d)
			d = s->idle_ref + s->o.idle_timeout;
		return d;
	default: return d;
	}
}

int alpaca_on_timer(struct alpaca *s, int64_t now)
{
	char d[32];
	s->now = now;
	switch (s->st) {
	case ALPACA_ST_BACKOFF:
		if (now >= s->reconnect_at)
			connect_now(s, now);
		break;
	case ALPACA_ST_CONNECTING:
		if (now >= s->connect_deadline) {
			fmt_dur(d, sizeof(d), s->o.connect_timeout);
			session_fail(s, ALPACA_CLASS_TIMEOUT, 0, 0, "transport not open after %s", d);
		}
		break;
	case ALPACA_ST_CONNECTED:
	case ALPACA_ST_AUTHENTICATING:
		if (now >= s->auth_deadline) {
			fmt_dur(d, sizeof(d), s->o.auth_timeout);
			session_fail(s, ALPACA_CLASS_AUTH_TIMEOUT, 0, 0, "no \"authenticated\" within %s%s", d,
				     s->o.header_auth ? " (header auth: check the server confirms it)" : "");
		}
		break;
	case ALPACA_ST_SUBSCRIBING:
	case ALPACA_ST_SUBSCRIBED:
		if (s->inflight && now >= s->reply_deadline) {
			s->stats.sub_reply_timeouts++;
			s->inflight = false;
			fmt_dur(d, sizeof(d), s->o.reply_timeout);
			if (++s->reply_timeouts > s->o.sub_retries) {
				complete(s, -ETIMEDOUT, "no subscription reply within %s", d);
				session_fail(s, ALPACA_CLASS_SUBSCRIPTION, 0, 0,
					     "no subscription reply within %s, %u attempts", d,
					     s->reply_timeouts);
				break;
			}
			sub_step(s, now, true);
		}
		if (idle_armed(s) && now >= s->idle_ref + s->o.idle_timeout) {
			fmt_dur(d, sizeof(d), s->o.idle_timeout);
			session_fail(s, ALPACA_CLASS_STARVATION, 0, 0, "no market data for %s", d);
		}
		break;
	default:
		break;
	}
	flush(s);
	return 0;
}

/* ---- control ---- */

int alpaca_start(struct alpaca *s, int64_t now)
{
	s->now = now;
	if (s->st != ALPACA_ST_IDLE && s->st != ALPACA_ST_FATAL)
		return -EALREADY;
	if (s->xport)
		return -EBUSY; /* the fatal session's transport is still closing */
	s->fails = 0;
	connect_now(s, now);
	flush(s);
	return 0;
}

int alpaca_stop(struct alpaca *s, int64_t now)
{
	s->now = now;
	if (s->st == ALPACA_ST_IDLE)
		return -EALREADY;
	s->inflight = false;
	if (s->xport) {
		s->stopping = true;
		set_state(s, ALPACA_ST_DISCONNECTING);
		push_disconnect(s, 1001);
	} else {
		set_state(s, ALPACA_ST_IDLE);
		emit(s, ALPACA_STATUS_DISCONNECTED, ALPACA_CLASS_STOPPED, 0, 0, 0, "stopped");
	}
	complete(s, -ECANCELED, "stopped");
	flush(s);
	return 0;
}

int alpaca_set_symbols(struct alpaca *s, int64_t now, const struct alpaca_symbols *want,
		       uint32_t *req, char *err, size_t errlen)
{
	struct alpaca_symset nw[ALPACA_CH_SUB_COUNT] = {0};
	int rc = 0;
	s->now = now;
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT && rc == 0; ch++) {
		for (size_t i = 0; i < want->n[ch] && rc == 0; i++) {
			const char *sym = want->sym[ch][i];
			size_t n = sym ? strlen(sym) : 0;
			if (!sym || (strcmp(sym, "*") != 0 && !conf_symbol_valid(sym, n))) {
				if (err && errlen)
					snprintf(err, errlen, "%s: invalid symbol \"%.*s\"", ch_names[ch],
						 (int)(n > 32 ? 32 : n), sym ? sym : "");
				rc = -EINVAL;
			} else {
				rc = alpaca_symset_push(&nw[ch], sym, n);
			}
		}
		alpaca_symset_sort(&nw[ch]);
	}
	if (rc < 0) {
		for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
			alpaca_symset_fini(&nw[ch]);
		if (rc == -ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
		return rc;
	}
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		alpaca_symset_fini(&s->want[ch]);
		s->want[ch] = nw[ch];
	}
	/* A new desired set deserves fresh attempts. */
	s->stalled = false;
	s->same_sends = 0;
	free(s->last_msg);
	s->last_msg = NULL;
	uint32_t id = ++s->req_last;
	if (req)
		*req = id;
	switch (s->st) {
	case ALPACA_ST_SUBSCRIBING:
	case ALPACA_ST_SUBSCRIBED:
		sub_step(s, now, false); /* waits if a change is in flight */
		break;
	case ALPACA_ST_CONNECTING:
	case ALPACA_ST_CONNECTED:
	case ALPACA_ST_AUTHENTICATING:
		break; /* sent once authenticated */
	case ALPACA_ST_FATAL:
		complete(s, -ECANCELED, "session stopped by a fatal error");
		break;
	default:
		complete(s, -ENOTCONN, "not connected: applied on the next connection");
		break;
	}
	flush(s);
	return 0;
}

/* ---- lifetime and accessors ---- */

void alpaca_opts_from_conf(struct alpaca_opts *o, const struct conf *c)
{
	memset(o, 0, sizeof(*o));
	o->key = c->alpaca_key.value;
	o->secret = c->alpaca_secret.value;
	o->header_auth = c->alpaca_auth == CONF_AUTH_HEADER;
	o->reconnect_base = c->alpaca_reconnect_base;
	o->reconnect_max = c->alpaca_reconnect_max;
	o->idle_timeout = c->alpaca_idle_timeout;
}

void alpaca_symbols_from_conf(struct alpaca_symbols *out, const struct conf *c)
{
	memset(out, 0, sizeof(*out));
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		if (!(c->alpaca_channels & (1u << ch)))
			continue;
		out->sym[ch] = (const char *const *)c->alpaca_symbols;
		out->n[ch] = c->alpaca_symbol_count;
	}
}

int alpaca_new(struct alpaca **out, const struct alpaca_opts *o, const struct alpaca_cbs *cbs,
	       void *arg)
{
	*out = NULL;
	if (!o || !cbs || !cbs->send_text || !cbs->connect || !cbs->disconnect ||
	    o->reconnect_base <= 0 || o->reconnect_max < o->reconnect_base || o->idle_timeout < 0)
		return -EINVAL;
	if (!o->header_auth && (!o->key || !*o->key || !o->secret || !*o->secret))
		return -EINVAL;
	struct alpaca *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->key = strdup(o->key ? o->key : "");
	s->secret = strdup(o->secret ? o->secret : "");
	if (!s->key || !s->secret) {
		alpaca_free(s);
		return -ENOMEM;
	}
	s->o.key = s->o.secret = NULL; /* only the owned copies, which alpaca_free wipes */
	if (!s->o.auth_timeout)
		s->o.auth_timeout = 10 * NS_PER_S; /* the server's own window (alpaca-ws.md 2.2) */
	if (!s->o.reply_timeout)
		s->o.reply_timeout = 3 * NS_PER_S; /* as the Go SDK */
	if (!s->o.connect_timeout)
		s->o.connect_timeout = 30 * NS_PER_S;
	if (!s->o.healthy_after)
		s->o.healthy_after = 30 * NS_PER_S;
	if (!s->o.contention_delay)
		s->o.contention_delay = 15 * NS_PER_S;
	if (!s->o.sub_retries)
		s->o.sub_retries = 2;
	s->bo.base = s->o.reconnect_base;
	s->bo.max = s->o.reconnect_max;
	s->bo.contention = s->o.contention_delay;
	s->rng_state = o->rng_seed;
	s->cb = *cbs;
	s->arg = arg;
	set_state(s, ALPACA_ST_IDLE);
	*out = s;
	return 0;
}

void alpaca_free(struct alpaca *s)
{
	if (!s)
		return;
	for (size_t i = s->qhead; i < s->qn; i++) {
		if (s->q[i].kind == ACT_SEND && s->q[i].secret)
			explicit_bzero(s->q[i].text, s->q[i].len);
		free(s->q[i].text);
	}
	free(s->q);
	if (s->key)
		explicit_bzero(s->key, strlen(s->key));
	if (s->secret)
		explicit_bzero(s->secret, strlen(s->secret));
	free(s->key);
	free(s->secret);
	free(s->last_msg);
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++) {
		alpaca_symset_fini(&s->have[ch]);
		alpaca_symset_fini(&s->reply[ch]);
	}
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		alpaca_symset_fini(&s->want[ch]);
		alpaca_symset_fini(&s->infl[ch]);
		alpaca_symset_fini(&s->tmp[ch]);
	}
	free(s);
}

const struct alpaca_stats *alpaca_stats(const struct alpaca *s)
{
	return &s->stats;
}

size_t alpaca_confirmed_count(const struct alpaca *s, enum alpaca_channel ch)
{
	return (unsigned)ch < ALPACA_CH_COUNT ? s->have[ch].n : 0;
}

const char *alpaca_confirmed_at(const struct alpaca *s, enum alpaca_channel ch, size_t i)
{
	return (unsigned)ch < ALPACA_CH_COUNT && i < s->have[ch].n ? s->have[ch].v[i] : NULL;
}

size_t alpaca_desired_count(const struct alpaca *s, enum alpaca_channel ch)
{
	return (unsigned)ch < ALPACA_CH_SUB_COUNT ? s->want[ch].n : 0;
}

const char *alpaca_desired_at(const struct alpaca *s, enum alpaca_channel ch, size_t i)
{
	return (unsigned)ch < ALPACA_CH_SUB_COUNT && i < s->want[ch].n ? s->want[ch].v[i] : NULL;
}

int64_t alpaca_channel_last_t(const struct alpaca *s, enum alpaca_channel ch)
{
	return (unsigned)ch < ALPACA_CH_COUNT ? s->stats.ch[ch].last_t_ns : 0;
}
