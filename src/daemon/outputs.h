/* outputs.h - the daemon's Kafka side: the producer built from the config,
 * start-up with a deadline, topic readiness, the checkpoint-interval commit,
 * delivery accounting (the Kafka readiness gate) and gap accounting when
 * records are refused for backpressure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/conf.h"
#include "core/log.h"

enum outputs_topic {
	OUT_TRADES = 0,
	OUT_QUOTES,
	OUT_BARS,
	OUT_STATUS,
	OUT_TA_BARS,
	OUT_TA_SIGNALS,
	OUT_TA_STATUS,
	OUT_TA_LATE, /* only when topic.ta.late is set */
	OUT_TOPIC_COUNT
};

struct outputs;

struct outputs_hooks {
	/* Start-up finished: 0 ready, or a negative code with a reason (the
	 * daemon exits 3). */
	void (*ready)(void *arg, int status, const char *why);
	/* Exactly-once: a transaction was aborted (restore from the last
	 * checkpoint), or Kafka is unrecoverable (exit non-zero). */
	void (*aborted)(void *arg, const char *why);
	void (*fatal)(void *arg, const char *why);
	void *arg;
};

struct outputs_topic_stats {
	uint64_t produced, refused, rejected, delivered, failed;
};

struct outputs_stats {
	struct outputs_topic_stats topic[OUT_TOPIC_COUNT];
	bool ready;          /* producer started and topics present */
	bool gate;           /* Kafka readiness gate: off after 3 consecutive failures */
	uint64_t commits, commit_failures, aborts;
	int64_t last_commit_mono_ns;
	uint64_t gap_records; /* refused records since start (reported as gaps) */
	const char *error_class; /* kafka_metadata, kafka_auth, kafka_produce or NULL */
};

int outputs_new(uv_loop_t *loop, const struct conf *c, struct log *log, const struct outputs_hooks *h,
		struct outputs **out, char *err, size_t errlen);
/* Starts the producer and waits (with backoff) for every topic, up to
 * `deadline_ms`; reports through hooks->ready. */
int outputs_start(struct outputs *o, int64_t deadline_ms);
/* Produces one record. Returns 0, or a negative code when refused (counted;
 * -ENOBUFS counts as a gap record). Never blocks. */
int outputs_produce(struct outputs *o, enum outputs_topic t, const char *key, size_t key_len,
		    const void *val, size_t val_len);
bool outputs_topic_enabled(const struct outputs *o, enum outputs_topic t);
/* A checkpoint boundary: commit (exactly-once) or a delivery barrier
 * (low-latency). cb gets 0 or the error. */
int outputs_commit(struct outputs *o, void (*cb)(void *arg, int status), void *arg);
/* The checkpoint protocol's two-phase commit (sink/kafka.h): begin marks the
 * boundary (later records are held), prepared(0) once everything before it
 * is delivered (-ECANCELED: aborted meanwhile); then finish (exactly-once:
 * the marker, produced last to the status topic with key, then the commit;
 * low-latency: the barrier is done, cb runs before it returns) or cancel
 * (abort; cb -ECANCELED). cb gets 0, -ECANCELED (aborted: restore),
 * -ENOTRECOVERABLE (fatal). Returns 0 or a negative code. */
int outputs_commit_begin(struct outputs *o, void (*prepared)(void *arg, int status), void *arg);
int outputs_commit_finish(struct outputs *o, const char *key, size_t key_len, const void *marker, size_t len,
			  void (*cb)(void *arg, int status), void *arg);
int outputs_commit_cancel(struct outputs *o, void (*cb)(void *arg, int status), void *arg);
/* The open transaction's tag, "" in low-latency. */
const char *outputs_txn_tag(const struct outputs *o);
/* The tag of the transaction aborted last, "" if none. */
const char *outputs_aborted_tag(const struct outputs *o);
/* The transactional.id in use, or NULL (low-latency). */
const char *outputs_txn_id(const struct outputs *o);
bool outputs_exactly_once(const struct outputs *o);
/* What kafka_markers_scan needs, except the key (the feed); pointers into o. */
struct kafka_markers_req;
void outputs_markers_req(const struct outputs *o, struct kafka_markers_req *q);
struct hist;
/* produce() -> delivery report latency, per topic (NULL entries allowed). */
void outputs_set_ack_hists(struct outputs *o, struct hist *const hists[OUT_TOPIC_COUNT]);
void outputs_stats(const struct outputs *o, struct outputs_stats *s);
const char *outputs_bootstrap(const struct outputs *o);
bool outputs_embedded(const struct outputs *o);
/* A profile switch (at a checkpoint boundary, daemon/checkpoints.c):
 * outputs_hold before the boundary keeps every later record here (bounded
 * by sink.buffer.max-bytes; beyond that refused and counted as a gap); once
 * the checkpoint committed, outputs_switch_profile closes the producer,
 * makes one in profile p (linger.ms linger_ms, or the configured / profile
 * default when < 0), starts it and sends what waited; cb(arg, 0) then,
 * or a negative code (the fatal hook also runs: no producer is left).
 * outputs_hold_release sends what waited to the current producer instead
 * (the checkpoint failed). -EOPNOTSUPP with embedded Kafka (the cluster
 * lives in the producer). */
void outputs_hold(struct outputs *o);
void outputs_hold_release(struct outputs *o);
int outputs_switch_profile(struct outputs *o, enum conf_profile p, int linger_ms,
			   void (*cb)(void *arg, int status, const char *why), void *arg);
/* With checkpoints, only what a checkpoint covers may commit: close then
 * aborts the open transaction instead of committing it (exactly-once). */
void outputs_discard_on_close(struct outputs *o);
/* Drain: commit what is open (unless discarding), then close; cb once
 * everything is freed. */
void outputs_close(struct outputs *o, void (*cb)(void *arg), void *arg);
