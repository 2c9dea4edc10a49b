/* kafka_markers.h - find the newest committed checkpoint marker in Kafka.
 *
 * The exactly-once profile ends every checkpoint's transaction with a marker
 * record: our connection status event `checkpoint` on the status topic,
 * keyed by the feed, `attempt` = the checkpoint id and detail
 * "txn=<transactional.id> tag=<transaction tag>". A read_committed reader
 * sees the marker exactly when the transaction committed, so after a crash
 * the newest visible marker of our transactional.id names the checkpoint
 * whose state matches what Kafka holds (docs/architecture.md, "Checkpoints
 * and the transaction").
 *
 * kafka_markers_scan BLOCKS (a consumer, metadata, fetches): call it on the
 * uv threadpool. It reads every partition of the topic backwards in growing
 * windows from the end until it finds a marker of ours or reaches the start;
 * ids only grow, so the first window with a marker holds the newest. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sink/kafka.h"

struct kafka_markers_req {
	const char *bootstrap;          /* as in use by the producer */
	const struct kafka_kv *kv;      /* kafka.* settings (security, ...); ours are skipped */
	size_t n_kv;
	const char *sasl_password;      /* or NULL */
	const char *topic;              /* the status topic */
	const char *key;                /* the feed */
	const char *txn_id;             /* our transactional.id */
	int timeout_ms;                 /* for the whole scan; 0 = 10 s */
};

/* *id = the newest committed checkpoint id, 0 if there is no marker of ours.
 * Returns 0, or a negative errno code with a one-line reason in err
 * (-ETIMEDOUT, -EIO, -EINVAL for a bad setting). */
int kafka_markers_scan(const struct kafka_markers_req *q, uint64_t *id, char *err, size_t errlen);

/* A consumer configuration with the producer's connection settings
 * (bootstrap, kafka.* security settings, the SASL password; the producer's
 * own keys left out), for any consumer of the same cluster (the marker
 * scan, role=ta's input). NULL with err naming the key on a bad value. */
rd_kafka_conf_t *kafka_markers_consumer_conf(const struct kafka_markers_req *q, char *err, size_t errlen);

/* The marker's detail for a transaction (what the scan matches), into buf. */
int kafka_markers_detail(const char *txn_id, const char *txn_tag, char *buf, size_t cap);

/* Parses an envelope value: 1 and *id when it is a checkpoint marker of
 * txn_id, 0 when it is not, never fails. (Exposed for tests.) */
int kafka_markers_match(const void *value, size_t len, const char *txn_id, uint64_t *id);
