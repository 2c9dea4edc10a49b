/* kafka_mock.h - librdkafka's in-process mock cluster (embedded Kafka).
 *
 * For demos and tests only: nothing is durable. Every call here waits on the
 * mock cluster's own thread, briefly and without network I/O; the producer
 * (kafka.c) still calls them from the threadpool, never from the loop. */
#pragma once

#include <stdbool.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct kafka_mock;

/* log_queue: keep the mock's logs on a queue (kafka_mock_log_queue) instead
 * of librdkafka's default stderr printer. */
int kafka_mock_new(int brokers, bool log_queue, struct kafka_mock **out, char *err, size_t errlen);
/* partitions < 1 means 1; replication < 1 means 1. 0 or -EEXIST (already
 * there, not an error for callers that only want it to exist) or -EINVAL. */
int kafka_mock_topic_create(struct kafka_mock *m, const char *topic, int partitions,
			    int replication);
const char *kafka_mock_bootstrap(const struct kafka_mock *m);
/* For fault injection in tests (rd_kafka_mock_push_request_errors...). */
rd_kafka_mock_cluster_t *kafka_mock_cluster(const struct kafka_mock *m);
/* The queue the mock's logs go to when created with log_queue (else NULL).
 * Owned by the mock; do not destroy. */
rd_kafka_queue_t *kafka_mock_log_queue(const struct kafka_mock *m);
void kafka_mock_free(struct kafka_mock *m);
