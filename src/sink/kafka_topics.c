/* kafka_topics.c - topic readiness: metadata off-loop, creation of missing
 * topics through the admin API with its result on the main queue. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sink/kafka_int.h"

static uint32_t all_topics(const struct kafka *k)
{
	return k->n_topics >= 32 ? UINT32_MAX : ((uint32_t)1 << k->n_topics) - 1;
}

/* Worker: one metadata request for all topics. All topics, not just ours:
 * asking for a topic by name may auto-create it on brokers that allow it. */
static void tq_work(uv_work_t *req)
{
	struct kafka *k = req->data;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, k->tq_timeout_ms);
	uint32_t missing = all_topics(k);

	k->tq_err[0] = 0;
	if (e) {
		k->tq_status = e == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EIO;
		snprintf(k->tq_err, sizeof(k->tq_err), "metadata request failed: %s",
			 rd_kafka_err2str(e));
		k->tq_missing = missing;
		return;
	}
	for (int i = 0; i < md->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *t = &md->topics[i];

		for (size_t j = 0; j < k->n_topics; j++)
			if (!strcmp(t->topic, k->topics[j].name) && !t->err && t->partition_cnt > 0)
				missing &= ~((uint32_t)1 << j);
	}
	rd_kafka_metadata_destroy(md);
	k->tq_status = missing ? -ENOENT : 0;
	k->tq_missing = missing;
}

static void tq_after(uv_work_t *req, int status);

static int tq_queue(struct kafka *k)
{
	int r;

	k->tq_req.data = k;
	if ((r = uv_queue_work(k->loop, &k->tq_req, tq_work, tq_after)))
		return r;
	k->tq_busy = true;
	return 0;
}

static void tq_report(struct kafka *k, int status, uint32_t missing, const char *detail)
{
	kafka_topics_cb cb = k->tq_cb;
	void *arg = k->tq_arg;

	k->tq_cb = NULL;
	if (cb)
		cb(k, status, missing, detail, arg);
}

static void tq_report_missing(struct kafka *k)
{
	char detail[1024];
	size_t n = 0;

	for (size_t i = 0; i < k->n_topics && n < sizeof(detail); i++)
		if (k->tq_missing & ((uint32_t)1 << i))
			n += (size_t)snprintf(detail + n, sizeof(detail) - n, "%smissing topic %s",
					      n ? ", " : "", k->topics[i].name);
	if (k->tq_create_err[0] && n < sizeof(detail))
		snprintf(detail + n, sizeof(detail) - n, " (%s)", k->tq_create_err);
	tq_report(k, -ENOENT, k->tq_missing, detail);
}

/* Admin API, async: the result comes back as an event on the main queue. */
static int tq_create(struct kafka *k)
{
	rd_kafka_NewTopic_t *nt[KAFKA_MAX_TOPICS];
	rd_kafka_AdminOptions_t *opt;
	char e[256];
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < k->n_topics; i++) {
		if (!(k->tq_missing & ((uint32_t)1 << i)))
			continue;
		nt[n] = rd_kafka_NewTopic_new(k->topics[i].name, k->set.create_partitions,
					      k->set.create_replication, e, sizeof(e));
		if (!nt[n]) {
			snprintf(k->tq_create_err, sizeof(k->tq_create_err), "create %s: %s",
				 k->topics[i].name, e);
			r = -EINVAL;
			goto out;
		}
		n++;
	}
	opt = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opt, k->tq_timeout_ms, e, sizeof(e));
	rd_kafka_AdminOptions_set_operation_timeout(opt, k->tq_timeout_ms, e, sizeof(e));
	rd_kafka_CreateTopics(k->rk, nt, n, opt, k->mainq);
	rd_kafka_AdminOptions_destroy(opt);
	k->tq_admin = true;
out:
	for (size_t i = 0; i < n; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	return r;
}

static void tq_after(uv_work_t *req, int status)
{
	struct kafka *k = req->data;

	KAFKA_CHECK(k);
	k->tq_busy = false;
	if (k->closing) {
		tq_report(k, -ECANCELED, k->tq_missing, "closing");
		kafka_close_step(k);
		return;
	}
	if (k->tq_status == 0) {
		tq_report(k, 0, 0, NULL);
		return;
	}
	if (k->tq_status != -ENOENT) {
		tq_report(k, k->tq_status, k->tq_missing, k->tq_err);
		return;
	}
	if (k->set.topics_create && !k->set.embedded && !k->tq_created) {
		k->tq_created = true;
		if (tq_create(k) == 0)
			return;
	}
	tq_report_missing(k);
}

void kafka_topics_on_admin(struct kafka *k, rd_kafka_event_t *ev)
{
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	const rd_kafka_topic_result_t **tr;
	size_t n = 0, off = 0;
	char *buf = k->tq_create_err;
	size_t len = sizeof(k->tq_create_err);

	if (!k->tq_admin)
		return;
	k->tq_admin = false;
	buf[0] = 0;
	if (rd_kafka_event_error(ev)) {
		snprintf(buf, len, "create failed: %s", rd_kafka_event_error_string(ev));
	} else if (res && (tr = rd_kafka_CreateTopics_result_topics(res, &n))) {
		for (size_t i = 0; i < n && off < len; i++) {
			rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
			const char *s = rd_kafka_topic_result_error_string(tr[i]);

			if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
				continue;
			off += (size_t)snprintf(buf + off, len - off, "%screate %s failed: %s",
						off ? "; " : "", rd_kafka_topic_result_name(tr[i]),
						s ? s : rd_kafka_err2str(e));
		}
	}
	if (k->closing) {
		tq_report(k, -ECANCELED, k->tq_missing, "closing");
		return;
	}
	/* Look again: created topics take a moment to show in metadata. */
	if (tq_queue(k))
		tq_report_missing(k);
}

void kafka_topics_cancel(struct kafka *k)
{
	k->tq_admin = false;
	if (k->tq_cb)
		tq_report(k, -ECANCELED, k->tq_missing, "closing");
}

int kafka_topics_check(struct kafka *k, int timeout_ms, kafka_topics_cb cb, void *arg)
{
	int r;

	if (k->closing)
		return -ESHUTDOWN;
	if (!k->rk)
		return -EAGAIN;
	if (k->tq_busy || k->tq_admin || k->tq_cb)
		return -EBUSY;
	k->tq_timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	k->tq_created = false;
	k->tq_create_err[0] = 0;
	k->tq_missing = 0;
	k->tq_cb = cb;
	k->tq_arg = arg;
	if ((r = tq_queue(k))) {
		k->tq_cb = NULL;
		return r;
	}
	return 0;
}
