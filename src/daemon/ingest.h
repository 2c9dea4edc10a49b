/* ingest.h - the daemon's source side: the Alpaca WebSocket (net/wsconn),
 * the session machine (source/alpaca), the frame parser, dedup, durable seq,
 * JSON envelopes to the raw topics, and connection status events.
 *
 * Routing (wire.md names four raw topics; the rest is our decision, see
 * docs/architecture.md): trades, corrections, cancel errors -> trades topic;
 * quotes -> quotes topic; bars, updatedBars, dailyBars -> bars topic;
 * trading statuses, LULDs, imbalances and our connection status events ->
 * status topic. The envelope's `channel` tells them apart. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/outputs.h"
#include "event.h"

struct ingest;

struct ingest_hooks {
	/* Every accepted (non-duplicate) data event, after it was handed to
	 * Kafka: the TA engine's input. May be NULL. */
	void (*on_event)(void *arg, const struct event *ev);
	/* The session stopped on an error retrying cannot fix (402, 409, ...). */
	void (*on_fatal)(void *arg, int code, const char *msg);
	void *arg;
};

int ingest_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
	       const struct ingest_hooks *h, struct ingest **res, char *err, size_t errlen);
int ingest_start(struct ingest *in);
/* Stops the session (close frame), then frees; cb once everything is closed. */
void ingest_close(struct ingest *in, void (*cb)(void *arg), void *arg);

/* Adds (add=true) or removes symbols on every configured channel of the live
 * session; the desired set survives reconnects. `done` reports the server's
 * answer once (alpaca.h sub_result codes: 0 confirmed, 400/405/410/413
 * refused, -ENOTCONN applied on the next connection, ...). Returns 0, or
 * -EINVAL (err names the symbol), -EBUSY (too many changes pending). */
int ingest_change_symbols(struct ingest *in, const char *const *syms, size_t n, bool add,
			  void (*done)(void *arg, int result, const char *detail), void *arg, char *err,
			  size_t errlen);
/* Makes alpaca.symbols of `c` (on its channels) the session's desired set,
 * as after a reload; the result is reported through the status events. */
void ingest_apply_conf_symbols(struct ingest *in, const struct conf *c);
/* Desired and server-confirmed symbols per channel (a new JSON object). */
json_t *ingest_symbols_json(const struct ingest *in);

struct alpaca_stats;
struct frame_stats;
struct hist;
const struct alpaca_stats *ingest_alpaca_stats(const struct ingest *in);
const struct frame_stats *ingest_frame_stats(const struct ingest *in);
uint64_t ingest_duplicates(const struct ingest *in);
/* Latency of frame read (socket) -> produce() returned, per event. */
void ingest_set_hist(struct ingest *in, struct hist *frame_to_produce);

/* Checkpoints (daemon/checkpoints.c). The marker is our connection status
 * event `checkpoint` (attempt = the checkpoint id, detail as given) on the
 * status topic, keyed by the feed: its bytes into buf, or -ENOSPC. */
struct snapshot_writer;
struct snapshot;
ssize_t ingest_marker(struct ingest *in, uint64_t id, const char *detail, char *buf, size_t cap);
const char *ingest_feed(const struct ingest *in);
/* Holds the data path still while a checkpoint encodes the state in
 * steps: frames that arrive are kept in order (reading pauses) and handled
 * on release, so nothing the snapshot covers changes between its steps. */
void ingest_hold(struct ingest *in, bool hold);
/* The state (dedup window, seq counters, per-channel last event times) in
 * steps, held still from begin to the last step: begin returns the bytes
 * its sections take in a snapshot (headers included) or a negative code;
 * reserve puts them into w (the small ones written now); step writes the
 * next `budget` bytes of the dedup window: 1 complete, 0 more, < 0 error. */
ssize_t ingest_state_save_begin(struct ingest *in);
int ingest_state_save_reserve(struct ingest *in, struct snapshot_writer *w);
int ingest_state_save_step(struct ingest *in, struct snapshot_writer *w, size_t budget);
/* Replaces them from a snapshot (0 or -EINVAL) and arms the recovery gap:
 * the first live event reports a gap from the restored channel times to
 * itself, with detail "<why> from checkpoint <id>". */
int ingest_state_load(struct ingest *in, const struct snapshot *snap, uint64_t id, const char *why);

/* Status for `torghutctl status` (a new JSON object). */
json_t *ingest_status_json(const struct ingest *in);
/* Gate for /readyz and status: subscribed and data flowing. */
bool ingest_subscribed(const struct ingest *in);
