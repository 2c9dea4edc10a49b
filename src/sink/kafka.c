/* kafka.c - the producer on the uv loop: io-event drain, produce, delivery
 * reports, the hold queue, stats and the close sequence. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/kafka_int.h"

#define KAFKA_DRAIN_BUDGET 256 /* events per wakeup, so the loop stays fair */
#define KAFKA_HOLD_DEFAULT (8u << 20)

static size_t hold_rec_size(size_t klen, size_t vlen)
{
	return (sizeof(struct kafka_held_rec) + klen + vlen + 7) & ~(size_t)7;
}

const char *kafka_err_class_name(enum kafka_err_class c)
{
	static const char *const names[KAFKA_EC_COUNT] = {"timeout", "auth",   "topic",
							  "size",    "purged", "other"};
	return (unsigned)c < KAFKA_EC_COUNT ? names[c] : "other";
}

const char *kafka_err_class_wire(enum kafka_err_class c)
{
	switch (c) {
	case KAFKA_EC_AUTH:
		return "kafka_auth";
	case KAFKA_EC_TOPIC:
		return "kafka_metadata";
	default:
		return "kafka_produce";
	}
}

void kafka_err_map(rd_kafka_resp_err_t e, int *err, enum kafka_err_class *cls)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		*err = 0;
		*cls = KAFKA_EC_OTHER;
		return;
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		*err = -ETIMEDOUT;
		*cls = KAFKA_EC_TIMEOUT;
		return;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
		*err = -EACCES;
		*cls = KAFKA_EC_AUTH;
		return;
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		*err = -ENOENT;
		*cls = KAFKA_EC_TOPIC;
		return;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
		*err = -EMSGSIZE;
		*cls = KAFKA_EC_SIZE;
		return;
	case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
	case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
		*err = -ECANCELED;
		*cls = KAFKA_EC_PURGED;
		return;
	case RD_KAFKA_RESP_ERR__FATAL:
	case RD_KAFKA_RESP_ERR__FENCED:
	case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
	case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
		*err = -ENOTRECOVERABLE;
		*cls = KAFKA_EC_OTHER;
		return;
	default:
		*err = -EIO;
		*cls = KAFKA_EC_OTHER;
		return;
	}
}

void kafka_emit(struct kafka *k, enum kafka_event ev, int err, const char *msg)
{
	if (k->cb.event)
		k->cb.event(k->cb.arg, ev, err, msg);
}

/* Announced once, whichever of the error event or a failed call sees it first. */
void kafka_set_fatal(struct kafka *k, const char *msg)
{
	if (k->state != KS_CLOSING)
		k->state = KS_FATAL;
	if (k->fatal_announced)
		return;
	k->fatal_announced = true;
	kafka_emit(k, KAFKA_EV_FATAL, -ENOTRECOVERABLE, msg);
}

/* ---- delivery reports ------------------------------------------------- */

static void dr_report(struct kafka *k, struct kafka_dr *dr)
{
	struct kafka_stats *s = &k->stats;
	struct kafka_topic_stats *ts = &s->topic[dr->topic];

	if (s->in_flight)
		s->in_flight--;
	if (dr->err == 0) {
		ts->delivered++;
		s->consecutive_failures = 0;
		if (dr->latency_us >= 0) {
			s->last_latency_us = dr->latency_us;
			if (dr->latency_us > s->max_latency_us)
				s->max_latency_us = dr->latency_us;
		}
	} else {
		ts->failed[dr->err_class]++;
		if (dr->err_class != KAFKA_EC_PURGED)
			s->consecutive_failures++;
	}
	if (k->cb.dr)
		k->cb.dr(k->cb.arg, dr);
}

static void on_dr_event(struct kafka *k, rd_kafka_event_t *ev)
{
	const rd_kafka_message_t *m;

	while ((m = rd_kafka_event_message_next(ev))) {
		const struct kafka_topic *t = rd_kafka_topic_opaque(m->rkt);
		struct kafka_dr dr = {
			.topic = t ? t->idx : 0,
			.partition = m->partition,
			.offset = m->offset,
			.rd_err = m->err,
			.latency_us = rd_kafka_message_latency(m),
			.key = m->key,
			.key_len = m->key_len,
			.opaque = m->_private,
		};

		bool marker = dr.opaque == &k->marker_id;

		kafka_err_map(m->err, &dr.err, &dr.err_class);
		if (marker)
			dr.opaque = NULL;
		dr_report(k, &dr);
		/* A failed record dooms the open transaction: abort now rather
		 * than let the owner build on it until the next commit. */
		if (dr.err && dr.err_class != KAFKA_EC_PURGED && k->profile == KAFKA_EXACTLY_ONCE)
			kafka_txn_doom(k);
		else if (marker && !dr.err && k->state == KS_MARKING)
			kafka_txn_start_commit(k);
	}
	kafka_prepare_check(k);
}

static void on_error_event(struct kafka *k, rd_kafka_event_t *ev)
{
	rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
	char msg[512];
	int err;
	enum kafka_err_class cls;

	if (rd_kafka_event_error_is_fatal(ev)) {
		char why[400];
		rd_kafka_resp_err_t fe = rd_kafka_fatal_error(k->rk, why, sizeof(why));

		snprintf(msg, sizeof(msg), "kafka fatal error%s: %s (%s)",
			 fe == RD_KAFKA_RESP_ERR__FENCED || fe == RD_KAFKA_RESP_ERR_PRODUCER_FENCED
				 ? " (fenced by another producer with the same transactional.id)"
				 : "",
			 why, rd_kafka_err2name(fe));
		kafka_set_fatal(k, msg);
		return;
	}
	kafka_err_map(e, &err, &cls);
	snprintf(msg, sizeof(msg), "%s: %s", rd_kafka_err2name(e), rd_kafka_event_error_string(ev));
	kafka_emit(k, KAFKA_EV_ERROR, err, msg);
}

static void on_event(struct kafka *k, rd_kafka_event_t *ev)
{
	const char *fac, *str;
	int level;

	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_DR:
		on_dr_event(k, ev);
		break;
	case RD_KAFKA_EVENT_LOG:
		if (rd_kafka_event_log(ev, &fac, &str, &level) == 0 && k->cb.log)
			k->cb.log(k->cb.arg, level, fac, str);
		break;
	case RD_KAFKA_EVENT_ERROR:
		on_error_event(k, ev);
		break;
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		kafka_topics_on_admin(k, ev);
		break;
	default:
		break;
	}
}

/* Drains both queues; true if the budget ran out with events left. */
static bool kafka_drain(struct kafka *k)
{
	rd_kafka_queue_t *mq = k->mock ? kafka_mock_log_queue(k->mock) : NULL;
	int n = 0;
	rd_kafka_event_t *ev;

	while (n < KAFKA_DRAIN_BUDGET && k->mainq && (ev = rd_kafka_queue_poll(k->mainq, 0))) {
		on_event(k, ev);
		rd_kafka_event_destroy(ev);
		n++;
	}
	while (n < KAFKA_DRAIN_BUDGET && mq && (ev = rd_kafka_queue_poll(mq, 0))) {
		on_event(k, ev);
		rd_kafka_event_destroy(ev);
		n++;
	}
	if (k->hold.count && (k->state == KS_READY || k->state == KS_PREPARING))
		kafka_hold_release(k);
	return n >= KAFKA_DRAIN_BUDGET;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct kafka *k = h->data;
	char buf[256];

	KAFKA_CHECK(k);
	/* Empty the pipe before the queue: an event enqueued after our last
	 * poll writes a new byte, so no wakeup is lost. */
	while (read(k->pipefd[0], buf, sizeof(buf)) > 0)
		;
	if (kafka_drain(k)) {
		/* The queue is not empty, so librdkafka will not write again:
		 * wake ourselves for the rest on the next iteration. */
		ssize_t w = write(k->pipefd[1], "1", 1);
		(void)w;
	}
}

void kafka_io_enable(struct kafka *k)
{
	rd_kafka_queue_t *mq = k->mock ? kafka_mock_log_queue(k->mock) : NULL;

	rd_kafka_queue_io_event_enable(k->mainq, k->pipefd[1], "1", 1);
	if (mq)
		rd_kafka_queue_io_event_enable(mq, k->pipefd[1], "1", 1);
	if (!k->poll_active) {
		uv_poll_start(&k->poll, UV_READABLE, on_poll);
		k->poll_active = true;
	}
	/* Whatever was queued before the io-event existed. */
	on_poll(&k->poll, 0, UV_READABLE);
}

void kafka_io_disable(struct kafka *k)
{
	rd_kafka_queue_t *mq = k->mock ? kafka_mock_log_queue(k->mock) : NULL;

	if (k->mainq)
		rd_kafka_queue_io_event_enable(k->mainq, -1, NULL, 0);
	if (mq)
		rd_kafka_queue_io_event_enable(mq, -1, NULL, 0);
	if (k->poll_active) {
		uv_poll_stop(&k->poll);
		k->poll_active = false;
	}
	while (kafka_drain(k))
		;
}

/* ---- produce and the hold queue ---------------------------------------- */

/* Topic handles are made on first use, not at start: a handle makes the
 * client ask for the topic's metadata, which auto-creates it on brokers that
 * allow that (and always on librdkafka 2.0.2's mock cluster), and that would
 * hide a missing topic from kafka_topics_check. */
static rd_kafka_topic_t *topic_handle(struct kafka *k, unsigned topic)
{
	struct kafka_topic *t = &k->topics[topic];

	if (!t->rkt) {
		rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();

		rd_kafka_topic_conf_set_opaque(tc, t);
		t->rkt = rd_kafka_topic_new(k->rk, t->name, tc);
	}
	return t->rkt;
}

/* The librdkafka call alone, no accounting. */
static rd_kafka_resp_err_t produce_raw(struct kafka *k, unsigned topic, const void *key,
				       size_t klen, const void *value, size_t vlen, void *opaque)
{
	rd_kafka_topic_t *rkt = topic_handle(k, topic);

	if (!rkt)
		return rd_kafka_last_error();
	if (k->txn_tag_len)
		return rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(rkt),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_KEY(key, klen),
					 RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_OPAQUE(opaque),
					 RD_KAFKA_V_HEADER("torghut-txn", k->txn_tag,
							   (ssize_t)k->txn_tag_len),
					 RD_KAFKA_V_END);
	return rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(rkt),
				 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				 RD_KAFKA_V_KEY(key, klen),
				 RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_OPAQUE(opaque),
				 RD_KAFKA_V_END);
}

static int produce_now(struct kafka *k, unsigned topic, const void *key, size_t klen,
		       const void *value, size_t vlen, void *opaque)
{
	struct kafka_topic_stats *ts = &k->stats.topic[topic];
	rd_kafka_resp_err_t e = produce_raw(k, topic, key, klen, value, vlen, opaque);
	enum kafka_err_class cls;
	int err;

	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ts->produced++;
		k->stats.in_flight++;
		return 0;
	}
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		ts->refused++;
		return -ENOBUFS;
	}
	ts->rejected++;
	if (e == RD_KAFKA_RESP_ERR__STATE && k->profile == KAFKA_EXACTLY_ONCE) {
		/* The transaction has failed under us (abortable error). */
		kafka_txn_doom(k);
		return k->state == KS_FATAL ? -ENOTRECOVERABLE : -ECANCELED;
	}
	if (e == RD_KAFKA_RESP_ERR__FATAL) {
		char why[400], msg[512];

		rd_kafka_fatal_error(k->rk, why, sizeof(why));
		snprintf(msg, sizeof(msg), "kafka fatal error: %s", why);
		kafka_set_fatal(k, msg);
		return -ENOTRECOVERABLE;
	}
	kafka_err_map(e, &err, &cls);
	return err ? err : -EIO;
}

/* Moves the live records to the front of the arena. Never while a release
 * or a drop iterates: their callbacks get pointers into it. */
static void hold_compact(struct kafka_hold *h)
{
	size_t live = h->tail - h->head;

	if (!h->head || h->iter)
		return;
	memmove(h->buf, h->buf + h->head, live);
	h->mark = h->mark > h->head ? h->mark - h->head : 0;
	h->tail = live;
	h->head = 0;
}

static int hold_push(struct kafka *k, unsigned topic, const void *key, size_t klen,
		     const void *value, size_t vlen, void *opaque)
{
	struct kafka_hold *h = &k->hold;
	size_t need = hold_rec_size(klen, vlen);
	struct kafka_held_rec *r;

	if (need > h->cap - h->tail)
		hold_compact(h);
	if (klen > UINT32_MAX || vlen > UINT32_MAX || need > h->cap - h->tail) {
		k->stats.topic[topic].refused++;
		return -ENOBUFS;
	}
	r = (struct kafka_held_rec *)(h->buf + h->tail);
	r->opaque = opaque;
	r->key_len = (uint32_t)klen;
	r->value_len = (uint32_t)vlen;
	r->topic = (uint16_t)topic;
	if (klen)
		memcpy((unsigned char *)(r + 1), key, klen);
	if (vlen)
		memcpy((unsigned char *)(r + 1) + klen, value, vlen);
	h->tail += need;
	h->count++;
	k->stats.held_msgs = h->count;
	k->stats.held_bytes = h->tail - h->head;
	k->stats.topic[topic].produced++;
	k->stats.topic[topic].held++;
	k->stats.in_flight++;
	return 0;
}

static void hold_reset_if_empty(struct kafka *k)
{
	struct kafka_hold *h = &k->hold;

	if (h->count == 0 && !h->iter)
		h->head = h->tail = h->mark = 0;
	k->stats.held_msgs = h->count;
	k->stats.held_bytes = h->tail - h->head;
}

/* A held record that will never reach librdkafka still gets its callback. */
static void hold_fail(struct kafka *k, const struct kafka_held_rec *r, int err, int rd_err,
		      enum kafka_err_class cls)
{
	struct kafka_dr dr = {
		.topic = r->topic,
		.partition = -1,
		.offset = -1,
		.err = err,
		.rd_err = rd_err,
		.err_class = cls,
		.latency_us = -1,
		.key = r->key_len ? (const void *)(r + 1) : NULL,
		.key_len = r->key_len,
		.opaque = r->opaque,
	};
	dr_report(k, &dr);
}

/* Sends held records in order. With a deferred commit, only those offered
 * before the commit call (up to the mark): later ones belong to the next
 * transaction, or a restore from this checkpoint would emit them twice. */
void kafka_hold_release(struct kafka *k)
{
	struct kafka_hold *h = &k->hold;

	h->iter++;
	while (h->count && ((k->state == KS_READY && !(k->commit_deferred && h->head >= h->mark)) ||
			    (k->state == KS_PREPARING && h->head < h->mark))) {
		struct kafka_held_rec *r = (struct kafka_held_rec *)(h->buf + h->head);
		const unsigned char *key = (const unsigned char *)(r + 1);
		rd_kafka_resp_err_t e = produce_raw(k, r->topic, r->key_len ? key : NULL, r->key_len,
						    key + r->key_len, r->value_len, r->opaque);
		int err;
		enum kafka_err_class cls;

		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break; /* retried after the next delivery reports free room */
		h->head += hold_rec_size(r->key_len, r->value_len);
		h->count--;
		if (!e)
			continue;
		kafka_err_map(e, &err, &cls);
		hold_fail(k, r, err ? err : -EIO, e, cls);
		if (e == RD_KAFKA_RESP_ERR__STATE && k->profile == KAFKA_EXACTLY_ONCE)
			kafka_txn_doom(k); /* drops the rest and leaves READY */
	}
	h->iter--;
	hold_reset_if_empty(k);
	if (k->commit_deferred && k->state == KS_READY && (!h->count || h->head >= h->mark)) {
		k->commit_deferred = false;
		kafka_txn_start_commit(k);
	}
	kafka_prepare_check(k);
}

/* Two-phase: prepared once the records before the boundary are all out of
 * the hold queue and delivered (held records count as in flight too). */
void kafka_prepare_check(struct kafka *k)
{
	struct kafka_hold *h = &k->hold;
	kafka_done_cb cb = k->prep_cb;

	if (k->state != KS_PREPARING || (h->count && h->head < h->mark) ||
	    k->stats.in_flight != h->count)
		return;
	k->state = KS_PREPARED;
	k->prep_cb = NULL;
	if (cb)
		cb(k, 0, NULL, k->prep_arg);
}

/* Fails the records held now (not any a callback adds meanwhile). */
void kafka_hold_drop(struct kafka *k, int err)
{
	struct kafka_hold *h = &k->hold;
	size_t n = h->count;

	h->iter++;
	while (n-- && h->count) {
		struct kafka_held_rec *r = (struct kafka_held_rec *)(h->buf + h->head);

		h->head += hold_rec_size(r->key_len, r->value_len);
		h->count--;
		hold_fail(k, r, err, 0, KAFKA_EC_PURGED);
	}
	h->iter--;
	hold_reset_if_empty(k);
}

int kafka_produce(struct kafka *k, unsigned topic, const void *key, size_t key_len,
		  const void *value, size_t value_len, void *opaque)
{
	if (topic >= k->n_topics)
		return -EINVAL;
	switch (k->state) {
	case KS_READY:
		if (!k->hold.count)
			return produce_now(k, topic, key, key_len, value, value_len, opaque);
		/* Earlier held records are still going out: keep the order. */
		return hold_push(k, topic, key, key_len, value, value_len, opaque);
	case KS_PREPARING:
	case KS_PREPARED:
	case KS_MARKING:
	case KS_COMMITTING:
		return hold_push(k, topic, key, key_len, value, value_len, opaque);
	case KS_ABORTING:
		k->stats.topic[topic].rejected++;
		return -ECANCELED;
	case KS_NEW:
	case KS_STARTING:
		return -EAGAIN;
	case KS_FATAL:
		return -ENOTRECOVERABLE;
	default:
		return -ESHUTDOWN;
	}
}

/* ---- life cycle ------------------------------------------------------- */

int kafka_new(uv_loop_t *loop, const struct kafka_config *cfg, const struct kafka_callbacks *cb,
	      struct kafka **out, char *err, size_t errlen)
{
	struct kafka *k;
	int r;

	*out = NULL;
	if (!cfg->topics || cfg->n_topics < 1 || cfg->n_topics > KAFKA_MAX_TOPICS) {
		snprintf(err, errlen, "kafka: expected 1..%d topics, got %zu", KAFKA_MAX_TOPICS,
			 cfg->n_topics);
		return -EINVAL;
	}
	if (cfg->profile != KAFKA_EXACTLY_ONCE && cfg->profile != KAFKA_LOW_LATENCY) {
		snprintf(err, errlen, "profile: unknown");
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->magic = KAFKA_MAGIC;
	k->loop = loop;
	k->profile = cfg->profile;
	k->pipefd[0] = k->pipefd[1] = -1;
	if (cb)
		k->cb = *cb;
	k->start_timeout_ms = cfg->start_timeout_ms > 0 ? cfg->start_timeout_ms : 30000;
	k->commit_timeout_ms = cfg->commit_timeout_ms > 0 ? cfg->commit_timeout_ms : 60000;
	k->close_timeout_ms = cfg->close_timeout_ms > 0 ? cfg->close_timeout_ms : 10000;
	if (cfg->profile == KAFKA_EXACTLY_ONCE && cfg->txn_tag_prefix && *cfg->txn_tag_prefix) {
		snprintf(k->txn_prefix, sizeof(k->txn_prefix), "%s", cfg->txn_tag_prefix);
		kafka_txn_next_tag(k);
	}

	k->n_topics = cfg->n_topics;
	for (size_t i = 0; i < cfg->n_topics; i++) {
		const char *name = cfg->topics[i];

		if (!name || !*name) {
			snprintf(err, errlen, "kafka: topic %zu has no name", i);
			r = -EINVAL;
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(k->topics[j].name, name)) {
				snprintf(err, errlen, "kafka: topic %s is configured twice", name);
				r = -EINVAL;
				goto fail;
			}
		k->topics[i].k = k;
		k->topics[i].idx = (unsigned)i;
		if (!(k->topics[i].name = strdup(name))) {
			r = -ENOMEM;
			goto fail;
		}
	}

	if ((r = kafka_conf_build(cfg, &k->set, &k->conf, err, errlen)))
		goto fail;

	k->hold.cap = cfg->hold_max_bytes ? cfg->hold_max_bytes : KAFKA_HOLD_DEFAULT;
	if (!(k->hold.buf = malloc(k->hold.cap))) {
		r = -ENOMEM;
		goto fail;
	}
	if (pipe2(k->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "kafka: pipe: %s", strerror(errno));
		goto fail;
	}
	if ((r = uv_poll_init(loop, &k->poll, k->pipefd[0]))) {
		snprintf(err, errlen, "kafka: uv_poll_init: %s", uv_strerror(r));
		goto fail;
	}
	k->poll.data = k;
	*out = k;
	return 0;
fail:
	if (k->conf)
		rd_kafka_conf_destroy(k->conf);
	for (size_t i = 0; i < KAFKA_MAX_TOPICS; i++)
		free(k->topics[i].name);
	free(k->hold.buf);
	if (k->pipefd[0] >= 0)
		close(k->pipefd[0]);
	if (k->pipefd[1] >= 0)
		close(k->pipefd[1]);
	free(k);
	return r;
}

int kafka_start(struct kafka *k, kafka_done_cb cb, void *arg)
{
	int r;

	if (k->state != KS_NEW)
		return k->state == KS_CLOSING ? -ESHUTDOWN : -EALREADY;
	k->op_cb = cb;
	k->op_arg = arg;
	k->state = KS_STARTING;
	if ((r = kafka_txn_queue(k, KOP_START))) {
		k->state = KS_FAILED;
		return r;
	}
	return 0;
}

int kafka_commit(struct kafka *k, kafka_done_cb cb, void *arg)
{
	switch (k->state) {
	case KS_READY:
		if (k->commit_deferred)
			return -EBUSY;
		k->op_cb = cb;
		k->op_arg = arg;
		if (k->hold.count) {
			/* Held records belong to this transaction: send them first. */
			k->commit_deferred = true;
			k->hold.mark = k->hold.tail;
			kafka_hold_release(k);
			return 0;
		}
		kafka_txn_start_commit(k);
		return 0;
	case KS_ABORTING:
		if (k->commit_pending_cb)
			return -EBUSY;
		k->commit_pending_cb = true;
		k->op_cb = cb;
		k->op_arg = arg;
		return 0;
	case KS_PREPARING:
	case KS_PREPARED:
	case KS_MARKING:
	case KS_COMMITTING:
		return -EBUSY;
	case KS_NEW:
	case KS_STARTING:
		return -EAGAIN;
	case KS_FATAL:
		return -ENOTRECOVERABLE;
	default:
		return -ESHUTDOWN;
	}
}

int kafka_commit_begin(struct kafka *k, kafka_done_cb prepared, void *arg)
{
	switch (k->state) {
	case KS_READY:
		if (k->commit_deferred)
			return -EBUSY;
		break;
	case KS_NEW:
	case KS_STARTING:
		return -EAGAIN;
	case KS_FATAL:
		return -ENOTRECOVERABLE;
	case KS_FAILED:
	case KS_CLOSING:
		return -ESHUTDOWN;
	default:
		return -EBUSY;
	}
	k->prep_cb = prepared;
	k->prep_arg = arg;
	k->hold.mark = k->hold.tail; /* held now = before the boundary */
	k->state = KS_PREPARING;
	kafka_hold_release(k); /* and checks whether that already is all */
	return 0;
}

int kafka_commit_finish(struct kafka *k, const struct kafka_marker *mk, kafka_done_cb cb, void *arg)
{
	if (k->state != KS_PREPARED)
		return k->state == KS_FATAL ? -ENOTRECOVERABLE : -EINVAL;
	if (mk && mk->topic >= k->n_topics)
		return -EINVAL;
	k->op_cb = cb;
	k->op_arg = arg;
	if (k->profile == KAFKA_LOW_LATENCY) {
		/* The barrier is complete: everything before it is acknowledged. */
		k->state = KS_READY;
		k->op_cb = NULL;
		k->stats.commits++;
		if (cb)
			cb(k, 0, NULL, arg);
		if (k->state == KS_READY && k->hold.count)
			kafka_hold_release(k);
		return 0;
	}
	if (!mk) {
		kafka_txn_start_commit(k);
		return 0;
	}
	/* The marker goes last, after every other record of the transaction
	 * was written: whoever sees it can rely on all of them. */
	k->state = KS_MARKING;
	k->commit_pending_cb = true; /* a failed marker: answered when the abort ends */
	if (produce_now(k, mk->topic, mk->key, mk->key_len, mk->value, mk->value_len, &k->marker_id)) {
		if (k->state == KS_MARKING)
			kafka_txn_doom(k);
	}
	return 0;
}

int kafka_commit_cancel(struct kafka *k, kafka_done_cb cb, void *arg)
{
	if (k->state != KS_PREPARING && k->state != KS_PREPARED)
		return k->state == KS_FATAL ? -ENOTRECOVERABLE : -EINVAL;
	k->prep_cb = NULL;
	if (k->profile == KAFKA_LOW_LATENCY) {
		k->state = KS_READY;
		if (cb)
			cb(k, -ECANCELED, "barrier given up", arg);
		if (k->state == KS_READY && k->hold.count)
			kafka_hold_release(k);
		return 0;
	}
	k->op_cb = cb;
	k->op_arg = arg;
	k->commit_pending_cb = true;
	kafka_txn_doom(k);
	return 0;
}

const char *kafka_txn_tag(const struct kafka *k)
{
	return k->txn_tag;
}

const char *kafka_aborted_tag(const struct kafka *k)
{
	return k->aborted_tag;
}

const struct kafka_stats *kafka_stats(const struct kafka *k)
{
	return &k->stats;
}

const char *kafka_bootstrap(const struct kafka *k)
{
	return k->rk && k->bootstrap[0] ? k->bootstrap : NULL;
}

bool kafka_is_embedded(const struct kafka *k)
{
	return k->set.embedded;
}

struct kafka_mock *kafka_embedded_mock(const struct kafka *k)
{
	return k->rk ? k->mock : NULL;
}

enum kafka_profile kafka_profile(const struct kafka *k)
{
	return k->profile;
}

static void on_poll_closed(uv_handle_t *h)
{
	struct kafka *k = h->data;
	void (*cb)(void *) = k->close_cb;
	void *arg = k->close_arg;

	KAFKA_CHECK(k);
	close(k->pipefd[0]);
	close(k->pipefd[1]);
	for (size_t i = 0; i < KAFKA_MAX_TOPICS; i++)
		free(k->topics[i].name);
	free(k->hold.buf);
	if (k->conf)
		rd_kafka_conf_destroy(k->conf);
	k->magic = 0;
	free(k);
	if (cb)
		cb(arg);
}

/* Advances the close sequence; called again whenever an operation ends.
 *  0: wait for the running transaction op, then flush/abort off-loop
 *  1: flush done: last drain, stop the io-event, fail what is left
 *  2: wait for a running metadata request, then destroy off-loop
 *  3: destroyed: close the poll handle (frees in its callback) */
void kafka_close_step(struct kafka *k)
{
	if (!k->closing || k->op_busy)
		return;
	switch (k->close_phase) {
	case 0:
		k->close_phase = 1;
		if (k->rk && kafka_txn_queue(k, KOP_CLOSE_FLUSH) == 0)
			return;
		/* FALLTHROUGH */
	case 1:
		if (k->rk)
			kafka_io_disable(k);
		kafka_hold_drop(k, -ESHUTDOWN);
		k->close_phase = 2;
		/* FALLTHROUGH */
	case 2:
		if (k->tq_busy)
			return; /* its after-work calls us again */
		kafka_topics_cancel(k);
		k->close_phase = 3;
		if ((k->rk || k->mock) && kafka_txn_queue(k, KOP_CLOSE_DESTROY) == 0)
			return;
		/* FALLTHROUGH */
	case 3:
		k->close_phase = 4;
		if (k->poll_active)
			uv_poll_stop(&k->poll);
		uv_close((uv_handle_t *)&k->poll, on_poll_closed);
		return;
	default:
		return;
	}
}

void kafka_close(struct kafka *k, void (*cb)(void *arg), void *arg)
{
	if (k->closing)
		return;
	enum kafka_state was = k->state;
	kafka_done_cb pcb = k->prep_cb, ocb = was == KS_MARKING ? k->op_cb : NULL;

	k->closing = true;
	k->close_cb = cb;
	k->close_arg = arg;
	k->state = KS_CLOSING;
	k->prep_cb = NULL;
	if (ocb) {
		k->op_cb = NULL;
		k->commit_pending_cb = false;
	}
	/* Two-phase steps not yet done are answered now: nothing commits. */
	if (pcb)
		pcb(k, -ECANCELED, "closed before the commit", k->prep_arg);
	if (ocb)
		ocb(k, -ECANCELED, "closed before the commit", k->op_arg);
	kafka_close_step(k);
}
