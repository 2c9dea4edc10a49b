/* test_server.c - loop test of the replay server: the server on port 0 and
 * net/wsconn clients in one uv loop over loopback, with a small in-memory
 * recording. Covers the exchange (auth, subscribe, exactly the expected
 * messages in order and batched, the send log), header auth over wss, the
 * auth timeout, 404 on an unknown path, and the faults: drop then
 * reconnect (406 during the dead hold), HTTP 429, drop by timer, stall,
 * no-pong, malformed frame, slow client, and real backpressure (407 for a
 * client that stops reading). Every handle is closed at the end
 * (uv_loop_close must succeed). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "net/tls.h"
#include "net/wsconn.h"
#include "replay/serve_cli.h"
#include "replay/server.h"

#define WATCHDOG_MS 20000
#define MAX_FRAMES 64

/* --- the recording ------------------------------------------------------- */

#define M_T1 "{\"T\":\"t\",\"S\":\"AAPL\",\"i\":1,\"x\":\"V\",\"p\":10.0,\"s\":5,\"c\":[\"@\"],\"t\":\"2025-01-15T14:30:00.000000001Z\",\"z\":\"C\"}"
#define M_Q1 "{\"T\":\"q\",\"S\":\"AAPL\",\"bp\":9.9,\"bs\":1,\"ap\":10.1,\"as\":2,\"t\":\"2025-01-15T14:30:00.001Z\"}"
#define M_T2 "{\"T\":\"t\",\"S\":\"MSFT\",\"i\":2,\"p\":20,\"s\":1,\"t\":\"2025-01-15T14:30:00.002Z\"}"
#define M_T3 "{\"T\":\"t\",\"S\":\"AAPL\",\"i\":3,\"p\":10.01,\"s\":1,\"t\":\"2025-01-15T14:30:00.003Z\"}"
#define M_B1 "{\"T\":\"b\",\"S\":\"MSFT\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"t\":\"2025-01-15T14:30:00Z\"}"
#define M_C1 "{\"T\":\"c\",\"S\":\"AAPL\",\"oi\":1,\"ci\":5,\"t\":\"2025-01-15T14:30:00.004Z\"}"
#define M_X1 "{\"T\":\"x\",\"S\":\"AAPL\",\"i\":3,\"a\":\"C\",\"t\":\"2025-01-15T14:30:00.005Z\"}"
#define M_T6 "{\"T\":\"t\",\"S\":\"AAPL\",\"i\":6,\"p\":10.02,\"s\":3,\"t\":\"2025-01-15T14:30:00.006Z\"}"

/* at_ns values are parameterised so one test can pace them visibly. */
static char *make_recording(uint64_t step_ns, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	fprintf(f, "{\"meta\":{\"format\":\"torghut-recording\",\"version\":1}}\n");
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_T1 "}\n", 0ull);
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_Q1 "}\n", (unsigned long long)step_ns);
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_T2 "}\n", (unsigned long long)step_ns * 2);
	/* A recorded frame: its control message is skipped. */
	fprintf(f, "{\"at_ns\":%llu,\"frame\":[{\"T\":\"success\",\"msg\":\"authenticated\"}," M_T3
	           "," M_B1 "]}\n",
	        (unsigned long long)step_ns * 3);
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_C1 "}\n", (unsigned long long)step_ns * 4);
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_X1 "}\n", (unsigned long long)step_ns * 5);
	fprintf(f, "{\"at_ns\":%llu,\"msg\":" M_T6 "}\n", (unsigned long long)step_ns * 6);
	fclose(f);
	return buf;
}

/* Subscribing trades AAPL + bars * selects, in order: */
static const char *const want_msgs[] = {M_T1, M_T3, M_B1, M_C1, M_X1, M_T6};
#define N_WANT 6
#define SUB_MSG "{\"action\":\"subscribe\",\"trades\":[\"AAPL\"],\"bars\":[\"*\"]}"
#define SUB_SNAP                                                                          \
	"[{\"T\":\"subscription\",\"trades\":[\"AAPL\"],\"quotes\":[],\"bars\":[\"*\"],"  \
	"\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],\"lulds\":[],\"imbalances\":[]," \
	"\"corrections\":[\"AAPL\"],\"cancelErrors\":[\"AAPL\"]}]"

/* --- fixture ------------------------------------------------------------- */

struct t;

struct cli {
	struct t *t;
	struct wsconn *c;
	char path[32];
	bool header_auth, no_auth;
	const char *sub;
	int close_after_data;     /* close (1000) once this many data messages came */
	uint32_t close_after_ms;  /* close (1000) this long after open */
	uint32_t retry_406_ms;    /* resend auth this long after a 406 */
	bool retry_pending;
	const char *after_first_data; /* sent once the first data frame came */
	struct wsconn_opts opts;
	uv_timer_t timer;
	bool timer_init;
	/* results */
	bool opened, closed;
	char *frames[MAX_FRAMES]; /* every text frame received, in order */
	int nframes;
	char *data[MAX_FRAMES];   /* data frames only */
	int ndata;
	int data_msgs, errors[8], nerrors;
	bool authed;
	char snap[1024];
	struct wsconn_end end;
};

struct t {
	uv_loop_t loop;
	uv_timer_t watchdog;
	bool expired;
	struct tls_config *srv_tls, *cli_tls;
	struct replay_session_reg *reg;
	struct replay_server_rec *rec;
	struct replay_server *srv;
	struct replay_server_opts so;
	bool srv_closed;
	char *slog_buf;
	size_t slog_len;
	FILE *slog_file;
	struct sendlog *slog;
	struct cli cli[4];
	int ncli;
	/* per-test continuation when a client closes */
	void (*on_closed)(struct t *t, struct cli *c);
	uv_tcp_t raw;
	uv_connect_t raw_conn;
	uv_write_t raw_write;
	uv_timer_t poll;
	char raw_buf[1024];
};

static char *cert_path(const char *name, char *buf, size_t cap)
{
	const char *top = getenv("top_srcdir");
	snprintf(buf, cap, "%s/tests/certs/%s", top ? top : ".", name);
	return buf;
}

static void watchdog_fired(uv_timer_t *timer)
{
	struct t *t = timer->data;
	t->expired = true;
	uv_stop(&t->loop);
}

static void load_recording(struct t *t, uint64_t step_ns)
{
	replay_server_rec_free(t->rec);
	t->rec = NULL;
	size_t len;
	char *text = make_recording(step_ns, &len);
	FILE *f = fmemopen(text, len, "r");
	char err[256];
	assert_int_equal(replay_server_rec_load(&t->rec, f, err, sizeof(err)), 0);
	fclose(f);
	free(text);
	const struct replay_server_rec_stats *st = replay_server_rec_stats(t->rec);
	assert_int_equal(st->messages, 8);
	assert_int_equal(st->control, 1);
	assert_int_equal(st->malformed, 0);
	t->so.rec = t->rec;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->watchdog);
	t->watchdog.data = t;
	uv_timer_start(&t->watchdog, watchdog_fired, WATCHDOG_MS, 0);
	struct replay_session_reg_opts ro = {.conn_limit = 1, .dead_hold_ms = 0};
	assert_int_equal(replay_session_reg_new(&t->reg, &ro), 0);
	assert_int_equal(replay_session_reg_add_key(t->reg, "AK", "SK", NULL), 0);
	assert_int_equal(tls_config_new_plain(&t->srv_tls), 0);
	assert_int_equal(tls_config_new_plain(&t->cli_tls), 0);
	load_recording(t, 1000);
	t->slog_file = open_memstream(&t->slog_buf, &t->slog_len);
	assert_int_equal(sendlog_new(t->slog_file, &t->slog), 0);
	t->so = (struct replay_server_opts){
		.host = "127.0.0.1",
		.tls = t->srv_tls,
		.reg = t->reg,
		.rec = t->rec,
		.sendlog = t->slog,
		.sched = {.mode = SCHEDULE_MAX, .batch = 4},
		.close_timeout_ms = 500,
	};
	replay_faults_init(&t->so.faults);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	uv_run(&t->loop, UV_RUN_DEFAULT); /* close callbacks still pending */
	assert_int_equal(uv_loop_close(&t->loop), 0);
	for (int i = 0; i < t->ncli; i++) {
		for (int k = 0; k < t->cli[i].nframes; k++)
			free(t->cli[i].frames[k]);
	}
	sendlog_close(t->slog);
	fclose(t->slog_file);
	free(t->slog_buf);
	replay_server_rec_free(t->rec);
	replay_session_reg_free(t->reg);
	tls_config_free(t->srv_tls);
	tls_config_free(t->cli_tls);
	free(t);
	return 0;
}

static void srv_closed(void *arg)
{
	struct t *t = arg;
	t->srv_closed = true;
	t->srv = NULL;
}

static void finish(struct t *t)
{
	if (t->srv)
		replay_server_close(t->srv, srv_closed, t);
	if (!uv_is_closing((uv_handle_t *)&t->watchdog))
		uv_close((uv_handle_t *)&t->watchdog, NULL);
}

static void start_server(struct t *t)
{
	char err[256];
	int r = replay_server_start(&t->srv, &t->loop, &t->so, err, sizeof(err));
	if (r < 0)
		fail_msg("server: %s", err);
	assert_true(replay_server_port(t->srv) > 0);
}

static void run(struct t *t)
{
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_false(t->expired);
	assert_true(t->srv_closed);
}

/* --- client -------------------------------------------------------------- */

static void cli_send(struct cli *c, const char *msg)
{
	assert_int_equal(wsconn_send_text(c->c, msg, strlen(msg)), 0);
}

static void cli_timer_fired(uv_timer_t *timer)
{
	struct cli *c = timer->data;
	if (!c->c)
		return;
	if (c->retry_pending) {
		c->retry_pending = false;
		cli_send(c, "{\"action\":\"auth\",\"key\":\"AK\",\"secret\":\"SK\"}");
		return;
	}
	wsconn_close(c->c, 1000);
}

static void cli_open(void *user)
{
	struct cli *c = user;
	c->opened = true;
	if (c->close_after_ms)
		uv_timer_start(&c->timer, cli_timer_fired, c->close_after_ms, 0);
}

static void cli_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct cli *c = user;
	assert_int_equal(type, WS_MSG_TEXT);
	assert_true(c->nframes < MAX_FRAMES);
	char *text = strndup((const char *)msg, len);
	c->frames[c->nframes++] = text;
	json_t *root = json_loadb((const char *)msg, len, 0, NULL);
	if (!json_is_array(root) || json_array_size(root) == 0) {
		c->data[c->ndata++] = text; /* not Alpaca at all: kept with the data */
		json_decref(root);
		return;
	}
	json_t *first = json_array_get(root, 0);
	const char *T = json_string_value(json_object_get(first, "T"));
	assert_non_null(T);
	if (strcmp(T, "success") == 0) {
		assert_int_equal(json_array_size(root), 1);
		const char *m = json_string_value(json_object_get(first, "msg"));
		if (strcmp(m, "connected") == 0 && !c->header_auth && !c->no_auth)
			cli_send(c, "{\"action\":\"auth\",\"key\":\"AK\",\"secret\":\"SK\"}");
		if (strcmp(m, "authenticated") == 0) {
			c->authed = true;
			if (c->sub)
				cli_send(c, c->sub);
		}
	} else if (strcmp(T, "error") == 0) {
		int code = (int)json_integer_value(json_object_get(first, "code"));
		if (c->nerrors < 8)
			c->errors[c->nerrors++] = code;
		if (code == 406 && c->retry_406_ms) {
			c->retry_pending = true;
			uv_timer_start(&c->timer, cli_timer_fired, c->retry_406_ms, 0);
		}
	} else if (strcmp(T, "subscription") == 0) {
		snprintf(c->snap, sizeof(c->snap), "%s", text);
	} else {
		c->data[c->ndata++] = text;
		c->data_msgs += (int)json_array_size(root);
		if (c->ndata == 1 && c->after_first_data)
			cli_send(c, c->after_first_data);
		if (c->close_after_data && c->data_msgs >= c->close_after_data)
			wsconn_close(c->c, 1000);
	}
	json_decref(root);
}

static void cli_close(void *user, const struct wsconn_end *end)
{
	struct cli *c = user;
	c->closed = true;
	c->end = *end;
	c->c = NULL;
	uv_close((uv_handle_t *)&c->timer, NULL);
	if (c->t->on_closed)
		c->t->on_closed(c->t, c);
	else
		finish(c->t);
}

static const struct wsconn_cbs cli_cbs = {cli_open, NULL, cli_message, cli_close};

static struct cli *new_cli(struct t *t, const char *path)
{
	assert_true(t->ncli < 4);
	struct cli *c = &t->cli[t->ncli++];
	c->t = t;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->sub = SUB_MSG;
	uv_timer_init(&t->loop, &c->timer);
	c->timer.data = c;
	return c;
}

static void connect_cli(struct t *t, struct cli *c, bool secure)
{
	char url[128];
	snprintf(url, sizeof(url), "%s://%s:%u%s", secure ? "wss" : "ws",
	         secure ? "localhost" : "127.0.0.1", (unsigned)replay_server_port(t->srv), c->path);
	c->opts.url = url;
	c->opts.connect_addr = "127.0.0.1";
	assert_int_equal(wsconn_connect(&c->c, &t->loop, t->cli_tls, &c->opts,
	                                &cli_cbs, c),
	                 0);
}

static void assert_frame(const char *got, int n, const char *const *msgs)
{
	char want[4096] = "[";
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(want, ",");
		strcat(want, msgs[i]);
	}
	strcat(want, "]");
	assert_string_equal(got, want);
}

/* The full stream of want_msgs in frames of `batch`. */
static void assert_full_stream(struct cli *c, int batch, int first_frame)
{
	int k = first_frame;
	for (int i = 0; i < N_WANT; i += batch, k++) {
		int n = N_WANT - i < batch ? N_WANT - i : batch;
		assert_true(k < c->ndata);
		assert_frame(c->data[k], n, want_msgs + i);
	}
}

/* --- tests --------------------------------------------------------------- */

static void test_stream_batched(void **state)
{
	struct t *t = *state;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->close_after_data = N_WANT;
	connect_cli(t, c, false);
	run(t);
	assert_string_equal(c->frames[0], "[{\"T\":\"success\",\"msg\":\"connected\"}]");
	assert_string_equal(c->frames[1], "[{\"T\":\"success\",\"msg\":\"authenticated\"}]");
	assert_string_equal(c->snap, SUB_SNAP);
	assert_int_equal(c->data_msgs, N_WANT);
	assert_int_equal(c->ndata, 2); /* 4 + 2 */
	assert_full_stream(c, 4, 0);
	assert_int_equal(c->nerrors, 0);
	assert_int_equal(c->end.status, 0);
	assert_int_equal(c->end.code_rcvd, 1000); /* the server answered our close */

	/* Send log: header + one line per message, in order. */
	sendlog_flush(t->slog);
	fflush(t->slog_file);
	const char *p = t->slog_buf;
	assert_true(strncmp(p, SENDLOG_HEADER, strlen(SENDLOG_HEADER)) == 0);
	p += strlen(SENDLOG_HEADER);
	static const char *const tails[] = {
		",1,1,AAPL,t,1,2025-01-15T14:30:00.000000001Z\n",
		",1,1,AAPL,t,3,2025-01-15T14:30:00.003Z\n",
		",1,1,MSFT,b,,2025-01-15T14:30:00Z\n",
		",1,1,AAPL,c,,2025-01-15T14:30:00.004Z\n",
		",1,2,AAPL,x,3,2025-01-15T14:30:00.005Z\n",
		",1,2,AAPL,t,6,2025-01-15T14:30:00.006Z\n",
	};
	for (int i = 0; i < N_WANT; i++) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		const char *comma = strchr(p, ',');
		size_t tail = strlen(tails[i]);
		assert_true((size_t)(nl + 1 - comma) == tail);
		assert_memory_equal(comma, tails[i], tail);
		assert_true(strtoll(p, NULL, 10) > 1700000000000000000LL); /* realtime ns */
		p = nl + 1;
	}
	assert_int_equal(*p, '\0');
	assert_int_equal(sendlog_stats(t->slog)->lines, N_WANT);
}

/* Recorded pacing: 40 ms between lines, batch 4, no linger: each message is
 * due on its own, so each goes in its own frame, except the two of one
 * recorded frame line (same offset); the whole takes at least the recorded
 * span. */
static void test_recorded_pacing(void **state)
{
	struct t *t = *state;
	load_recording(t, 40 * 1000000ull);
	t->so.sched = (struct schedule_opts){.mode = SCHEDULE_RECORDED, .speed = 1.0, .batch = 4};
	start_server(t);
	struct cli *c = new_cli(t, "/v2/sip");
	c->close_after_data = N_WANT;
	connect_cli(t, c, false);
	uint64_t t0 = uv_hrtime();
	run(t);
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(c->data_msgs, N_WANT);
	assert_int_equal(c->ndata, N_WANT - 1);
	assert_frame(c->data[0], 1, want_msgs);
	assert_frame(c->data[1], 2, want_msgs + 1); /* M_T3 and M_B1: one recorded line */
	for (int i = 3; i < N_WANT; i++)
		assert_frame(c->data[i - 1], 1, want_msgs + i);
	/* The last selected message (M_T6) is recorded at 6 * 40 ms. */
	assert_true(ms >= 240);
}

/* Fixed rate: 50 messages/s, batch 4: due 20 ms apart, so one per frame, and
 * the six take at least 5 * 20 ms. */
static void test_rate_pacing(void **state)
{
	struct t *t = *state;
	t->so.sched = (struct schedule_opts){.mode = SCHEDULE_RATE, .rate = 50, .batch = 4};
	start_server(t);
	struct cli *c = new_cli(t, "/v2/sip");
	c->close_after_data = N_WANT;
	connect_cli(t, c, false);
	uint64_t t0 = uv_hrtime();
	run(t);
	assert_true((uv_hrtime() - t0) / 1000000 >= 100);
	assert_int_equal(c->data_msgs, N_WANT);
	assert_int_equal(c->ndata, N_WANT);
	for (int i = 0; i < N_WANT; i++)
		assert_frame(c->data[i], 1, want_msgs + i);
}

/* Looping: the stream starts over after the last message. */
static void test_loop(void **state)
{
	struct t *t = *state;
	t->so.sched = (struct schedule_opts){.mode = SCHEDULE_RATE, .rate = 500, .batch = 1};
	t->so.loop = true;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->close_after_data = 2 * N_WANT + 1;
	connect_cli(t, c, false);
	run(t);
	assert_true(c->ndata >= 2 * N_WANT + 1);
	for (int i = 0; i < 2 * N_WANT + 1; i++)
		assert_frame(c->data[i], 1, want_msgs + i % N_WANT);
}

/* An unsubscribe applies to every message not yet sent, also those the
 * server had already picked for the next frame. */
static void test_unsubscribe_midstream(void **state)
{
	struct t *t = *state;
	load_recording(t, 60 * 1000000ull);
	t->so.sched = (struct schedule_opts){.mode = SCHEDULE_RECORDED, .speed = 1.0, .batch = 4};
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->after_first_data = "{\"action\":\"unsubscribe\",\"trades\":[\"AAPL\"]}";
	c->close_after_ms = 600; /* past the end of the recording (360 ms) */
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->ndata, 2);
	assert_frame(c->data[0], 1, want_msgs);     /* M_T1 */
	assert_frame(c->data[1], 1, want_msgs + 2); /* M_B1: bars * only */
	assert_non_null(strstr(c->snap, "\"trades\":[],"));
}

static void test_wss_header_auth_and_shutdown(void **state)
{
	struct t *t = *state;
	char a[1024], b[1024];
	tls_config_free(t->srv_tls);
	tls_config_free(t->cli_tls);
	char err[256];
	assert_int_equal(tls_config_new_server(&t->srv_tls, cert_path("server.crt", a, sizeof(a)),
	                                       cert_path("server.key", b, sizeof(b)), err, sizeof(err)),
	                 0);
	assert_int_equal(tls_config_new_client(&t->cli_tls, cert_path("ca.crt", a, sizeof(a)), err,
	                                       sizeof(err)),
	                 0);
	t->so.tls = t->srv_tls;
	start_server(t);
	struct cli *c = new_cli(t, "/v1beta1/boats");
	static const struct ws_header hdrs[] = {{"APCA-API-KEY-ID", "AK"},
	                                        {"APCA-API-SECRET-KEY", "SK"}};
	c->opts.ws.headers = hdrs;
	c->opts.ws.n_headers = 2;
	c->opts.ws.ping_interval_ms = 20; /* pongs over TLS */
	c->opts.ws.pong_timeout_ms = 2000;
	c->header_auth = true;
	connect_cli(t, c, true);
	/* Shut the server down once all data arrived: the session gets 1001. */
	while (!t->expired && c->data_msgs < N_WANT)
		uv_run(&t->loop, UV_RUN_ONCE);
	replay_server_close(t->srv, srv_closed, t);
	t->on_closed = NULL;
	run(t);
	assert_string_equal(c->frames[0], "[{\"T\":\"success\",\"msg\":\"connected\"}]");
	assert_string_equal(c->frames[1], "[{\"T\":\"success\",\"msg\":\"authenticated\"}]");
	assert_string_equal(c->snap, SUB_SNAP);
	assert_full_stream(c, 4, 0);
	assert_int_equal(c->end.status, 0);
	assert_int_equal(c->end.code_rcvd, 1001);
}

static void auth404_next(struct t *t, struct cli *c)
{
	static const struct ws_header msgpack[] = {{"Content-Type", "application/msgpack"}};
	if (c == &t->cli[0]) {
		connect_cli(t, new_cli(t, "/v2/nope"), false);
	} else if (c == &t->cli[1]) {
		struct cli *e = new_cli(t, "/v2/iex");
		e->opts.ws.headers = msgpack;
		e->opts.ws.n_headers = 1;
		connect_cli(t, e, false);
	} else {
		struct replay_server_stats st;
		replay_server_stats(t->srv, &st);
		assert_int_equal(st.accepted, 3);
		assert_int_equal(st.sessions, 1);
		assert_int_equal(st.refused, 2);
		finish(t);
	}
}

static void test_auth_timeout_404_415(void **state)
{
	struct t *t = *state;
	t->so.auth_timeout_ms = 100;
	start_server(t);
	t->on_closed = auth404_next;
	struct cli *c = new_cli(t, "/v2/test");
	c->no_auth = true;
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->nframes, 2);
	assert_string_equal(c->frames[1], "[{\"T\":\"error\",\"code\":404,\"msg\":\"auth timeout\"}]");
	assert_int_equal(c->end.status, 0);
	assert_int_equal(c->end.code_rcvd, 1000);
	for (int i = 1; i < 3; i++) {
		assert_false(t->cli[i].opened);
		assert_int_equal(t->cli[i].end.stage, WSCONN_STAGE_UPGRADE);
		assert_int_equal(t->cli[i].end.http_status, i == 1 ? 404 : 415);
	}
}

/* Connection 1 drops after 3 messages (no close frame). The reconnect gets
 * 406 while the dead session is held, then authenticates and gets the whole
 * stream again. */
static void drop_reconnect(struct t *t, struct cli *c)
{
	if (c != &t->cli[0]) {
		finish(t);
		return;
	}
	assert_int_equal(replay_session_reg_count(t->reg, "AK", "v2/iex", uv_now(&t->loop)), 1);
	struct cli *d = new_cli(t, "/v2/iex");
	d->close_after_data = N_WANT;
	d->retry_406_ms = 400;
	connect_cli(t, d, false);
}

static void test_drop_then_reconnect(void **state)
{
	struct t *t = *state;
	replay_session_reg_free(t->reg);
	struct replay_session_reg_opts ro = {.conn_limit = 1, .dead_hold_ms = 300};
	assert_int_equal(replay_session_reg_new(&t->reg, &ro), 0);
	assert_int_equal(replay_session_reg_add_key(t->reg, "AK", "SK", NULL), 0);
	t->so.reg = t->reg;
	t->so.faults.drop_after_msgs = 3;
	t->so.faults.fault_conn = 1;
	start_server(t);
	t->on_closed = drop_reconnect;
	struct cli *c = new_cli(t, "/v2/iex");
	connect_cli(t, c, false);
	run(t);
	/* Connection 1: one frame cut to 3 messages, then EOF without a close. */
	assert_int_equal(c->data_msgs, 3);
	assert_int_equal(c->ndata, 1);
	assert_frame(c->data[0], 3, want_msgs);
	assert_int_equal(c->end.stage, WSCONN_STAGE_OPEN);
	assert_int_equal(c->end.status, UV_EOF);
	assert_int_equal(c->end.code_rcvd, 1006);
	/* Connection 2: 406 first, then everything. */
	struct cli *d = &t->cli[1];
	assert_int_equal(d->nerrors, 1);
	assert_int_equal(d->errors[0], 406);
	assert_true(d->authed);
	assert_int_equal(d->data_msgs, N_WANT);
	assert_full_stream(d, 4, 0);
	assert_int_equal(d->end.status, 0);
}

static void http429_next(struct t *t, struct cli *c)
{
	if (t->ncli == 3) {
		finish(t);
		return;
	}
	(void)c;
	struct cli *d = new_cli(t, "/v2/iex");
	d->close_after_data = N_WANT;
	connect_cli(t, d, false);
}

static void test_http_429(void **state)
{
	struct t *t = *state;
	t->so.faults.http_429 = 2;
	t->so.faults.fault_conn = 3; /* does not move the 429s */
	start_server(t);
	t->on_closed = http429_next;
	struct cli *c = new_cli(t, "/v2/iex");
	c->close_after_data = N_WANT;
	connect_cli(t, c, false);
	run(t);
	for (int i = 0; i < 2; i++) {
		assert_false(t->cli[i].opened);
		assert_int_equal(t->cli[i].end.stage, WSCONN_STAGE_UPGRADE);
		assert_int_equal(t->cli[i].end.status, -ECONNREFUSED);
		assert_int_equal(t->cli[i].end.http_status, 429);
	}
	assert_true(t->cli[2].authed);
	assert_int_equal(t->cli[2].data_msgs, N_WANT);
}

static void test_drop_after_seconds(void **state)
{
	struct t *t = *state;
	t->so.faults.drop_after_ms = 150;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	connect_cli(t, c, false);
	uint64_t t0 = uv_hrtime();
	run(t);
	assert_true((uv_hrtime() - t0) / 1000000 >= 140);
	assert_int_equal(c->data_msgs, N_WANT);
	assert_int_equal(c->end.status, UV_EOF);
	assert_int_equal(c->end.code_rcvd, 1006);
}

static void test_stall_keeps_pinging(void **state)
{
	struct t *t = *state;
	t->so.faults.stall_after = 2;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->opts.ws.ping_interval_ms = 20;
	c->opts.ws.pong_timeout_ms = 200;
	c->close_after_ms = 300; /* well past several ping rounds */
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->data_msgs, 2);
	assert_frame(c->data[0], 2, want_msgs);
	assert_int_equal(c->end.status, 0); /* pongs kept coming; we closed */
	assert_int_equal(c->end.code_sent, 1000);
}

static void test_no_pong(void **state)
{
	struct t *t = *state;
	t->so.faults.no_pong = true;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->opts.ws.ping_interval_ms = 20;
	c->opts.ws.pong_timeout_ms = 100;
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->data_msgs, N_WANT); /* data still flows */
	assert_int_equal(c->end.status, -ETIMEDOUT);
	assert_non_null(strstr(c->end.text, "pong"));
}

static void test_malformed(void **state)
{
	struct t *t = *state;
	t->so.faults.malformed_after = 1;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	c->close_after_data = N_WANT;
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->ndata, 4);
	assert_frame(c->data[0], 1, want_msgs);
	assert_string_equal(c->data[1], "this is not JSON {");
	assert_frame(c->data[2], 4, want_msgs + 1);
	assert_frame(c->data[3], 1, want_msgs + 5);
}

static void test_slow_client_fault(void **state)
{
	struct t *t = *state;
	t->so.faults.slow_client_after = 2;
	start_server(t);
	struct cli *c = new_cli(t, "/v2/iex");
	connect_cli(t, c, false);
	run(t);
	assert_int_equal(c->data_msgs, 2);
	assert_frame(c->data[0], 2, want_msgs);
	assert_int_equal(c->nerrors, 1);
	assert_int_equal(c->errors[0], 407);
	assert_string_equal(c->frames[c->nframes - 1],
	                    "[{\"T\":\"error\",\"code\":407,\"msg\":\"slow client\"}]");
	assert_int_equal(c->end.status, 0);
	assert_int_equal(c->end.code_rcvd, 1008);
}

/* --- a client that never reads: real backpressure ------------------------ */

static size_t put_frame(char *p, const char *text)
{
	size_t n = strlen(text), w = 0;
	assert_true(n < 65536);
	p[w++] = (char)0x81;
	if (n < 126) {
		p[w++] = (char)(0x80 | n);
	} else {
		p[w++] = (char)(0x80 | 126);
		p[w++] = (char)(n >> 8);
		p[w++] = (char)(n & 0xff);
	}
	memset(p + w, 0, 4); /* mask key 0: payload unchanged */
	w += 4;
	memcpy(p + w, text, n);
	return w + n;
}

static void raw_written(uv_write_t *req, int status)
{
	assert_int_equal(status, 0);
	(void)req;
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct t *t = req->data;
	assert_int_equal(status, 0);
	size_t w = (size_t)snprintf(t->raw_buf, sizeof(t->raw_buf),
	                            "GET /v2/iex HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                            "Sec-WebSocket-Version: 13\r\n\r\n");
	w += put_frame(t->raw_buf + w, "{\"action\":\"auth\",\"key\":\"AK\",\"secret\":\"SK\"}");
	w += put_frame(t->raw_buf + w, "{\"action\":\"subscribe\",\"trades\":[\"*\"],\"bars\":[\"*\"]}");
	uv_buf_t b = uv_buf_init(t->raw_buf, (unsigned)w);
	assert_int_equal(uv_write(&t->raw_write, (uv_stream_t *)&t->raw, &b, 1, raw_written), 0);
	/* Never uv_read_start: the kernel buffers fill, then the server's queue. */
}

static void poll_fired(uv_timer_t *timer)
{
	struct t *t = timer->data;
	struct replay_server_stats st;
	replay_server_stats(t->srv, &st);
	if (st.slow == 0)
		return;
	uv_close((uv_handle_t *)timer, NULL);
	uv_close((uv_handle_t *)&t->raw, NULL);
	finish(t);
}

static void test_backpressure_407(void **state)
{
	struct t *t = *state;
	/* Looping at a high fixed rate: far more than the kernel buffers hold. */
	t->so.sched = (struct schedule_opts){.mode = SCHEDULE_RATE, .rate = 1e9, .batch = 64};
	t->so.loop = true;
	t->so.max_queued = 256 * 1024;
	t->so.sendlog = NULL;
	start_server(t);
	uv_tcp_init(&t->loop, &t->raw);
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", replay_server_port(t->srv), &addr);
	t->raw_conn.data = t;
	assert_int_equal(uv_tcp_connect(&t->raw_conn, &t->raw, (const struct sockaddr *)&addr,
	                                raw_connected),
	                 0);
	uv_timer_init(&t->loop, &t->poll);
	t->poll.data = t;
	uv_timer_start(&t->poll, poll_fired, 10, 10);
	struct replay_server_stats st;
	while (!t->expired && t->srv) {
		replay_server_stats(t->srv, &st);
		uv_run(&t->loop, UV_RUN_ONCE);
	}
	run(t);
	assert_int_equal(st.slow, 1);
	assert_true(st.messages > 1000);
}

/* --- option parsing ------------------------------------------------------ */

static void test_parse_options(void **state)
{
	(void)state;
	struct replay_serve_args a;
	char err[256];
	char *argv1[] = {"serve", "--recording", "r.jsonl", "--listen", "[::1]:0", "--key", "K",
	                 "--secret", "S", "--rate=250", "--batch", "10", "--dead-hold", "0.25",
	                 "--auth-timeout", "1.5", "--drop-after-msgs", "7", "--fault-conn", "2",
	                 "--no-pong", "--http-429", "3", "--drop-after", "2", "--loop", NULL};
	assert_int_equal(replay_serve_parse(26, argv1, &a, err, sizeof(err)), 0);
	assert_string_equal(a.recording, "r.jsonl");
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 0);
	assert_int_equal(a.sched.mode, SCHEDULE_RATE);
	assert_true(a.sched.rate == 250.0);
	assert_int_equal(a.sched.batch, 10);
	assert_int_equal(a.dead_hold_ms, 250);
	assert_int_equal(a.auth_timeout_ms, 1500);
	assert_int_equal(a.faults.drop_after_msgs, 7);
	assert_int_equal(a.faults.drop_after_ms, 2000);
	assert_int_equal(a.faults.fault_conn, 2);
	assert_int_equal(a.faults.http_429, 3);
	assert_true(a.faults.no_pong);
	assert_false(a.faults.reject_auth);
	assert_int_equal(a.faults.stall_after, REPLAY_FAULT_OFF);
	assert_true(a.loop);

	char *argv2[] = {"serve", "rec.jsonl", "--listen", "127.0.0.1:8443", "--max", NULL};
	assert_int_equal(replay_serve_parse(5, argv2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 8443);
	assert_int_equal(a.sched.mode, SCHEDULE_MAX);
	assert_int_equal(a.dead_hold_ms, 90000); /* Alpaca's default */

	char *bad1[] = {"serve", "r", "--max", "--speed", "2", NULL};
	assert_int_equal(replay_serve_parse(5, bad1, &a, err, sizeof(err)), -EINVAL);
	char *bad2[] = {"serve", "r", "--bogus", NULL};
	assert_int_equal(replay_serve_parse(3, bad2, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	char *bad3[] = {"serve", "r", "--cert", "c.pem", NULL};
	assert_int_equal(replay_serve_parse(4, bad3, &a, err, sizeof(err)), -EINVAL);
	char *bad4[] = {"serve", "--listen", "127.0.0.1", NULL};
	assert_int_equal(replay_serve_parse(3, bad4, &a, err, sizeof(err)), -EINVAL);
	char *bad5[] = {"serve", "r", "--drop-after", "x", NULL};
	assert_int_equal(replay_serve_parse(4, bad5, &a, err, sizeof(err)), -EINVAL);
	char *bad6[] = {"serve", "--loop", NULL};
	assert_int_equal(replay_serve_parse(2, bad6, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--recording"));
}

static void test_faults_bookkeeping(void **state)
{
	(void)state;
	struct replay_faults f;
	replay_faults_init(&f);
	assert_int_equal(replay_faults_set(&f, "stall-after", "5"), 0);
	assert_int_equal(replay_faults_set(&f, "malformed-after", "2"), 0);
	assert_int_equal(replay_faults_set(&f, "nope", "1"), -ENOENT);
	assert_int_equal(replay_faults_set(&f, "stall-after", "-1"), -EINVAL);
	assert_int_equal(replay_faults_set(&f, "no-pong", "x"), -EINVAL);
	struct replay_faults_conn c;
	replay_faults_conn_init(&c, &f, 1);
	assert_int_equal(replay_faults_room(&c), 2);
	assert_int_equal(replay_faults_due(&c), REPLAY_FAULT_NONE);
	replay_faults_sent(&c, 2);
	assert_int_equal(replay_faults_room(&c), 0);
	assert_int_equal(replay_faults_due(&c), REPLAY_FAULT_MALFORMED);
	assert_int_equal(replay_faults_due(&c), REPLAY_FAULT_NONE);
	assert_int_equal(replay_faults_room(&c), 3);
	replay_faults_sent(&c, 3);
	assert_int_equal(replay_faults_due(&c), REPLAY_FAULT_STALL);
	assert_int_equal(replay_faults_room(&c), 0);
	/* fault-conn: other connections are untouched. */
	f.fault_conn = 2;
	replay_faults_conn_init(&c, &f, 1);
	assert_int_equal(replay_faults_room(&c), REPLAY_FAULT_OFF);
	replay_faults_sent(&c, 100);
	assert_int_equal(replay_faults_due(&c), REPLAY_FAULT_NONE);
	uint64_t ms;
	assert_int_equal(replay_faults_parse_ms("0.25", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(replay_faults_parse_ms("3", &ms), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(replay_faults_parse_ms(".5", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(replay_faults_parse_ms("1e3", &ms), -EINVAL);
	assert_int_equal(replay_faults_parse_ms("", &ms), -EINVAL);
	assert_int_equal(replay_faults_upgrade_status(&f, 1), 101);
	f.http_429 = 1;
	assert_int_equal(replay_faults_upgrade_status(&f, 1), 429);
	assert_int_equal(replay_faults_upgrade_status(&f, 2), 101);
}

static void test_endpoints(void **state)
{
	(void)state;
	char ep[32];
	assert_true(replay_server_endpoint("/v2/iex", ep, sizeof(ep)));
	assert_string_equal(ep, "v2/iex");
	assert_true(replay_server_endpoint("/v2/sip?x=1", ep, sizeof(ep)));
	assert_string_equal(ep, "v2/sip");
	assert_true(replay_server_endpoint("/v1beta1/overnight", ep, sizeof(ep)));
	assert_false(replay_server_endpoint("/v2/boats", ep, sizeof(ep)));
	assert_false(replay_server_endpoint("/v2/iex/", ep, sizeof(ep)));
	assert_false(replay_server_endpoint("/v1beta3/crypto/us", ep, sizeof(ep)));
	assert_false(replay_server_endpoint("v2/iex", ep, sizeof(ep)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_options),
		cmocka_unit_test(test_faults_bookkeeping),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test_setup_teardown(test_stream_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recorded_pacing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_pacing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsubscribe_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wss_header_auth_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_timeout_404_415, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_then_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_429, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_after_seconds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_keeps_pinging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_407, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
