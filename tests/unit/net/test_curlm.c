/* test_curlm.c - curl multi on a uv loop against a tiny loopback HTTP server
 * in the same loop: concurrent transfers, a refused connection, remove, and
 * close with a transfer in flight (every uv handle closed afterwards); and
 * curlreq on top: options and headers sent, the answer's body and its limit,
 * a retry, cancellation and release on close, the backoff's range. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <cmocka.h>

#include "net/curlm.h"
#include "net/curlreq.h"

struct conn {
	uv_tcp_t tcp;
	struct fx *fx;
	char req[4096];
	size_t len;
	uv_write_t wr;
};

struct fx {
	uv_loop_t loop;
	uv_tcp_t server;
	int port;
	bool answer;            /* false: accept and stay silent */
	struct curlm *m;
	int done, closed, in_add;
	CURLcode results[8];
	long status[8];
	char body[8][16];
	size_t body_len[8];
	struct conn *silent;
	char last_req[4096];    /* the last request the server answered */
};

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

static void conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)sz;
	struct conn *c = h->data;
	*b = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - c->len - 1));
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	uv_close((uv_handle_t *)w->data, conn_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	struct conn *c = s->data;
	if (n < 0) {
		uv_close((uv_handle_t *)s, conn_closed);
		if (c->fx->silent == c)
			c->fx->silent = NULL;
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (!strstr(c->req, "\r\n\r\n") || !c->fx->answer)
		return;
	uv_read_stop(s);
	memcpy(c->fx->last_req, c->req, c->len + 1);
	uv_buf_t out = uv_buf_init((char *)reply, sizeof(reply) - 1);
	c->wr.data = s;
	uv_write(&c->wr, s, &out, 1, on_written);
}

static void on_conn(uv_stream_t *srv, int status)
{
	assert_int_equal(status, 0);
	struct fx *fx = srv->data;
	struct conn *c = calloc(1, sizeof(*c));
	c->fx = fx;
	uv_tcp_init(&fx->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	if (!fx->answer)
		fx->silent = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	uv_tcp_init(&fx->loop, &fx->server);
	fx->server.data = fx;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&fx->server, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&fx->server, 16, on_conn), 0);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	uv_tcp_getsockname(&fx->server, (struct sockaddr *)&ss, &sl);
	fx->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	fx->answer = true;
	assert_int_equal(curlm_new(&fx->loop, &fx->m), 0);
	*state = fx;
	return 0;
}

static void on_closed(void *arg)
{
	((struct fx *)arg)->closed++;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	if (fx->m) {
		curlm_close(fx->m, on_closed, fx);
		assert_int_equal(fx->closed, 0);        /* never from inside close */
	}
	if (fx->silent)
		uv_close((uv_handle_t *)&fx->silent->tcp, conn_closed);
	uv_close((uv_handle_t *)&fx->server, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	if (fx->m)
		assert_int_equal(fx->closed, 1);
	assert_int_equal(uv_loop_close(&fx->loop), 0);  /* every handle closed */
	free(fx);
	return 0;
}

struct xfer {
	struct fx *fx;
	int i;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct fx *fx = x->fx;
	size_t len = sz * n;
	if (fx->body_len[x->i] + len < sizeof(fx->body[0])) {
		memcpy(fx->body[x->i] + fx->body_len[x->i], p, len);
		fx->body_len[x->i] += len;
	}
	return len;
}

static void on_done(CURL *easy, CURLcode rc, void *arg)
{
	struct xfer *x = arg;
	struct fx *fx = x->fx;
	assert_int_equal(fx->in_add, 0);
	fx->results[x->i] = rc;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &fx->status[x->i]);
	fx->done++;
	curl_easy_cleanup(easy);
	free(x);
}

static CURL *easy_to(struct fx *fx, int port, int i)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	CURL *e = curl_easy_init();
	struct xfer *x = calloc(1, sizeof(*x));
	x->fx = fx;
	x->i = i;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	return e;
}

static void add(struct fx *fx, CURL *e)
{
	void *x;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	fx->in_add++;
	assert_int_equal(curlm_add(fx->m, e, on_done, x), 0);
	fx->in_add--;
}

/* The listener keeps the loop alive: run until n transfers are done. */
static void run_until(struct fx *fx, int n)
{
	uint64_t end = uv_hrtime() + 10000000000ull;
	while (fx->done < n && uv_hrtime() < end)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->done, n);
}

static void test_concurrent(void **state)
{
	struct fx *fx = *state;
	for (int i = 0; i < 3; i++)
		add(fx, easy_to(fx, fx->port, i));
	assert_int_equal(fx->done, 0);
	run_until(fx, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fx->results[i], CURLE_OK);
		assert_int_equal(fx->status[i], 200);
		assert_int_equal(fx->body_len[i], 5);
		assert_memory_equal(fx->body[i], "hello", 5);
	}
	/* A second round on the same multi. */
	add(fx, easy_to(fx, fx->port, 3));
	run_until(fx, 4);
	assert_int_equal(fx->status[3], 200);
}

static void tcp_closed(uv_handle_t *h)
{
	*(bool *)h->data = true;
}

/* A port nobody listens on: bind, read it, close. */
static int refused_port(struct fx *fx)
{
	uv_tcp_t t;
	bool closed = false;
	uv_tcp_init(&fx->loop, &t);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &sl);
	t.data = &closed;
	uv_close((uv_handle_t *)&t, tcp_closed);
	while (!closed)         /* t is on this stack */
		uv_run(&fx->loop, UV_RUN_ONCE);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void test_refused(void **state)
{
	struct fx *fx = *state;
	add(fx, easy_to(fx, refused_port(fx), 0));
	run_until(fx, 1);
	assert_int_equal(fx->results[0], CURLE_COULDNT_CONNECT);
}

static void test_remove(void **state)
{
	struct fx *fx = *state;
	CURL *e = easy_to(fx, fx->port, 0);
	add(fx, e);
	assert_int_equal(curlm_add(fx->m, e, on_done, NULL), -EEXIST);
	assert_int_equal(curlm_remove(fx->m, e), 0);
	assert_int_equal(curlm_remove(fx->m, e), -ENOENT);
	void *x;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	free(x);
	curl_easy_cleanup(e);
	for (int i = 0; i < 20; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->done, 0);
}

static void test_close_in_flight(void **state)
{
	struct fx *fx = *state;
	fx->answer = false;
	add(fx, easy_to(fx, fx->port, 0));
	/* Run until the server holds the connection, then close. */
	while (!fx->silent)
		uv_run(&fx->loop, UV_RUN_ONCE);
	curlm_close(fx->m, on_closed, fx);
	assert_int_equal(fx->done, 1);
	assert_int_equal(fx->results[0], CURLE_ABORTED_BY_CALLBACK);
	CURL *late = easy_to(fx, fx->port, 1);
	void *x;
	curl_easy_getinfo(late, CURLINFO_PRIVATE, (char **)&x);
	assert_int_equal(curlm_add(fx->m, late, on_done, x), -ECANCELED);
	free(x);
	curl_easy_cleanup(late);
	fx->m = NULL;
	uv_close((uv_handle_t *)&fx->silent->tcp, conn_closed);
	fx->silent = NULL;
	uint64_t end = uv_hrtime() + 10000000000ull;
	while (!fx->closed && uv_hrtime() < end)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->closed, 1);
}

/* ---- curlreq ---- */

struct rq {
	struct curlreq http;
	struct fx *fx;
	int done, again, cancels, released;
	long retry_ms; /* 0: 1 ms */
	int retries;            /* done: curlreq_retry this many times */
	CURLcode cc;
	long status;
	char body[16];
	size_t len;
	bool too_big;
};

struct client {
	struct curlreq_pool pool;
	int released, closed;
};

static void rq_done(void *owner, CURLcode cc)
{
	struct rq *q = owner;
	q->done++;
	q->cc = cc;
	curl_easy_getinfo(q->http.easy, CURLINFO_RESPONSE_CODE, &q->status);
	q->len = q->http.len;
	if (q->http.len < sizeof(q->body))
		memcpy(q->body, q->http.body ? q->http.body : "", q->http.len + 1);
	q->too_big = q->http.too_big;
	if (q->retries-- > 0)
		curlreq_retry(&q->http, q->retry_ms ? q->retry_ms : 1);
	else
		curlreq_end(&q->http);
}

static void rq_again(void *owner)
{
	struct rq *q = owner;
	q->again++;
	assert_int_equal(curlreq_start(&q->http), 0);
}

static void rq_cancel(void *owner)
{
	struct rq *q = owner;
	q->cancels++;
	curlreq_end(&q->http);
}

static void rq_release(void *owner)
{
	((struct rq *)owner)->released++;
}

static void client_release(void *arg)
{
	((struct client *)arg)->released++;
}

static void client_closed(void *arg)
{
	struct client *c = arg;
	assert_int_equal(c->released, 1);       /* the client first, then the caller */
	c->closed++;
}

static const struct curlreq_ops rq_ops = {
	.done = rq_done, .again = rq_again, .cancel = rq_cancel, .release = rq_release,
	.release_client = client_release,
};

static int setup_req(void **state)
{
	setup(state);
	struct fx *fx = *state;
	curlm_close(fx->m, NULL, NULL); /* the pools below bring their own */
	fx->m = NULL;
	return 0;
}

static void pool_new(struct fx *fx, struct client *c)
{
	const struct curlreq_opts o = { .timeout_ms = 5000, .connect_timeout_ms = 2000,
					.user = "u", .password = "p", .body_max = 64 };
	memset(c, 0, sizeof(*c));
	assert_int_equal(curlreq_pool_init(&c->pool, &fx->loop, &rq_ops, c, &o), 0);
}

static void rq_init(struct fx *fx, struct client *c, struct rq *q, int port, size_t ok_max)
{
	memset(q, 0, sizeof(*q));
	q->fx = fx;
	assert_int_equal(curlreq_init(&q->http, &c->pool, q, ok_max), 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	curl_easy_setopt(q->http.easy, CURLOPT_URL, url);
}

static void run_while(struct fx *fx, const int *a, int below)
{
	uint64_t end = uv_hrtime() + 10000000000ull;
	while (*a < below && uv_hrtime() < end)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(*a, below);
}

static void test_req_answer(void **state)
{
	struct fx *fx = *state;
	struct client c;
	struct rq a, b;
	pool_new(fx, &c);
	rq_init(fx, &c, &a, fx->port, 64);
	assert_int_equal(curlreq_header(&a.http, "X-Test: 1"), 0);
	a.retries = 1;          /* the body of the second attempt only */
	rq_init(fx, &c, &b, fx->port, 3);
	assert_int_equal(curlreq_start(&a.http), 0);
	assert_int_equal(curlreq_start(&b.http), 0);
	run_while(fx, &a.done, 2);
	run_while(fx, &b.done, 1);
	assert_int_equal(a.cc, CURLE_OK);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.again, 1);
	assert_int_equal(a.http.attempts, 2);
	assert_int_equal(a.len, 5);
	assert_string_equal(a.body, "hello");
	assert_false(a.too_big);
	/* 5 bytes where 3 are accepted: the transfer fails, marked too big. */
	assert_int_equal(b.cc, CURLE_WRITE_ERROR);
	assert_true(b.too_big);
	assert_false(curlreq_transient(b.cc));
	/* The pool's options and the request's header went out. */
	assert_non_null(strstr(fx->last_req, "User-Agent: torghut/"));
	assert_non_null(strstr(fx->last_req, "Authorization: Basic dTpw"));     /* u:p */
	run_while(fx, &a.released, 1);
	run_while(fx, &b.released, 1);
	assert_null(c.pool.reqs);
	curlreq_pool_close(&c.pool, client_closed, &c);
	assert_int_equal(c.closed, 0);
	run_while(fx, &c.closed, 1);
	assert_int_equal(c.released, 1);
}

static void test_req_header(void **state)
{
	struct fx *fx = *state;
	struct client c;
	struct rq a;
	pool_new(fx, &c);
	rq_init(fx, &c, &a, fx->port, 64);
	assert_int_equal(curlreq_header(&a.http, "X-Test: 1"), 0);
	assert_int_equal(curlreq_header(&a.http, "Accept:"), 0);       /* drops curl's */
	curlreq_method(&a.http, "PUT", "abc", 3);
	assert_int_equal(curlreq_start(&a.http), 0);
	run_while(fx, &a.done, 1);
	assert_int_equal(a.status, 200);
	assert_memory_equal(fx->last_req, "PUT /x HTTP/1.1\r\n", 17);
	assert_non_null(strstr(fx->last_req, "X-Test: 1\r\n"));
	assert_null(strstr(fx->last_req, "Accept:"));
	assert_non_null(strstr(fx->last_req, "Content-Length: 3\r\n"));
	curlreq_pool_close(&c.pool, client_closed, &c);
	run_while(fx, &c.closed, 1);
	assert_int_equal(a.released, 1);
}

static void test_req_close(void **state)
{
	struct fx *fx = *state;
	struct client c;
	struct rq waiting, flying, late;
	pool_new(fx, &c);
	rq_init(fx, &c, &waiting, refused_port(fx), 64);
	waiting.retries = 1;
	waiting.retry_ms = 60000; /* must not fire before the close, however slow the machine */
	rq_init(fx, &c, &flying, fx->port, 64);
	fx->answer = false;
	assert_int_equal(curlreq_start(&waiting.http), 0);
	assert_int_equal(curlreq_start(&flying.http), 0);
	run_while(fx, &waiting.done, 1);
	assert_int_equal(waiting.cc, CURLE_COULDNT_CONNECT);
	assert_true(curlreq_transient(waiting.cc));
	while (!fx->silent)
		uv_run(&fx->loop, UV_RUN_ONCE);
	/* One waits for its retry (60 s: it must not fire), one is in flight:
	 * both cancelled from inside the close. */
	curlreq_pool_close(&c.pool, client_closed, &c);
	assert_int_equal(waiting.cancels, 1);
	assert_int_equal(flying.cancels, 1);
	assert_int_equal(flying.done, 0);
	/* Ended: released from the loop, never from inside curlreq_end. */
	assert_int_equal(waiting.released + flying.released, 0);
	assert_int_equal(curlreq_init(&late.http, &c.pool, &late, 64), -ECANCELED);
	run_while(fx, &c.closed, 1);
	assert_int_equal(waiting.again, 0);
	assert_int_equal(waiting.released + flying.released, 2);
	assert_int_equal(c.released, 1);
}

static void test_backoff(void **state)
{
	(void)state;
	for (int i = 0; i < 50; i++) {
		long d = curlreq_backoff_ms(100, 1000, 1);
		assert_true(d >= 75 && d <= 125);
		d = curlreq_backoff_ms(100, 1000, 3);           /* 400 */
		assert_true(d >= 300 && d <= 500);
		d = curlreq_backoff_ms(100, 1000, 30);          /* capped */
		assert_true(d >= 750 && d <= 1250);
	}
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_answer, setup_req, teardown),
		cmocka_unit_test_setup_teardown(test_req_header, setup_req, teardown),
		cmocka_unit_test_setup_teardown(test_req_close, setup_req, teardown),
		cmocka_unit_test(test_backoff),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
