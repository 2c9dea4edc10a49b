/* alpaca.h - the Alpaca market-data session as a pure state machine.
 *
 * No sockets, no timers, no libuv, no logging: the owner (the daemon) feeds
 * inputs (transport up/down, parsed control and data events, timer expiry,
 * desired symbols) with a monotonic `now` in ns, and performs the actions
 * the machine asks for through struct alpaca_cbs. Every path is therefore
 * testable with a fake clock (tests/unit/source/test_alpaca.c).
 *
 * Session (alpaca-ws.md 2.2):
 *   start -> connect() -> on_transport_up -> "connected" -> auth message
 *   -> "authenticated" -> one subscribe message for the full desired set
 *   -> `subscription` reply == desired -> SUBSCRIBED -> data ...
 * Any failure -> disconnect() if the transport is up -> on_transport_down
 *   -> BACKOFF (exponential, +-20 % jitter) -> connect() again.
 *
 * Wiring to net/wsconn and source/frame:
 *   cbs.connect      -> wsconn_connect(...); return 0, or < 0 if it could not
 *                       start (then do NOT call alpaca_on_transport_down)
 *   on_open          -> alpaca_on_transport_up
 *   on_message       -> frame_parse(...) -> for each event alpaca_on_event
 *                       (control events and, for liveness, data events)
 *   on_close         -> alpaca_on_transport_down(now, end->text,
 *                       end->http_status, hint) with hint: http_status != 0
 *                       -> HTTP; stage TLS with -EPROTO -> TLS; UV_ETIMEDOUT or
 *                       -ETIMEDOUT (no pong) -> TIMEOUT; status 0 -> CLOSED;
 *                       anything else -> TRANSPORT
 *   cbs.send_text    -> wsconn_send_text
 *   cbs.disconnect   -> wsconn_close(c, code)
 *   a uv timer       -> armed at alpaca_next_deadline() after every input;
 *                       on expiry alpaca_on_timer
 *
 * Callbacks run after the machine has updated its state, in the order the
 * actions were decided; they may re-enter the machine (e.g. a connect that
 * fails at once may call alpaca_on_transport_down from inside connect());
 * actions decided by a re-entrant call run after the current callback
 * returns. Never call alpaca_free from a callback.
 *
 * Credentials never appear in a status, detail, fatal or result text (every
 * text is scrubbed of the key and secret); only the auth message carries
 * them, and its buffer is wiped after send_text returns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct conf;

/* Stock stream channels. The first ALPACA_CH_SUB_COUNT are subscribable and
 * in the bit order of enum conf_channel (1u << ch == CONF_CH_*);
 * corrections and cancelErrors follow trades on the server side and are
 * only ever reported, never requested. */
enum alpaca_channel {
	ALPACA_CH_TRADES = 0,
	ALPACA_CH_QUOTES,
	ALPACA_CH_BARS,
	ALPACA_CH_UPDATED_BARS,
	ALPACA_CH_DAILY_BARS,
	ALPACA_CH_STATUSES,
	ALPACA_CH_LULDS,
	ALPACA_CH_IMBALANCES,
	ALPACA_CH_CORRECTIONS,
	ALPACA_CH_CANCEL_ERRORS,
	ALPACA_CH_COUNT
};
#define ALPACA_CH_SUB_COUNT 8

enum alpaca_state {
	ALPACA_ST_IDLE = 0,       /* not started, or stopped */
	ALPACA_ST_BACKOFF,        /* waiting to reconnect */
	ALPACA_ST_CONNECTING,     /* connect() asked, transport not open yet */
	ALPACA_ST_CONNECTED,      /* transport open, waiting for "connected" */
	ALPACA_ST_AUTHENTICATING, /* waiting for "authenticated" */
	ALPACA_ST_SUBSCRIBING,    /* authenticated, server set != desired set */
	ALPACA_ST_SUBSCRIBED,     /* server set == desired set (or given up: partial) */
	ALPACA_ST_DISCONNECTING,  /* disconnect() asked, waiting for transport down */
	ALPACA_ST_FATAL,          /* stopped by an error retrying cannot fix */
	ALPACA_ST_COUNT
};

/* wire.md connection status values. */
enum alpaca_status {
	ALPACA_STATUS_CONNECTING = 0,
	ALPACA_STATUS_AUTHENTICATED,
	ALPACA_STATUS_SUBSCRIBED,
	ALPACA_STATUS_DISCONNECTED,
	ALPACA_STATUS_ERROR,
	ALPACA_STATUS_GAP,
	ALPACA_STATUS_COUNT
};

/* wire.md error classes (alpaca_class_name gives the id). */
enum alpaca_class {
	ALPACA_CLASS_NONE = 0,
	ALPACA_CLASS_UNKNOWN,                   /* unknown: an error code we do not know */
	ALPACA_CLASS_SECOND_CONNECTION,         /* alpaca_406_second_connection */
	ALPACA_CLASS_RATE_LIMITED,              /* alpaca_429_rate_limited: HTTP 429 at upgrade */
	ALPACA_CLASS_AUTH,                      /* alpaca_auth: 401 402 411, HTTP 401/403 */
	ALPACA_CLASS_AUTH_TIMEOUT,              /* alpaca_auth_timeout: 404, or no reply in time */
	ALPACA_CLASS_INSUFFICIENT_SUBSCRIPTION, /* alpaca_insufficient_subscription: 408 409 */
	ALPACA_CLASS_SLOW_CLIENT,               /* alpaca_slow_client: 407 */
	ALPACA_CLASS_SYMBOL_LIMIT,              /* alpaca_symbol_limit: 405 */
	ALPACA_CLASS_INVALID_SYNTAX,            /* alpaca_invalid_syntax: 400 */
	ALPACA_CLASS_INVALID_SUBSCRIPTION,      /* alpaca_invalid_subscription: 410 413 */
	ALPACA_CLASS_MSGPACK_REQUIRED,          /* alpaca_msgpack_required: 412 */
	ALPACA_CLASS_SERVER_ERROR,              /* alpaca_server_error: 500 */
	ALPACA_CLASS_PROTOCOL,                  /* alpaca_protocol: 403, unexpected replies */
	ALPACA_CLASS_SUBSCRIPTION,              /* alpaca_subscription: reply missing or incomplete */
	ALPACA_CLASS_STARVATION,                /* market_data_channel_starvation: idle watchdog */
	ALPACA_CLASS_TLS,                       /* tls */
	ALPACA_CLASS_TRANSPORT,                 /* transport: reset, EOF, refused, peer close */
	ALPACA_CLASS_TIMEOUT,                   /* timeout: dial/TLS/pong deadline, connect deadline */
	ALPACA_CLASS_HTTP,                      /* http_upgrade: other HTTP refusal at upgrade */
	ALPACA_CLASS_STOPPED,                   /* stopped: alpaca_stop */
	ALPACA_CLASS_COUNT
};

/* The owner's reading of how the transport ended (see the wiring above). */
enum alpaca_down {
	ALPACA_DOWN_CLOSED = 0, /* close handshake / peer closed */
	ALPACA_DOWN_TRANSPORT,  /* reset, EOF, DNS or TCP failure */
	ALPACA_DOWN_TLS,        /* handshake or certificate failure */
	ALPACA_DOWN_TIMEOUT,    /* dial/TLS timeout, no pong */
	ALPACA_DOWN_HTTP,       /* upgrade refused; http_status says how */
};

/* errors_by_code slots: 400..413, 500, anything else. */
#define ALPACA_CODE_SLOTS 16
int alpaca_code_slot(int code);
int alpaca_slot_code(int slot); /* -1 for the "other" slot */

#define ALPACA_DETAIL_MAX 256

struct alpaca_status_ev {
	enum alpaca_status status;
	enum alpaca_state state;        /* the machine's state after the change */
	int error_code;                 /* Alpaca code or HTTP status at upgrade; 0 if none */
	enum alpaca_class error_class;  /* NONE unless error/disconnected with a cause */
	const char *error_class_name;   /* wire.md id; NULL for NONE */
	const char *detail;             /* one line, never NULL, never credentials */
	uint32_t attempt;               /* connection attempt since the last healthy session, 1-based */
	/* Event time (UTC ns, Alpaca `t`) of the latest data event before the
	 * loss, and of the first one after it; 0 when unknown / still open.
	 * Set on disconnected (start only), on 407 (start only) and on gap
	 * (both: the range to backfill). Bars carry their interval start, so a
	 * per-channel backfill should use alpaca_channel_last_t. */
	int64_t gap_start_ns, gap_end_ns;
};

struct alpaca_cbs {
	/* One whole message as one WebSocket text frame. json is NUL-terminated
	 * and valid only during the call. < 0: the transport failed (the
	 * machine then disconnects and reconnects). */
	int (*send_text)(void *arg, const char *json, size_t n);
	/* Open the transport now (see the wiring above for the return). */
	int (*connect)(void *arg);
	/* Close the transport (1000; 1001 on alpaca_stop); on_transport_down
	 * must follow, even if the close fails. */
	void (*disconnect)(void *arg, uint16_t close_code);
	void (*status)(void *arg, const struct alpaca_status_ev *ev);
	/* An error retrying cannot fix (402, 408, 409, 411, 412, HTTP 4xx at the
	 * upgrade other than 408/429): the machine is in FATAL and does not
	 * reconnect until alpaca_start. Optional. */
	void (*fatal)(void *arg, int code, const char *msg);
	/* The outcome of alpaca_set_symbols request `req`, exactly once:
	 *   0            the server confirmed the desired set
	 *   400 405 410 413  the server refused a message of this change; the
	 *                refused symbols were dropped from the desired set
	 *   -ETIMEDOUT   no reply (the session is being re-established)
	 *   -EREMOTEIO   replies never listed some symbols (given up; partial)
	 *   -ENOTCONN    not connected now: applied on the next connection
	 *   -ECANCELED   stopped or fatal
	 * Optional. */
	void (*sub_result)(void *arg, uint32_t req, int result, const char *detail);
};

struct alpaca_opts {
	const char *key, *secret; /* copied; required for message auth */
	bool header_auth;         /* credentials on the upgrade request (the owner's job) */
	int64_t reconnect_base;   /* ns; backoff starts here (alpaca.reconnect.base) */
	int64_t reconnect_max;    /* ns; and is capped here (alpaca.reconnect.max) */
	int64_t idle_timeout;     /* ns; no data this long while subscribed -> reconnect; 0 off */
	/* 0 selects the default given in brackets. */
	int64_t auth_timeout;     /* [10 s] transport open -> "authenticated" */
	int64_t reply_timeout;    /* [3 s] subscribe/unsubscribe -> `subscription` reply */
	int64_t connect_timeout;  /* [30 s] connect() -> transport up or down */
	int64_t healthy_after;    /* [30 s] subscribed this long with data = healthy session */
	int64_t contention_delay; /* [15 s] floor of the backoff after 406 / HTTP 429 */
	unsigned sub_retries;     /* [2] resends of an unconfirmed change before giving up */
	/* Jitter source: uniform 32-bit values. NULL: an internal xorshift
	 * seeded with rng_seed. Tests inject a fixed value. */
	uint32_t (*rng)(void *rng_arg);
	void *rng_arg;
	uint64_t rng_seed;
};

/* Fills key, secret, header_auth, reconnect_base/max and idle_timeout from
 * the configuration; the rest is zeroed (defaults). Pointers are into c. */
void alpaca_opts_from_conf(struct alpaca_opts *o, const struct conf *c);

/* A desired set: for each subscribable channel, n[ch] symbols (NULL/0 for
 * none). Symbols follow conf_symbol_valid, or "*" (all). */
struct alpaca_symbols {
	const char *const *sym[ALPACA_CH_SUB_COUNT];
	size_t n[ALPACA_CH_SUB_COUNT];
};

/* alpaca.symbols on every channel of alpaca.channels. Pointers are into c. */
void alpaca_symbols_from_conf(struct alpaca_symbols *out, const struct conf *c);

struct alpaca_channel_stats {
	uint64_t events;       /* data events seen on this channel */
	int64_t last_recv;     /* `now` of the latest one; 0 if none */
	int64_t last_t_ns;     /* its event time (UTC ns) */
};

struct alpaca_stats {
	enum alpaca_state state;
	uint32_t attempt;              /* attempt number of the current/next connection */
	uint64_t connects;             /* connect() requests */
	uint64_t transports_up;
	uint64_t sessions_authenticated, sessions_subscribed;
	uint64_t reconnects;           /* sessions ended and rescheduled */
	uint64_t reconnects_by_class[ALPACA_CLASS_COUNT];
	uint64_t errors_by_code[ALPACA_CODE_SLOTS]; /* error frames, see alpaca_code_slot */
	uint64_t fatals;
	uint64_t sub_messages;         /* subscribe/unsubscribe messages sent */
	uint64_t sub_rejected;         /* of those, refused by the server */
	uint64_t sub_reply_timeouts;
	uint64_t sub_given_up;         /* changes abandoned as partial */
	uint64_t reply_bad_entries;    /* unusable members in subscription replies */
	uint64_t data_events;
	uint64_t gaps;                 /* gaps opened (data lost to a disconnect) */
	uint64_t unexpected;           /* inputs that did not fit the state (ignored) */
	bool gap_open;
	int64_t gap_start_ns;          /* of the open gap */
	int64_t last_data;             /* `now` of the latest data event; 0 if none */
	struct alpaca_channel_stats ch[ALPACA_CH_COUNT];
};

struct alpaca;

/* 0, -EINVAL (missing callbacks, base/max invalid, message auth without
 * credentials) or -ENOMEM. */
int alpaca_new(struct alpaca **out, const struct alpaca_opts *o, const struct alpaca_cbs *cbs,
	       void *arg);
void alpaca_free(struct alpaca *s); /* wipes the credentials */

/* IDLE or FATAL -> connect now (attempt 1). 0 or -EALREADY. */
int alpaca_start(struct alpaca *s, int64_t now);
/* Drain: close with 1001 and do not reconnect; IDLE once the transport is
 * down. 0 or -EALREADY. */
int alpaca_stop(struct alpaca *s, int64_t now);

/* Replaces the desired set; the session unsubscribes what was removed,
 * then subscribes what was added (one action per message, one message in
 * flight). The outcome is reported once through cbs.sub_result(*req).
 * 0, -EINVAL (err says which symbol) or -ENOMEM (nothing changed). */
int alpaca_set_symbols(struct alpaca *s, int64_t now, const struct alpaca_symbols *want,
		       uint32_t *req, char *err, size_t errlen);

/* Inputs. Each returns 0, or -EPROTO / -EALREADY when the input did not fit
 * the state (ignored and counted in stats.unexpected). */
int alpaca_on_transport_up(struct alpaca *s, int64_t now);
int alpaca_on_transport_down(struct alpaca *s, int64_t now, const char *reason, int http_status,
			     enum alpaca_down hint);
int alpaca_on_event(struct alpaca *s, int64_t now, const struct event *ev);
int alpaca_on_timer(struct alpaca *s, int64_t now);

/* The earliest `now` at which alpaca_on_timer has work; INT64_MAX if none. */
int64_t alpaca_next_deadline(const struct alpaca *s);

const struct alpaca_stats *alpaca_stats(const struct alpaca *s);

/* The server-confirmed subscription (from the latest reply of this
 * session; empty when not connected) and the desired set, per channel. */
size_t alpaca_confirmed_count(const struct alpaca *s, enum alpaca_channel ch);
const char *alpaca_confirmed_at(const struct alpaca *s, enum alpaca_channel ch, size_t i);
size_t alpaca_desired_count(const struct alpaca *s, enum alpaca_channel ch);
const char *alpaca_desired_at(const struct alpaca *s, enum alpaca_channel ch, size_t i);

/* Per-channel last event time, for gap backfill (0 if none). */
int64_t alpaca_channel_last_t(const struct alpaca *s, enum alpaca_channel ch);

const char *alpaca_channel_name(enum alpaca_channel ch); /* "trades", ... */
int alpaca_channel_parse(const char *name, size_t n);    /* enum value or -EINVAL */
const char *alpaca_state_name(enum alpaca_state st);
const char *alpaca_status_name(enum alpaca_status st);   /* wire.md ids */
const char *alpaca_class_name(enum alpaca_class c);      /* wire.md ids; NULL for NONE */
