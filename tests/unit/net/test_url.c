/* test_url.c - ws/wss URL splitting. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/url.h"

static void test_wss_default_port(void **state)
{
	struct url u;
	assert_int_equal(url_parse("wss://stream.data.alpaca.markets/v2/iex", &u), 0);
	assert_true(u.secure);
	assert_string_equal(u.host, "stream.data.alpaca.markets");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.host_header, "stream.data.alpaca.markets");
	assert_string_equal(u.path, "/v2/iex");
}

static void test_ws_port_query_and_empty_path(void **state)
{
	struct url u;
	assert_int_equal(url_parse("ws://127.0.0.1:8080/v2/test?x=1&y=2", &u), 0);
	assert_false(u.secure);
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.host_header, "127.0.0.1:8080");
	assert_string_equal(u.path, "/v2/test?x=1&y=2");

	assert_int_equal(url_parse("WS://localhost", &u), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");

	assert_int_equal(url_parse("ws://localhost?q=1", &u), 0);
	assert_string_equal(u.path, "/?q=1");
}

static void test_ipv6_literal(void **state)
{
	struct url u;
	assert_int_equal(url_parse("wss://[::1]:9443/x", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 9443);
	assert_string_equal(u.host_header, "[::1]:9443");
}

static void test_rejects(void **state)
{
	struct url u;
	assert_int_equal(url_parse("https://example.com/", &u), -EPROTONOSUPPORT);
	assert_int_equal(url_parse("wss://user:pw@example.com/", &u), -EINVAL);
	assert_int_equal(url_parse("wss://example.com/#frag", &u), -EINVAL);
	assert_int_equal(url_parse("not a url", &u), -EINVAL);
	assert_int_equal(url_parse("wss:///path", &u), -EINVAL);
	assert_int_equal(url_parse("ws://h:0/", &u), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wss_default_port),
		cmocka_unit_test(test_ws_port_query_and_empty_path),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
