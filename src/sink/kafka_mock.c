/* kafka_mock.c - librdkafka's in-process mock cluster. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/kafka_mock.h"

struct kafka_mock {
	rd_kafka_t *rk; /* throwaway handle the mock cluster needs for bookkeeping */
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_queue_t *logq;
};

int kafka_mock_new(int brokers, bool log_queue, struct kafka_mock **out, char *err, size_t errlen)
{
	char e[256];
	struct kafka_mock *m;
	rd_kafka_conf_t *conf;

	*out = NULL;
	if (brokers < 1 || brokers > 32) {
		snprintf(err, errlen, "embedded.brokers: expected 1..32, got %d", brokers);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	conf = rd_kafka_conf_new();
	/* The handle never connects anywhere: no bootstrap servers, and no
	 * notice about that (log_level 4 keeps warnings and errors). */
	rd_kafka_conf_set(conf, "log_level", "4", e, sizeof(e));
	if (log_queue && rd_kafka_conf_set(conf, "log.queue", "true", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "mock: log.queue: %s", e);
		rd_kafka_conf_destroy(conf);
		free(m);
		return -EINVAL;
	}
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (!m->rk) {
		snprintf(err, errlen, "mock: %s", e);
		rd_kafka_conf_destroy(conf);
		free(m);
		return -ENOMEM;
	}
	if (log_queue) {
		m->logq = rd_kafka_queue_get_main(m->rk);
		rd_kafka_set_log_queue(m->rk, m->logq);
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	if (!m->mc) {
		snprintf(err, errlen, "mock: cannot start a %d-broker mock cluster", brokers);
		kafka_mock_free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

int kafka_mock_topic_create(struct kafka_mock *m, const char *topic, int partitions,
			    int replication)
{
	rd_kafka_resp_err_t e;

	if (!topic || !*topic)
		return -EINVAL;
	e = rd_kafka_mock_topic_create(m->mc, topic, partitions < 1 ? 1 : partitions,
				       replication < 1 ? 1 : replication);
	if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		return -EEXIST;
	return e ? -EINVAL : 0;
}

const char *kafka_mock_bootstrap(const struct kafka_mock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

rd_kafka_mock_cluster_t *kafka_mock_cluster(const struct kafka_mock *m)
{
	return m->mc;
}

rd_kafka_queue_t *kafka_mock_log_queue(const struct kafka_mock *m)
{
	return m->logq;
}

void kafka_mock_free(struct kafka_mock *m)
{
	if (!m)
		return;
	if (m->mc)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->logq) {
		rd_kafka_queue_io_event_enable(m->logq, -1, NULL, 0);
		rd_kafka_queue_destroy(m->logq);
	}
	if (m->rk)
		rd_kafka_destroy(m->rk);
	free(m);
}
