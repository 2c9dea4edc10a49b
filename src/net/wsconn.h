/* wsconn.h - a WebSocket connection: dial + tls + ws for a client
 * (ws:// or wss:// URL), or accept + tls + ws for a server, with one set of
 * callbacks and one final report of how and where it ended.
 *
 * This is what the Alpaca session (client) and the replay server (server)
 * build on. The parts (dial.h, tls.h, ws.h) remain usable on their own.
 *
 * Lifetime: wsconn_connect()/wsconn_accept() -> on_open -> on_message ...
 * -> on_close (always exactly once after a successful start, also for
 * failures before on_open) -> memory released when on_close returns. Call
 * wsconn_close() (graceful) or wsconn_abort() at any time, also from a
 * callback; never touch the object after on_close. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/tls.h"
#include "net/ws.h"

#define WSCONN_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define WSCONN_DEFAULT_TLS_TIMEOUT_MS 10000

/* How far the connection got; failures are classified by it. */
enum wsconn_stage {
	WSCONN_STAGE_DIAL,    /* resolve + TCP connect */
	WSCONN_STAGE_TLS,     /* TLS handshake (never for plain) */
	WSCONN_STAGE_UPGRADE, /* HTTP upgrade */
	WSCONN_STAGE_OPEN     /* WebSocket session */
};

struct wsconn_end {
	enum wsconn_stage stage; /* stage reached when it ended */
	/* 0 clean close handshake; else negative: uv codes for dial/transport
	 * (UV_ETIMEDOUT, UV_ECONNREFUSED, UV_EAI_*, UV_EOF, UV_ECONNRESET),
	 * -EPROTO at stage TLS = certificate/host name/TLS failure (see
	 * tls_verify_flags), -ECONNREFUSED at UPGRADE = HTTP refusal
	 * (http_status), and the ws.h codes (-EPROTO, -EMSGSIZE, -ETIMEDOUT),
	 * -ECANCELED after wsconn_abort() or a close before the session opened. */
	int status;
	int http_status;           /* upgrade reply status (e.g. 429), 0 if none */
	uint16_t code_rcvd;        /* peer's close code, 1006 if none */
	uint16_t code_sent;        /* ours, 1006 if none */
	uint32_t tls_verify_flags; /* MBEDTLS_X509_BADCERT_* of a failed verification */
	char reason[124];          /* peer's close reason */
	char text[256];            /* one line for the log */
};

struct wsconn_opts {
	const char *url;            /* client: ws://host[:port]/path or wss://... */
	const char *connect_addr;   /* client, optional: dial this name/address
	                               instead of the URL host; Host, SNI and the
	                               certificate check still use the URL host */
	uint32_t connect_timeout_ms; /* 0: default */
	uint32_t tls_timeout_ms;     /* 0: default */
	/* Session options: headers (client), limits, ping and deadlines. role,
	 * host, path and rng are filled in by wsconn. */
	struct ws_opts ws;
};

struct wsconn_cbs {
	void (*on_open)(void *user);
	/* Server only, may be NULL (accept all); see ws.h. */
	int (*on_request)(void *user, const struct ws_handshake *req);
	void (*on_message)(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len);
	void (*on_close)(void *user, const struct wsconn_end *end);
};

struct wsconn;

/* Client. cfg decides TLS and must match the scheme (wss needs a client
 * config, ws a plain one) and outlive the connection. Returns 0 (on_close
 * will follow) or -EINVAL, -EPROTONOSUPPORT, -ENAMETOOLONG, -ENOMEM or a uv
 * code (no callback). */
int wsconn_connect(struct wsconn **out, uv_loop_t *loop, struct tls_config *cfg,
                   const struct wsconn_opts *opts, const struct wsconn_cbs *cbs, void *user);

/* Server: accepts one pending connection from listener (call it from the
 * listener's connection callback). cfg is a server or plain config. Same
 * returns. */
int wsconn_accept(struct wsconn **out, uv_loop_t *loop, uv_stream_t *listener,
                  struct tls_config *cfg, const struct wsconn_opts *opts,
                  const struct wsconn_cbs *cbs, void *user);

/* Send a whole message (see ws_send). */
int wsconn_send(struct wsconn *c, enum ws_msg_type type, const void *msg, size_t len);
int wsconn_send_text(struct wsconn *c, const char *msg, size_t len);

/* Stops or resumes reading (see tls_read_pause). Returns 0 or a negative uv code. */
int wsconn_read_pause(struct wsconn *c, bool paused);

/* Bytes accepted but not yet handed to the kernel (ws queue + TLS queue). */
size_t wsconn_queued(const struct wsconn *c);

/* Graceful: when open, a close frame with code (1000, 1001) and wait for the
 * peer's answer (bounded by ws.close_timeout_ms), then close_notify and FIN.
 * Before the session is open it aborts. Idempotent. */
void wsconn_close(struct wsconn *c, uint16_t code);

/* Immediate: no close frame; TLS close_notify and FIN still go out. */
void wsconn_abort(struct wsconn *c);

const char *wsconn_stage_name(enum wsconn_stage stage); /* "dial", "tls", "upgrade", "open" */
