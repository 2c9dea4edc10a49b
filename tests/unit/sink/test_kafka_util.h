/* test_kafka_util.h - loop driving and a real librdkafka consumer for the
 * Kafka producer tests. Header-only: each test program includes it once. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <librdkafka/rdkafka.h>

#include "sink/kafka.h"

static inline uint64_t tk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag or timeout; true if the flag was raised. */
static inline bool tk_run_until(uv_loop_t *loop, const bool *flag, int timeout_ms)
{
	uint64_t end = tk_now_ms() + (uint64_t)timeout_ms;

	while (!*flag && tk_now_ms() < end)
		uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
	return *flag;
}

/* Events observed through the callbacks, plus the thread they ran on. */
struct tk_obs {
	pthread_t loop_thread;
	bool off_loop_callback;
	size_t dr_ok, dr_fail, dr_canceled, logs;
	size_t dr_opaque_bad;
	int64_t max_latency_us;
	int last_dr_err;
	int events[3];
	int last_event_err;
	char last_event_msg[512];
	/* done callbacks */
	bool done;
	int status;
	char errstr[512];
	bool closed;
	/* topics */
	bool tq_done;
	int tq_status;
	uint32_t tq_missing;
	char tq_detail[1024];
};

static inline void tk_check_thread(struct tk_obs *o)
{
	if (!pthread_equal(pthread_self(), o->loop_thread))
		o->off_loop_callback = true;
}

static inline void tk_on_log(void *arg, int level, const char *fac, const char *msg)
{
	struct tk_obs *o = arg;

	tk_check_thread(o);
	o->logs++;
	if (getenv("TK_VERBOSE"))
		fprintf(stderr, "rdkafka %d %s: %s\n", level, fac, msg);
}

static inline void tk_on_dr(void *arg, const struct kafka_dr *dr)
{
	struct tk_obs *o = arg;

	tk_check_thread(o);
	if (dr->err == 0) {
		o->dr_ok++;
		if (dr->latency_us > o->max_latency_us)
			o->max_latency_us = dr->latency_us;
	} else if (dr->err == -ECANCELED) {
		o->dr_canceled++;
	} else {
		o->dr_fail++;
	}
	o->last_dr_err = dr->err;
	/* Tests pass opaque = (void *)(seq + 1). */
	if (!dr->opaque)
		o->dr_opaque_bad++;
}

static inline void tk_on_event(void *arg, enum kafka_event ev, int err, const char *msg)
{
	struct tk_obs *o = arg;

	tk_check_thread(o);
	o->events[ev]++;
	o->last_event_err = err;
	snprintf(o->last_event_msg, sizeof(o->last_event_msg), "%s", msg ? msg : "");
	if (getenv("TK_VERBOSE"))
		fprintf(stderr, "event %d %d %s\n", ev, err, msg);
}

static inline void tk_on_done(struct kafka *k, int status, const char *errstr, void *arg)
{
	struct tk_obs *o = arg;

	tk_check_thread(o);
	o->done = true;
	o->status = status;
	snprintf(o->errstr, sizeof(o->errstr), "%s", errstr ? errstr : "");
}

static inline void tk_on_topics(struct kafka *k, int status, uint32_t missing, const char *detail,
			 void *arg)
{
	struct tk_obs *o = arg;

	tk_check_thread(o);
	o->tq_done = true;
	o->tq_status = status;
	o->tq_missing = missing;
	snprintf(o->tq_detail, sizeof(o->tq_detail), "%s", detail ? detail : "");
}

static inline void tk_on_closed(void *arg)
{
	((struct tk_obs *)arg)->closed = true;
}

static inline struct kafka_callbacks tk_callbacks(struct tk_obs *o)
{
	struct kafka_callbacks cb = {tk_on_log, tk_on_dr, tk_on_event, o};

	o->loop_thread = pthread_self();
	return cb;
}

/* Starts k and waits for the start callback; returns its status. */
static inline int tk_start(uv_loop_t *loop, struct kafka *k, struct tk_obs *o)
{
	o->done = false;
	if (kafka_start(k, tk_on_done, o))
		return -1;
	if (!tk_run_until(loop, &o->done, 30000))
		return -2;
	return o->status;
}

static inline int tk_commit(uv_loop_t *loop, struct kafka *k, struct tk_obs *o)
{
	int r;

	o->done = false;
	if ((r = kafka_commit(k, tk_on_done, o)))
		return r;
	if (!tk_run_until(loop, &o->done, 30000))
		return -1000;
	return o->status;
}

static inline void tk_close(uv_loop_t *loop, struct kafka *k, struct tk_obs *o)
{
	o->closed = false;
	kafka_close(k, tk_on_closed, o);
	tk_run_until(loop, &o->closed, 30000);
}

/* A consumed record. */
struct tk_rec {
	char topic[64];
	int32_t partition;
	int64_t offset;
	char key[64];
	char value[128];
	char txn[72]; /* the torghut-txn header, "" if none */
};

static inline void tk_store(struct tk_rec *r, const rd_kafka_message_t *m)
{
	snprintf(r->topic, sizeof(r->topic), "%s", rd_kafka_topic_name(m->rkt));
	r->partition = m->partition;
	r->offset = m->offset;
	snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key_len, m->key ? (const char *)m->key : "");
	snprintf(r->value, sizeof(r->value), "%.*s", (int)m->len,
		 m->payload ? (const char *)m->payload : "");
	rd_kafka_headers_t *h = NULL;
	const void *hv;
	size_t hl;

	r->txn[0] = 0;
	if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(h, "torghut-txn", &hv, &hl) == RD_KAFKA_RESP_ERR_NO_ERROR && hv)
		snprintf(r->txn, sizeof(r->txn), "%.*s", (int)hl, (const char *)hv);
}

/* Reads every partition of the topics from the beginning until `want`
 * records arrived or nothing new came for idle_ms. Returns the count. */
static inline size_t tk_consume(const char *bootstrap, const char *const *topics, size_t n_topics,
			 bool read_committed, struct tk_rec *out, size_t max, size_t want,
			 int idle_ms)
{
	char e[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(16);
	size_t n = 0;
	uint64_t last = tk_now_ms();

	rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, e, sizeof(e));
	rd_kafka_conf_set(c, "group.id", "torghut-test", e, sizeof(e));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof(e));
	rd_kafka_conf_set(c, "isolation.level", read_committed ? "read_committed" : "read_uncommitted",
			  e, sizeof(e));
	rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e));
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
	if (!rk)
		return 0;
	for (size_t t = 0; t < n_topics; t++) {
		const struct rd_kafka_metadata *md;
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);

		if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0) {
			for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt; p++)
				rd_kafka_topic_partition_list_add(tp, topics[t], p)->offset =
					RD_KAFKA_OFFSET_BEGINNING;
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(rkt);
	}
	rd_kafka_assign(rk, tp);
	while (n < want && tk_now_ms() - last < (uint64_t)idle_ms) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (!m)
			continue;
		if (!m->err && n < max) {
			tk_store(&out[n++], m);
			last = tk_now_ms();
		}
		rd_kafka_message_destroy(m);
	}
	/* Give duplicates a chance to show up after the expected count. */
	for (uint64_t end = tk_now_ms() + 300; tk_now_ms() < end;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);

		if (!m)
			continue;
		if (!m->err && n < max)
			tk_store(&out[n++], m);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(tp);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}
