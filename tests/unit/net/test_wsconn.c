/* test_wsconn.c - loop test: a WebSocket server and client in one process
 * and one uv loop over loopback TCP, with TLS (test PKI in tests/certs) and
 * plain, plus the refusals the Alpaca client has to classify: wrong host
 * name, untrusted CA, HTTP 429, connection refused, TLS handshake timeout.
 * Every handle is closed at the end (uv_loop_close must succeed). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/x509.h>
#include <uv.h>

#include "net/tls.h"
#include "net/wsconn.h"

#define WATCHDOG_MS 60000 /* generous: valgrind runs this too */
#define BIG_LEN (1u << 20)

struct t;

struct side {
	struct t *t;
	struct wsconn *c;
	bool accepted;
	int opens, msgs, closes;
	char first[64];
	size_t big_seen;
	struct wsconn_end end;
	char target[64], key_id[32];
};

struct t {
	uv_loop_t loop;
	uv_timer_t watchdog;
	bool expired;
	uv_tcp_t listener;
	bool listening;
	uv_tcp_t mute;       /* accepted by the mute listener, never answered */
	bool mute_open;
	bool mute_server;    /* listener accepts but never speaks */
	uv_timer_t linger;   /* keeps the session open a while (pings) */
	uint32_t linger_ms;
	uv_timer_t pause;    /* test_read_pause: reading stays paused while it runs */
	bool pause_reads;
	int paused_checks, paused_msgs;
	struct tls_config *srv_cfg, *cli_cfg;
	int port;
	int answer;
	char *big;
	struct side srv, cli;
	struct wsconn_opts srv_opts, cli_opts;
};

static char *cert_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	static char buf[4][1024];
	static int i;
	char *p = buf[i++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/tests/certs/%s", top ? top : ".", name);
	return p;
}

static void maybe_finish(struct t *t)
{
	if (!t->cli.closes || (t->srv.accepted && !t->srv.closes))
		return;
	if (t->listening) {
		t->listening = false;
		uv_close((uv_handle_t *)&t->listener, NULL);
	}
	if (t->mute_open) {
		t->mute_open = false;
		uv_close((uv_handle_t *)&t->mute, NULL);
	}
	uv_close((uv_handle_t *)&t->watchdog, NULL);
}

static void watchdog_fired(uv_timer_t *timer)
{
	struct t *t = timer->data;
	t->expired = true;
	uv_stop(&t->loop);
}

/* --- server side --------------------------------------------------------- */

static void srv_open(void *user)
{
	struct side *s = user;
	s->opens++;
	assert_int_equal(wsconn_send_text(s->c, "welcome", 7), 0);
}

static int srv_request(void *user, const struct ws_handshake *req)
{
	struct side *s = user;
	snprintf(s->target, sizeof(s->target), "%s", ws_handshake_target(req));
	const char *k = ws_handshake_header(req, "APCA-API-KEY-ID");
	snprintf(s->key_id, sizeof(s->key_id), "%s", k ? k : "");
	return s->t->answer;
}

static void srv_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct side *s = user;
	s->msgs++;
	if (len == BIG_LEN)
		s->big_seen++;
	assert_int_equal(wsconn_send(s->c, type, msg, len), 0); /* echo */
}

static void srv_close(void *user, const struct wsconn_end *end)
{
	struct side *s = user;
	s->closes++;
	s->end = *end;
	s->c = NULL;
	maybe_finish(s->t);
}

static const struct wsconn_cbs srv_cbs = {srv_open, srv_request, srv_message, srv_close};

static void on_connection(uv_stream_t *listener, int status)
{
	struct t *t = listener->data;
	assert_int_equal(status, 0);
	if (t->mute_server) {
		uv_tcp_init(&t->loop, &t->mute);
		assert_int_equal(uv_accept(listener, (uv_stream_t *)&t->mute), 0);
		t->mute_open = true;
		return;
	}
	assert_false(t->srv.accepted); /* one client per test */
	assert_int_equal(
	        wsconn_accept(&t->srv.c, &t->loop, listener, t->srv_cfg, &t->srv_opts, &srv_cbs, &t->srv), 0);
	t->srv.accepted = true;
}

static void listen_any(struct t *t)
{
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(&t->loop, &t->listener);
	t->listener.data = t;
	assert_int_equal(uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&t->listener, 8, on_connection), 0);
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	assert_int_equal(uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len), 0);
	t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	t->listening = true;
}

/* --- client side --------------------------------------------------------- */

static void linger_done(uv_timer_t *timer)
{
	struct t *t = timer->data;
	uv_close((uv_handle_t *)timer, NULL);
	wsconn_close(t->cli.c, 1000);
}

/* While reading is paused nothing more is delivered, though the server has
 * answered; once resumed the exchange completes. */
static void pause_tick(uv_timer_t *timer)
{
	struct t *t = timer->data;
	if (t->srv.msgs < 1)
		return; /* the echo of "hello" is not out yet */
	if (t->paused_checks++ == 0) {
		t->paused_msgs = t->cli.msgs;
		return;
	}
	assert_int_equal(t->cli.msgs, t->paused_msgs);
	assert_true(t->paused_msgs <= 1); /* "welcome" may share the 101's read */
	uv_close((uv_handle_t *)timer, NULL);
	assert_int_equal(wsconn_read_pause(t->cli.c, false), 0);
}

static void cli_open(void *user)
{
	struct side *s = user;
	struct t *t = s->t;
	s->opens++;
	assert_int_equal(wsconn_send_text(s->c, "hello", 5), 0);
	assert_int_equal(wsconn_send_text(s->c, s->t->big, BIG_LEN), 0);
	if (t->pause_reads) {
		assert_int_equal(wsconn_read_pause(s->c, true), 0);
		assert_int_equal(wsconn_read_pause(s->c, true), 0); /* idempotent */
		uv_timer_init(&t->loop, &t->pause);
		t->pause.data = t;
		uv_timer_start(&t->pause, pause_tick, 50, 50);
	}
}

static void cli_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct side *s = user;
	struct t *t = s->t;
	assert_int_equal(type, WS_MSG_TEXT);
	if (s->msgs++ == 0)
		snprintf(s->first, sizeof(s->first), "%.*s", (int)len, (const char *)msg);
	if (len == BIG_LEN && memcmp(msg, t->big, BIG_LEN) == 0)
		s->big_seen++;
	if (s->msgs < 3)
		return;
	if (t->linger_ms) {
		uv_timer_init(&t->loop, &t->linger);
		t->linger.data = t;
		uv_timer_start(&t->linger, linger_done, t->linger_ms, 0);
	} else {
		wsconn_close(s->c, 1000);
	}
}

static void cli_close(void *user, const struct wsconn_end *end)
{
	struct side *s = user;
	s->closes++;
	s->end = *end;
	s->c = NULL;
	maybe_finish(s->t);
}

static const struct wsconn_cbs cli_cbs = {cli_open, NULL, cli_message, cli_close};

/* --- fixture ------------------------------------------------------------- */

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->watchdog);
	t->watchdog.data = t;
	uv_timer_start(&t->watchdog, watchdog_fired, WATCHDOG_MS, 0);
	t->srv.t = t->cli.t = t;
	t->answer = 101;
	t->big = malloc(BIG_LEN);
	for (size_t i = 0; i < BIG_LEN; i++)
		t->big[i] = (char)('a' + i % 26);
	static const struct ws_header auth[] = {{"APCA-API-KEY-ID", "AK"}, {"APCA-API-SECRET-KEY", "SK"}};
	t->cli_opts.ws.headers = auth;
	t->cli_opts.ws.n_headers = 2;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	uv_run(&t->loop, UV_RUN_DEFAULT); /* close callbacks still pending */
	assert_int_equal(uv_loop_close(&t->loop), 0);
	tls_config_free(t->srv_cfg);
	tls_config_free(t->cli_cfg);
	free(t->big);
	free(t);
	return 0;
}

static void tls_configs(struct t *t, const char *ca)
{
	char err[256] = "";
	int r = tls_config_new_server(&t->srv_cfg, cert_path("server.crt"), cert_path("server.key"),
	                              err, sizeof(err));
	if (r < 0)
		fail_msg("server config: %s", err);
	r = tls_config_new_client(&t->cli_cfg, cert_path(ca), err, sizeof(err));
	if (r < 0)
		fail_msg("client config: %s", err);
}

static void plain_configs(struct t *t)
{
	assert_int_equal(tls_config_new_plain(&t->srv_cfg), 0);
	assert_int_equal(tls_config_new_plain(&t->cli_cfg), 0);
}

static void run(struct t *t)
{
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_false(t->expired);
	assert_int_equal(t->cli.closes, 1);
}

static void connect_to(struct t *t, const char *scheme, const char *host, const char *addr)
{
	char url[256];
	snprintf(url, sizeof(url), "%s://%s:%d/v2/test", scheme, host, t->port);
	t->cli_opts.url = url;
	t->cli_opts.connect_addr = addr;
	assert_int_equal(wsconn_connect(&t->cli.c, &t->loop, t->cli_cfg, &t->cli_opts, &cli_cbs, &t->cli),
	                 0);
}

static void check_exchange(struct t *t)
{
	assert_string_equal(t->srv.target, "/v2/test");
	assert_string_equal(t->srv.key_id, "AK");
	assert_int_equal(t->srv.opens, 1);
	assert_int_equal(t->srv.msgs, 2);
	assert_int_equal(t->srv.big_seen, 1);
	assert_int_equal(t->cli.opens, 1);
	assert_int_equal(t->cli.msgs, 3);
	assert_string_equal(t->cli.first, "welcome");
	assert_int_equal(t->cli.big_seen, 1);
	assert_int_equal(t->cli.end.status, 0);
	assert_int_equal(t->cli.end.stage, WSCONN_STAGE_OPEN);
	assert_int_equal(t->cli.end.code_sent, 1000);
	assert_int_equal(t->cli.end.code_rcvd, 1000);
	assert_int_equal(t->srv.closes, 1);
	assert_int_equal(t->srv.end.status, 0);
	assert_int_equal(t->srv.end.code_rcvd, 1000);
}

/* --- tests --------------------------------------------------------------- */

static void test_wss_exchange(void **state)
{
	struct t *t = *state;
	tls_configs(t, "ca.crt");
	listen_any(t);
	t->cli_opts.ws.ping_interval_ms = 20; /* pings and pongs go over TLS too */
	t->cli_opts.ws.pong_timeout_ms = 5000;
	t->linger_ms = 120;
	/* The certificate names localhost; we dial the IPv4 address so the test
	 * does not depend on how localhost resolves. */
	connect_to(t, "wss", "localhost", "127.0.0.1");
	run(t);
	check_exchange(t);
}

static void test_ws_plain_exchange(void **state)
{
	struct t *t = *state;
	plain_configs(t);
	listen_any(t);
	connect_to(t, "ws", "127.0.0.1", NULL);
	run(t);
	check_exchange(t);
}

static void read_pause_case(struct t *t, bool secure)
{
	if (secure)
		tls_configs(t, "ca.crt");
	else
		plain_configs(t);
	listen_any(t);
	t->pause_reads = true;
	if (secure)
		connect_to(t, "wss", "localhost", "127.0.0.1");
	else
		connect_to(t, "ws", "127.0.0.1", NULL);
	run(t);
	assert_int_equal(t->paused_checks, 2);
	check_exchange(t);
}

static void test_read_pause(void **state)
{
	read_pause_case(*state, true);
}

static void test_read_pause_plain(void **state)
{
	read_pause_case(*state, false);
}

static void test_ws_dial_by_name(void **state)
{
	struct t *t = *state;
	plain_configs(t);
	listen_any(t);
	connect_to(t, "ws", "localhost", NULL); /* resolved, IPv4 preferred */
	run(t);
	check_exchange(t);
}

static void check_tls_refused(struct t *t, uint32_t flag)
{
	assert_int_equal(t->cli.opens, 0);
	assert_int_equal(t->cli.end.stage, WSCONN_STAGE_TLS);
	assert_int_equal(t->cli.end.status, -EPROTO);
	assert_true(t->cli.end.tls_verify_flags & flag);
	assert_non_null(strstr(t->cli.end.text, "certificate verification failed"));
	assert_int_equal(t->srv.opens, 0);
	assert_int_equal(t->srv.closes, 1);
	assert_int_equal(t->srv.end.stage, WSCONN_STAGE_TLS);
}

static void test_wss_wrong_hostname(void **state)
{
	struct t *t = *state;
	tls_configs(t, "ca.crt");
	listen_any(t);
	connect_to(t, "wss", "wrong.example", "127.0.0.1");
	run(t);
	check_tls_refused(t, MBEDTLS_X509_BADCERT_CN_MISMATCH);
}

static void test_wss_untrusted_ca(void **state)
{
	struct t *t = *state;
	tls_configs(t, "other-ca.crt");
	listen_any(t);
	connect_to(t, "wss", "localhost", "127.0.0.1");
	run(t);
	check_tls_refused(t, MBEDTLS_X509_BADCERT_NOT_TRUSTED);
}

static void test_wss_http_429(void **state)
{
	struct t *t = *state;
	tls_configs(t, "ca.crt");
	listen_any(t);
	t->answer = 429;
	connect_to(t, "wss", "localhost", "127.0.0.1");
	run(t);
	assert_int_equal(t->cli.opens, 0);
	assert_int_equal(t->cli.end.stage, WSCONN_STAGE_UPGRADE);
	assert_int_equal(t->cli.end.status, -ECONNREFUSED);
	assert_int_equal(t->cli.end.http_status, 429);
	assert_int_equal(t->srv.end.status, -ECONNREFUSED);
	assert_int_equal(t->srv.end.http_status, 429);
}

static void test_connection_refused(void **state)
{
	struct t *t = *state;
	plain_configs(t);
	listen_any(t); /* learn a free port, then stop listening on it */
	t->listening = false;
	uv_close((uv_handle_t *)&t->listener, NULL);
	uv_run(&t->loop, UV_RUN_NOWAIT);
	connect_to(t, "ws", "127.0.0.1", NULL);
	run(t);
	assert_int_equal(t->cli.end.stage, WSCONN_STAGE_DIAL);
	assert_int_equal(t->cli.end.status, UV_ECONNREFUSED);
}

static void test_tls_handshake_timeout(void **state)
{
	struct t *t = *state;
	tls_configs(t, "ca.crt");
	t->mute_server = true;
	listen_any(t);
	t->cli_opts.tls_timeout_ms = 100;
	connect_to(t, "wss", "localhost", "127.0.0.1");
	run(t);
	assert_int_equal(t->cli.end.stage, WSCONN_STAGE_TLS);
	assert_int_equal(t->cli.end.status, -ETIMEDOUT);
}

static void test_scheme_must_match_config(void **state)
{
	struct t *t = *state;
	plain_configs(t);
	struct wsconn *c;
	t->cli_opts.url = "wss://localhost:1/";
	assert_int_equal(wsconn_connect(&c, &t->loop, t->cli_cfg, &t->cli_opts, &cli_cbs, &t->cli), -EINVAL);
	t->cli_opts.url = "http://localhost:1/";
	assert_int_equal(wsconn_connect(&c, &t->loop, t->cli_cfg, &t->cli_opts, &cli_cbs, &t->cli),
	                 -EPROTONOSUPPORT);
	uv_close((uv_handle_t *)&t->watchdog, NULL);
}

static void test_config_errors(void **state)
{
	struct t *t = *state;
	struct tls_config *c = NULL;
	char err[256] = "";
	assert_int_equal(tls_config_new_client(&c, "/nonexistent/ca.pem", err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	assert_int_equal(tls_config_new_server(&c, cert_path("server.crt"), cert_path("ca.crt"), err,
	                                       sizeof(err)),
	                 -EINVAL); /* a certificate is not a key */
	assert_null(c);
	uv_close((uv_handle_t *)&t->watchdog, NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wss_exchange),
		T(test_ws_plain_exchange),
		T(test_read_pause),
		T(test_read_pause_plain),
		T(test_ws_dial_by_name),
		T(test_wss_wrong_hostname),
		T(test_wss_untrusted_ca),
		T(test_wss_http_429),
		T(test_connection_refused),
		T(test_tls_handshake_timeout),
		T(test_scheme_must_match_config),
		T(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
