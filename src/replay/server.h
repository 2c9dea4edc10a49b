/* server.h - the replay server: a local Alpaca-compatible market-data
 * WebSocket server on one uv loop (torghut-replay serve).
 *
 * Accepts ws:// or wss:// (the tls_config decides) on one TCP listener and
 * serves the stock stream paths /v2/{iex,sip,delayed_sip,test} and
 * /v1beta1/{boats,overnight}; any other path is refused with HTTP 404 at the
 * upgrade, and a request for MessagePack (Content-Type: application/msgpack)
 * with 415: the server speaks JSON only. Each connection runs the Alpaca
 * rules of session.h; once its first subscription is confirmed it gets its
 * own replay of the recording, from the start (offsets are taken relative to
 * the recording's first message):
 * only messages it subscribes to (channel of T, symbol S, "*"), paced by the
 * schedule (recorded offsets / speed, fixed rate, or as fast as the client
 * reads), up to `batch` messages per frame (a JSON array), optionally looped.
 * A subscription change applies from the next message not yet sent.
 *
 * Backpressure as Alpaca: when more than max_queued bytes wait for a client,
 * it gets 407 slow client and is closed. In as-fast-as-possible mode the
 * server waits instead while more than max_queued / 2 bytes wait, so only a
 * client that stops reading is cut off.
 *
 * Fault injection: faults.h. Every data message sent is written to the send
 * log (sendlog.h) if one is given; the log is flushed every second and when
 * the server closes. That buffered write is the only blocking call after
 * start-up (the recording is loaded into memory before the loop runs).
 *
 * Lifetime: replay_server_start() -> ... -> replay_server_close(cb): the
 * listener stops, every open session gets a close frame (1001), and once
 * the last connection and handle have closed the server is freed and cb
 * runs. The tls_config, registry, recording and send log belong to the
 * caller and must outlive the server (free them from cb or later). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "core/log.h"
#include "net/tls.h"
#include "replay/faults.h"
#include "replay/schedule.h"
#include "replay/sendlog.h"
#include "replay/session.h"

#define REPLAY_SERVER_DEFAULT_MAX_QUEUED (16u << 20)
#define REPLAY_SERVER_DEFAULT_CLOSE_TIMEOUT_MS 2000u

/* --- the recording, in memory ------------------------------------------- */

struct replay_server_rec;

struct replay_server_rec_stats {
	uint64_t lines;     /* items read (msg and frame lines; meta excluded) */
	uint64_t messages;  /* data messages kept */
	uint64_t control;   /* success/error/subscription messages skipped */
	uint64_t malformed; /* lines the reader skipped */
	size_t bytes;       /* message bytes held */
};

/* Reads a whole recording (recording.h) with blocking stdio: start-up only.
 * Malformed lines are skipped and counted; err gets the first one. Returns
 * 0, -EIO or -ENOMEM (err says why). */
int replay_server_rec_load(struct replay_server_rec **out, FILE *f, char *err, size_t errcap);
void replay_server_rec_free(struct replay_server_rec *rec);
const struct replay_server_rec_stats *replay_server_rec_stats(const struct replay_server_rec *rec);

/* --- the server ---------------------------------------------------------- */

struct replay_server_opts {
	const char *host;             /* numeric IPv4 or IPv6 address */
	uint16_t port;                /* 0: any free port (replay_server_port) */
	struct tls_config *tls;       /* plain (ws://) or server (wss://) */
	struct replay_session_reg *reg;
	const struct replay_server_rec *rec;
	struct sendlog *sendlog;      /* optional */
	struct schedule_opts sched;   /* batch 0 means 1 */
	bool loop;                    /* start over at the end of the recording */
	/* One schedule clock for every connection, started by the first stream
	 * (RECORDED pacing): a connection starts at the message due now, so a
	 * client that reconnects misses what it was down for, like a live feed. */
	bool live;
	/* Session rules (session.h). */
	uint64_t auth_timeout_ms;     /* 0: 10 s */
	uint32_t symbol_limit;        /* 0: unlimited */
	bool omit_empty;
	size_t max_queued;            /* 0: REPLAY_SERVER_DEFAULT_MAX_QUEUED */
	uint32_t handshake_timeout_ms; /* TLS and upgrade, each; 0: 10 s */
	uint32_t close_timeout_ms;    /* wait for the client's close frame; 0: 2 s */
	struct replay_faults faults;  /* replay_faults_init() for none */
	/* Optional: one line per connection event, for the top level to log. */
	void (*log)(void *user, enum log_level level, const char *text);
	void *log_user;
};

struct replay_server_stats {
	uint64_t accepted;       /* TCP connections */
	uint64_t refused;        /* upgrades refused (404, 415, 429) */
	uint64_t sessions;       /* WebSocket sessions opened */
	uint64_t live;           /* connections now open */
	uint64_t frames, messages; /* data frames and messages sent */
	uint64_t slow;           /* 407s sent (bound exceeded or fault) */
	uint64_t faults;         /* faults carried out (drop, malformed, stall, slow) */
};

struct replay_server;

/* Binds and listens (start-up: call before uv_run or on the loop thread).
 * Returns 0, -EINVAL (bad options, err says which) or a uv code (bind,
 * listen; the half-made server is then released by the loop's next run, so
 * run it once before uv_loop_close). */
int replay_server_start(struct replay_server **out, uv_loop_t *loop,
                        const struct replay_server_opts *o, char *err, size_t errcap);

/* The bound port (useful with port 0). */
uint16_t replay_server_port(const struct replay_server *s);

void replay_server_stats(const struct replay_server *s, struct replay_server_stats *out);

/* See the lifetime note above. cb may be NULL. Call once. */
void replay_server_close(struct replay_server *s, void (*cb)(void *arg), void *arg);

/* Is path (the request target, query ignored) a stock stream endpoint?
 * Writes the endpoint without the leading '/' ("v2/iex") to out. */
bool replay_server_endpoint(const char *target, char *out, size_t cap);
