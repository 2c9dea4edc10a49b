/* test_curlm.c - curl multi on a uv loop against a tiny loopback HTTP server
 * in the same loop: concurrent transfers, a refused connection, remove, and
 * close with a transfer in flight (every uv handle closed afterwards). */
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

static void test_refused(void **state)
{
	struct fx *fx = *state;
	/* A port nobody listens on: bind, read it, close. */
	uv_tcp_t t;
	uv_tcp_init(&fx->loop, &t);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &sl);
	int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	uv_close((uv_handle_t *)&t, NULL);
	add(fx, easy_to(fx, port, 0));
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

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
