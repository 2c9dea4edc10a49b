/* wsconn.c - dial/accept + tls + ws composed (see wsconn.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dial.h"
#include "net/url.h"
#include "net/wsconn.h"

#define WSCONN_MAGIC 0x5753434eu /* "WSCN" */

struct wsconn {
	uint32_t magic;
	struct tls *tls;
	struct ws *ws;
	struct dial *dial;
	enum wsconn_stage stage;
	bool ended;    /* end[] recorded: the first cause wins */
	bool closing;  /* tls_close() issued */
	bool silent;   /* failed start: free without on_close */
	int tls_status; /* what tls on_end reported, to pick its text */
	uint32_t tls_timeout_ms;
	struct wsconn_end end;
	struct wsconn_cbs cbs;
	void *user;
};

const char *wsconn_stage_name(enum wsconn_stage stage)
{
	switch (stage) {
	case WSCONN_STAGE_DIAL:
		return "dial";
	case WSCONN_STAGE_TLS:
		return "tls";
	case WSCONN_STAGE_UPGRADE:
		return "upgrade";
	case WSCONN_STAGE_OPEN:
		return "open";
	}
	return "?";
}

static void wc_record(struct wsconn *c, int status, const char *text)
{
	if (c->ended)
		return;
	c->ended = true;
	c->end.stage = c->stage;
	c->end.status = status;
	if (!c->end.code_rcvd)
		c->end.code_rcvd = 1006;
	if (!c->end.code_sent)
		c->end.code_sent = 1006;
	snprintf(c->end.text, sizeof(c->end.text), "%s", text);
}

/* Tear down from the top: the transport's on_close finishes the job. */
static void wc_teardown(struct wsconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->dial) {
		dial_cancel(c->dial);
		c->dial = NULL;
	}
	tls_close(c->tls);
}

/* --- tls callbacks ------------------------------------------------------- */

static void wc_tls_ready(void *user)
{
	struct wsconn *c = user;
	c->stage = WSCONN_STAGE_UPGRADE;
	ws_start(c->ws); /* a write failure ends the session through on_close */
}

static void wc_tls_read(void *user, const uint8_t *buf, size_t len)
{
	struct wsconn *c = user;
	ws_feed(c->ws, buf, len);
}

static void wc_tls_end(void *user, int status)
{
	struct wsconn *c = user;
	c->tls_status = status;
	if (c->stage < WSCONN_STAGE_UPGRADE) {
		const char *why = tls_error_text(c->tls);
		char text[sizeof(c->end.text)];
		snprintf(text, sizeof(text), "TLS: %s", *why ? why : uv_strerror(status));
		c->end.tls_verify_flags = tls_verify_flags(c->tls);
		wc_record(c, status, text);
		wc_teardown(c);
		return;
	}
	ws_transport_end(c->ws, status); /* ends in wc_ws_close */
}

static void wc_tls_closed(void *user)
{
	struct wsconn *c = user;
	ws_free(c->ws);
	if (!c->silent)
		c->cbs.on_close(c->user, &c->end);
	c->magic = 0;
	free(c);
}

static const struct tls_cbs wc_tls_cbs = {
	.on_ready = wc_tls_ready,
	.on_read = wc_tls_read,
	.on_end = wc_tls_end,
	.on_close = wc_tls_closed,
};

/* --- ws callbacks -------------------------------------------------------- */

static int wc_ws_write(void *io_ctx, const uint8_t *buf, size_t len)
{
	struct wsconn *c = io_ctx;
	return tls_write(c->tls, buf, len);
}

static void wc_ws_open(void *user)
{
	struct wsconn *c = user;
	c->stage = WSCONN_STAGE_OPEN;
	c->cbs.on_open(c->user);
}

static int wc_ws_request(void *user, const struct ws_handshake *req)
{
	struct wsconn *c = user;
	return c->cbs.on_request ? c->cbs.on_request(c->user, req) : 101;
}

static void wc_ws_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct wsconn *c = user;
	/* wslay may still be draining the window after an abort from a callback. */
	if (c->closing)
		return;
	c->cbs.on_message(c->user, type, msg, len);
}

static void wc_ws_close(void *user, const struct ws_close_info *info)
{
	struct wsconn *c = user;
	if (!c->ended) {
		c->end.http_status = info->http_status;
		c->end.code_rcvd = info->code_rcvd;
		c->end.code_sent = info->code_sent;
		memcpy(c->end.reason, info->reason, sizeof(c->end.reason));
		const char *tls_why = tls_error_text(c->tls);
		char text[sizeof(c->end.text)];
		/* A transport failure is better told by the TLS layer's words. */
		if (info->status != 0 && info->status == c->tls_status && *tls_why)
			snprintf(text, sizeof(text), "%s (TLS: %s)", info->text, tls_why);
		else
			snprintf(text, sizeof(text), "%s", info->text);
		wc_record(c, info->status, text);
	}
	wc_teardown(c);
}

static const struct ws_cbs wc_ws_cbs = {
	.on_open = wc_ws_open,
	.on_request = wc_ws_request,
	.on_message = wc_ws_message,
	.on_close = wc_ws_close,
};

/* --- setup --------------------------------------------------------------- */

static void wc_dialed(void *user, int status)
{
	struct wsconn *c = user;
	c->dial = NULL;
	if (status < 0) {
		char text[sizeof(c->end.text)];
		snprintf(text, sizeof(text), "connect: %s", uv_strerror(status));
		wc_record(c, status, text);
		wc_teardown(c);
		return;
	}
	c->stage = WSCONN_STAGE_TLS;
	int r = tls_start(c->tls, c->tls_timeout_ms);
	if (r < 0) {
		char text[sizeof(c->end.text)];
		snprintf(text, sizeof(text), "start: %s", uv_strerror(r));
		wc_record(c, r, text);
		wc_teardown(c);
	}
}

/* Everything but the transport's connection; on failure nothing remains. */
static int wc_new(struct wsconn **out, uv_loop_t *loop, struct tls_config *cfg,
                  const struct wsconn_opts *opts, struct ws_opts *wo, const char *tls_name,
                  const struct wsconn_cbs *cbs, void *user)
{
	if (!cbs || !cbs->on_open || !cbs->on_message || !cbs->on_close)
		return -EINVAL;
	struct wsconn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->magic = WSCONN_MAGIC;
	c->cbs = *cbs;
	c->user = user;
	c->tls_timeout_ms = opts->tls_timeout_ms ? opts->tls_timeout_ms : WSCONN_DEFAULT_TLS_TIMEOUT_MS;
	wo->rng = tls_config_rng;
	wo->rng_ctx = cfg;
	struct ws_io io = {wc_ws_write, c};
	int r = ws_new(&c->ws, loop, wo, &io, &wc_ws_cbs, c);
	if (r < 0) {
		free(c);
		return r;
	}
	r = tls_new(&c->tls, loop, cfg, tls_name, &wc_tls_cbs, c);
	if (r < 0) {
		ws_free(c->ws); /* its memory goes with its timer's close */
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

/* Undo wc_new after the transport refused to start: no user callback. */
static void wc_discard(struct wsconn *c)
{
	c->silent = true;
	wc_teardown(c);
}

int wsconn_connect(struct wsconn **out, uv_loop_t *loop, struct tls_config *cfg,
                   const struct wsconn_opts *opts, const struct wsconn_cbs *cbs, void *user)
{
	if (!out || !loop || !cfg || !opts || !opts->url)
		return -EINVAL;
	struct url *u = malloc(sizeof(*u)); /* 4 KiB: not for the stack */
	if (!u)
		return -ENOMEM;
	int r = url_parse(opts->url, u);
	if (r == 0 && u->secure == tls_config_is_plain(cfg))
		r = -EINVAL; /* wss needs TLS, ws must not get it */
	struct wsconn *c = NULL;
	if (r == 0) {
		struct ws_opts wo = opts->ws;
		wo.role = WS_ROLE_CLIENT;
		wo.host = u->host_header;
		wo.path = u->path;
		r = wc_new(&c, loop, cfg, opts, &wo, u->host, cbs, user);
	}
	if (r == 0) {
		const char *addr = opts->connect_addr && *opts->connect_addr ? opts->connect_addr : u->host;
		uint32_t ms = opts->connect_timeout_ms ? opts->connect_timeout_ms
		                                       : WSCONN_DEFAULT_CONNECT_TIMEOUT_MS;
		c->stage = WSCONN_STAGE_DIAL;
		r = dial_start(&c->dial, loop, tls_tcp(c->tls), addr, u->port, ms, wc_dialed, c);
		if (r < 0) {
			c->dial = NULL;
			wc_discard(c);
		}
	}
	free(u);
	if (r < 0)
		return r;
	*out = c;
	return 0;
}

int wsconn_accept(struct wsconn **out, uv_loop_t *loop, uv_stream_t *listener,
                  struct tls_config *cfg, const struct wsconn_opts *opts,
                  const struct wsconn_cbs *cbs, void *user)
{
	if (!out || !loop || !listener || !cfg || !opts)
		return -EINVAL;
	struct ws_opts wo = opts->ws;
	wo.role = WS_ROLE_SERVER;
	struct wsconn *c;
	int r = wc_new(&c, loop, cfg, opts, &wo, NULL, cbs, user);
	if (r < 0)
		return r;
	r = uv_accept(listener, (uv_stream_t *)tls_tcp(c->tls));
	if (r == 0) {
		c->stage = tls_config_is_plain(cfg) ? WSCONN_STAGE_UPGRADE : WSCONN_STAGE_TLS;
		r = tls_start(c->tls, c->tls_timeout_ms);
	}
	if (r < 0) {
		wc_discard(c);
		return r;
	}
	*out = c;
	return 0;
}

int wsconn_send(struct wsconn *c, enum ws_msg_type type, const void *msg, size_t len)
{
	if (c->closing)
		return -ENOTCONN;
	return ws_send(c->ws, type, msg, len);
}

int wsconn_send_text(struct wsconn *c, const char *msg, size_t len)
{
	return wsconn_send(c, WS_MSG_TEXT, msg, len);
}

int wsconn_read_pause(struct wsconn *c, bool paused)
{
	return c && c->tls ? tls_read_pause(c->tls, paused) : 0;
}

size_t wsconn_queued(const struct wsconn *c)
{
	return ws_queued_bytes(c->ws) + tls_write_queued(c->tls);
}

void wsconn_abort(struct wsconn *c)
{
	if (!c || c->magic != WSCONN_MAGIC || c->closing)
		return;
	wc_record(c, -ECANCELED, "closed locally");
	wc_teardown(c);
}

void wsconn_close(struct wsconn *c, uint16_t code)
{
	if (!c || c->magic != WSCONN_MAGIC || c->closing)
		return;
	if (c->stage == WSCONN_STAGE_OPEN) {
		int r = ws_close(c->ws, code, NULL);
		if (r == 0 || r == -EALREADY)
			return; /* wc_ws_close follows the peer's answer or the deadline */
	}
	wsconn_abort(c);
}
