/* ws.c - WebSocket session on wslay's event API (see ws.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "net/ws.h"

#define WS_MAGIC 0x57534553u /* "WSES" */

enum ws_state { WS_S_NEW, WS_S_UPGRADE, WS_S_OPEN, WS_S_OVER };
enum ws_timer_mode { WS_T_NONE, WS_T_UPGRADE, WS_T_PING, WS_T_PONG, WS_T_CLOSE };

struct ws {
	uint32_t magic;
	uv_timer_t timer;
	enum ws_state state;
	enum ws_timer_mode tmode;
	bool server;
	bool in_recv;  /* inside wslay_event_recv: queue now, flush after */
	bool freed;    /* ws_free() called: silent from now on */
	int write_err; /* first io.write error */
	uint64_t ping_seq;
	uint64_t max_msg_len;
	uint32_t handshake_timeout_ms, ping_interval_ms, pong_timeout_ms, close_timeout_ms;
	ws_rng_fn rng;
	void *rng_ctx;
	wslay_event_context_ptr ctx;
	struct ws_handshake *hs;
	const char *req; /* client: the request built by ws_new, owned by hs */
	size_t req_len;
	const uint8_t *win; /* the pull window wslay reads from */
	size_t win_len;
	struct ws_io io;
	struct ws_cbs cbs;
	void *user;
	struct ws_close_info info;
};

/* --- ending -------------------------------------------------------------- */

static void ws_finish(struct ws *ws, int status)
{
	if (ws->state == WS_S_OVER)
		return;
	ws->state = WS_S_OVER;
	ws->tmode = WS_T_NONE;
	uv_timer_stop(&ws->timer);
	ws->info.status = status;
	ws->info.code_rcvd = wslay_event_get_status_code_received(ws->ctx);
	ws->info.code_sent = wslay_event_get_status_code_sent(ws->ctx);
	if (!ws->info.text[0]) {
		if (status == 0)
			snprintf(ws->info.text, sizeof(ws->info.text), "closed: code %u received, %u sent",
			         ws->info.code_rcvd, ws->info.code_sent);
		else
			snprintf(ws->info.text, sizeof(ws->info.text), "%s", uv_strerror(status));
	}
	if (!ws->freed)
		ws->cbs.on_close(ws->user, &ws->info);
}

/* A session whose wslay context wants neither to read nor to write is over;
 * how it got there decides the status. */
static void ws_check_done(struct ws *ws)
{
	if (ws->state != WS_S_OPEN || wslay_event_want_read(ws->ctx) ||
	    wslay_event_want_write(ws->ctx))
		return;
	if (wslay_event_get_close_received(ws->ctx)) {
		ws_finish(ws, 0);
		return;
	}
	/* We sent a close without receiving one: wslay failed the peer. */
	uint16_t sent = wslay_event_get_status_code_sent(ws->ctx);
	if (sent == WSLAY_CODE_MESSAGE_TOO_BIG) {
		snprintf(ws->info.text, sizeof(ws->info.text),
		         "message larger than %llu bytes (sent close 1009)",
		         (unsigned long long)ws->max_msg_len);
		ws_finish(ws, -EMSGSIZE);
	} else {
		snprintf(ws->info.text, sizeof(ws->info.text),
		         "WebSocket protocol violation by peer (sent close %u)", sent);
		ws_finish(ws, -EPROTO);
	}
}

static void ws_flush(struct ws *ws)
{
	if (ws->in_recv || ws->state != WS_S_OPEN)
		return;
	if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) {
		snprintf(ws->info.text, sizeof(ws->info.text), "write failed: %s",
		         uv_strerror(ws->write_err ? ws->write_err : -ENOMEM));
		ws_finish(ws, ws->write_err ? ws->write_err : -ENOMEM);
		return;
	}
	ws_check_done(ws);
}

/* --- timer: one deadline at a time ------------------------------------- */

static void ws_timer_fired(uv_timer_t *t);

static void ws_timer_arm(struct ws *ws, enum ws_timer_mode mode, uint32_t ms)
{
	ws->tmode = mode;
	uv_timer_start(&ws->timer, ws_timer_fired, ms, 0);
}

static void ws_send_ping(struct ws *ws)
{
	uint8_t payload[8];
	uint64_t seq = ++ws->ping_seq;
	for (int i = 7; i >= 0; i--, seq >>= 8)
		payload[i] = (uint8_t)seq;
	struct wslay_event_msg m = {WSLAY_PING, payload, sizeof(payload)};
	if (wslay_event_queue_msg(ws->ctx, &m) != 0)
		return; /* closing already: the close deadline governs */
	ws_timer_arm(ws, WS_T_PONG, ws->pong_timeout_ms);
	ws_flush(ws);
}

static void ws_timer_fired(uv_timer_t *t)
{
	struct ws *ws = t->data;
	enum ws_timer_mode mode = ws->tmode;
	ws->tmode = WS_T_NONE;
	switch (mode) {
	case WS_T_UPGRADE:
		snprintf(ws->info.text, sizeof(ws->info.text), "no upgrade %s within %u ms",
		         ws->server ? "request" : "response", ws->handshake_timeout_ms);
		ws_finish(ws, -ETIMEDOUT);
		break;
	case WS_T_PING:
		ws_send_ping(ws);
		break;
	case WS_T_PONG:
		snprintf(ws->info.text, sizeof(ws->info.text), "no pong within %u ms",
		         ws->pong_timeout_ms);
		ws_finish(ws, -ETIMEDOUT);
		break;
	case WS_T_CLOSE:
		snprintf(ws->info.text, sizeof(ws->info.text), "peer did not answer close within %u ms",
		         ws->close_timeout_ms);
		ws_finish(ws, -ETIMEDOUT);
		break;
	case WS_T_NONE:
		break;
	}
}

/* --- wslay callbacks ----------------------------------------------------- */

static ssize_t ws_wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user)
{
	struct ws *ws = user;
	if (ws->win_len == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < ws->win_len ? len : ws->win_len;
	memcpy(buf, ws->win, n);
	ws->win += n;
	ws->win_len -= n;
	return (ssize_t)n;
}

static ssize_t ws_wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user)
{
	struct ws *ws = user;
	int r = ws->io.write(ws->io.io_ctx, data, len);
	if (r < 0) {
		if (!ws->write_err)
			ws->write_err = r;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int ws_wslay_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	struct ws *ws = user;
	if (ws->rng(ws->rng_ctx, buf, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void ws_wslay_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                         void *user)
{
	struct ws *ws = user;
	if (ws->freed || ws->state != WS_S_OPEN)
		return;
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		ws->cbs.on_message(ws->user, arg->opcode == WSLAY_TEXT_FRAME ? WS_MSG_TEXT : WS_MSG_BINARY,
		                   arg->msg, arg->msg_length);
		break;
	case WSLAY_PONG:
		/* Any pong proves the peer alive; unsolicited ones are allowed. */
		if (ws->tmode == WS_T_PONG)
			ws_timer_arm(ws, WS_T_PING, ws->ping_interval_ms);
		break;
	case WSLAY_CONNECTION_CLOSE:
		if (arg->msg_length > 2) {
			size_t n = arg->msg_length - 2;
			if (n >= sizeof(ws->info.reason))
				n = sizeof(ws->info.reason) - 1;
			memcpy(ws->info.reason, arg->msg + 2, n);
			ws->info.reason[n] = '\0';
		}
		break;
	default: /* pings are answered by wslay */
		break;
	}
}

/* Reads all of the window, then writes what that produced (pongs, close
 * replies, messages queued by callbacks). */
static void ws_drive(struct ws *ws, const uint8_t *data, size_t len)
{
	ws->win = data;
	ws->win_len = len;
	ws->in_recv = true;
	int r = wslay_event_recv(ws->ctx);
	ws->in_recv = false;
	ws->win_len = 0; /* bytes after a close frame are of no interest */
	if (ws->state != WS_S_OPEN)
		return;
	if (r != 0) {
		/* Some wslay versions return an error for a malformed frame after
		 * queueing a close: still try to send it. */
		if (wslay_event_want_write(ws->ctx))
			wslay_event_send(ws->ctx);
		snprintf(ws->info.text, sizeof(ws->info.text),
		         "WebSocket receive failed (wslay %d): protocol violation or no memory", r);
		ws_finish(ws, r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPROTO);
		return;
	}
	ws_flush(ws);
}

/* --- upgrade ------------------------------------------------------------- */

static int ws_write_raw(struct ws *ws, const char *buf, size_t len)
{
	int r = ws->io.write(ws->io.io_ctx, (const uint8_t *)buf, len);
	if (r < 0) {
		ws->write_err = r;
		snprintf(ws->info.text, sizeof(ws->info.text), "write failed: %s", uv_strerror(r));
		ws_finish(ws, r);
	}
	return r;
}

static void ws_open(struct ws *ws)
{
	ws->state = WS_S_OPEN;
	uv_timer_stop(&ws->timer);
	ws->tmode = WS_T_NONE;
	/* The parsed request is only promised during on_request. */
	ws_handshake_free(ws->hs);
	ws->hs = NULL;
	if (ws->ping_interval_ms)
		ws_timer_arm(ws, WS_T_PING, ws->ping_interval_ms);
	ws->cbs.on_open(ws->user);
}

/* Client: the response head is complete. */
static void ws_upgrade_client(struct ws *ws)
{
	int r = ws_handshake_check_response(ws->hs);
	ws->info.http_status = ws_handshake_status(ws->hs);
	if (r < 0) {
		snprintf(ws->info.text, sizeof(ws->info.text), "%s", ws_handshake_error_text(ws->hs));
		ws_finish(ws, r);
		return;
	}
	ws_open(ws);
}

/* Server: the request head is complete; answer it. */
static void ws_upgrade_server(struct ws *ws)
{
	int status = ws_handshake_check_request(ws->hs);
	if (status == 0)
		status = ws->cbs.on_request ? ws->cbs.on_request(ws->user, ws->hs) : 101;
	if (ws->freed || ws->state != WS_S_UPGRADE)
		return;
	if (status != 101 && (status < 400 || status > 599))
		status = 500;
	const char *buf;
	size_t len;
	if (ws_handshake_response(ws->hs, status, NULL, 0, &buf, &len) < 0) {
		snprintf(ws->info.text, sizeof(ws->info.text), "cannot build the upgrade response");
		ws_finish(ws, -ENOMEM);
		return;
	}
	ws->info.http_status = status;
	if (ws_write_raw(ws, buf, len) < 0)
		return;
	if (status != 101) {
		const char *why = ws_handshake_error_text(ws->hs);
		snprintf(ws->info.text, sizeof(ws->info.text), "upgrade refused with HTTP %d%s%s", status,
		         *why ? ": " : "", why);
		ws_finish(ws, status == 400 ? -EPROTO : -ECONNREFUSED);
		return;
	}
	ws_open(ws);
}

/* A head that cannot be parsed: a server still answers it, briefly. */
static void ws_upgrade_failed(struct ws *ws, int r)
{
	snprintf(ws->info.text, sizeof(ws->info.text), "%s", ws_handshake_error_text(ws->hs));
	if (ws->server) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
		                          "Content-Length: 0\r\nConnection: close\r\n\r\n";
		static const char big[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
		                          "Content-Length: 0\r\nConnection: close\r\n\r\n";
		bool too_big = r == -EMSGSIZE;
		ws->info.http_status = too_big ? 431 : 400;
		if (ws_write_raw(ws, too_big ? big : bad, too_big ? sizeof(big) - 1 : sizeof(bad) - 1) < 0)
			return;
	}
	ws_finish(ws, r);
}

/* --- public -------------------------------------------------------------- */

int ws_new(struct ws **out, uv_loop_t *loop, const struct ws_opts *opts, const struct ws_io *io,
           const struct ws_cbs *cbs, void *user)
{
	if (!out || !loop || !opts || !io || !io->write || !cbs || !cbs->on_open ||
	    !cbs->on_message || !cbs->on_close)
		return -EINVAL;
	bool server = opts->role == WS_ROLE_SERVER;
	if (!server && (!opts->host || !opts->path || !opts->rng))
		return -EINVAL;
	struct ws *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->magic = WS_MAGIC;
	ws->server = server;
	ws->io = *io;
	ws->cbs = *cbs;
	ws->user = user;
	ws->rng = opts->rng;
	ws->rng_ctx = opts->rng_ctx;
	ws->max_msg_len = opts->max_msg_len ? opts->max_msg_len : WS_DEFAULT_MAX_MSG;
	ws->handshake_timeout_ms =
	        opts->handshake_timeout_ms ? opts->handshake_timeout_ms : WS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	ws->ping_interval_ms = opts->ping_interval_ms;
	ws->pong_timeout_ms = opts->pong_timeout_ms ? opts->pong_timeout_ms : WS_DEFAULT_PONG_TIMEOUT_MS;
	ws->close_timeout_ms =
	        opts->close_timeout_ms ? opts->close_timeout_ms : WS_DEFAULT_CLOSE_TIMEOUT_MS;

	struct wslay_event_callbacks wcb = {
		.recv_callback = ws_wslay_recv,
		.send_callback = ws_wslay_send,
		.genmask_callback = ws_wslay_genmask,
		.on_msg_recv_callback = ws_wslay_msg,
	};
	int r = server ? wslay_event_context_server_init(&ws->ctx, &wcb, ws)
	               : wslay_event_context_client_init(&ws->ctx, &wcb, ws);
	if (r != 0) {
		free(ws);
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg_len);
	r = ws_handshake_new(&ws->hs, server);
	if (r == 0 && !server) {
		/* Built now so bad options fail here and opts need not outlive us. */
		r = ws_handshake_request(ws->hs, opts->host, opts->path, opts->headers, opts->n_headers,
		                         opts->rng, opts->rng_ctx, &ws->req, &ws->req_len);
	}
	if (r < 0) {
		ws_handshake_free(ws->hs);
		wslay_event_context_free(ws->ctx);
		free(ws);
		return r;
	}
	uv_timer_init(loop, &ws->timer);
	ws->timer.data = ws;
	*out = ws;
	return 0;
}

int ws_start(struct ws *ws)
{
	if (!ws || ws->magic != WS_MAGIC || ws->state != WS_S_NEW)
		return -EINVAL;
	ws->state = WS_S_UPGRADE;
	ws_timer_arm(ws, WS_T_UPGRADE, ws->handshake_timeout_ms);
	if (ws->server)
		return 0;
	int r = ws_write_raw(ws, ws->req, ws->req_len);
	return r < 0 ? r : 0;
}

int ws_feed(struct ws *ws, const uint8_t *data, size_t len)
{
	if (ws->state == WS_S_NEW)
		return -EINVAL;
	if (ws->state == WS_S_OVER || ws->freed)
		return -ENOTCONN;
	if (ws->state == WS_S_UPGRADE) {
		bool done;
		int n = ws_handshake_feed(ws->hs, data, len, &done);
		if (n < 0) {
			ws_upgrade_failed(ws, n);
			return 0;
		}
		if (!done)
			return 0;
		if (ws->server)
			ws_upgrade_server(ws);
		else
			ws_upgrade_client(ws);
		/* What followed the head is already WebSocket frames. */
		data += n;
		len -= (size_t)n;
	}
	if (ws->state == WS_S_OPEN && !ws->freed && len > 0)
		ws_drive(ws, data, len);
	return 0;
}

void ws_transport_end(struct ws *ws, int status)
{
	if (ws->state == WS_S_OVER)
		return;
	if (ws->state == WS_S_OPEN && wslay_event_get_close_received(ws->ctx)) {
		ws_finish(ws, 0); /* the peer closed right after its close frame */
		return;
	}
	if (status == 0)
		status = UV_EOF;
	snprintf(ws->info.text, sizeof(ws->info.text), "connection ended %s: %s",
	         ws->state == WS_S_OPEN ? "without a close frame" : "during the upgrade",
	         uv_strerror(status));
	ws_finish(ws, status);
}

int ws_send(struct ws *ws, enum ws_msg_type type, const void *msg, size_t len)
{
	if (ws->state != WS_S_OPEN || ws->freed)
		return -ENOTCONN;
	if (type != WS_MSG_TEXT && type != WS_MSG_BINARY)
		return -EINVAL;
	struct wslay_event_msg m = {type == WS_MSG_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME, msg, len};
	int r = wslay_event_queue_msg(ws->ctx, &m);
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;
	if (r != 0)
		return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EINVAL;
	ws_flush(ws);
	return 0;
}

int ws_send_text(struct ws *ws, const char *msg, size_t len)
{
	return ws_send(ws, WS_MSG_TEXT, msg, len);
}

int ws_close(struct ws *ws, uint16_t code, const char *reason)
{
	if (ws->state != WS_S_OPEN || ws->freed)
		return -ENOTCONN;
	size_t rlen = reason ? strlen(reason) : 0;
	if (rlen > 123)
		return -EINVAL;
	int r = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rlen);
	if (r == WSLAY_ERR_NO_MORE_MSG)
		return -EALREADY;
	if (r != 0)
		return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EINVAL;
	ws_timer_arm(ws, WS_T_CLOSE, ws->close_timeout_ms);
	ws_flush(ws);
	return 0;
}

size_t ws_queued_bytes(const struct ws *ws)
{
	return wslay_event_get_queued_msg_length(ws->ctx);
}

static void ws_timer_closed(uv_handle_t *h)
{
	struct ws *ws = h->data;
	wslay_event_context_free(ws->ctx);
	ws_handshake_free(ws->hs);
	ws->magic = 0;
	free(ws);
}

void ws_free(struct ws *ws)
{
	if (!ws || ws->magic != WS_MAGIC || ws->freed)
		return;
	ws->freed = true;
	/* We may be inside wslay_event_recv: stop its loop; the context itself
	 * goes only in the close callback, after the stack has unwound. */
	wslay_event_shutdown_read(ws->ctx);
	wslay_event_shutdown_write(ws->ctx);
	ws->state = WS_S_OVER;
	uv_close((uv_handle_t *)&ws->timer, ws_timer_closed);
}
