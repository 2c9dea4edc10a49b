/* kafka_mock.h - librdkafka's in-process mock cluster (embedded Kafka).
 *
 * For demos and tests only: nothing is durable. Every call here waits on the
 * mock cluster's own thread, briefly and without network I/O; the producer
 * (kafka.c) still calls them from the threadpool, never from the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* Fault injection by line commands (torghut-kafka-mock reads them on stdin):
 *   ping
 *   broker-down ID | broker-up ID          ID: a broker id, or -1 / all
 *   rtt ID MS                              added round-trip time
 *   push-errors API ERR COUNT              the next COUNT API requests fail
 *   push-broker-errors ID API ERR RTTMS COUNT   same, on one broker, delayed
 *   clear-errors API
 * API is a Kafka request name (Produce, InitProducerId, EndTxn...) or its
 * key; ERR a librdkafka error name without RD_KAFKA_RESP_ERR_ (NOT_COORDINATOR,
 * _TRANSPORT, NO_ERROR...) or its code; both case-insensitive. */
enum kafka_mock_op {
	KAFKA_MOCK_PING = 0,
	KAFKA_MOCK_BROKER_DOWN,
	KAFKA_MOCK_BROKER_UP,
	KAFKA_MOCK_RTT,
	KAFKA_MOCK_PUSH_ERRORS,
	KAFKA_MOCK_PUSH_BROKER_ERRORS,
	KAFKA_MOCK_CLEAR_ERRORS,
};

struct kafka_mock_cmd {
	enum kafka_mock_op op;
	int32_t broker;         /* -1: every broker */
	int16_t api_key;
	rd_kafka_resp_err_t err;
	int rtt_ms;
	int count;
};

/* 0, or -EINVAL with the reason in err. */
int kafka_mock_cmd_parse(const char *line, struct kafka_mock_cmd *cmd, char *err, size_t errlen);
/* Applies a parsed command: 0, or -ENOENT (no such broker) / -EINVAL with
 * the mock cluster's answer in err. Waits briefly on the mock's thread. */
int kafka_mock_cmd_run(struct kafka_mock *m, const struct kafka_mock_cmd *cmd, char *err, size_t errlen);
/* Parses and runs one line; writes the one-line answer ("ok ..." or
 * "error ...", no newline) to reply. Returns what parse or run returned. */
int kafka_mock_cmd_line(struct kafka_mock *m, const char *line, char *reply, size_t len);
/* The Kafka API key of a request name or number, or -ENOENT. */
int kafka_mock_api_key(const char *name);
/* A librdkafka error code by name or number: 0 or -ENOENT. */
int kafka_mock_err_code(const char *name, rd_kafka_resp_err_t *out);
