/* kafka.h - the Kafka producer, driven from the uv loop without blocking it.
 *
 * One rd_kafka_t per `struct kafka`. Its main queue (delivery reports, errors,
 * logs, admin results) raises an io-event on a non-blocking pipe watched by
 * one uv_poll_t; the loop drains it with zero-timeout polls, so every
 * callback below runs on the loop thread. Every librdkafka call that waits
 * (init/commit/abort transaction, flush, metadata, destroy) runs on the uv
 * threadpool and reports back on the loop.
 *
 * Life cycle: kafka_new -> kafka_start (async) -> kafka_produce / kafka_commit
 * / kafka_topics_check ... -> kafka_close (async; frees in the last step).
 *
 * Profiles:
 *  - KAFKA_EXACTLY_ONCE: transactional producer (kafka.transactional.id is
 *    required). kafka_start runs init_transactions and opens the first
 *    transaction; a transaction is always open between checkpoints.
 *    kafka_commit commits it off-loop and opens the next one; records offered
 *    meanwhile are held in a bounded in-memory queue and go into the next
 *    transaction. Consumers must read with isolation.level=read_committed.
 *  - KAFKA_LOW_LATENCY: enable.idempotence=true, acks=all, linger.ms from
 *    execution.buffer-timeout, no transactions. kafka_commit is a delivery
 *    barrier: it flushes off-loop (new records are held meanwhile) and
 *    reports once everything offered before it has been acknowledged.
 *
 * Switching profile: the owner does it at a checkpoint boundary. After the
 * checkpoint's kafka_commit has reported 0, call kafka_close (nothing is left
 * in flight then), and in its callback kafka_new + kafka_start with the other
 * profile. Records produced between the two are the owner's to hold; the
 * new producer's start callback is the moment to resume.
 *
 * Accounting invariant: every kafka_produce that returns 0 gets exactly one
 * delivery callback (success, failure, purged by an abort, or dropped at
 * close). A refused record (return < 0) gets none and is counted in stats.
 * Every accepted async call (start, commit, topics check) gets its callback,
 * with -ECANCELED if kafka_close overtook it.
 *
 * Callbacks run on the loop thread, normally from the io-event handler. A few
 * are delivered from inside a call: kafka_produce/kafka_commit may report
 * held records dropped because the transaction just failed. Callbacks may
 * call kafka_produce/kafka_commit/kafka_close (close never frees in place).
 *
 * Topic handles are created on a topic's first record, not at start, so that
 * kafka_topics_check sees the cluster as it is (a handle makes librdkafka
 * request the topic's metadata, which auto-creates it on brokers allowing it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define KAFKA_MAX_TOPICS 16

struct kafka;

enum kafka_profile { KAFKA_EXACTLY_ONCE = 0, KAFKA_LOW_LATENCY };

/* One `kafka.X = value` configuration entry, with the `kafka.` prefix removed. */
struct kafka_kv {
	const char *key;
	const char *value;
};

/* Why a delivery failed. PURGED (an aborted transaction or a close dropped
 * the record) is an expected consequence of another error and does not count
 * as a failure of its own. */
enum kafka_err_class {
	KAFKA_EC_TIMEOUT = 0, /* message.timeout.ms expired, request timed out */
	KAFKA_EC_AUTH,        /* authentication or authorization */
	KAFKA_EC_TOPIC,       /* unknown topic or partition */
	KAFKA_EC_SIZE,        /* record too large */
	KAFKA_EC_PURGED,      /* purged by a transaction abort or a close */
	KAFKA_EC_OTHER,
	KAFKA_EC_COUNT
};

/* A delivery report, valid only during the callback. */
struct kafka_dr {
	unsigned topic;        /* index into kafka_config.topics */
	int32_t partition;     /* -1 if never assigned */
	int64_t offset;        /* -1 if unknown */
	/* 0, or -ETIMEDOUT -EACCES -ENOENT -EMSGSIZE -ECANCELED (purged)
	 * -ESHUTDOWN (dropped at close) -ENOTRECOVERABLE -EIO */
	int err;
	int rd_err;            /* the rd_kafka_resp_err_t behind err (0 for our own drops) */
	enum kafka_err_class err_class; /* meaningful only when err != 0 */
	int64_t latency_us;    /* handed to librdkafka -> report served on the loop; -1 if unknown */
	const void *key;
	size_t key_len;
	void *opaque;          /* the opaque given to kafka_produce */
};

enum kafka_event {
	/* transient client error (all brokers down, transport...): report it,
	 * keep going */
	KAFKA_EV_ERROR = 0,
	KAFKA_EV_ABORTED,   /* exactly-once: the open transaction was aborted after an error;
			     * restore from the last checkpoint and re-emit */
	KAFKA_EV_FATAL,     /* unrecoverable (fenced, fatal idempotence error...): exit non-zero */
};

struct kafka_callbacks {
	/* librdkafka logs; level is the syslog level (0 emerg .. 7 debug). */
	void (*log)(void *arg, int level, const char *fac, const char *msg);
	void (*dr)(void *arg, const struct kafka_dr *dr);
	/* err is a negative errno-style code, msg a one-line description. */
	void (*event)(void *arg, enum kafka_event ev, int err, const char *msg);
	void *arg;
};

struct kafka_config {
	enum kafka_profile profile;
	/* Every `kafka.X` key minus the prefix, applied in order with
	 * rd_kafka_conf_set (later wins). Keys that are ours, not librdkafka's:
	 *   bootstrap.servers = embedded      start an in-process mock cluster
	 *   topics.create = true|false        create missing topics (admin API)
	 *   topics.create.partitions = N      for created topics (default: broker
	 *                                     default; embedded 1)
	 *   topics.create.replication.factor = N   (default: broker default)
	 *   embedded.brokers = N              mock cluster size (default 1)
	 *   sasl.password.file                ignored here: the owner reads the
	 *                                     file and passes sasl_password
	 * transactional.id is ignored in the low-latency profile; log.queue must
	 * stay true. Our defaults, applied first so kafka.X overrides them:
	 * partitioner=murmur2_random (the Java client's), allow.auto.create.topics
	 * =false, and for low-latency enable.idempotence=true, acks=all. */
	const struct kafka_kv *kv;
	size_t n_kv;
	const char *sasl_password;  /* NULL if none; never logged or echoed */
	const char *const *topics;  /* produce targets; the index is the topic id */
	size_t n_topics;            /* 1..KAFKA_MAX_TOPICS */
	int linger_ms;              /* execution.buffer-timeout; < 0 keeps librdkafka's */
	size_t hold_max_bytes;      /* bound of the hold queue; 0 = 8 MiB */
	int start_timeout_ms;       /* init_transactions bound; 0 = 30 s */
	int commit_timeout_ms;      /* low-latency commit (flush) bound; 0 = 60 s */
	int close_timeout_ms;       /* flush / abort bound at close; 0 = 10 s */
	/* exactly-once: when set (at most 40 bytes), every record carries the
	 * header `torghut-txn: <prefix>.<n>`, n counting this producer's
	 * transactions from 1: which transaction wrote a record can then be
	 * told by any reader, also on the mock cluster. */
	const char *txn_tag_prefix;
};

struct kafka_topic_stats {
	uint64_t produced;  /* accepted by kafka_produce (direct or held) */
	uint64_t held;      /* of those, went through the hold queue */
	uint64_t refused;   /* refused for backpressure (-ENOBUFS): report a gap */
	uint64_t rejected;  /* refused for another reason (-EMSGSIZE, -ECANCELED, -ENOENT, -EIO) */
	uint64_t delivered; /* acknowledged (in exactly-once: written, visible once committed) */
	uint64_t failed[KAFKA_EC_COUNT]; /* delivery failures by class */
};

/* Plain data, read from the loop thread. */
struct kafka_stats {
	struct kafka_topic_stats topic[KAFKA_MAX_TOPICS];
	uint32_t consecutive_failures; /* delivery or commit failures in a row (not PURGED) */
	uint64_t in_flight;            /* accepted, no delivery callback yet */
	uint64_t held_msgs, held_bytes; /* in the hold queue now */
	uint64_t commits, aborts, commit_failures;
	int64_t last_latency_us, max_latency_us; /* of successful deliveries */
};

/* status: 0, or a negative errno-style code with a one-line errstr. */
typedef void (*kafka_done_cb)(struct kafka *k, int status, const char *errstr, void *arg);
/* missing: bit i set = topic i is missing. */
typedef void (*kafka_topics_cb)(struct kafka *k, int status, uint32_t missing, const char *detail,
				void *arg);

/* Validates and applies the configuration; does not contact anything.
 * Errors name the key: "kafka.linger.ms: Invalid value ...". */
int kafka_new(uv_loop_t *loop, const struct kafka_config *cfg, const struct kafka_callbacks *cb,
	      struct kafka **out, char *err, size_t errlen);

/* Off-loop: start the embedded cluster if configured, create the client,
 * and in exactly-once init transactions and open the first one. cb reports
 * 0 (ready to produce) or the error. A failed start is final: close. */
int kafka_start(struct kafka *k, kafka_done_cb cb, void *arg);

/* Never blocks. Returns 0 (accepted: one delivery callback will follow) or:
 *   -ENOBUFS          refused for backpressure (librdkafka queue full, or
 *                     the hold queue is at hold_max_bytes); counted `refused`
 *   -EAGAIN           not started yet
 *   -ECANCELED        exactly-once: the transaction is being aborted; the
 *                     owner will re-emit after restoring (KAFKA_EV_ABORTED)
 *   -EMSGSIZE, -ENOENT, -EIO   the record itself was rejected
 *   -ENOTRECOVERABLE  fatal error raised (KAFKA_EV_FATAL)
 *   -ESHUTDOWN        closing; -EINVAL bad topic index */
int kafka_produce(struct kafka *k, unsigned topic, const void *key, size_t key_len,
		  const void *value, size_t value_len, void *opaque);

/* Checkpoint boundary. exactly-once: commit the open transaction off-loop
 * and open the next one; low-latency: wait for every earlier record's
 * delivery report. Records offered after the call are held and go into the
 * next transaction, even if earlier held records were still waiting for
 * room in librdkafka's queue (the commit then starts once those are in).
 * cb status:
 *   0                 committed (everything offered before the call)
 *   -ECANCELED        the transaction was aborted: restore from the last
 *                     checkpoint (held records were dropped, see their DRs)
 *   -ENOTRECOVERABLE  fatal (fenced...): exit non-zero
 *   -ETIMEDOUT        low-latency: not everything was acknowledged in time
 * Asked while an abort runs (KAFKA_EV_ABORTED pending), it is answered
 * -ECANCELED when the abort ends. Returns 0, -EBUSY (a commit is in
 * progress), -EAGAIN (not started), -ENOTRECOVERABLE or -ESHUTDOWN. */
int kafka_commit(struct kafka *k, kafka_done_cb cb, void *arg);

/* Two-phase checkpoint commit: the protocol of docs/architecture.md
 * ("Checkpoints and the transaction").
 *
 * kafka_commit_begin marks the boundary: records offered after it are held
 * for the next transaction (or, low-latency, until the barrier). prepared
 * runs with 0 once every record offered before the call has its delivery
 * report: the transaction now holds all of them and nothing else. It runs
 * with -ECANCELED if the transaction was aborted meanwhile (a record
 * failed): restore from the last checkpoint.
 *
 * After prepared(0), the owner calls exactly one of:
 *   kafka_commit_finish: exactly-once: produce `marker` (if not NULL) into
 *     the transaction, wait for its delivery report, then commit off-loop;
 *     cb as for kafka_commit. Low-latency: the barrier is complete; cb(0)
 *     runs before the call returns.
 *   kafka_commit_cancel: exactly-once: abort the transaction (cb gets
 *     -ECANCELED when the abort is done; restore); low-latency: give up the
 *     barrier (cb(-ECANCELED) before the call returns). Also allowed before
 *     prepared ran: then prepared is not called any more.
 * Held records go out once the commit (or abort, where they are dropped) is
 * done. Returns 0, -EBUSY (a commit is in progress), -EAGAIN (not started),
 * -ENOTRECOVERABLE, -ESHUTDOWN; finish/cancel: -EINVAL when not prepared. */
struct kafka_marker {
	unsigned topic;
	const void *key, *value;
	size_t key_len, value_len;
};
int kafka_commit_begin(struct kafka *k, kafka_done_cb prepared, void *arg);
int kafka_commit_finish(struct kafka *k, const struct kafka_marker *marker, kafka_done_cb cb, void *arg);
int kafka_commit_cancel(struct kafka *k, kafka_done_cb cb, void *arg);
/* The open transaction's tag ("<prefix>.<n>"), "" without a prefix or in
 * low-latency. */
const char *kafka_txn_tag(const struct kafka *k);
/* The tag of the transaction aborted last, "" if none: reported with the
 * gap, so a reader of a log that keeps aborted records can tell. */
const char *kafka_aborted_tag(const struct kafka *k);

/* Topic readiness: metadata off-loop; with topics.create=true, missing
 * topics are created (admin API, async) and checked again. cb status: 0 all
 * present; -ENOENT some missing ("missing topic X" in detail); another code
 * if the metadata request failed. The owner retries and owns the deadline.
 * Returns 0, -EBUSY (a check is running), -EAGAIN (not started), -ESHUTDOWN. */
int kafka_topics_check(struct kafka *k, int timeout_ms, kafka_topics_cb cb, void *arg);

const struct kafka_stats *kafka_stats(const struct kafka *k);

/* The bootstrap servers in use (the mock cluster's in embedded mode), or
 * NULL before start has completed. */
const char *kafka_bootstrap(const struct kafka *k);
bool kafka_is_embedded(const struct kafka *k);
/* The embedded mock cluster (struct kafka_mock, see kafka_mock.h) or NULL. */
struct kafka_mock *kafka_embedded_mock(const struct kafka *k);
enum kafka_profile kafka_profile(const struct kafka *k);

/* Starts the shutdown: low-latency flushes (close_timeout_ms, then purges),
 * exactly-once aborts the open transaction (commit first to keep it).
 * Outstanding callbacks are delivered, then cb(arg) runs after the last
 * handle is closed and k is freed. Safe at any time, also mid-start. */
void kafka_close(struct kafka *k, void (*cb)(void *arg), void *arg);

/* "timeout", "auth", "topic", "size", "purged", "other" (metric labels). */
const char *kafka_err_class_name(enum kafka_err_class c);
/* The wire.md error class: "kafka_auth", "kafka_metadata" or "kafka_produce". */
const char *kafka_err_class_wire(enum kafka_err_class c);
