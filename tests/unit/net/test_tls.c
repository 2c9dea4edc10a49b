/* test_tls.c - loop test of the byte stream alone: a TLS (and a plain)
 * client pushes 4 MiB and closes at once; the server must receive every
 * byte and then an orderly end (close_notify for TLS, status 0), proving
 * tls_close() drains the write queue before close_notify and FIN. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "net/dial.h"
#include "net/tls.h"

#define PAYLOAD (4u << 20)

struct end {
	struct tls *t;
	int ready, ends, closes;
	int end_status;
	size_t got;
	bool corrupt;
};

struct fx {
	uv_loop_t loop;
	uv_tcp_t listener;
	struct tls_config *srv_cfg, *cli_cfg;
	struct dial *dial;
	struct end srv, cli;
	uint8_t *data;
	int dial_status;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 11));
}

static void srv_ready(void *user)
{
	((struct end *)user)->ready++;
}

static void srv_read(void *user, const uint8_t *buf, size_t len)
{
	struct end *e = user;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(e->got + i))
			e->corrupt = true;
	e->got += len;
}

static void any_end(void *user, int status)
{
	struct end *e = user;
	e->ends++;
	e->end_status = status;
	tls_close(e->t);
}

static void srv_closed(void *user)
{
	struct fx *f = (struct fx *)((char *)user - offsetof(struct fx, srv));
	f->srv.closes++;
	uv_close((uv_handle_t *)&f->listener, NULL);
}

static const struct tls_cbs srv_cbs = {srv_ready, srv_read, any_end, srv_closed};

static void cli_ready(void *user)
{
	struct fx *f = (struct fx *)((char *)user - offsetof(struct fx, cli));
	f->cli.ready++;
	assert_int_equal(tls_write(f->cli.t, f->data, PAYLOAD), 0);
	tls_close(f->cli.t); /* right away: the queue must still drain */
}

static void cli_read(void *user, const uint8_t *buf, size_t len)
{
}

static void cli_closed(void *user)
{
	((struct end *)user)->closes++;
}

static const struct tls_cbs cli_cbs = {cli_ready, cli_read, any_end, cli_closed};

static void on_connection(uv_stream_t *l, int status)
{
	struct fx *f = l->data;
	assert_int_equal(tls_new(&f->srv.t, &f->loop, f->srv_cfg, NULL, &srv_cbs, &f->srv), 0);
	assert_int_equal(uv_accept(l, (uv_stream_t *)tls_tcp(f->srv.t)), 0);
	assert_int_equal(tls_start(f->srv.t, 5000), 0);
}

static void dialed(void *user, int status)
{
	struct fx *f = user;
	f->dial_status = status;
	assert_int_equal(status, 0);
	assert_int_equal(tls_write(f->cli.t, (const uint8_t *)"x", 1), -ENOTCONN); /* not ready */
	assert_int_equal(tls_start(f->cli.t, 5000), 0);
}

static void run_transfer(struct fx *f)
{
	uv_loop_init(&f->loop);
	f->data = malloc(PAYLOAD);
	for (size_t i = 0; i < PAYLOAD; i++)
		f->data[i] = pattern(i);
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(&f->loop, &f->listener);
	f->listener.data = f;
	assert_int_equal(uv_tcp_bind(&f->listener, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 4, on_connection), 0);
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_tcp_getsockname(&f->listener, (struct sockaddr *)&ss, &len);
	uint16_t port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

	assert_int_equal(tls_new(&f->cli.t, &f->loop, f->cli_cfg, "localhost", &cli_cbs, &f->cli), 0);
	assert_int_equal(dial_start(&f->dial, &f->loop, tls_tcp(f->cli.t), "127.0.0.1", port, 5000,
	                            dialed, f),
	                 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);

	assert_int_equal(f->cli.ready, 1);
	assert_int_equal(f->srv.ready, 1);
	assert_int_equal(f->srv.got, PAYLOAD);
	assert_false(f->srv.corrupt);
	assert_int_equal(f->srv.ends, 1);
	assert_int_equal(f->srv.end_status, 0); /* close_notify (TLS) / EOF (plain), not UV_EOF */
	assert_int_equal(f->srv.closes, 1);
	assert_int_equal(f->cli.closes, 1);
	free(f->data);
	tls_config_free(f->srv_cfg);
	tls_config_free(f->cli_cfg);
}

static char *cert(char *buf, const char *name)
{
	const char *top = getenv("top_srcdir");
	sprintf(buf, "%s/tests/certs/%s", top ? top : ".", name);
	return buf;
}

static void test_tls_transfer_then_close_notify(void **state)
{
	struct fx f = {0};
	char a[1024], b[1024], err[256] = "";
	if (tls_config_new_server(&f.srv_cfg, cert(a, "server.crt"), cert(b, "server.key"), err,
	                          sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(tls_config_new_client(&f.cli_cfg, cert(a, "ca.crt"), err, sizeof(err)), 0);
	run_transfer(&f);
}

static void test_plain_transfer_then_eof(void **state)
{
	struct fx f = {0};
	assert_int_equal(tls_config_new_plain(&f.srv_cfg), 0);
	assert_int_equal(tls_config_new_plain(&f.cli_cfg), 0);
	run_transfer(&f);
}

static void test_client_needs_hostname(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct tls_config *c;
	char a[1024];
	assert_int_equal(tls_config_new_client(&c, cert(a, "ca.crt"), NULL, 0), 0);
	struct tls *t;
	assert_int_equal(tls_new(&t, &loop, c, NULL, &cli_cbs, NULL), -EINVAL);
	unsigned char r1[16], r2[16];
	assert_int_equal(tls_config_rng(c, r1, sizeof(r1)), 0);
	assert_int_equal(tls_config_rng(c, r2, sizeof(r2)), 0);
	assert_memory_not_equal(r1, r2, sizeof(r1));
	tls_config_free(c);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_transfer_then_close_notify),
		cmocka_unit_test(test_plain_transfer_then_eof),
		cmocka_unit_test(test_client_needs_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
