/* ws_handshake.h - the HTTP/1.1 upgrade that opens a WebSocket (RFC 6455
 * section 4), both roles, without I/O: bytes in, bytes out.
 *
 * The head is framed by its blank line and parsed with http-parser. Bytes
 * after the head already belong to the WebSocket stream: ws_handshake_feed()
 * reports how many it consumed so the caller passes the rest on.
 * No extension (permessage-deflate) and no subprotocol is offered or
 * accepted: wslay rejects RSV bits and we do not inflate. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24              /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28           /* base64 of a SHA-1 digest */
#define WS_HANDSHAKE_HEAD_MAX 16384 /* longest request/response head accepted */
#define WS_HANDSHAKE_HEADERS_MAX 64

/* One extra header to send. Names and values must not contain CR or LF. */
struct ws_header {
	const char *name;
	const char *value;
};

/* Randomness in the mbedTLS f_rng shape (tls_config_rng, rng_mbedtls, or a
 * test's deterministic source). Returns 0 on success. */
typedef int (*ws_rng_fn)(void *p_rng, unsigned char *buf, size_t len);

/* Sec-WebSocket-Key: base64 of 16 random bytes, NUL-terminated. 0 or -EIO. */
int ws_handshake_make_key(char out[WS_KEY_LEN + 1], ws_rng_fn rng, void *p_rng);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + WS_GUID)). 0 or -EINVAL. */
int ws_handshake_accept_for(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

struct ws_handshake;

/* server: parse a request and answer it; else send a request and check the
 * response. Returns 0 or -ENOMEM. */
int ws_handshake_new(struct ws_handshake **out, bool server);
void ws_handshake_free(struct ws_handshake *hs);

/* Client: builds the upgrade request with a fresh key (remembered to check
 * the answer). host is the Host value (ws_url's host_header), path the
 * request target. *buf stays valid until the next call or free. Returns 0,
 * -EINVAL (bad header text), -EIO (rng) or -ENOMEM. */
int ws_handshake_request(struct ws_handshake *hs, const char *host, const char *path,
                         const struct ws_header *hdrs, size_t n_hdrs, ws_rng_fn rng,
                         void *p_rng, const char **buf, size_t *len);

/* Feeds bytes from the peer. Returns how many belong to the HTTP head (all of
 * len until the head is complete; *done tells) or -EMSGSIZE (head longer
 * than WS_HANDSHAKE_HEAD_MAX or too many headers) or -EPROTO (not HTTP). */
int ws_handshake_feed(struct ws_handshake *hs, const uint8_t *data, size_t len, bool *done);

/* Client, once done: 0 if the upgrade succeeded (101, Upgrade/Connection,
 * the expected Accept, no extension or subprotocol); -ECONNREFUSED if the
 * status is not 101 (see ws_handshake_status()); -EPROTO otherwise. */
int ws_handshake_check_response(struct ws_handshake *hs);

/* Server, once done: 0 if the request is a valid WebSocket upgrade, else the
 * HTTP status to answer with (400, 405, 426). */
int ws_handshake_check_request(struct ws_handshake *hs);

/* Server: builds the answer. status 101 accepts (needs a valid request);
 * any other status in 400..599 refuses with a short text body and
 * "Connection: close" (426 also names the supported version). hdrs are added
 * to either. *buf stays valid until the next call or free. Returns 0,
 * -EINVAL or -ENOMEM. */
int ws_handshake_response(struct ws_handshake *hs, int status, const struct ws_header *hdrs,
                          size_t n_hdrs, const char **buf, size_t *len);

/* The parsed head (valid once done, until free). */
int ws_handshake_status(const struct ws_handshake *hs);       /* response status, 0 before */
const char *ws_handshake_method(const struct ws_handshake *hs); /* "GET", or "" */
const char *ws_handshake_target(const struct ws_handshake *hs); /* request target, or "" */
/* First header of that name (case-insensitive), value trimmed; NULL if absent. */
const char *ws_handshake_header(const struct ws_handshake *hs, const char *name);
size_t ws_handshake_header_count(const struct ws_handshake *hs);
/* i-th header in arrival order; returns 0 or -ERANGE. */
int ws_handshake_header_at(const struct ws_handshake *hs, size_t i, const char **name,
                           const char **value);

/* Why the last check failed, "" if it did not. */
const char *ws_handshake_error_text(const struct ws_handshake *hs);
