/* kafka_in.h - the raw ingest topics in (role=ta): a Kafka consumer group
 * member on the uv loop, delivering raw records (decoding is envelope_in's).
 *
 * One rd_kafka_t per `struct kafka_in`, made and subscribed on the uv
 * threadpool by kafka_in_start (rd_kafka_new may read files: CA, keytab).
 * Its consumer queue (messages, rebalances, errors, commit results; the main
 * queue is forwarded into it) raises an io-event on a non-blocking pipe
 * watched by a uv_poll_t; the loop drains it with zero-timeout polls, at most
 * a slice (KAFKA_IN_SLICE_DEFAULT records or ~0.5 ms) per loop iteration,
 * continuing from a uv_idle_t while records wait. rd_kafka_consumer_close and
 * rd_kafka_destroy run on the threadpool.
 *
 * Offsets are ours: enable.auto.commit and enable.auto.offset.store are off.
 * What the owner's state has seen is kafka_in_positions (next offset per
 * assigned partition); a checkpoint stores it and a restore hands it back
 * through kafka_in_set_positions. The group's committed offsets matter only
 * where no position was set (a partition new to this state) and for lag
 * monitoring (kafka_in_commit after a checkpoint).
 *
 * Rebalances: eager (rd_kafka_assign) unless the configured
 * partition.assignment.strategy is cooperative (incremental assign). A
 * partition revoked keeps its position as a set one; one assigned starts at
 * its set position if there is one, else at the committed offset (or
 * auto.offset.reset). Rebalance events travel in the same queue as records,
 * so while delivery is held they wait too.
 *
 * Every callback runs on the loop thread, from the io-event or idle handler,
 * never from inside a kafka_in_* call. Callbacks may call any kafka_in_*
 * function, kafka_in_close included (close never frees in place).
 *
 * Life cycle: kafka_in_new -> [kafka_in_set_positions] -> kafka_in_start ->
 * ... -> kafka_in_close (async; frees, then calls back). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#define KAFKA_IN_TOPIC_MAX 128     /* topic name bytes, NUL included */
#define KAFKA_IN_TOPICS_MAX 16     /* topics subscribed */
#define KAFKA_IN_SLICE_DEFAULT 256 /* records delivered per loop iteration at most */

struct kafka_in;

/* One record. Every pointer is valid during the on_msg call only. */
struct kafka_in_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key; /* NULL if the record has none */
	size_t key_len;
	const void *value; /* NULL for a tombstone */
	size_t len;
	int64_t timestamp_ms; /* the record's timestamp, -1 if none */
};

/* A partition's position: the next offset to deliver. An offset < 0 means
 * "unknown": nothing was delivered since it was assigned from the group's
 * committed offset; set_positions and commit skip such entries. */
struct kafka_in_pos {
	char topic[KAFKA_IN_TOPIC_MAX];
	int32_t partition;
	int64_t offset;
};

struct kafka_in_cbs {
	/* A record, in partition order. Not called while held. */
	void (*on_msg)(void *arg, const struct kafka_in_msg *m);
	/* A consumer error, with a one-line text. fatal: the consumer cannot
	 * go on (librdkafka's fatal error, or the start failed): nothing more
	 * is delivered, only kafka_in_close is left. Transient errors
	 * (broker down, unknown topic, a failed commit) are not fatal;
	 * librdkafka retries. Partition EOF is never reported. */
	void (*on_error)(void *arg, bool fatal, const char *what);
	void *arg;
};

struct kafka_in_opts {
	const char *const *topics; /* 1..KAFKA_IN_TOPICS_MAX names, no patterns */
	size_t ntopics;
	const char *group_id;          /* consumer group, required */
	bool read_committed;           /* isolation.level=read_committed (exactly-once inputs) */
	const char *auto_offset_reset; /* "earliest" or "latest": where a partition with no
					* set or committed position starts; NULL: as in conf */
	unsigned slice_msgs;           /* records per loop iteration; 0 = KAFKA_IN_SLICE_DEFAULT */
};

struct kafka_in_stats {
	uint64_t messages;   /* delivered through on_msg */
	uint64_t errors;     /* on_error calls */
	uint64_t rebalances; /* assign and revoke events */
	size_t assigned;     /* partitions assigned now */
};

/* Makes the consumer (not started: no handle, no I/O yet). conf carries the
 * connection settings (bootstrap.servers, security...); the keys this module
 * owns are set over it (group.id, isolation.level, auto.offset.reset,
 * enable.auto.commit, enable.auto.offset.store, enable.partition.eof, the
 * callbacks and opaque). On success conf is taken over, on failure it stays
 * the caller's. Returns 0, -EINVAL with the reason in err, or -ENOMEM. */
int kafka_in_new(uv_loop_t *loop, rd_kafka_conf_t *conf, const struct kafka_in_opts *o,
		 const struct kafka_in_cbs *cbs, struct kafka_in **out, char *err, size_t errlen);

/* Creates the handle and subscribes, on the threadpool; records then flow
 * from the loop. A failure there is reported by on_error(fatal). Returns 0,
 * -EALREADY if started, or -ESHUTDOWN if closing. */
int kafka_in_start(struct kafka_in *k);

/* Positions to start from (a restored checkpoint, a rewind): partitions
 * assigned later start there instead of at the group's committed offset
 * (each used once, at its next assignment); partitions assigned already are
 * seeked now, without waiting, and kafka_in_positions reports the new offset
 * at once. Records fetched before the seek are never delivered; if the first
 * record after it is not at the position (the seek raced with librdkafka
 * starting the partition at its committed offset, or the position is a gap
 * such as a control record), it is dropped and the seek repeated once.
 * Entries with offset < 0 are skipped. Copies p. Returns 0, -EINVAL (a topic
 * name not NUL-terminated), -ESHUTDOWN, -ENOMEM, or -EIO if librdkafka
 * refused a seek. */
int kafka_in_set_positions(struct kafka_in *k, const struct kafka_in_pos *p, size_t n);

/* The position of every assigned partition after the records delivered so
 * far (what a checkpoint stores), in assignment order, then the positions
 * set but not assigned now (a restore waiting for the group's assignment, a
 * partition revoked: if it comes back it goes on from there). Writes at most
 * cap entries; returns the number of positions (may exceed cap). */
size_t kafka_in_positions(const struct kafka_in *k, struct kafka_in_pos *out, size_t cap);

/* hold=true: no on_msg until released (a checkpoint is encoding the state);
 * records (and rebalances) wait in librdkafka. hold=false delivers what
 * waits, a slice per loop iteration. Takes effect at once, also from inside
 * on_msg. A hold longer than max.poll.interval.ms (5 min by default) makes
 * librdkafka leave the group. */
void kafka_in_hold(struct kafka_in *k, bool hold);

/* Commits these positions to the group (lag monitoring after a checkpoint)
 * without waiting; a failure comes later through on_error (not fatal).
 * Entries with offset < 0 are skipped. Returns 0, -ENOTCONN before the
 * start completed, -ESHUTDOWN if closing, -ENOMEM or -EIO. */
int kafka_in_commit(struct kafka_in *k, const struct kafka_in_pos *p, size_t n);

/* Counters since kafka_in_new, and the partitions assigned now. */
void kafka_in_stats(const struct kafka_in *k, struct kafka_in_stats *s);

/* Stops delivery at once, leaves the group (rd_kafka_consumer_close on the
 * threadpool: it waits for the group), destroys the handle, frees k, then
 * calls cb(arg) on the loop. Positions not committed are not committed. A
 * second call is ignored. */
void kafka_in_close(struct kafka_in *k, void (*cb)(void *arg), void *arg);
