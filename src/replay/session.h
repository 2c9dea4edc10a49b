/* session.h - the replay server's per-connection Alpaca protocol rules as a
 * pure state machine (alpaca-ws.md sections 2 and 4), plus the registry of
 * keys and live sessions that the connection limit (406) needs.
 *
 * No sockets, no timers, no libuv: the owner feeds the session the client's
 * text messages and a monotonic time in ms; replies come back through the
 * emit callback as whole frames (one-element JSON arrays), and the return
 * value asks the owner for actions (close, start streaming). The owner arms
 * a timer at replay_session_deadline() and calls replay_session_tick().
 *
 * Rules:
 *   open                 -> [{"T":"success","msg":"connected"}]; with
 *                           upgrade header credentials the auth below runs
 *                           at once
 *   {"action":"auth","key","secret"}
 *                        -> "authenticated", or 402 auth failed (bad key,
 *                           or the reject_auth fault), 409 insufficient
 *                           subscription (feed not granted to the key), 406
 *                           connection limit exceeded; the connection stays
 *                           open after a refusal (clients may retry on it)
 *   second auth          -> 403 already authenticated
 *   no auth in time      -> 404 auth timeout, then SESSION_ACT_CLOSE
 *   (un)subscribe first  -> 401 not authenticated
 *   not JSON / not an object / no or unknown action / bad channel value or
 *   symbol               -> 400 invalid syntax
 *   unknown channel key  -> 410 invalid subscribe action for this feed
 *   (un)subscribe        -> delta per channel ("*" is a symbol of its own:
 *                           unsubscribing "*" removes the wildcard only),
 *                           reply: the full `subscription` snapshot, with
 *                           corrections and cancelErrors equal to trades
 *   over symbol_limit    -> 405 symbol limit exceeded, set unchanged
 * The symbol limit counts distinct symbols over all channels; "*" is not
 * counted. Connection limit: per (key, endpoint), a slot is taken at a
 * successful auth and released when the session ends cleanly, or held for
 * dead_hold_ms after an unclean end (Alpaca keeps a dead session ~90 s). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Subscribable stock channels (bit i of a mask = channel i). */
enum replay_session_chan {
	REPLAY_CH_TRADES = 0,
	REPLAY_CH_QUOTES,
	REPLAY_CH_BARS,
	REPLAY_CH_UPDATED_BARS,
	REPLAY_CH_DAILY_BARS,
	REPLAY_CH_STATUSES,
	REPLAY_CH_LULDS,
	REPLAY_CH_IMBALANCES,
	REPLAY_CH_COUNT
};

#define REPLAY_SESSION_SYMBOL_MAX 23 /* as the client's alpaca_symbol_plain */

/* --- registry: keys and connection slots (one per server) -------------- */

struct replay_session_reg_opts {
	uint32_t conn_limit;   /* sessions per (key, endpoint); 0 means 1 */
	uint64_t dead_hold_ms; /* slot held after an unclean end; 0: none */
};

struct replay_session_reg;

int replay_session_reg_new(struct replay_session_reg **out, const struct replay_session_reg_opts *o);
void replay_session_reg_free(struct replay_session_reg *reg); /* after every session */

/* Adds a credential pair. feeds: comma-separated endpoint feed names the key
 * may use ("iex,sip"), NULL or "*" for all. With no key added, any non-empty
 * key/secret pair is accepted. 0, -EINVAL or -ENOMEM. */
int replay_session_reg_add_key(struct replay_session_reg *reg, const char *key, const char *secret,
                               const char *feeds);

/* Keys file (blocking stdio: start-up only): one "KEY SECRET [FEEDS]" per
 * line, blank lines and lines starting with '#' ignored. 0, -EIO (err holds
 * the reason), -EINVAL ("line N: ...") or -ENOMEM. */
int replay_session_reg_load_keys(struct replay_session_reg *reg, const char *path, char *err,
                                 size_t errcap);

/* Slots of (key, endpoint) taken at now_ms: live sessions plus holds not yet
 * expired. */
uint32_t replay_session_reg_count(struct replay_session_reg *reg, const char *key,
                                  const char *endpoint, uint64_t now_ms);

/* --- one session ------------------------------------------------------- */

struct replay_session_opts {
	/* Endpoint: the request path without the leading '/', e.g. "v2/iex";
	 * its last segment is the feed name checked against the key's feeds. */
	const char *endpoint;
	uint64_t auth_timeout_ms; /* 0: 10 s */
	uint32_t symbol_limit;    /* 0: unlimited */
	bool reject_auth;         /* fault: refuse every auth with 402 */
	bool omit_empty;          /* leave empty channels out of the snapshot */
};

/* Actions for the owner (bit mask returned by the input functions). */
#define REPLAY_SESSION_ACT_CLOSE 1u /* close the connection after the replies */
#define REPLAY_SESSION_ACT_START 2u /* the first subscription is confirmed */
#define REPLAY_SESSION_ACT_SUBS 4u  /* the subscription set was (re)confirmed */

/* One whole reply frame (JSON text, valid during the call). */
typedef void (*replay_session_emit_fn)(void *ctx, const char *frame, size_t len);

struct replay_session;

/* 0, -EINVAL or -ENOMEM. reg, emit must outlive the session. */
int replay_session_new(struct replay_session **out, struct replay_session_reg *reg,
                       const struct replay_session_opts *o, replay_session_emit_fn emit, void *ctx);

/* Ends the session (releases its slot: now, when clean, else after the dead
 * hold) and frees it. clean: the WebSocket close handshake took place. */
void replay_session_free(struct replay_session *s, bool clean, uint64_t now_ms);

/* The WebSocket is open. hdr_key/hdr_secret: APCA-API-KEY-ID and
 * APCA-API-SECRET-KEY of the upgrade request, NULL when absent (both must be
 * present to count as header auth). Returns actions or -ENOMEM. */
int replay_session_open(struct replay_session *s, uint64_t now_ms, const char *hdr_key,
                        const char *hdr_secret);

/* One client text message. Returns actions or -ENOMEM. */
int replay_session_message(struct replay_session *s, const char *msg, size_t len, uint64_t now_ms);

/* Time has passed (the timer armed at the deadline fired). Returns actions. */
int replay_session_tick(struct replay_session *s, uint64_t now_ms);

/* When the next tick is due; UINT64_MAX if none. */
uint64_t replay_session_deadline(const struct replay_session *s);

/* The server decided the client is too slow: 407 slow client, then close.
 * Returns REPLAY_SESSION_ACT_CLOSE. */
int replay_session_slow(struct replay_session *s);

/* Should a data message of type T with symbol S go to this client? Control
 * types never do; corrections (c) and cancel errors (x) follow trades; a type
 * without a channel goes to clients subscribed to S on any channel. Hot path:
 * no allocation. */
bool replay_session_wants(const struct replay_session *s, const char *type, size_t type_len,
                          const char *sym, size_t sym_len);

bool replay_session_authenticated(const struct replay_session *s);
bool replay_session_closing(const struct replay_session *s); /* CLOSE was returned */
const char *replay_session_key(const struct replay_session *s); /* "" before auth */
/* Distinct symbols subscribed ("*" not counted). */
size_t replay_session_symbol_count(const struct replay_session *s);

/* "trades" ... "imbalances", NULL out of range. */
const char *replay_session_chan_name(int ch);
