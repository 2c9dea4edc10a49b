/* ws.h - one WebSocket session (client or server) on top of any byte
 * stream: the HTTP upgrade (ws_handshake), then wslay's event API.
 *
 * The session does no I/O itself: the owner passes received bytes to
 * ws_feed() and gives a write function in struct ws_io (tls_write, or a
 * memory buffer in tests). wslay is driven by asking it: after every input
 * or queued message the session reads wslay_event_want_read/_want_write,
 * flushes while writing is wanted and ends once neither is.
 *
 * Messages arrive whole (wslay reassembles fragments) up to max_msg_len;
 * pings are answered by wslay. A uv timer carries the upgrade deadline, the
 * client's ping/pong deadline and the close deadline.
 *
 * Lifetime: ws_new() -> ws_start() (transport connected) -> ws_feed()/
 * ws_send_*() ... -> on_close (exactly once, unless ws_free() came first) ->
 * ws_free() (any time, also from a callback; no callback after it). The
 * memory goes after the timer has closed, so run the loop once more. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/ws_handshake.h"

#define WS_DEFAULT_MAX_MSG (64u << 20) /* news messages can be large */
#define WS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define WS_DEFAULT_PONG_TIMEOUT_MS 10000
#define WS_DEFAULT_CLOSE_TIMEOUT_MS 5000
#define WS_TEXT_MAX 160

enum ws_role { WS_ROLE_CLIENT, WS_ROLE_SERVER };
enum ws_msg_type { WS_MSG_TEXT = 1, WS_MSG_BINARY = 2 };

struct ws_opts {
	enum ws_role role;
	/* Client only, used by ws_new() and not kept: */
	const char *host;               /* Host value, e.g. url.host_header */
	const char *path;               /* request target, e.g. "/v2/iex" */
	const struct ws_header *headers; /* extra request headers (auth, Content-Type) */
	size_t n_headers;
	/* Both roles; 0 selects the default. */
	uint64_t max_msg_len;          /* larger messages close with 1009 */
	uint32_t handshake_timeout_ms; /* upgrade request/response deadline */
	uint32_t ping_interval_ms;     /* 0: never ping */
	uint32_t pong_timeout_ms;      /* after a ping */
	uint32_t close_timeout_ms;     /* wait for the peer's close frame */
	/* Randomness for the key and the client's frame masks (required for a
	 * client): e.g. tls_config_rng with the tls_config. */
	ws_rng_fn rng;
	void *rng_ctx;
};

/* The transport below. write sends or copies len bytes and returns 0 or a
 * negative code; it must not call back into the session. */
struct ws_io {
	int (*write)(void *io_ctx, const uint8_t *buf, size_t len);
	void *io_ctx;
};

/* How a session ended. status:
 *   0               close handshake completed (either side began it)
 *   -ECONNREFUSED   upgrade refused: http_status holds the status (client:
 *                   received, e.g. 429; server: answered, e.g. 404)
 *   -EPROTO         protocol violation: bad upgrade (e.g. wrong Accept) or
 *                   bad frames (we sent close 1002/1007)
 *   -EMSGSIZE       a message exceeded max_msg_len (we sent close 1009)
 *   -ETIMEDOUT      upgrade, pong or close deadline passed (see text)
 *   UV_EOF / < 0    the transport ended first (ws_transport_end status) */
struct ws_close_info {
	int status;
	int http_status;    /* upgrade reply status, 0 if none was seen/sent */
	uint16_t code_rcvd; /* peer's close code; 1005 none given, 1006 no close frame */
	uint16_t code_sent; /* ours; 1006 if we sent none */
	char reason[124];   /* peer's close reason, NUL-terminated */
	char text[WS_TEXT_MAX]; /* one-line description for the log */
};

struct ws_cbs {
	/* Upgrade done: messages may be sent. */
	void (*on_open)(void *user);
	/* Server only, may be NULL (accept all): a valid upgrade request arrived;
	 * inspect it (ws_handshake_target/_header) and return 101 to accept or
	 * an HTTP status 400..599 to refuse (e.g. 401, 404, 429). */
	int (*on_request)(void *user, const struct ws_handshake *req);
	/* A whole text or binary message; msg valid during the call only. */
	void (*on_message)(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len);
	/* The session is over; the owner now closes the transport. */
	void (*on_close)(void *user, const struct ws_close_info *info);
};

struct ws;

/* Returns 0, -EINVAL (missing role fields, rng, callbacks, bad header text)
 * or -ENOMEM. */
int ws_new(struct ws **out, uv_loop_t *loop, const struct ws_opts *opts, const struct ws_io *io,
           const struct ws_cbs *cbs, void *user);

/* The transport is ready: a client sends its upgrade request; both arm the
 * upgrade deadline. Returns 0 or the write error (then on_close has run). */
int ws_start(struct ws *ws);

/* Bytes from the transport, any split (one byte at a time works).
 * Callbacks run from inside. Returns 0, or -ENOTCONN once the session is
 * over (bytes are then ignored), -EINVAL before ws_start(). */
int ws_feed(struct ws *ws, const uint8_t *data, size_t len);

/* The transport's input ended (status as tls on_end: 0, UV_EOF, < 0). Ends
 * the session unless it already has. */
void ws_transport_end(struct ws *ws, int status);

/* Queue a message and flush. 0; -ENOTCONN before on_open or after the
 * session ended; -EPIPE once a close frame is queued; -ENOMEM. */
int ws_send(struct ws *ws, enum ws_msg_type type, const void *msg, size_t len);
int ws_send_text(struct ws *ws, const char *msg, size_t len);

/* Starts the close handshake with code (1000 normal, 1001 going away) and
 * an optional reason (<= 123 bytes, may be NULL). on_close follows when the
 * peer answers or after close_timeout_ms. -ENOTCONN if not open,
 * -EALREADY if a close frame is already queued. */
int ws_close(struct ws *ws, uint16_t code, const char *reason);

/* Bytes queued in wslay, not yet given to io.write. */
size_t ws_queued_bytes(const struct ws *ws);

void ws_free(struct ws *ws);
