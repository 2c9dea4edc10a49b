/* kafka_txn.c - the waiting librdkafka calls, run on the uv threadpool:
 * start (embedded cluster, client, init_transactions), commit or flush,
 * abort, and the two close phases. One runs at a time (k->op_busy). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sink/kafka_int.h"

#define TXN_RETRIES 3

static void op_fail(struct kafka *k, int status, const char *what, rd_kafka_error_t *error)
{
	k->op_status = status;
	snprintf(k->op_err, sizeof(k->op_err), "%s: %s (%s)", what,
		 rd_kafka_error_string(error), rd_kafka_error_name(error));
}

/* ---- worker side -------------------------------------------------------- */

static void work_start(struct kafka *k)
{
	struct kafka_start_out *out = &k->op_start;
	char e[400];
	rd_kafka_error_t *error;

	memset(out, 0, sizeof(*out));
	if (k->set.embedded) {
		int r = kafka_mock_new(k->set.embedded_brokers, true, &out->mock, k->op_err,
				       sizeof(k->op_err));
		if (r) {
			k->op_status = r;
			return;
		}
		for (size_t i = 0; i < k->n_topics; i++) {
			r = kafka_mock_topic_create(out->mock, k->topics[i].name,
						    k->set.create_partitions,
						    k->set.create_replication);
			if (r && r != -EEXIST) {
				k->op_status = r;
				snprintf(k->op_err, sizeof(k->op_err),
					 "embedded kafka: cannot create topic %s", k->topics[i].name);
				goto fail;
			}
		}
		snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", kafka_mock_bootstrap(out->mock));
		if (rd_kafka_conf_set(k->conf, "bootstrap.servers", k->bootstrap, e, sizeof(e))) {
			k->op_status = -EINVAL;
			snprintf(k->op_err, sizeof(k->op_err), "kafka.bootstrap.servers: %s", e);
			goto fail;
		}
	} else {
		snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", k->set.bootstrap);
	}

	out->rk = rd_kafka_new(RD_KAFKA_PRODUCER, k->conf, e, sizeof(e));
	if (!out->rk) {
		k->op_status = -EINVAL;
		snprintf(k->op_err, sizeof(k->op_err), "kafka: %s", e);
		goto fail;
	}
	k->conf = NULL; /* owned by rk now */
	out->mainq = rd_kafka_queue_get_main(out->rk);
	rd_kafka_set_log_queue(out->rk, out->mainq);

	if (k->profile == KAFKA_EXACTLY_ONCE) {
		if ((error = rd_kafka_init_transactions(out->rk, k->start_timeout_ms))) {
			op_fail(k,
				rd_kafka_error_is_fatal(error) ? -ENOTRECOVERABLE
				: rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT
					? -ETIMEDOUT
					: -EIO,
				"init_transactions", error);
			rd_kafka_error_destroy(error);
			goto fail;
		}
		if ((error = rd_kafka_begin_transaction(out->rk))) {
			op_fail(k, -EIO, "begin_transaction", error);
			rd_kafka_error_destroy(error);
			goto fail;
		}
	}
	k->op_status = 0;
	return;
fail:
	if (out->mainq)
		rd_kafka_queue_destroy(out->mainq);
	if (out->rk)
		rd_kafka_destroy(out->rk);
	kafka_mock_free(out->mock);
	memset(out, 0, sizeof(*out));
}

/* Abort (retrying retriable errors), then open the next transaction. */
static int txn_abort_and_begin(struct kafka *k, int timeout_ms, char *msg, size_t msglen)
{
	rd_kafka_error_t *error = NULL;

	for (int i = 0; i < TXN_RETRIES; i++) {
		error = rd_kafka_abort_transaction(k->rk, timeout_ms);
		if (!error || !rd_kafka_error_is_retriable(error))
			break;
		rd_kafka_error_destroy(error);
		error = NULL;
	}
	if (error) {
		snprintf(msg, msglen, "abort_transaction: %s (%s)", rd_kafka_error_string(error),
			 rd_kafka_error_name(error));
		rd_kafka_error_destroy(error);
		return -ENOTRECOVERABLE; /* no way back to a clean transaction */
	}
	if ((error = rd_kafka_begin_transaction(k->rk))) {
		snprintf(msg, msglen, "begin_transaction: %s (%s)", rd_kafka_error_string(error),
			 rd_kafka_error_name(error));
		rd_kafka_error_destroy(error);
		return -ENOTRECOVERABLE;
	}
	return 0;
}

static void work_commit(struct kafka *k)
{
	rd_kafka_error_t *error = NULL;
	char why[200], msg[200];
	int r;

	k->op_err[0] = 0;
	if (k->profile == KAFKA_LOW_LATENCY) {
		rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, k->commit_timeout_ms);

		k->op_status = e ? -ETIMEDOUT : 0;
		if (e)
			snprintf(k->op_err, sizeof(k->op_err), "flush: %d record(s) not acknowledged "
								"within %d ms",
				 rd_kafka_outq_len(k->rk), k->commit_timeout_ms);
		return;
	}
	for (int i = 0; i < TXN_RETRIES; i++) {
		/* -1: the remaining transaction time, as librdkafka recommends. */
		error = rd_kafka_commit_transaction(k->rk, -1);
		if (!error) {
			if ((error = rd_kafka_begin_transaction(k->rk))) {
				k->op_status = -ENOTRECOVERABLE;
				snprintf(k->op_err, sizeof(k->op_err),
					 "begin_transaction after commit: %s",
					 rd_kafka_error_string(error));
				rd_kafka_error_destroy(error);
				return;
			}
			k->op_status = 0;
			return;
		}
		if (rd_kafka_error_is_fatal(error) || rd_kafka_error_txn_requires_abort(error) ||
		    !rd_kafka_error_is_retriable(error))
			break;
		rd_kafka_error_destroy(error);
		error = NULL;
	}
	snprintf(why, sizeof(why), "%s (%s)", error ? rd_kafka_error_string(error) : "retries exhausted",
		 error ? rd_kafka_error_name(error) : "");
	if (error && rd_kafka_error_is_fatal(error)) {
		rd_kafka_error_destroy(error);
		k->op_status = -ENOTRECOVERABLE;
		snprintf(k->op_err, sizeof(k->op_err), "commit_transaction: fatal: %s", why);
		return;
	}
	if (error)
		rd_kafka_error_destroy(error);
	/* Abortable (or not retriable any more): abort, then start afresh. */
	r = txn_abort_and_begin(k, -1, msg, sizeof(msg));
	k->op_status = r ? r : -ECANCELED;
	snprintf(k->op_err, sizeof(k->op_err), "commit_transaction: %s; transaction aborted%s%s", why,
		 r ? ", then " : "", r ? msg : "");
}

static void work_abort(struct kafka *k)
{
	char msg[256];

	k->op_err[0] = 0;
	k->op_status = txn_abort_and_begin(k, -1, msg, sizeof(msg));
	if (k->op_status)
		snprintf(k->op_err, sizeof(k->op_err), "%s", msg);
}

static void work_close_flush(struct kafka *k)
{
	if (k->profile == KAFKA_EXACTLY_ONCE) {
		/* What the owner did not commit is not checkpointed either. */
		rd_kafka_error_t *error = rd_kafka_abort_transaction(k->rk, k->close_timeout_ms);

		if (error)
			rd_kafka_error_destroy(error);
		return;
	}
	if (rd_kafka_flush(k->rk, k->close_timeout_ms)) {
		/* Give up on the rest, but still get their delivery reports. */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(k->rk, 1000);
	}
}

static void work_close_destroy(struct kafka *k)
{
	for (size_t i = 0; i < k->n_topics; i++)
		if (k->topics[i].rkt) {
			rd_kafka_topic_destroy(k->topics[i].rkt);
			k->topics[i].rkt = NULL;
		}
	if (k->mainq)
		rd_kafka_queue_destroy(k->mainq);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	kafka_mock_free(k->mock);
}

static void txn_work(uv_work_t *req)
{
	struct kafka *k = req->data;

	switch (k->op_kind) {
	case KOP_START:
		work_start(k);
		break;
	case KOP_COMMIT:
		work_commit(k);
		break;
	case KOP_ABORT:
		work_abort(k);
		break;
	case KOP_CLOSE_FLUSH:
		work_close_flush(k);
		break;
	case KOP_CLOSE_DESTROY:
		work_close_destroy(k);
		break;
	}
}

/* ---- loop side ----------------------------------------------------------- */

static void done_start(struct kafka *k)
{
	struct kafka_start_out *out = &k->op_start;
	kafka_done_cb cb = k->op_cb;
	void *arg = k->op_arg;
	int status = k->op_status;

	k->op_cb = NULL;
	if (status == 0) {
		k->rk = out->rk;
		k->mainq = out->mainq;
		k->mock = out->mock;
		if (k->state == KS_STARTING)
			k->state = KS_READY;
		kafka_io_enable(k);
	} else if (k->state == KS_STARTING) {
		k->state = KS_FAILED;
	}
	if (k->closing && status == 0)
		status = -ECANCELED;
	if (cb)
		cb(k, status, status ? (k->op_err[0] ? k->op_err : "closed during start") : NULL,
		   arg);
}

static void done_commit(struct kafka *k)
{
	kafka_done_cb cb = k->op_cb;
	void *arg = k->op_arg;
	int status = k->op_status;
	struct kafka_stats *s = &k->stats;

	k->op_cb = NULL;
	k->doomed = false;
	/* State first: a record offered from a callback below is then held
	 * behind the ones being dropped, not dropped with them. */
	if (status == -ENOTRECOVERABLE)
		kafka_set_fatal(k, k->op_err);
	else if (k->state == KS_COMMITTING)
		k->state = KS_READY;
	if (status == -ECANCELED)
		memcpy(k->aborted_tag, k->txn_tag, sizeof(k->aborted_tag));
	if (status == 0 || status == -ECANCELED)
		kafka_txn_next_tag(k); /* a new transaction is open */
	switch (status) {
	case 0:
		/* Not a reset of consecutive_failures: a flush barrier also
		 * succeeds over failed records; successful deliveries reset it. */
		s->commits++;
		break;
	case -ECANCELED:
		s->aborts++;
		s->commit_failures++;
		s->consecutive_failures++;
		/* The owner rewinds to its last checkpoint, before these. */
		kafka_hold_drop(k, -ECANCELED);
		break;
	case -ENOTRECOVERABLE:
		s->commit_failures++;
		s->consecutive_failures++;
		kafka_hold_drop(k, -ENOTRECOVERABLE);
		break;
	default: /* low-latency flush timeout: records are still on their way */
		s->commit_failures++;
		s->consecutive_failures++;
		break;
	}
	if (k->state == KS_READY && k->hold.count)
		kafka_hold_release(k);
	if (cb)
		cb(k, status, status ? k->op_err : NULL, arg);
}

static void done_abort(struct kafka *k)
{
	int status = k->op_status;
	kafka_done_cb cb = k->commit_pending_cb ? k->op_cb : NULL;
	void *arg = k->op_arg;

	if (!cb && k->prep_cb) { /* aborted while preparing a two-phase commit */
		cb = k->prep_cb;
		arg = k->prep_arg;
	}
	k->prep_cb = NULL;
	k->doomed = false;
	k->commit_pending_cb = false;
	k->op_cb = NULL;
	if (status == 0) {
		k->stats.aborts++;
		memcpy(k->aborted_tag, k->txn_tag, sizeof(k->aborted_tag));
		kafka_txn_next_tag(k);
		if (k->state == KS_ABORTING)
			k->state = KS_READY;
		if (cb)
			cb(k, -ECANCELED, "transaction aborted after an earlier error", arg);
		else
			kafka_emit(k, KAFKA_EV_ABORTED, -ECANCELED,
				   "transaction aborted after a failed record: restore from the last "
				   "checkpoint");
		return;
	}
	kafka_set_fatal(k, k->op_err);
	if (cb)
		cb(k, status, k->op_err, arg);
}

static void txn_after(uv_work_t *req, int status)
{
	struct kafka *k = req->data;
	int kind;

	KAFKA_CHECK(k);
	kind = k->op_kind;
	k->op_busy = false;
	switch (kind) {
	case KOP_START:
		done_start(k);
		break;
	case KOP_COMMIT:
		done_commit(k);
		break;
	case KOP_ABORT:
		done_abort(k);
		break;
	case KOP_CLOSE_FLUSH:
		break;
	case KOP_CLOSE_DESTROY:
		k->rk = NULL;
		k->mainq = NULL;
		k->mock = NULL;
		break;
	}
	kafka_close_step(k);
}

int kafka_txn_queue(struct kafka *k, int kind)
{
	int r;

	if (k->op_busy)
		return -EBUSY;
	k->op_kind = kind;
	k->op_status = 0;
	k->op_err[0] = 0;
	k->op_req.data = k;
	if ((r = uv_queue_work(k->loop, &k->op_req, txn_work, txn_after)))
		return r;
	k->op_busy = true;
	return 0;
}

void kafka_txn_start_commit(struct kafka *k)
{
	int r;

	k->state = KS_COMMITTING;
	k->commit_pending_cb = false; /* the commit's own after-work answers op_cb */
	if ((r = kafka_txn_queue(k, KOP_COMMIT))) {
		kafka_done_cb cb = k->op_cb;

		k->state = KS_READY;
		k->op_cb = NULL;
		if (cb)
			cb(k, r, "cannot queue the commit", k->op_arg);
	}
}

void kafka_txn_next_tag(struct kafka *k)
{
	if (!k->txn_prefix[0])
		return;
	k->txn_no++;
	int n = snprintf(k->txn_tag, sizeof(k->txn_tag), "%s.%llu", k->txn_prefix,
			 (unsigned long long)k->txn_no);
	k->txn_tag_len = n > 0 && (size_t)n < sizeof(k->txn_tag) ? (size_t)n : 0;
}

void kafka_txn_doom(struct kafka *k)
{
	if (k->profile != KAFKA_EXACTLY_ONCE || k->doomed || k->op_busy)
		return;
	if (k->state != KS_READY && k->state != KS_PREPARING && k->state != KS_PREPARED &&
	    k->state != KS_MARKING)
		return;
	k->doomed = true;
	/* Held records were meant for the doomed transaction too. */
	kafka_hold_drop(k, -ECANCELED);
	if (k->commit_deferred) {
		k->commit_deferred = false;
		k->commit_pending_cb = true; /* answer the commit when the abort ends */
	}
	k->state = KS_ABORTING;
	if (kafka_txn_queue(k, KOP_ABORT))
		kafka_set_fatal(k, "cannot queue the abort");
}
