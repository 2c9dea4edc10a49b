/* test_ws_session.c - a WebSocket session (client and server) fed scripted
 * bytes through a memory transport: no sockets. The uv loop only runs the
 * session's timer (ping, pong and close deadlines). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>
#include <wslay/wslay.h> /* opcodes for scripting frames */

#include "net/ws.h"
#include "ws_shim.h"

struct rec {
	struct ws *ws;
	struct shim shim;
	int opens, closes, requests;
	int msgs;
	enum ws_msg_type type;
	char msg[256];
	size_t msg_len;
	size_t total_len;
	struct ws_close_info info;
	int answer;          /* server: what on_request returns */
	bool free_in_msg;    /* re-entrancy: ws_free from on_message */
	bool reply_in_msg;   /* send from on_message */
	char target[64];
	char key_id[32];
};

static void on_open(void *user)
{
	struct rec *r = user;
	r->opens++;
}

static int on_request(void *user, const struct ws_handshake *req)
{
	struct rec *r = user;
	r->requests++;
	snprintf(r->target, sizeof(r->target), "%s", ws_handshake_target(req));
	const char *k = ws_handshake_header(req, "APCA-API-KEY-ID");
	snprintf(r->key_id, sizeof(r->key_id), "%s", k ? k : "");
	return r->answer;
}

static void on_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct rec *r = user;
	r->msgs++;
	r->type = type;
	r->total_len += len;
	r->msg_len = len < sizeof(r->msg) - 1 ? len : sizeof(r->msg) - 1;
	memcpy(r->msg, msg, r->msg_len);
	r->msg[r->msg_len] = '\0';
	if (r->reply_in_msg)
		assert_int_equal(ws_send_text(r->ws, "echo", 4), 0);
	if (r->free_in_msg) {
		ws_free(r->ws);
		r->ws = NULL;
	}
}

static void on_close(void *user, const struct ws_close_info *info)
{
	struct rec *r = user;
	r->closes++;
	r->info = *info;
}

static const struct ws_cbs cbs = {on_open, on_request, on_message, on_close};

struct fixture {
	uv_loop_t loop;
	struct rec rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	f->rec.answer = 101;
	*state = f;
	return 0;
}

/* Every handle must be closed: uv_loop_close fails otherwise. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->rec.ws)
		ws_free(f->rec.ws);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	shim_fini(&f->rec.shim);
	free(f);
	return 0;
}

static void make(struct fixture *f, enum ws_role role, struct ws_opts *o)
{
	struct ws_opts d = {0};
	if (!o)
		o = &d;
	o->role = role;
	if (role == WS_ROLE_CLIENT) {
		o->host = "stream.example";
		o->path = "/v2/iex";
	}
	o->rng = shim_rng;
	o->rng_ctx = &f->rec.shim;
	struct ws_io io = {shim_write, &f->rec.shim};
	assert_int_equal(ws_new(&f->rec.ws, &f->loop, o, &io, &cbs, &f->rec), 0);
	assert_int_equal(ws_start(f->rec.ws), 0);
}

/* Feeds bytes whole (step 0) or in steps. */
static void feed(struct fixture *f, const void *data, size_t len, size_t step)
{
	const uint8_t *p = data;
	size_t off = 0;
	while (off < len && f->rec.ws) {
		size_t n = step && step < len - off ? step : len - off;
		ws_feed(f->rec.ws, p + off, n);
		off += n;
	}
}

/* Client: reads the request the session wrote, answers 101 correctly. */
static size_t server_reply(struct fixture *f, uint8_t *out)
{
	char head[1024], accept[WS_ACCEPT_LEN + 1];
	assert_true(shim_take_head(&f->rec.shim, head, sizeof(head)) > 0);
	assert_memory_equal(head, "GET /v2/iex HTTP/1.1\r\n", 22);
	const char *k = strstr(head, "Sec-WebSocket-Key: ");
	assert_non_null(k);
	assert_int_equal(ws_handshake_accept_for(k + 19, WS_KEY_LEN, accept), 0);
	return (size_t)sprintf((char *)out,
	                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	                       accept);
}

static void client_script(void **state, size_t step)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[4096];
	size_t n = server_reply(f, in);
	/* In the same stream: a text message, a message fragmented across three
	 * frames with a ping between fragments, a binary message, then close. */
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "hello", 5, false);
	n += shim_frame(in + n, false, WSLAY_TEXT_FRAME, "frag", 4, false);
	n += shim_frame(in + n, false, WSLAY_CONTINUATION_FRAME, "men", 3, false);
	n += shim_frame(in + n, true, WSLAY_PING, "p1", 2, false);
	n += shim_frame(in + n, true, WSLAY_CONTINUATION_FRAME, "ted", 3, false);
	feed(f, in, n, step);
	assert_int_equal(f->rec.opens, 1);
	assert_int_equal(f->rec.msgs, 2);
	assert_int_equal(f->rec.type, WS_MSG_TEXT);
	assert_string_equal(f->rec.msg, "fragmented");

	struct shim_frame fr;
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_PONG);
	assert_true(fr.masked); /* client frames are masked */
	assert_int_equal(fr.len, 2);
	assert_memory_equal(fr.payload, "p1", 2);

	assert_int_equal(ws_send_text(f->rec.ws, "{\"action\":\"auth\"}", 17), 0);
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_TEXT_FRAME);
	assert_true(fr.fin && fr.masked);
	assert_memory_equal(fr.payload, "{\"action\":\"auth\"}", 17);

	uint8_t bin[] = {0, 1, 2, 0xff};
	n = shim_frame(in, true, WSLAY_BINARY_FRAME, bin, sizeof(bin), false);
	n += shim_frame(in + n, true, WSLAY_CONNECTION_CLOSE, "\x03\xe8" "bye", 5, false);
	feed(f, in, n, step);
	assert_int_equal(f->rec.msgs, 3);
	assert_int_equal(f->rec.type, WS_MSG_BINARY);
	assert_memory_equal(f->rec.msg, bin, sizeof(bin));
	/* The close is answered with the same code, then the session is over. */
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_CONNECTION_CLOSE);
	assert_int_equal(fr.len, 5);
	assert_memory_equal(fr.payload, "\x03\xe8", 2);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, 0);
	assert_int_equal(f->rec.info.code_rcvd, 1000);
	assert_int_equal(f->rec.info.http_status, 101);
	assert_string_equal(f->rec.info.reason, "bye");
	assert_int_equal(ws_send_text(f->rec.ws, "x", 1), -ENOTCONN);
	assert_int_equal(ws_feed(f->rec.ws, in, 1), -ENOTCONN);
}

static void test_client_whole(void **state)
{
	client_script(state, 0);
}

static void test_client_one_byte_at_a_time(void **state)
{
	client_script(state, 1);
}

static void test_client_odd_chunks(void **state)
{
	client_script(state, 7);
}

static void test_client_initiated_close(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	feed(f, in, n, 0);
	assert_int_equal(ws_close(f->rec.ws, 1001, "shutdown"), 0);
	assert_int_equal(ws_close(f->rec.ws, 1000, NULL), -EALREADY);
	assert_int_equal(ws_send_text(f->rec.ws, "late", 4), -EPIPE);
	struct shim_frame fr;
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_CONNECTION_CLOSE);
	assert_memory_equal(fr.payload, "\x03\xe9shutdown", 10);
	assert_int_equal(f->rec.closes, 0); /* waits for the answer */
	n = shim_frame(in, true, WSLAY_CONNECTION_CLOSE, "\x03\xe9", 2, false);
	feed(f, in, n, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, 0);
	assert_int_equal(f->rec.info.code_sent, 1001);
	assert_int_equal(f->rec.info.code_rcvd, 1001);
}

static void test_client_close_timeout(void **state)
{
	struct fixture *f = *state;
	struct ws_opts o = {.close_timeout_ms = 20};
	make(f, WS_ROLE_CLIENT, &o);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	feed(f, in, n, 0);
	assert_int_equal(ws_close(f->rec.ws, 1000, NULL), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -ETIMEDOUT);
	assert_int_equal(f->rec.info.code_rcvd, 1006);
}

static void test_client_bad_accept(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                   "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
	feed(f, resp, strlen(resp), 0);
	assert_int_equal(f->rec.opens, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -EPROTO);
	assert_non_null(strstr(f->rec.info.text, "Sec-WebSocket-Accept"));
}

static void test_client_429(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	const char *resp = "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 25\r\n\r\n"
	                   "connection limit exceeded";
	feed(f, resp, strlen(resp), 1);
	assert_int_equal(f->rec.opens, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -ECONNREFUSED);
	assert_int_equal(f->rec.info.http_status, 429);
}

static void test_client_oversized_message(void **state)
{
	struct fixture *f = *state;
	struct ws_opts o = {.max_msg_len = 16};
	make(f, WS_ROLE_CLIENT, &o);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "0123456789abcdef", 16, false); /* fits */
	n += shim_frame(in + n, false, WSLAY_TEXT_FRAME, "0123456789", 10, false);
	n += shim_frame(in + n, true, WSLAY_CONTINUATION_FRAME, "0123456789", 10, false);
	feed(f, in, n, 0);
	assert_int_equal(f->rec.msgs, 1);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -EMSGSIZE);
	assert_int_equal(f->rec.info.code_sent, 1009);
	struct shim_frame fr;
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_CONNECTION_CLOSE);
	assert_memory_equal(fr.payload, "\x03\xf1", 2); /* 1009 */
}

static void test_client_large_message_default_limit(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t head[512];
	size_t n = server_reply(f, head);
	feed(f, head, n, 0);
	size_t big = 3u << 20; /* 3 MiB: news can be this large */
	uint8_t *in = malloc(big + 16);
	char *payload = malloc(big);
	memset(payload, 'n', big);
	n = shim_frame(in, true, WSLAY_TEXT_FRAME, payload, big, false);
	feed(f, in, n, 65536);
	assert_int_equal(f->rec.msgs, 1);
	assert_int_equal(f->rec.total_len, big);
	free(in);
	free(payload);
}

static void test_client_masked_frame_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "x", 1, true);
	feed(f, in, n, 0);
	assert_int_equal(f->rec.msgs, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -EPROTO);
	assert_int_equal(f->rec.info.code_sent, 1002);
}

static void test_client_compressed_frame_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	size_t m = shim_frame(in + n, true, WSLAY_TEXT_FRAME, "x", 1, false);
	in[n] |= 0x40; /* RSV1: permessage-deflate, never negotiated */
	feed(f, in, n + m, 0);
	assert_int_equal(f->rec.msgs, 0);
	assert_int_equal(f->rec.info.status, -EPROTO);
}

/* Answers each new ping the session writes, from a loop timer (io.write must
 * not call back into the session). */
struct ponger {
	uv_timer_t timer;
	struct fixture *f;
	int pings;
	bool answer;
};

static void ponger_tick(uv_timer_t *t)
{
	struct ponger *p = t->data;
	struct shim_frame fr;
	while (p->f->rec.ws && shim_next_frame(&p->f->rec.shim, &fr)) {
		if (fr.opcode != WSLAY_PING)
			continue;
		p->pings++;
		assert_true(fr.masked);
		uint8_t in[64];
		size_t n = shim_frame(in, true, WSLAY_PONG, fr.payload, fr.len, false);
		if (p->answer)
			ws_feed(p->f->rec.ws, in, n);
	}
	if (p->pings >= 3 || p->f->rec.closes) {
		uv_close((uv_handle_t *)t, NULL);
		uv_stop(t->loop); /* the session's ping timer would run forever */
	}
}

static void run_pinger(void **state, bool answer)
{
	struct fixture *f = *state;
	/* Answered: a deadline no loaded CI machine misses; unanswered: short. */
	struct ws_opts o = {.ping_interval_ms = 10, .pong_timeout_ms = answer ? 2000 : 40};
	make(f, WS_ROLE_CLIENT, &o);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	feed(f, in, n, 0);
	struct ponger p = {.f = f, .answer = answer};
	uv_timer_init(&f->loop, &p.timer);
	p.timer.data = &p;
	uv_timer_start(&p.timer, ponger_tick, 5, 5);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* p.timer's close callback */
	if (answer) {
		assert_true(p.pings >= 3);
		assert_int_equal(f->rec.closes, 0);
	} else {
		assert_int_equal(p.pings, 1); /* no second ping while one is unanswered */
		assert_int_equal(f->rec.closes, 1);
		assert_int_equal(f->rec.info.status, -ETIMEDOUT);
		assert_non_null(strstr(f->rec.info.text, "pong"));
	}
}

static void test_client_ping_answered(void **state)
{
	run_pinger(state, true);
}

static void test_client_pong_timeout(void **state)
{
	run_pinger(state, false);
}

static void test_client_upgrade_timeout(void **state)
{
	struct fixture *f = *state;
	struct ws_opts o = {.handshake_timeout_ms = 10};
	make(f, WS_ROLE_CLIENT, &o);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -ETIMEDOUT);
}

static void test_client_transport_end(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	feed(f, in, n, 0);
	ws_transport_end(f->rec.ws, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, UV_EOF);
	assert_int_equal(f->rec.info.code_rcvd, 1006);
	ws_transport_end(f->rec.ws, UV_ECONNRESET); /* once only */
	assert_int_equal(f->rec.closes, 1);
}

static void test_client_write_failure(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	uint8_t in[512];
	size_t n = server_reply(f, in);
	feed(f, in, n, 0);
	f->rec.shim.fail_write = UV_EPIPE;
	assert_int_equal(ws_send_text(f->rec.ws, "x", 1), 0); /* queued; the flush fails */
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, UV_EPIPE);
}

static void test_client_free_inside_callback(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_CLIENT, NULL);
	f->rec.free_in_msg = true;
	uint8_t in[512];
	size_t n = server_reply(f, in);
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "a", 1, false);
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "b", 1, false);
	feed(f, in, n, 0);
	assert_int_equal(f->rec.msgs, 1); /* nothing after ws_free */
	assert_int_equal(f->rec.closes, 0);
}

/* --- server role --------------------------------------------------------- */

static const char request[] = "GET /v2/test HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "APCA-API-KEY-ID: AK42\r\n"
                              "\r\n";

static void server_script(void **state, size_t step)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_SERVER, NULL);
	f->rec.reply_in_msg = true;
	uint8_t in[1024];
	size_t n = strlen(request);
	memcpy(in, request, n);
	n += shim_frame(in + n, false, WSLAY_TEXT_FRAME, "{\"act", 5, true);
	n += shim_frame(in + n, true, WSLAY_CONTINUATION_FRAME, "ion\"}", 5, true);
	feed(f, in, n, step);
	assert_int_equal(f->rec.requests, 1);
	assert_string_equal(f->rec.target, "/v2/test");
	assert_string_equal(f->rec.key_id, "AK42");
	assert_int_equal(f->rec.opens, 1);
	assert_int_equal(f->rec.msgs, 1);
	assert_string_equal(f->rec.msg, "{\"action\"}");

	char head[1024];
	assert_true(shim_take_head(&f->rec.shim, head, sizeof(head)) > 0);
	assert_non_null(strstr(head, "HTTP/1.1 101 "));
	assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	struct shim_frame fr;
	assert_true(shim_next_frame(&f->rec.shim, &fr)); /* the reply sent from on_message */
	assert_int_equal(fr.opcode, WSLAY_TEXT_FRAME);
	assert_false(fr.masked); /* server frames are not */
	assert_memory_equal(fr.payload, "echo", 4);

	assert_int_equal(ws_close(f->rec.ws, 1000, NULL), 0);
	assert_true(shim_next_frame(&f->rec.shim, &fr));
	assert_int_equal(fr.opcode, WSLAY_CONNECTION_CLOSE);
	n = shim_frame(in, true, WSLAY_CONNECTION_CLOSE, "\x03\xe8", 2, true);
	feed(f, in, n, step);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, 0);
	assert_int_equal(f->rec.info.code_rcvd, 1000);
}

static void test_server_whole(void **state)
{
	server_script(state, 0);
}

static void test_server_one_byte_at_a_time(void **state)
{
	server_script(state, 1);
}

static void test_server_refuses_404(void **state)
{
	struct fixture *f = *state;
	f->rec.answer = 404;
	make(f, WS_ROLE_SERVER, NULL);
	feed(f, request, strlen(request), 0);
	assert_int_equal(f->rec.opens, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -ECONNREFUSED);
	assert_int_equal(f->rec.info.http_status, 404);
	assert_memory_equal(f->rec.shim.out, "HTTP/1.1 404 Not Found\r\n", 24);
}

static void test_server_bad_request(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_SERVER, NULL);
	const char *junk = "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03\r\n\r\n"; /* TLS-ish */
	feed(f, junk, strlen(junk), 0);
	assert_int_equal(f->rec.requests, 0);
	assert_int_equal(f->rec.closes, 1);
	assert_int_equal(f->rec.info.status, -EPROTO);
	assert_int_equal(f->rec.info.http_status, 400);
	assert_memory_equal(f->rec.shim.out, "HTTP/1.1 400 ", 13);
}

static void test_server_unmasked_frame_is_protocol_error(void **state)
{
	struct fixture *f = *state;
	make(f, WS_ROLE_SERVER, NULL);
	uint8_t in[1024];
	size_t n = strlen(request);
	memcpy(in, request, n);
	n += shim_frame(in + n, true, WSLAY_TEXT_FRAME, "x", 1, false);
	feed(f, in, n, 0);
	assert_int_equal(f->rec.opens, 1);
	assert_int_equal(f->rec.msgs, 0);
	assert_int_equal(f->rec.info.status, -EPROTO);
	assert_int_equal(f->rec.info.code_sent, 1002);
}

static void test_new_rejects_bad_options(void **state)
{
	struct fixture *f = *state;
	struct ws_io io = {shim_write, &f->rec.shim};
	struct ws *ws;
	struct ws_opts o = {.role = WS_ROLE_CLIENT, .host = "h", .path = "/"};
	assert_int_equal(ws_new(&ws, &f->loop, &o, &io, &cbs, &f->rec), -EINVAL); /* no rng */
	o.rng = shim_rng;
	o.rng_ctx = &f->rec.shim;
	struct ws_header bad = {"X", "1\r\n"};
	o.headers = &bad;
	o.n_headers = 1;
	assert_int_equal(ws_new(&ws, &f->loop, &o, &io, &cbs, &f->rec), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_whole),
		T(test_client_one_byte_at_a_time),
		T(test_client_odd_chunks),
		T(test_client_initiated_close),
		T(test_client_close_timeout),
		T(test_client_bad_accept),
		T(test_client_429),
		T(test_client_oversized_message),
		T(test_client_large_message_default_limit),
		T(test_client_masked_frame_is_protocol_error),
		T(test_client_compressed_frame_is_protocol_error),
		T(test_client_ping_answered),
		T(test_client_pong_timeout),
		T(test_client_upgrade_timeout),
		T(test_client_transport_end),
		T(test_client_write_failure),
		T(test_client_free_inside_callback),
		T(test_server_whole),
		T(test_server_one_byte_at_a_time),
		T(test_server_refuses_404),
		T(test_server_bad_request),
		T(test_server_unmasked_frame_is_protocol_error),
		T(test_new_rejects_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
