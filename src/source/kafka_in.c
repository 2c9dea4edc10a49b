/* kafka_in.c - the raw ingest topics in: a consumer group member on the loop
 * (see the header). */
#include "config.h"

#include "source/kafka_in.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KAFKA_IN_MAGIC 0x6b696e31U /* "kin1" */
#define KAFKA_IN_SLICE_NS 500000   /* delivery time per loop iteration */

/* For pointers coming back through uv's and librdkafka's void *: a mismatch
 * is a use-after-free, never something to recover from. */
#define KAFKA_IN_CHECK(k)                                                                  \
	do {                                                                               \
		if ((k)->magic != KAFKA_IN_MAGIC)                                          \
			abort();                                                           \
	} while (0)

/* A partition and its position. seeking: a seek to p.offset is on its way;
 * it can be lost when librdkafka had not started the partition's fetcher
 * yet (the committed offset still being fetched wins), so the first record
 * after it is checked (kin_deliver). */
struct part {
	struct kafka_in_pos p;
	bool seeking, reseeked;
};

/* A small list; assignments are tens of partitions. */
struct pos_list {
	struct part *v;
	size_t n, cap;
};

enum { KIN_NEW = 0, KIN_STARTING, KIN_RUNNING, KIN_FAILED };
enum { KIN_JOB_START = 1, KIN_JOB_CLOSE };

struct kafka_in {
	uint32_t magic;
	uv_loop_t *loop;
	struct kafka_in_cbs cb;
	int state;
	bool held, fatal, closing;
	bool in_drain; /* inside rd_kafka_consumer_poll's callbacks: close waits */

	rd_kafka_conf_t *conf; /* until rd_kafka_new takes it */
	char *topics[KAFKA_IN_TOPICS_MAX];
	size_t ntopics;
	unsigned slice;

	rd_kafka_t *rk;
	rd_kafka_queue_t *q; /* the consumer queue (main queue forwarded into it) */
	int pipefd[2];       /* librdkafka writes a byte on [1] when q turns non-empty */
	uv_poll_t poll;
	uv_idle_t idle;      /* active while records wait beyond a slice */
	int handles;         /* open uv handles; free after the last close */

	struct pos_list parts;   /* assigned partitions, next offset to deliver */
	struct pos_list pending; /* set positions for partitions not assigned yet */
	size_t hit;              /* parts index of the last record's partition */
	struct kafka_in_stats stats;

	/* The one threadpool job (start, then close). The worker writes w_*;
	 * the loop reads them in the after-work callback. While it runs the
	 * loop does not touch rk or q. */
	uv_work_t work;
	bool work_busy;
	int w_kind;
	int w_status;
	char w_err[320];
	rd_kafka_t *w_rk;
	rd_kafka_queue_t *w_q;

	void (*close_cb)(void *arg);
	void *close_arg;
};

/* ---- positions ----------------------------------------------------------- */

static ssize_t pos_find(const struct pos_list *l, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].p.partition == partition && !strcmp(l->v[i].p.topic, topic))
			return (ssize_t)i;
	return -1;
}

/* Adds or updates; 0 or -ENOMEM. */
static int pos_put(struct pos_list *l, const char *topic, int32_t partition, int64_t offset)
{
	ssize_t i = pos_find(l, topic, partition);

	if (i < 0) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 16;
			struct part *v = realloc(l->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			l->v = v;
			l->cap = cap;
		}
		i = (ssize_t)l->n++;
		snprintf(l->v[i].p.topic, sizeof(l->v[i].p.topic), "%s", topic);
		l->v[i].p.partition = partition;
	}
	l->v[i].p.offset = offset;
	l->v[i].seeking = l->v[i].reseeked = false;
	return 0;
}

/* Keeps the order (positions report in assignment order). */
static void pos_del(struct pos_list *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
}

/* ---- callbacks to the owner ------------------------------------------------ */

static void kin_error(struct kafka_in *k, bool fatal, const char *what)
{
	if (k->fatal)
		return; /* after a fatal error only close is left: nothing to add */
	if (fatal)
		k->fatal = true;
	k->stats.errors++;
	if (k->cb.on_error)
		k->cb.on_error(k->cb.arg, fatal, what);
}

static void kin_fatal_rd(struct kafka_in *k, const char *where)
{
	char why[256], msg[512];
	rd_kafka_resp_err_t e = rd_kafka_fatal_error(k->rk, why, sizeof(why));

	snprintf(msg, sizeof(msg), "kafka consumer fatal error%s%s: %s (%s)", *where ? " in " : "",
		 where, e ? why : "unknown", rd_kafka_err2name(e));
	kin_error(k, true, msg);
}

/* ---- librdkafka callbacks --------------------------------------------------
 * Served by rd_kafka_consumer_poll on the loop thread; during close also by
 * rd_kafka_consumer_close on a worker, where they touch nothing of ours
 * (closing was set before the work was queued, and stays set). */

/* A partition leaving us keeps its position among the pending ones: if it
 * comes back (an eager rebalance revokes and reassigns everything), it goes
 * on where our state is, not at the group's older committed offset. */
static void keep_position(struct kafka_in *k, const struct part *pt)
{
	if (pt->p.offset >= 0) /* what we delivered is newer than anything pending */
		pos_put(&k->pending, pt->p.topic, pt->p.partition, pt->p.offset); /* best effort */
}

static void keep_positions(struct kafka_in *k, const struct pos_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		keep_position(k, &l->v[i]);
}

static void kin_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_in *k = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	rd_kafka_error_t *xe = NULL;
	rd_kafka_resp_err_t ae = RD_KAFKA_RESP_ERR_NO_ERROR;
	char msg[512];

	KAFKA_IN_CHECK(k);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && !k->closing) {
		k->stats.rebalances++;
		if (!coop) { /* eager: the list is the whole assignment */
			keep_positions(k, &k->parts);
			k->parts.n = 0;
		}
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *p = &parts->elems[i];
			ssize_t j = pos_find(&k->pending, p->topic, p->partition);

			/* A set position is used once; otherwise INVALID makes
			 * librdkafka start at the committed offset. */
			p->offset = RD_KAFKA_OFFSET_INVALID;
			if (j >= 0) {
				p->offset = k->pending.v[j].p.offset;
				pos_del(&k->pending, (size_t)j);
			}
			if (pos_put(&k->parts, p->topic, p->partition, p->offset) < 0)
				kin_error(k, true, "kafka consumer: out of memory tracking partitions");
		}
		if (coop)
			xe = rd_kafka_incremental_assign(rk, parts);
		else
			ae = rd_kafka_assign(rk, parts);
	} else {
		/* Revoked or lost (or an error: drop everything). */
		if (!k->closing) {
			k->stats.rebalances++;
			for (int i = 0; i < parts->cnt; i++) {
				ssize_t j = pos_find(&k->parts, parts->elems[i].topic, parts->elems[i].partition);

				if (j >= 0) {
					keep_position(k, &k->parts.v[j]);
					pos_del(&k->parts, (size_t)j);
				}
			}
			if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
				k->parts.n = 0;
				snprintf(msg, sizeof(msg), "kafka consumer rebalance: %s", rd_kafka_err2str(err));
				kin_error(k, false, msg);
			}
		}
		if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			xe = rd_kafka_incremental_unassign(rk, parts);
		else
			ae = rd_kafka_assign(rk, NULL);
	}
	if (k->closing) {
		if (xe)
			rd_kafka_error_destroy(xe);
		return;
	}
	k->stats.assigned = k->parts.n;
	if (xe || ae) {
		snprintf(msg, sizeof(msg), "kafka consumer %s: %s",
			 err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" : "unassign",
			 xe ? rd_kafka_error_string(xe) : rd_kafka_err2str(ae));
		if ((xe && rd_kafka_error_is_fatal(xe)) || ae == RD_KAFKA_RESP_ERR__FATAL)
			kin_fatal_rd(k, "rebalance");
		else
			kin_error(k, false, msg);
		if (xe)
			rd_kafka_error_destroy(xe);
	}
}

static void kin_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_in *k = opaque;
	char msg[512];

	KAFKA_IN_CHECK(k);
	if (k->closing)
		return;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		kin_fatal_rd(k, "");
		return;
	}
	snprintf(msg, sizeof(msg), "kafka consumer: %s: %s", rd_kafka_err2name(err), reason);
	kin_error(k, false, msg);
}

static void kin_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			  rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct kafka_in *k = opaque;
	char msg[512];

	KAFKA_IN_CHECK(k);
	if (k->closing || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return;
	for (int i = 0; !err && offsets && i < offsets->cnt; i++)
		if (offsets->elems[i].err) {
			snprintf(msg, sizeof(msg), "kafka consumer commit of %s [%d]: %s",
				 offsets->elems[i].topic, offsets->elems[i].partition,
				 rd_kafka_err2str(offsets->elems[i].err));
			kin_error(k, false, msg);
			return;
		}
	if (err) {
		snprintf(msg, sizeof(msg), "kafka consumer commit: %s", rd_kafka_err2str(err));
		kin_error(k, false, msg);
	}
}

/* ---- delivery on the loop -------------------------------------------------- */

/* Timeout 0: the seek is queued, nothing waits; librdkafka drops the
 * records fetched before it. 0 or -EIO. */
static int kin_seek(struct kafka_in *k, struct part *pt)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(l, pt->p.topic, pt->p.partition);
	rd_kafka_error_t *xe;
	int r = 0;

	e->offset = pt->p.offset;
	if ((xe = rd_kafka_seek_partitions(k->rk, l, 0))) {
		rd_kafka_error_destroy(xe);
		r = -EIO;
	} else if (e->err && e->err != RD_KAFKA_RESP_ERR__IN_PROGRESS) {
		r = -EIO;
	}
	rd_kafka_topic_partition_list_destroy(l);
	pt->seeking = r == 0;
	return r;
}

/* After a seek to X the first record should be X. Another one means the
 * seek was lost or X was a gap (a control record, compaction): seek again,
 * once (the fetcher runs now, so this one holds), and take what follows. */
static bool kin_seek_check(struct kafka_in *k, struct part *pt, int64_t offset)
{
	if (offset == pt->p.offset || pt->reseeked) {
		pt->seeking = pt->reseeked = false;
		return offset >= pt->p.offset;
	}
	pt->reseeked = true;
	if (kin_seek(k, pt) < 0) {
		pt->seeking = pt->reseeked = false;
		kin_error(k, false, "kafka consumer: a seek was refused; continuing where librdkafka is");
		return true;
	}
	return false;
}

static void kin_deliver(struct kafka_in *k, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	struct pos_list *l = &k->parts;
	rd_kafka_timestamp_type_t tt;
	struct kafka_in_msg msg = {
		.topic = topic,
		.partition = m->partition,
		.offset = m->offset,
		.key = m->key,
		.key_len = m->key_len,
		.value = m->payload,
		.len = m->len,
		.timestamp_ms = rd_kafka_message_timestamp(m, &tt),
	};

	/* Records come in runs of one partition: try the last one first. */
	if (!(k->hit < l->n && l->v[k->hit].p.partition == m->partition &&
	      !strcmp(l->v[k->hit].p.topic, topic))) {
		ssize_t i = pos_find(l, topic, m->partition);

		if (i < 0)
			return; /* no longer assigned: librdkafka's leftover */
		k->hit = (size_t)i;
	}
	if (l->v[k->hit].seeking && !kin_seek_check(k, &l->v[k->hit], m->offset))
		return;
	/* Moved before the call: a hold (and checkpoint) taken inside on_msg
	 * comes after the owner has applied this record. */
	l->v[k->hit].p.offset = m->offset + 1;
	k->stats.messages++;
	if (k->cb.on_msg)
		k->cb.on_msg(k->cb.arg, &msg);
}

static void kin_consumer_error(struct kafka_in *k, const rd_kafka_message_t *m)
{
	char msg[512];

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		return;
	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		kin_fatal_rd(k, "");
		return;
	}
	if (m->rkt)
		snprintf(msg, sizeof(msg), "kafka consumer %s [%d]: %s", rd_kafka_topic_name(m->rkt),
			 m->partition, rd_kafka_message_errstr(m));
	else
		snprintf(msg, sizeof(msg), "kafka consumer: %s", rd_kafka_message_errstr(m));
	kin_error(k, false, msg);
}

static bool kin_can_deliver(const struct kafka_in *k)
{
	return k->state == KIN_RUNNING && !k->held && !k->fatal && !k->closing;
}

static void kin_on_idle(uv_idle_t *h);
static void kin_close_step(struct kafka_in *k);

/* One slice: at most k->slice records and ~KAFKA_IN_SLICE_NS. The io-event
 * only fires when the queue turns non-empty, so a slice that stops with
 * records left keeps the idle handle running for the next iteration. */
static void kin_drain(struct kafka_in *k)
{
	uint64_t end = uv_hrtime() + KAFKA_IN_SLICE_NS;
	unsigned n = 0;
	bool more = false;

	k->in_drain = true;
	while (kin_can_deliver(k)) {
		if (n >= k->slice || (n && uv_hrtime() >= end)) {
			more = true;
			break;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);

		if (!m)
			break;
		n++;
		if (m->err)
			kin_consumer_error(k, m);
		else
			kin_deliver(k, m);
		rd_kafka_message_destroy(m);
	}
	k->in_drain = false;
	if (more)
		uv_idle_start(&k->idle, kin_on_idle);
	else
		uv_idle_stop(&k->idle);
	/* A close asked from a callback above waited for the poll to return. */
	kin_close_step(k);
}

static void kin_on_idle(uv_idle_t *h)
{
	struct kafka_in *k = h->data;

	KAFKA_IN_CHECK(k);
	kin_drain(k);
}

static void kin_on_poll(uv_poll_t *h, int status, int events)
{
	struct kafka_in *k = h->data;
	char buf[256];

	KAFKA_IN_CHECK(k);
	/* Empty the pipe before the queue: a record enqueued after our last
	 * poll writes a new byte, so no wakeup is lost. */
	while (read(k->pipefd[0], buf, sizeof(buf)) > 0)
		;
	/* A running idle already continues the drain: one slice per iteration. */
	if (!uv_is_active((uv_handle_t *)&k->idle))
		kin_drain(k);
}

/* ---- life cycle -------------------------------------------------------------- */

static int kin_conf_set(rd_kafka_conf_t *c, const char *key, const char *value, char *err,
			size_t errlen)
{
	char e[256];

	if (rd_kafka_conf_set(c, key, value, e, sizeof(e)) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(err, errlen, "kafka consumer %s: %s", key, e);
	return -EINVAL;
}

static int kin_check_opts(const struct kafka_in_opts *o, char *err, size_t errlen)
{
	if (!o->topics || o->ntopics < 1 || o->ntopics > KAFKA_IN_TOPICS_MAX) {
		snprintf(err, errlen, "kafka consumer: expected 1..%d topics, got %zu", KAFKA_IN_TOPICS_MAX,
			 o->ntopics);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->ntopics; i++) {
		size_t len = o->topics[i] ? strlen(o->topics[i]) : 0;

		if (len < 1 || len >= KAFKA_IN_TOPIC_MAX || o->topics[i][0] == '^') {
			snprintf(err, errlen, "kafka consumer: topic %zu: expected a name of 1..%d bytes, no pattern",
				 i, KAFKA_IN_TOPIC_MAX - 1);
			return -EINVAL;
		}
	}
	if (!o->group_id || !*o->group_id) {
		snprintf(err, errlen, "kafka consumer: a group.id is required");
		return -EINVAL;
	}
	return 0;
}

/* Our keys over the caller's; refused values name the key. */
static int kin_conf_apply(struct kafka_in *k, rd_kafka_conf_t *c, const struct kafka_in_opts *o,
			  char *err, size_t errlen)
{
	const char *fixed[][2] = {
		{"group.id", o->group_id},
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"enable.partition.eof", "false"},
		{"isolation.level", o->read_committed ? "read_committed" : "read_uncommitted"},
		{"auto.offset.reset", o->auto_offset_reset},
	};
	int r;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i][1] && (r = kin_conf_set(c, fixed[i][0], fixed[i][1], err, errlen)))
			return r;
	rd_kafka_conf_set_rebalance_cb(c, kin_on_rebalance);
	rd_kafka_conf_set_error_cb(c, kin_on_error);
	rd_kafka_conf_set_offset_commit_cb(c, kin_on_commit);
	rd_kafka_conf_set_opaque(c, k);
	return 0;
}

static void kin_free(struct kafka_in *k)
{
	for (size_t i = 0; i < k->ntopics; i++)
		free(k->topics[i]);
	free(k->parts.v);
	free(k->pending.v);
	if (k->conf)
		rd_kafka_conf_destroy(k->conf);
	if (k->pipefd[0] >= 0)
		close(k->pipefd[0]);
	if (k->pipefd[1] >= 0)
		close(k->pipefd[1]);
	k->magic = 0;
	free(k);
}

int kafka_in_new(uv_loop_t *loop, rd_kafka_conf_t *conf, const struct kafka_in_opts *o,
		 const struct kafka_in_cbs *cbs, struct kafka_in **out, char *err, size_t errlen)
{
	struct kafka_in *k;
	rd_kafka_conf_t *c;
	int r;

	*out = NULL;
	if (!conf) {
		snprintf(err, errlen, "kafka consumer: no configuration");
		return -EINVAL;
	}
	if ((r = kin_check_opts(o, err, errlen)))
		return r;
	if (!(k = calloc(1, sizeof(*k))))
		return -ENOMEM;
	k->magic = KAFKA_IN_MAGIC;
	k->loop = loop;
	k->pipefd[0] = k->pipefd[1] = -1;
	k->slice = o->slice_msgs ? o->slice_msgs : KAFKA_IN_SLICE_DEFAULT;
	if (cbs)
		k->cb = *cbs;
	for (size_t i = 0; i < o->ntopics; i++, k->ntopics++)
		if (!(k->topics[i] = strdup(o->topics[i]))) {
			r = -ENOMEM;
			goto fail;
		}
	/* Set on a copy so a refused value leaves the caller's conf as it was. */
	if (!(c = rd_kafka_conf_dup(conf))) {
		r = -ENOMEM;
		goto fail;
	}
	k->conf = c;
	if ((r = kin_conf_apply(k, c, o, err, errlen)))
		goto fail;
	if (pipe2(k->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "kafka consumer: pipe: %s", strerror(errno));
		goto fail;
	}
	if ((r = uv_poll_init(loop, &k->poll, k->pipefd[0]))) {
		snprintf(err, errlen, "kafka consumer: uv_poll_init: %s", uv_strerror(r));
		goto fail;
	}
	uv_idle_init(loop, &k->idle); /* cannot fail */
	k->poll.data = k->idle.data = k;
	k->handles = 2;
	rd_kafka_conf_destroy(conf); /* taken over: the copy replaces it */
	*out = k;
	return 0;
fail:
	kin_free(k);
	return r;
}

/* The threadpool jobs. Start: make the handle, forward the main queue,
 * subscribe. Close: leave the group (revoke callbacks run here, see above),
 * destroy. */
static void kin_work(uv_work_t *req)
{
	struct kafka_in *k = req->data;
	char e[256];

	if (k->w_kind == KIN_JOB_CLOSE) {
		rd_kafka_consumer_close(k->rk);
		rd_kafka_queue_destroy(k->q);
		rd_kafka_destroy(k->rk);
		return;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, k->conf, e, sizeof(e));

	if (!rk) {
		k->w_status = -EINVAL;
		snprintf(k->w_err, sizeof(k->w_err), "kafka consumer: %s", e);
		return;
	}
	k->conf = NULL; /* rd_kafka_new took it */
	rd_kafka_poll_set_consumer(rk);
	k->w_q = rd_kafka_queue_get_consumer(rk);
	k->w_rk = rk;

	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->ntopics);
	for (size_t i = 0; i < k->ntopics; i++)
		rd_kafka_topic_partition_list_add(l, k->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (se) {
		k->w_status = -EIO;
		snprintf(k->w_err, sizeof(k->w_err), "kafka consumer subscribe: %s", rd_kafka_err2str(se));
	}
}

static void kin_after(uv_work_t *req, int status);

static void kin_queue(struct kafka_in *k, int kind)
{
	k->w_kind = kind;
	k->work.data = k;
	k->work_busy = true;
	/* uv_queue_work fails only on a NULL work callback. */
	if (uv_queue_work(k->loop, &k->work, kin_work, kin_after))
		abort();
}

static void kin_on_closed(uv_handle_t *h)
{
	struct kafka_in *k = h->data;

	KAFKA_IN_CHECK(k);
	if (--k->handles > 0)
		return;
	void (*cb)(void *) = k->close_cb;
	void *arg = k->close_arg;

	kin_free(k);
	if (cb)
		cb(arg);
}

/* Advances the close: waits for a running job, hands the handle to a
 * close job, then closes the uv handles (k is freed after the last). */
static void kin_close_step(struct kafka_in *k)
{
	if (!k->closing || k->work_busy || k->in_drain)
		return;
	if (k->rk) {
		rd_kafka_queue_io_event_enable(k->q, -1, NULL, 0);
		uv_poll_stop(&k->poll);
		uv_idle_stop(&k->idle);
		kin_queue(k, KIN_JOB_CLOSE);
		return;
	}
	uv_close((uv_handle_t *)&k->poll, kin_on_closed);
	uv_close((uv_handle_t *)&k->idle, kin_on_closed);
}

static void kin_after(uv_work_t *req, int status)
{
	struct kafka_in *k = req->data;

	KAFKA_IN_CHECK(k);
	k->work_busy = false;
	if (k->w_kind == KIN_JOB_CLOSE) {
		k->rk = NULL;
		k->q = NULL;
	} else {
		/* The handle is ours now, also after a failed subscribe. */
		k->rk = k->w_rk;
		k->q = k->w_q;
		k->state = k->w_status ? KIN_FAILED : KIN_RUNNING;
		if (k->w_status && !k->closing)
			kin_error(k, true, k->w_err);
		if (!k->w_status && !k->closing) {
			rd_kafka_queue_io_event_enable(k->q, k->pipefd[1], "1", 1);
			uv_poll_start(&k->poll, UV_READABLE, kin_on_poll);
			/* Whatever was queued before the io-event existed. */
			uv_idle_start(&k->idle, kin_on_idle);
		}
	}
	kin_close_step(k);
}

int kafka_in_start(struct kafka_in *k)
{
	if (k->closing)
		return -ESHUTDOWN;
	if (k->state != KIN_NEW)
		return -EALREADY;
	k->state = KIN_STARTING;
	kin_queue(k, KIN_JOB_START);
	return 0;
}

int kafka_in_set_positions(struct kafka_in *k, const struct kafka_in_pos *p, size_t n)
{
	int r = 0;

	if (k->closing)
		return -ESHUTDOWN;
	for (size_t i = 0; i < n; i++)
		if (!memchr(p[i].topic, 0, sizeof(p[i].topic)) || !p[i].topic[0])
			return -EINVAL;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (p[i].offset < 0)
			continue;
		ssize_t j = k->rk ? pos_find(&k->parts, p[i].topic, p[i].partition) : -1;

		if (j < 0) {
			r = pos_put(&k->pending, p[i].topic, p[i].partition, p[i].offset);
			continue;
		}
		k->parts.v[j].p.offset = p[i].offset;
		k->parts.v[j].reseeked = false;
		r = kin_seek(k, &k->parts.v[j]);
	}
	return r;
}

size_t kafka_in_positions(const struct kafka_in *k, struct kafka_in_pos *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < k->parts.n; i++, n++)
		if (n < cap)
			out[n] = k->parts.v[i].p;
	/* Set but not assigned yet (a restore waiting for the group, or a
	 * partition that left us): still where our state is. */
	for (size_t i = 0; i < k->pending.n; i++) {
		if (pos_find(&k->parts, k->pending.v[i].p.topic, k->pending.v[i].p.partition) >= 0)
			continue;
		if (n < cap)
			out[n] = k->pending.v[i].p;
		n++;
	}
	return n;
}

void kafka_in_hold(struct kafka_in *k, bool hold)
{
	k->held = hold;
	/* The rest of the queue on the next iteration, never from inside this call. */
	if (!hold && kin_can_deliver(k))
		uv_idle_start(&k->idle, kin_on_idle);
}

int kafka_in_commit(struct kafka_in *k, const struct kafka_in_pos *p, size_t n)
{
	if (k->closing)
		return -ESHUTDOWN;
	if (!k->rk || k->state != KIN_RUNNING)
		return -ENOTCONN;

	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(n ? n : 1));

	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (p[i].offset >= 0 && memchr(p[i].topic, 0, sizeof(p[i].topic)))
			rd_kafka_topic_partition_list_add(l, p[i].topic, p[i].partition)->offset = p[i].offset;
	/* async: the result comes back through kin_on_commit. */
	rd_kafka_resp_err_t e = l->cnt ? rd_kafka_commit(k->rk, l, 1) : RD_KAFKA_RESP_ERR_NO_ERROR;

	rd_kafka_topic_partition_list_destroy(l);
	return e ? -EIO : 0;
}

void kafka_in_stats(const struct kafka_in *k, struct kafka_in_stats *s)
{
	*s = k->stats;
	s->assigned = k->parts.n;
}

void kafka_in_close(struct kafka_in *k, void (*cb)(void *arg), void *arg)
{
	if (k->closing)
		return;
	k->closing = true;
	k->close_cb = cb;
	k->close_arg = arg;
	uv_idle_stop(&k->idle);
	kin_close_step(k);
}
