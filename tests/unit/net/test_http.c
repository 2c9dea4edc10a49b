/* test_http.c - loop test: the HTTP server and raw TCP clients in one uv
 * loop over loopback. Routes, 404/405/400/413/431/503, keep-alive,
 * pipelining (also past the write-queue limit), Connection: close, HTTP/1.0,
 * HEAD, the idle timeout, a client leaving mid-request, and mutated
 * requests that must never crash the server. Every run ends with
 * uv_loop_close() == 0. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "core/metrics.h"
#include "net/http.h"

#define WATCHDOG_MS 20000
#define MAX_RESP 32
#define BIG_LEN (512u * 1024)

struct t;

struct chunk {
	const char *data;
	size_t len;         /* 0: strlen(data) */
	int after_resp;     /* send only once this many responses arrived */
	unsigned delay_ms;  /* then wait this long */
};

struct resp {
	int status;
	char head[2048];
	size_t body_len;
	char body[256];
};

struct client {
	struct t *t;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	uv_timer_t timer;
	const struct chunk *chunks;
	size_t nchunks, next;
	bool writing, waiting;
	bool half_close;       /* shutdown(SHUT_WR) after the last chunk */
	bool abort_after_send; /* close right after the last chunk: leave mid-request */
	int want;              /* close after this many responses; 0: read until EOF */
	unsigned connect_delay_ms;
	unsigned head_mask;    /* bit i: response i answers a HEAD */
	struct client *then_close; /* close this one too when done */
	char *buf;
	size_t len, cap, off;
	int nresp;
	struct resp resp[MAX_RESP];
	bool big_ok;           /* every /big body had the expected bytes */
	bool eof, started, closing, closed;
	int read_err;
	int open_handles;
};

struct t {
	uv_loop_t loop;
	uv_timer_t watchdog;
	struct http_server *srv;
	struct http_server_opts opts;
	struct metrics *m;
	uint64_t *counter;
	int port;
	struct client *clients[4];
	int nclients, done;
	bool srv_closed, expired;
	struct http_server_stats stats; /* taken when the last client is done */
};

/* ---- handlers ---- */

static void h_metrics(void *arg, const struct http_request *req, struct http_response *r)
{
	struct t *t = arg;
	struct metrics_buf b = {0};
	(*t->counter)++;
	if (metrics_render_prometheus(t->m, &b) < 0) {
		http_response_status(r, 500);
		return;
	}
	http_response_type(r, METRICS_PROM_CONTENT_TYPE);
	http_response_adopt(r, b.data, b.len);
}

static void h_healthz(void *arg, const struct http_request *req, struct http_response *r)
{
	http_response_printf(r, "ok\n");
	if (strcmp(req->query, "v") == 0)
		http_response_printf(r, "%s %s %u.%u\n", req->method, req->path, req->http_major, req->http_minor);
}

static void h_readyz(void *arg, const struct http_request *req, struct http_response *r)
{
	struct metrics_gate g[] = {{"alpaca_ws", false, "alpaca_406_second_connection"},
				   {"kafka", true, NULL},
				   {"market_data_channels", true, NULL},
				   {"checkpoint", true, NULL}};
	bool ready;
	json_t *j = metrics_readyz_json(g, 4, &ready);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	http_response_status(r, ready ? 200 : 503);
	http_response_type(r, "application/json");
	http_response_type(r, "bad\r\nX-Injected: 1"); /* refused, the previous type stays */
	http_response_adopt(r, s, strlen(s));
}

static void h_big(void *arg, const struct http_request *req, struct http_response *r)
{
	char *b = malloc(BIG_LEN);
	for (size_t i = 0; i < BIG_LEN; i++)
		b[i] = (char)('a' + i % 26);
	http_response_adopt(r, b, BIG_LEN);
}

static const struct http_route routes[] = {
	{"/metrics", h_metrics},
	{"/healthz", h_healthz},
	{"/readyz", h_readyz},
	{"/big", h_big},
};

/* ---- the raw client ---- */

static void on_srv_closed(void *arg)
{
	((struct t *)arg)->srv_closed = true;
}

/* Lets the server notice the clients' last moves, then reads its stats
 * and closes it. */
static void on_settled(uv_timer_t *h)
{
	struct t *t = h->data;
	http_server_stats(t->srv, &t->stats);
	http_server_close(t->srv, on_srv_closed, t);
	uv_close((uv_handle_t *)&t->watchdog, NULL);
}

static void client_done(struct client *c)
{
	struct t *t = c->t;
	if (++t->done < t->nclients)
		return;
	uv_timer_start(&t->watchdog, on_settled, 20, 0);
}

static void client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	if (--c->open_handles == 0) {
		c->closed = true;
		client_done(c);
	}
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, client_handle_closed);
	if (c->then_close)
		client_close(c->then_close);
}

/* Parses complete responses out of the buffer. */
static void parse_responses(struct client *c)
{
	for (;;) {
		char *start = c->buf + c->off;
		size_t avail = c->len - c->off;
		char *end = memmem(start, avail, "\r\n\r\n", 4);
		if (!end)
			return;
		size_t hl = (size_t)(end - start) + 4;
		char head[2048];
		snprintf(head, sizeof(head), "%.*s", (int)hl, start);
		const char *cl = strcasestr(head, "\r\nContent-Length: ");
		size_t blen = cl ? strtoul(cl + 18, NULL, 10) : 0;
		bool is_head = (c->head_mask >> c->nresp) & 1;
		size_t take = is_head ? 0 : blen;
		if (avail < hl + take)
			return;
		assert_true(c->nresp < MAX_RESP);
		struct resp *r = &c->resp[c->nresp++];
		r->status = strncmp(head, "HTTP/1.1 ", 9) == 0 ? atoi(head + 9) : -1;
		snprintf(r->head, sizeof(r->head), "%s", head);
		r->body_len = blen;
		snprintf(r->body, sizeof(r->body), "%.*s", (int)(take < 255 ? take : 255), start + hl);
		if (take == BIG_LEN)
			for (size_t i = 0; i < BIG_LEN; i++)
				if (start[hl + i] != (char)('a' + i % 26))
					c->big_ok = false;
		c->off += hl + take;
	}
}

static void send_next(struct client *c);

static void on_client_timer(uv_timer_t *h)
{
	struct client *c = h->data;
	c->waiting = false;
	send_next(c);
}

static void on_client_write(uv_write_t *req, int status)
{
	struct client *c = req->data;
	c->writing = false;
	if (c->closing)
		return;
	c->next++;
	send_next(c);
}

static void on_client_shutdown(uv_shutdown_t *req, int status)
{
}

static void send_next(struct client *c)
{
	if (c->closing || c->writing || c->waiting)
		return;
	if (c->next == c->nchunks) {
		c->next++; /* once */
		if (c->abort_after_send)
			client_close(c);
		else if (c->half_close)
			uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_client_shutdown);
		return;
	}
	if (c->next > c->nchunks)
		return;
	const struct chunk *k = &c->chunks[c->next];
	if (c->nresp < k->after_resp)
		return; /* on_read calls again */
	if (k->delay_ms && !c->started) {
		c->started = true;
		c->waiting = true;
		uv_timer_start(&c->timer, on_client_timer, k->delay_ms, 0);
		return;
	}
	c->started = false;
	uv_buf_t b = uv_buf_init((char *)k->data, (unsigned)(k->len ? k->len : strlen(k->data)));
	c->writing = true;
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_client_write) < 0) {
		c->writing = false;
		client_close(c);
	}
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct client *c = h->data;
	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 262144;
		c->buf = realloc(c->buf, c->cap);
		assert_non_null(c->buf);
	}
	*b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;
	if (c->closing)
		return;
	if (n < 0) {
		if (n == UV_EOF)
			c->eof = true;
		else
			c->read_err = (int)n;
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	parse_responses(c);
	if (c->want && c->nresp >= c->want) {
		client_close(c);
		return;
	}
	send_next(c);
}

static void on_client_connect(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	assert_int_equal(status, 0);
	uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read);
	send_next(c);
}

static void client_connect(struct client *c)
{
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", c->t->port, &sa);
	c->creq.data = c;
	assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, on_client_connect), 0);
}

static void on_connect_timer(uv_timer_t *h)
{
	client_connect(h->data);
}

static void client_start(struct t *t, struct client *c)
{
	c->t = t;
	c->big_ok = true;
	c->open_handles = 2;
	t->clients[t->nclients++] = c;
	uv_tcp_init(&t->loop, &c->tcp);
	uv_timer_init(&t->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	if (c->connect_delay_ms)
		uv_timer_start(&c->timer, on_connect_timer, c->connect_delay_ms, 0);
	else
		client_connect(c);
}

/* ---- the harness ---- */

static void on_watchdog(uv_timer_t *h)
{
	struct t *t = h->data;
	t->expired = true;
	for (int i = 0; i < t->nclients; i++)
		client_close(t->clients[i]);
}

static void t_init(struct t *t, const struct http_server_opts *o)
{
	char err[256];
	memset(t, 0, sizeof(*t));
	assert_int_equal(uv_loop_init(&t->loop), 0);
	assert_int_equal(metrics_new(&t->m), 0);
	assert_int_equal(metrics_counter(t->m, "torghut_test_scrapes_total", "Scrapes.", NULL, &t->counter), 0);
	t->opts = (struct http_server_opts){.listen = "127.0.0.1:0", .routes = routes, .nroutes = 4, .arg = t};
	if (o) {
		t->opts.max_conns = o->max_conns;
		t->opts.idle_timeout_ms = o->idle_timeout_ms;
		t->opts.max_head = o->max_head;
	}
	int rc = http_server_new(&t->loop, &t->opts, &t->srv, err, sizeof(err));
	if (rc < 0)
		fail_msg("http_server_new: %s", err);
	t->port = http_server_port(t->srv);
	assert_true(t->port > 0);
	uv_timer_init(&t->loop, &t->watchdog);
	t->watchdog.data = t;
	uv_timer_start(&t->watchdog, on_watchdog, WATCHDOG_MS, 0);
}

static void t_run(struct t *t)
{
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_false(t->expired);
	assert_true(t->srv_closed);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	metrics_free(t->m);
	for (int i = 0; i < t->nclients; i++) {
		free(t->clients[i]->buf);
		t->clients[i]->buf = NULL;
	}
}

/* One client, a script of chunks; returns it after the loop ends. */
static struct client *exchange(struct t *t, const struct http_server_opts *o, const struct chunk *chunks,
			       size_t n, int want)
{
	struct client *c = calloc(1, sizeof(*c));
	t_init(t, o);
	c->chunks = chunks;
	c->nchunks = n;
	c->want = want;
	client_start(t, c);
	t_run(t);
	return c;
}

#define CHUNKS(...) ((const struct chunk[]){__VA_ARGS__}), sizeof((const struct chunk[]){__VA_ARGS__}) / sizeof(struct chunk)

static bool has_header(const struct resp *r, const char *h)
{
	return strcasestr(r->head, h) != NULL;
}

/* ---- tests ---- */

static void test_routes(void **state)
{
	(void)state;
	struct t t;
	struct client *c = exchange(&t, NULL,
				    CHUNKS({"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"},
					   {"GET /healthz?v HTTP/1.1\r\nHost: x\r\n\r\n", 0, 1},
					   {"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", 0, 2},
					   {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 0, 3}),
				    4);
	assert_int_equal(c->nresp, 4);
	assert_int_equal(c->resp[0].status, 200);
	assert_true(has_header(&c->resp[0], "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(c->resp[0].body, "# TYPE torghut_test_scrapes_total counter\ntorghut_test_scrapes_total 1\n"));
	assert_false(has_header(&c->resp[0], "Connection: close"));
	assert_int_equal(c->resp[1].status, 200);
	assert_string_equal(c->resp[1].body, "ok\nGET /healthz 1.1\n");
	assert_int_equal(c->resp[2].status, 503);
	assert_true(has_header(&c->resp[2], "\r\nContent-Type: application/json\r\n"));
	assert_false(has_header(&c->resp[2], "X-Injected"));
	assert_string_equal(c->resp[2].body,
			    "{\"status\":\"not_ready\",\"ready\":false,\"error_class\":\"alpaca_406_second_connection\","
			    "\"gates\":{\"alpaca_ws\":false,\"kafka\":true,\"market_data_channels\":true,\"checkpoint\":true}}");
	assert_int_equal(c->resp[3].status, 404);
	assert_false(c->eof); /* the server kept the connection */
	assert_int_equal(t.stats.accepted, 1);
	assert_int_equal(t.stats.requests, 4);
	free(c);
}

static void test_methods(void **state)
{
	(void)state;
	struct t t;
	struct client *c = calloc(1, sizeof(*c));
	static const struct chunk ch[] = {
		{"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
		{"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0, 1},
		{"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0, 2},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0, 3},
	};
	t_init(&t, NULL);
	c->chunks = ch;
	c->nchunks = 4;
	c->want = 4;
	c->head_mask = 1u << 1;
	client_start(&t, c);
	t_run(&t);
	assert_int_equal(c->nresp, 4);
	assert_int_equal(c->resp[0].status, 405);
	assert_true(has_header(&c->resp[0], "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(c->resp[1].status, 200);
	assert_int_equal(c->resp[1].body_len, 3); /* Content-Length of the GET body, none sent */
	assert_int_equal(c->resp[2].status, 405);
	assert_int_equal(c->resp[3].status, 200);
	assert_string_equal(c->resp[3].body, "ok\n"); /* framing intact after HEAD */
	assert_int_equal(c->len, c->off);              /* no stray bytes */
	free(c->buf);
	free(c);
}

static void test_bad_request(void **state)
{
	(void)state;
	struct t t;
	struct client *c = exchange(&t, NULL, CHUNKS({"\x01\x02garbage \xff\r\n\r\n"}), 0);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->resp[0].status, 400);
	assert_true(has_header(&c->resp[0], "Connection: close"));
	assert_true(c->eof);
	assert_int_equal(t.stats.bad, 1);
	free(c);

	/* a bad request after a good one: the good answer, then 400 */
	c = exchange(&t, NULL, CHUNKS({"GET /healthz HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nBad Header\r\n\r\n"}), 0);
	assert_int_equal(c->nresp, 2);
	assert_int_equal(c->resp[0].status, 200);
	assert_int_equal(c->resp[1].status, 400);
	assert_true(c->eof);
	free(c);

	/* an absolute-form target is routed by its path; "*" is not a path */
	c = exchange(&t, NULL,
		     CHUNKS({"GET http://localhost:9090/healthz HTTP/1.1\r\n\r\n"}, {"GET * HTTP/1.1\r\n\r\n", 0, 1}), 0);
	assert_int_equal(c->nresp, 2);
	assert_int_equal(c->resp[0].status, 200);
	assert_int_equal(c->resp[1].status, 400);
	free(c);
}

/* The head limit is exact: max_head bytes pass, one more is 431. */
static void test_head_limit(void **state)
{
	(void)state;
	struct http_server_opts o = {.max_head = 1024};
	static char req[2][2048];
	for (int extra = 0; extra < 2; extra++) {
		const char *pre = "GET /healthz HTTP/1.1\r\nX-Pad: ";
		size_t fixed = strlen(pre) + 4; /* \r\n\r\n */
		size_t pad = 1024 - fixed + (size_t)extra;
		snprintf(req[extra], sizeof(req[extra]), "%s%.*s\r\n\r\n", pre, (int)pad,
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		assert_int_equal(strlen(req[extra]), 1024 + (size_t)extra);
	}
	struct t t;
	struct client *c = exchange(&t, &o, CHUNKS({req[0]}, {req[0], 0, 1}), 2);
	assert_int_equal(c->nresp, 2);
	assert_int_equal(c->resp[0].status, 200);
	assert_int_equal(c->resp[1].status, 200);
	free(c);
	c = exchange(&t, &o, CHUNKS({req[1]}), 0);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->resp[0].status, 431);
	assert_true(c->eof);
	free(c);

	/* default limit (8 KiB): a 64 KiB header in pieces */
	static char huge[65536 + 64];
	int n = snprintf(huge, sizeof(huge), "GET /healthz HTTP/1.1\r\nX-Huge: ");
	memset(huge + n, 'y', 65536);
	memcpy(huge + n + 65536, "\r\n\r\n", 5);
	c = exchange(&t, NULL, CHUNKS({huge, 5000}, {huge + 5000, 5000, 0, 20}, {huge + 10000, 0, 0, 20}), 0);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->resp[0].status, 431);
	assert_true(c->eof);
	assert_true(c->read_err == 0);
	free(c);

	/* a body larger than the limit: 413 */
	static char body_req[20000];
	n = snprintf(body_req, sizeof(body_req), "GET /healthz HTTP/1.1\r\nContent-Length: 10000\r\n\r\n");
	memset(body_req + n, 'b', 10000);
	body_req[n + 10000] = '\0';
	c = exchange(&t, NULL, CHUNKS({body_req}), 0);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->resp[0].status, 413);
	free(c);
}

static void test_keepalive_and_close(void **state)
{
	(void)state;
	struct t t;
	/* two requests, one after the other's answer, on one connection; then
	 * Connection: close ends it from the server side */
	struct client *c = exchange(&t, NULL,
				    CHUNKS({"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
					   {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, 1, 30},
					   {"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 0, 2}),
				    0);
	assert_int_equal(c->nresp, 3);
	assert_int_equal(c->resp[0].status, 200);
	assert_int_equal(c->resp[1].status, 200);
	assert_int_equal(c->resp[2].status, 200);
	assert_true(has_header(&c->resp[2], "Connection: close"));
	assert_true(c->eof);
	assert_int_equal(t.stats.accepted, 1);
	free(c);

	/* HTTP/1.0: closes by default, keeps the connection on request */
	c = exchange(&t, NULL, CHUNKS({"GET /healthz HTTP/1.0\r\n\r\n"}), 0);
	assert_int_equal(c->nresp, 1);
	assert_true(c->eof);
	free(c);
	c = exchange(&t, NULL,
		     CHUNKS({"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
			    {"GET /healthz HTTP/1.0\r\n\r\n", 0, 1}),
		     0);
	assert_int_equal(c->nresp, 2);
	assert_true(has_header(&c->resp[0], "Connection: keep-alive"));
	assert_true(has_header(&c->resp[1], "Connection: close"));
	assert_true(c->eof);
	free(c);
}

static void test_pipelining(void **state)
{
	(void)state;
	struct t t;
	struct client *c = exchange(&t, NULL,
				    CHUNKS({"GET /healthz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
					    "GET /metrics HTTP/1.1\r\n\r\nGET /healthz?v HTTP/1.1\r\n\r\n"}),
				    4);
	assert_int_equal(c->nresp, 4);
	assert_string_equal(c->resp[0].body, "ok\n");
	assert_int_equal(c->resp[1].status, 404);
	assert_int_equal(c->resp[2].status, 200);
	assert_non_null(strstr(c->resp[2].body, "torghut_test_scrapes_total"));
	assert_string_equal(c->resp[3].body, "ok\nGET /healthz 1.1\n");
	free(c);

	/* 12 x 512 KiB pipelined: more than the write-queue limit, so the
	 * server stalls and resumes; order and bytes intact */
	static char many[12 * 32];
	many[0] = '\0';
	for (int i = 0; i < 12; i++)
		strcat(many, "GET /big HTTP/1.1\r\n\r\n");
	c = exchange(&t, NULL, CHUNKS({many}, {"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"}), 0);
	assert_int_equal(c->nresp, 13);
	for (int i = 0; i < 12; i++)
		assert_int_equal(c->resp[i].body_len, BIG_LEN);
	assert_true(c->big_ok);
	assert_string_equal(c->resp[12].body, "ok\n");
	assert_true(c->eof);
	free(c);
}

/* A request split across reads, byte by byte at the start. */
static void test_split_reads(void **state)
{
	(void)state;
	struct t t;
	struct client *c = exchange(&t, NULL,
				    CHUNKS({"G", 0, 0, 5}, {"E", 0, 0, 5}, {"T /hea", 0, 0, 5},
					   {"lthz HTTP/1.1\r\nHo", 0, 0, 5}, {"st: x\r\n\r", 0, 0, 5}, {"\n", 0, 0, 5}),
				    1);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->resp[0].status, 200);
	free(c);
}

static void test_client_leaves(void **state)
{
	(void)state;
	struct t t;
	struct client *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	t_init(&t, NULL);
	static const struct chunk ca[] = {{"GET /metr"}};
	static const struct chunk cb[] = {{"GET /healthz HTTP/1.1\r\n\r\n", 0, 0, 50}};
	/* a: half a request, then gone */
	a->chunks = ca;
	a->nchunks = 1;
	a->abort_after_send = true;
	/* b: a request with a half-close: answered, then closed by the server */
	b->chunks = cb;
	b->nchunks = 1;
	b->half_close = true;
	client_start(&t, a);
	client_start(&t, b);
	t_run(&t);
	assert_int_equal(a->nresp, 0);
	assert_int_equal(b->nresp, 1);
	assert_int_equal(b->resp[0].status, 200);
	assert_true(b->eof);
	assert_int_equal(t.stats.accepted, 2);
	assert_int_equal(t.stats.conns, 0);
	free(a);
	free(b);
}

static void test_limits_and_idle(void **state)
{
	(void)state;
	struct t t;
	struct http_server_opts o = {.max_conns = 1, .idle_timeout_ms = 150};
	struct client *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	t_init(&t, &o);
	/* a holds the only slot and says nothing: the idle timeout closes it;
	 * b arrives meanwhile and gets 503 */
	b->connect_delay_ms = 30;
	client_start(&t, a);
	client_start(&t, b);
	t_run(&t);
	assert_int_equal(b->nresp, 1);
	assert_int_equal(b->resp[0].status, 503);
	assert_true(b->eof);
	assert_int_equal(a->nresp, 0);
	assert_true(a->eof);
	assert_int_equal(t.stats.refused, 1);
	assert_int_equal(t.stats.timeouts, 1);
	assert_int_equal(t.stats.conns, 0);
	free(a);
	free(b);
}

static void test_listen_addresses(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct http_server *s;
	char err[256];
	struct http_server_opts o = {.routes = routes, .nroutes = 4};
	const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "host.example:80", "[::1]80", ":x"};

	assert_int_equal(uv_loop_init(&loop), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.listen = bad[i];
		err[0] = '\0';
		assert_int_equal(http_server_new(&loop, &o, &s, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "http.listen"));
	}
	o.listen = "[::1]:0";
	if (http_server_new(&loop, &o, &s, err, sizeof(err)) == 0) { /* IPv6 may be off */
		assert_true(http_server_port(s) > 0);
		http_server_close(s, NULL, NULL);
	}
	/* a port in use: the error, and the handle still closes cleanly */
	struct http_server *s1;
	o.listen = "127.0.0.1:0";
	assert_int_equal(http_server_new(&loop, &o, &s1, err, sizeof(err)), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", http_server_port(s1));
	o.listen = addr;
	assert_true(http_server_new(&loop, &o, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "address already in use"));
	http_server_close(s1, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Mutated requests (flipped, inserted and dropped bytes, truncation) with a
 * half-close: whatever the server answers, it must not crash, must end
 * every connection, and must frame what it sends. */
static void test_mutations(void **state)
{
	(void)state;
	static const char base[] = "GET /healthz?x=1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
				   "Connection: keep-alive\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
				   "GET /metrics HTTP/1.1\r\n\r\n";
	uint64_t seed = 12345;
	int answered = 0;
	for (int round = 0; round < 150; round++) {
		char buf[512];
		size_t n = sizeof(base) - 1;
		memcpy(buf, base, n);
		int edits = 1 + round % 6;
		for (int e = 0; e < edits; e++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			uint64_t r = seed >> 20;
			if (n == 0)
				break;
			size_t pos = (size_t)(r % n);
			switch ((r >> 16) % 4) {
			case 0:
				buf[pos] = (char)(r >> 24);
				break;
			case 1:
				if (n < sizeof(buf) - 1) {
					memmove(buf + pos + 1, buf + pos, n - pos);
					buf[pos] = "\r\n :\0\x80"[(r >> 24) % 6];
					n++;
				}
				break;
			case 2:
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
				break;
			default:
				n = pos + 1;
				break;
			}
		}
		if (n == 0) /* an empty chunk means strlen() to the harness */
			continue;
		struct t t;
		struct client *c = calloc(1, sizeof(*c));
		struct chunk ch = {buf, n, 0, 0};
		t_init(&t, NULL);
		c->chunks = &ch;
		c->nchunks = 1;
		c->half_close = true;
		client_start(&t, c);
		t_run(&t);
		if (!c->eof && c->read_err == 0)
			fail_msg("round %d: connection not ended by the server", round);
		for (int i = 0; i < c->nresp; i++)
			assert_true(c->resp[i].status >= 200 && c->resp[i].status < 600);
		answered += c->nresp;
		free(c);
	}
	assert_true(answered > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_bad_request),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_keepalive_and_close),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_split_reads),
		cmocka_unit_test(test_client_leaves),
		cmocka_unit_test(test_limits_and_idle),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
