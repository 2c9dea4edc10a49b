/* test_ws_handshake.c - the HTTP upgrade, both roles, from scripted bytes. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/ws_handshake.h"
#include "ws_shim.h"

/* RFC 6455 section 1.3 example. */
static void test_accept_rfc_example(void **state)
{
	char out[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	assert_int_equal(ws_handshake_accept_for(key, strlen(key), out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_handshake_accept_for("", 0, out), -EINVAL);
}

static void test_key_is_base64_of_16(void **state)
{
	struct shim s = {0};
	char key[WS_KEY_LEN + 1];
	assert_int_equal(ws_handshake_make_key(key, shim_rng, &s), 0);
	assert_int_equal(strlen(key), 24);
	assert_string_equal(key + 22, "==");
	char key2[WS_KEY_LEN + 1];
	assert_int_equal(ws_handshake_make_key(key2, shim_rng, &s), 0);
	assert_string_not_equal(key, key2); /* fresh per request */
}

static struct ws_handshake *client_with_request(struct shim *s, char *key_out)
{
	struct ws_handshake *hs;
	assert_int_equal(ws_handshake_new(&hs, false), 0);
	const struct ws_header extra[] = {{"APCA-API-KEY-ID", "AK123"}, {"APCA-API-SECRET-KEY", "sec"}};
	const char *buf;
	size_t len;
	assert_int_equal(ws_handshake_request(hs, "stream.example:8443", "/v2/iex?x=1", extra, 2,
	                                      shim_rng, s, &buf, &len),
	                 0);
	assert_int_equal(strlen(buf), len);
	assert_memory_equal(buf, "GET /v2/iex?x=1 HTTP/1.1\r\n", 26);
	assert_non_null(strstr(buf, "\r\nHost: stream.example:8443\r\n"));
	assert_non_null(strstr(buf, "\r\nUpgrade: websocket\r\n"));
	assert_non_null(strstr(buf, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(buf, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(buf, "\r\nAPCA-API-KEY-ID: AK123\r\n"));
	assert_non_null(strstr(buf, "\r\nAPCA-API-SECRET-KEY: sec\r\n"));
	assert_null(strstr(buf, "Extensions")); /* no permessage-deflate offered */
	assert_string_equal(buf + len - 4, "\r\n\r\n");
	const char *k = strstr(buf, "Sec-WebSocket-Key: ");
	assert_non_null(k);
	memcpy(key_out, k + 19, WS_KEY_LEN);
	key_out[WS_KEY_LEN] = '\0';
	return hs;
}

static void test_request_rejects_header_injection(void **state)
{
	struct shim s = {0};
	struct ws_handshake *hs;
	assert_int_equal(ws_handshake_new(&hs, false), 0);
	const struct ws_header evil[] = {{"X", "a\r\nInjected: 1"}};
	const char *buf;
	size_t len;
	assert_int_equal(ws_handshake_request(hs, "h", "/", evil, 1, shim_rng, &s, &buf, &len), -EINVAL);
	assert_int_equal(ws_handshake_request(hs, "h", "no-slash", NULL, 0, shim_rng, &s, &buf, &len),
	                 -EINVAL);
	ws_handshake_free(hs);
}

/* Feeds text in chunks of `step` bytes (0 = all at once); returns the total
 * consumed and asserts the head completes exactly at its end. */
static int feed(struct ws_handshake *hs, const char *text, size_t step, bool *done)
{
	size_t len = strlen(text), off = 0;
	int total = 0;
	*done = false;
	while (off < len && !*done) {
		size_t n = step && step < len - off ? step : len - off;
		int r = ws_handshake_feed(hs, (const uint8_t *)text + off, n, done);
		if (r < 0)
			return r;
		total += r;
		off += n;
	}
	return total;
}

static void check_good_response(size_t step)
{
	struct shim s = {0};
	char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1], resp[512];
	struct ws_handshake *hs = client_with_request(&s, key);
	assert_int_equal(ws_handshake_accept_for(key, strlen(key), accept), 0);
	int head = snprintf(resp, sizeof(resp),
	                    "HTTP/1.1 101 Switching Protocols\r\n"
	                    "upgrade: WebSocket\r\n"
	                    "Connection: keep-alive, Upgrade\r\n"
	                    "Sec-WebSocket-Accept: %s  \r\n"
	                    "\r\n",
	                    accept);
	strcat(resp, "\x81\x02hi"); /* a frame right behind the head */
	bool done;
	int n = feed(hs, resp, step, &done);
	assert_true(done);
	assert_int_equal(n, head); /* the frame is left for the session */
	assert_int_equal(ws_handshake_check_response(hs), 0);
	assert_int_equal(ws_handshake_status(hs), 101);
	assert_string_equal(ws_handshake_header(hs, "SEC-WEBSOCKET-ACCEPT"), accept);
	ws_handshake_free(hs);
}

static void test_response_ok_whole(void **state)
{
	check_good_response(0);
}

static void test_response_ok_byte_by_byte(void **state)
{
	check_good_response(1);
}

static void test_response_bad_accept(void **state)
{
	struct shim s = {0};
	char key[WS_KEY_LEN + 1];
	struct ws_handshake *hs = client_with_request(&s, key);
	bool done;
	assert_true(feed(hs,
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
	                 0, &done) > 0);
	assert_true(done);
	assert_int_equal(ws_handshake_check_response(hs), -EPROTO);
	assert_non_null(strstr(ws_handshake_error_text(hs), "Sec-WebSocket-Accept"));
	ws_handshake_free(hs);
}

static void test_response_429(void **state)
{
	struct shim s = {0};
	char key[WS_KEY_LEN + 1];
	struct ws_handshake *hs = client_with_request(&s, key);
	bool done;
	assert_true(feed(hs,
	                 "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: 25\r\n\r\nconnection limit exceeded",
	                 3, &done) > 0);
	assert_true(done);
	assert_int_equal(ws_handshake_check_response(hs), -ECONNREFUSED);
	assert_int_equal(ws_handshake_status(hs), 429);
	ws_handshake_free(hs);
}

static void test_response_101_without_upgrade_or_with_extension(void **state)
{
	struct shim s = {0};
	char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1], resp[512];
	bool done;

	struct ws_handshake *hs = client_with_request(&s, key);
	ws_handshake_accept_for(key, strlen(key), accept);
	snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	         accept);
	assert_true(feed(hs, resp, 0, &done) > 0 && done);
	assert_int_equal(ws_handshake_check_response(hs), -EPROTO);
	ws_handshake_free(hs);

	hs = client_with_request(&s, key);
	ws_handshake_accept_for(key, strlen(key), accept);
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	         "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	         accept);
	assert_true(feed(hs, resp, 0, &done) > 0 && done);
	assert_int_equal(ws_handshake_check_response(hs), -EPROTO);
	ws_handshake_free(hs);
}

static void test_response_garbage_and_too_long(void **state)
{
	struct ws_handshake *hs;
	bool done;
	assert_int_equal(ws_handshake_new(&hs, false), 0);
	assert_int_equal(feed(hs, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0, &done), -EPROTO);
	ws_handshake_free(hs);

	assert_int_equal(ws_handshake_new(&hs, false), 0);
	static char big[WS_HANDSHAKE_HEAD_MAX + 100];
	strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + strlen(big), 'a', sizeof(big) - strlen(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed(hs, big, 1000, &done), -EMSGSIZE);
	ws_handshake_free(hs);
}

static const char good_request[] = "GET /v2/test?feed=iex HTTP/1.1\r\n"
                                   "Host: localhost:1234\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "APCA-API-KEY-ID: AK\r\n"
                                   "Empty:\r\n"
                                   "\r\n";

static void check_server_request(size_t step)
{
	struct ws_handshake *hs;
	assert_int_equal(ws_handshake_new(&hs, true), 0);
	bool done;
	assert_int_equal(feed(hs, good_request, step, &done), (int)strlen(good_request));
	assert_true(done);
	assert_int_equal(ws_handshake_check_request(hs), 0);
	assert_string_equal(ws_handshake_method(hs), "GET");
	assert_string_equal(ws_handshake_target(hs), "/v2/test?feed=iex");
	assert_string_equal(ws_handshake_header(hs, "apca-api-key-id"), "AK");
	assert_string_equal(ws_handshake_header(hs, "Empty"), "");
	assert_null(ws_handshake_header(hs, "Missing"));
	assert_int_equal(ws_handshake_header_count(hs), 7);
	const char *name, *value;
	assert_int_equal(ws_handshake_header_at(hs, 0, &name, &value), 0);
	assert_string_equal(name, "Host");
	assert_string_equal(value, "localhost:1234");
	assert_int_equal(ws_handshake_header_at(hs, 7, &name, &value), -ERANGE);

	const char *buf;
	size_t len;
	assert_int_equal(ws_handshake_response(hs, 101, NULL, 0, &buf, &len), 0);
	assert_string_equal(buf, "HTTP/1.1 101 Switching Protocols\r\n"
	                         "Upgrade: websocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                         "\r\n");
	assert_int_equal(ws_handshake_response(hs, 429, NULL, 0, &buf, &len), 0);
	assert_string_equal(buf, "HTTP/1.1 429 Too Many Requests\r\n"
	                         "Content-Type: text/plain\r\n"
	                         "Content-Length: 22\r\n"
	                         "Connection: close\r\n"
	                         "\r\n"
	                         "429 Too Many Requests\n");
	assert_int_equal(ws_handshake_response(hs, 200, NULL, 0, &buf, &len), -EINVAL);
	ws_handshake_free(hs);
}

static void test_server_request_whole(void **state)
{
	check_server_request(0);
}

static void test_server_request_byte_by_byte(void **state)
{
	check_server_request(1);
}

static int server_check(const char *req)
{
	struct ws_handshake *hs;
	assert_int_equal(ws_handshake_new(&hs, true), 0);
	bool done;
	int r = feed(hs, req, 0, &done);
	assert_true(r > 0 && done);
	int status = ws_handshake_check_request(hs);
	ws_handshake_free(hs);
	return status;
}

static void test_server_request_invalid(void **state)
{
	assert_int_equal(server_check("POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                              "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"),
	                 405);
	assert_int_equal(server_check("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 426);
	assert_int_equal(server_check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                              "Sec-WebSocket-Version: 8\r\n\r\n"),
	                 426);
	assert_int_equal(server_check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	                              "Connection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
	                              "Sec-WebSocket-Version: 13\r\n\r\n"),
	                 400);
	assert_int_equal(server_check("GET / HTTP/1.1\r\nUpgrade: websocket\r\n"
	                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                              "Sec-WebSocket-Version: 13\r\n\r\n"),
	                 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_rfc_example),
		cmocka_unit_test(test_key_is_base64_of_16),
		cmocka_unit_test(test_request_rejects_header_injection),
		cmocka_unit_test(test_response_ok_whole),
		cmocka_unit_test(test_response_ok_byte_by_byte),
		cmocka_unit_test(test_response_bad_accept),
		cmocka_unit_test(test_response_429),
		cmocka_unit_test(test_response_101_without_upgrade_or_with_extension),
		cmocka_unit_test(test_response_garbage_and_too_long),
		cmocka_unit_test(test_server_request_whole),
		cmocka_unit_test(test_server_request_byte_by_byte),
		cmocka_unit_test(test_server_request_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
