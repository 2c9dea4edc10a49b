/* kafka_markers.c - the newest committed checkpoint marker (see the header). */
#include "config.h"

#include "sink/kafka_markers.h"
#include "sink/kafka_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#define WINDOW_FIRST 512

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kafka_markers_detail(const char *txn_id, const char *txn_tag, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "txn=%s tag=%s", txn_id, txn_tag && *txn_tag ? txn_tag : "-");
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int kafka_markers_match(const void *value, size_t len, const char *txn_id, uint64_t *id)
{
	json_t *v = json_loadb(value, len, 0, NULL);
	int found = 0;

	if (!v)
		return 0;
	json_t *p = json_object_get(v, "payload");
	const char *status = json_string_value(json_object_get(p, "status"));
	const char *detail = json_string_value(json_object_get(p, "detail"));
	json_t *attempt = json_object_get(p, "attempt");
	size_t tl = strlen(txn_id);
	if (status && strcmp(status, "checkpoint") == 0 && detail && strncmp(detail, "txn=", 4) == 0 &&
	    strncmp(detail + 4, txn_id, tl) == 0 && detail[4 + tl] == ' ' && json_is_integer(attempt) &&
	    json_integer_value(attempt) > 0) {
		*id = (uint64_t)json_integer_value(attempt);
		found = 1;
	}
	json_decref(v);
	return found;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* The caller reports the outcome; the consumer's chatter is not ours. */
}

rd_kafka_conf_t *kafka_markers_consumer_conf(const struct kafka_markers_req *q, char *err, size_t errlen)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char e[256];

	for (size_t i = 0; i < q->n_kv; i++) {
		if (kafka_conf_key_ours(q->kv[i].key) || strcmp(q->kv[i].key, "bootstrap.servers") == 0)
			continue;
		/* Producer settings are ignored by a consumer with a warning at
		 * most; only a value librdkafka refuses outright is an error. */
		if (rd_kafka_conf_set(c, q->kv[i].key, q->kv[i].value, e, sizeof(e)) == RD_KAFKA_CONF_INVALID) {
			snprintf(err, errlen, "kafka.%s: %s", q->kv[i].key, e);
			rd_kafka_conf_destroy(c);
			return NULL;
		}
	}
	if (rd_kafka_conf_set(c, "bootstrap.servers", q->bootstrap, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "bootstrap.servers: %s", e);
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	if (q->sasl_password && rd_kafka_conf_set(c, "sasl.password", q->sasl_password, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka.sasl.password.file: %s", e); /* never the value */
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	return c;
}

static rd_kafka_t *consumer_new(const struct kafka_markers_req *q, char *err, size_t errlen)
{
	rd_kafka_conf_t *c = kafka_markers_consumer_conf(q, err, errlen);
	char e[256];
	const char *fixed[][2] = {
		{"group.id", "torghut-checkpoint-markers"},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"isolation.level", "read_committed"},
		{"enable.partition.eof", "true"},
	};

	if (!c)
		return NULL;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (rd_kafka_conf_set(c, fixed[i][0], fixed[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "%s: %s", fixed[i][0], e);
			rd_kafka_conf_destroy(c);
			return NULL;
		}
	rd_kafka_conf_set_log_cb(c, quiet_log);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
	if (!rk) {
		snprintf(err, errlen, "consumer: %s", e);
		rd_kafka_conf_destroy(c);
	}
	return rk;
}

/* Reads [from, to) of one partition; the newest marker of ours in it. */
static int scan_range(rd_kafka_t *rk, const struct kafka_markers_req *q, int32_t part, int64_t from,
		      int64_t to, int64_t deadline, uint64_t *best, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, q->topic, part)->offset = from;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "assign %s [%d]: %s", q->topic, part, rd_kafka_err2str(e));
		return -EIO;
	}
	size_t keylen = strlen(q->key);
	int rc = 0;
	for (;;) {
		if (now_ms() > deadline) {
			snprintf(err, errlen, "reading %s [%d] timed out", q->topic, part);
			rc = -ETIMEDOUT;
			break;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			break;
		}
		if (m->err) {
			/* Transient broker errors are retried by the consumer;
			 * only report them if the deadline passes. */
			snprintf(err, errlen, "%s [%d]: %s", q->topic, part, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		uint64_t id;
		if (m->key_len == keylen && memcmp(m->key, q->key, keylen) == 0 &&
		    kafka_markers_match(m->payload, m->len, q->txn_id, &id) && id > *best)
			*best = id;
		bool last = m->offset >= to - 1;
		rd_kafka_message_destroy(m);
		if (last)
			break;
	}
	rd_kafka_assign(rk, NULL);
	return rc;
}

int kafka_markers_scan(const struct kafka_markers_req *q, uint64_t *id, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + (q->timeout_ms > 0 ? q->timeout_ms : 10000);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_t *rk;
	int rc = 0;

	*id = 0;
	if (!(rk = consumer_new(q, err, errlen)))
		return -EINVAL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, q->topic, NULL);
	rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, (int)(deadline - now_ms())) : rd_kafka_last_error();
	if (e || !md || md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(err, errlen, "metadata of %s: %s", q->topic,
			 rd_kafka_err2str(e ? e : md && md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		rc = e == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	for (int i = 0; i < md->topics[0].partition_cnt && rc == 0; i++) {
		int32_t part = md->topics[0].partitions[i].id;
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(rk, q->topic, part, &lo, &hi, (int)(deadline - now_ms()));
		if (e) {
			snprintf(err, errlen, "offsets of %s [%d]: %s", q->topic, part, rd_kafka_err2str(e));
			rc = e == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EIO;
			break;
		}
		uint64_t best = 0;
		for (int64_t end = hi, window = WINDOW_FIRST; end > lo && best == 0; window *= 4) {
			int64_t from = end - window > lo ? end - window : lo;
			if ((rc = scan_range(rk, q, part, from, end, deadline, &best, err, errlen)) < 0)
				break;
			end = from;
		}
		if (best > *id)
			*id = best;
	}
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
