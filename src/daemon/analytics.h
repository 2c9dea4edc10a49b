/* analytics.h - the daemon's TA side: the engine (ta/engine) driven by the
 * loop (a timer at the next bar close, the heartbeat at start and every
 * checkpoint interval), its records Avro-encoded to the TA topics. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/outputs.h"
#include "event.h"

struct analytics;

int analytics_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		  struct analytics **res);
/* Starts the close timer and the heartbeat (the first one now). */
void analytics_start(struct analytics *a);
void analytics_on_event(struct analytics *a, const struct event *ev);
/* Emits a final heartbeat, closes the timers and frees; cb when done. */
void analytics_close(struct analytics *a, void (*cb)(void *arg), void *arg);
struct hist;
/* Frame TA records with these registry ids (Confluent: 0x00, id, body). */
void analytics_set_schema_ids(struct analytics *a, int32_t bars, int32_t signals, int32_t status);
/* close_to_signal: from the moment the watermark passed bar end + slack to
 * the signal produced (monotonic; valid for live feeds and replays).
 * event_to_signal: wall clock - bar end (upstream's event-to-signal; only
 * meaningful on a live feed). */
void analytics_set_hists(struct analytics *a, struct hist *close_to_signal, struct hist *event_to_signal);
uint64_t analytics_late_trades(const struct analytics *a);
/* Per symbol: the last 1 s bar and its indicators (at most `limit` rows). */
json_t *analytics_market_json(const struct analytics *a, size_t limit);
json_t *analytics_status_json(const struct analytics *a);
/* Checkpoints: the engine (per-symbol TA, watermark, open micro-bars,
 * durable TA seq) as SNAPSHOT_SEC_TA_ENGINE. load: 0, -EINVAL, -ENOMEM
 * (unchanged on failure); a snapshot without the section loads nothing. */
struct snapshot_writer;
struct snapshot;
/* Holds the engine still while a checkpoint saves it in steps: the bar
 * close and heartbeat timers' work waits for the release. */
void analytics_hold(struct analytics *a, bool hold);
/* The TA engine section in steps (the contract of ingest_state_save_*). */
ssize_t analytics_state_save_begin(struct analytics *a);
int analytics_state_save_reserve(struct analytics *a, struct snapshot_writer *w);
int analytics_state_save_step(struct analytics *a, struct snapshot_writer *w, size_t budget);
int analytics_state_load(struct analytics *a, const struct snapshot *snap);
