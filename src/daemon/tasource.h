/* tasource.h - role=ta's input: the ingest topics (JSON envelopes written by
 * role=ingest, or any upstream-compatible producer) read by a Kafka consumer
 * group (source/kafka_in), decoded (source/envelope_in), deduplicated, and
 * handed to the TA engine as events.
 *
 * Checkpointed state: the consumed positions (next offset per topic and
 * partition, SNAPSHOT_SEC_SOURCE_POS), the dedup window (at-least-once
 * ingest re-emits after its restarts) and the seq counter of our checkpoint
 * markers. A restore seeks the consumer back to the positions, so the TA
 * records after the checkpoint are computed again from the same input and
 * carry the same identities; unlike Alpaca, Kafka rewinds, so there is no
 * recovery gap. Group offsets are committed after each checkpoint only for
 * lag monitoring: the positions in the checkpoint are what a restart uses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/outputs.h"
#include "event.h"

struct tasource;
struct snapshot_writer;
struct snapshot;

struct tasource_hooks {
	void (*on_event)(void *arg, const struct event *ev);
	/* The consumer cannot go on (librdkafka fatal error). */
	void (*on_fatal)(void *arg, const char *why);
	void *arg;
};

/* The source; its consumer is made by tasource_start. */
int tasource_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		 const struct tasource_hooks *h, struct tasource **res, char *err, size_t errlen);
/* Once Kafka is ready (the producer's bootstrap is known then): a consumer
 * of topic.trades, topic.quotes and topic.bars in group ta.group.id with the
 * producer's connection settings, started at the restored positions; events
 * then flow from the loop. 0 or a negative code (logged). Up to 1024
 * partitions. */
int tasource_start(struct tasource *s);
/* Holds delivery still while a checkpoint encodes the state. */
void tasource_hold(struct tasource *s, bool hold);

/* The state in steps (the contract of ingest_state_save_*). */
ssize_t tasource_state_save_begin(struct tasource *s);
int tasource_state_save_reserve(struct tasource *s, struct snapshot_writer *w);
int tasource_state_save_step(struct tasource *s, struct snapshot_writer *w, size_t budget);
/* Replaces it from a snapshot (positions take effect at once, or at the
 * next assignment): 0 or -EINVAL / -ENOMEM. */
int tasource_state_load(struct tasource *s, const struct snapshot *snap);
/* The checkpoint whose state was saved last is complete: its positions are
 * committed to the group (asynchronously; monitoring only). */
void tasource_checkpointed(struct tasource *s);

/* The checkpoint marker (exactly-once): our connection status event
 * `checkpoint` for the feed, as ingest_marker. */
ssize_t tasource_marker(struct tasource *s, uint64_t id, const char *detail, char *buf, size_t cap);
const char *tasource_key(const struct tasource *s);

struct tasource_stats {
	uint64_t events, duplicates, rejected, skipped;
	size_t assigned; /* partitions */
};
void tasource_stats(const struct tasource *s, struct tasource_stats *st);

/* For `torghutctl status` (a new object) and the gate: assigned partitions. */
json_t *tasource_status_json(const struct tasource *s);
bool tasource_assigned(const struct tasource *s);

void tasource_close(struct tasource *s, void (*cb)(void *arg), void *arg);
