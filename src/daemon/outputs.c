/* outputs.c - the daemon's Kafka side (see outputs.h). */
#include "config.h"

#include "daemon/outputs.h"
#include "sink/kafka.h"
#include "sink/kafka_markers.h"
#include "core/hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPIC_RETRY_MIN_MS 500
#define TOPIC_RETRY_MAX_MS 10000
#define GATE_FAILURES 3 /* upstream rule: three consecutive failures turn the gate off */

struct pend {
	struct pend *next;
	enum outputs_topic t;
	size_t klen, vlen;
	char data[]; /* key, then value */
};

struct outputs {
	uv_loop_t *loop;
	struct log *log;
	struct outputs_hooks hooks;
	struct kafka *k;
	enum conf_role role;
	char *txn_id;
	char run[24];       /* this process's transaction tag prefix */
	char tag_prefix[40]; /* run + producer generation */
	unsigned generation; /* producers made so far (a profile switch makes one) */
	const char *ktopics[OUT_TOPIC_COUNT];
	const struct conf *conf;
	struct kafka_callbacks kcb;

	/* A profile switch: records wait here from the boundary until the new
	 * producer has started (bounded by sink.buffer.max-bytes). */
	bool holding;
	struct pend *pend, **pend_tail;
	size_t pend_bytes;
	enum conf_profile switch_to;
	int switch_linger_ms;
	void (*switch_cb)(void *, int, const char *);
	void *switch_arg;
	char queue_kbytes[24]; /* half of sink.buffer.max-bytes, for librdkafka */
	struct kafka_kv *kv;
	size_t n_kv;
	const char *names[OUT_TOPIC_COUNT];
	int kidx[OUT_TOPIC_COUNT]; /* kafka topic index, -1 when the topic is not ours */
	unsigned n_kafka_topics;

	uv_timer_t retry;   /* topic readiness retries */
	int64_t deadline_mono_ns;
	int retry_ms;
	bool ready, gate, closing, start_reported;
	bool discard_on_close; /* exactly-once: the open transaction is aborted at close */
	const char *error_class;

	struct outputs_topic_stats st[OUT_TOPIC_COUNT];
	uint64_t commits, commit_failures, aborts, gap_records;
	int64_t last_commit_mono_ns;
	uint32_t consecutive_failures;
	struct hist *ack_hist[OUT_TOPIC_COUNT];

	void (*commit_cb)(void *, int);
	void *commit_arg;
	void (*prep_cb)(void *, int);
	void *prep_arg;
	const char *sasl_password; /* points into the conf; never logged */
	void (*closed_cb)(void *);
	void *closed_arg;
};

static int64_t mono_ns(void)
{
	return (int64_t)uv_hrtime();
}

static void retry_closed(uv_handle_t *h);

/* ------------------------------------------------------------ callbacks */

static void on_log(void *arg, int level, const char *fac, const char *msg)
{
	struct outputs *o = arg;
	enum log_level lv = level <= 3 ? LOG_LEVEL_ERROR : level == 4 ? LOG_LEVEL_WARN :
			    level <= 6 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
	LOG_AT(o->log, lv, LOG_SUB_KAFKA, "librdkafka %s: %s", fac, msg);
}

static enum outputs_topic topic_of(const struct outputs *o, unsigned kidx)
{
	for (int t = 0; t < OUT_TOPIC_COUNT; t++)
		if (o->kidx[t] == (int)kidx)
			return (enum outputs_topic)t;
	return OUT_TOPIC_COUNT;
}

static void on_dr(void *arg, const struct kafka_dr *dr)
{
	struct outputs *o = arg;
	enum outputs_topic t = topic_of(o, dr->topic);
	if (t == OUT_TOPIC_COUNT)
		return;
	if (dr->err == 0) {
		o->st[t].delivered++;
		if (o->ack_hist[t] && dr->latency_us >= 0)
			hist_record(o->ack_hist[t], dr->latency_us * 1000);
		o->consecutive_failures = 0;
		if (!o->gate && o->ready)
			log_info(o->log, LOG_SUB_KAFKA, "deliveries succeed again: Kafka gate on");
		o->gate = o->ready;
		return;
	}
	o->st[t].failed++;
	if (dr->err_class == KAFKA_EC_PURGED) /* an abort or a close: not a broker failure */
		return;
	o->error_class = kafka_err_class_wire(dr->err_class);
	if (++o->consecutive_failures >= GATE_FAILURES && o->gate) {
		o->gate = false;
		log_error(o->log, LOG_SUB_KAFKA, "%u consecutive delivery failures (last on %s: %s): Kafka gate off",
			  o->consecutive_failures, o->names[t], strerror(-dr->err));
	}
}

static void on_event(void *arg, enum kafka_event ev, int err, const char *msg)
{
	struct outputs *o = arg;
	switch (ev) {
	case KAFKA_EV_ERROR:
		log_warn(o->log, LOG_SUB_KAFKA, "%s", msg);
		/* All brokers down shows up here before any delivery fails. */
		if (err == -EHOSTDOWN || err == -ENETDOWN || strstr(msg, "brokers are down")) {
			o->gate = false;
			o->error_class = "kafka_produce";
		}
		if (err == -EACCES || err == -EPERM)
			o->error_class = "kafka_auth";
		break;
	case KAFKA_EV_ABORTED:
		o->aborts++;
		log_error(o->log, LOG_SUB_KAFKA, "transaction aborted: %s", msg);
		if (o->hooks.aborted)
			o->hooks.aborted(o->hooks.arg, msg);
		break;
	case KAFKA_EV_FATAL:
		o->gate = false;
		log_error(o->log, LOG_SUB_KAFKA, "fatal: %s", msg);
		if (o->hooks.fatal)
			o->hooks.fatal(o->hooks.arg, msg);
		break;
	}
}

/* ------------------------------------------------------------ start-up */

static void report_start(struct outputs *o, int status, const char *why)
{
	if (o->start_reported)
		return;
	o->start_reported = true;
	uv_timer_stop(&o->retry);
	o->ready = o->gate = status == 0;
	if (o->hooks.ready)
		o->hooks.ready(o->hooks.arg, status, why);
}

static void check_topics(struct outputs *o);

static void on_retry(uv_timer_t *t)
{
	check_topics(t->data);
}

static void on_topics(struct kafka *k, int status, uint32_t missing, const char *detail, void *arg)
{
	struct outputs *o = arg;
	if (o->closing || o->start_reported)
		return;
	if (status == 0) {
		o->error_class = NULL;
		log_info(o->log, LOG_SUB_KAFKA, "all %u topics present", o->n_kafka_topics);
		report_start(o, 0, NULL);
		return;
	}
	o->error_class = "kafka_metadata";
	if (mono_ns() >= o->deadline_mono_ns) {
		report_start(o, status, detail ? detail : "topics missing");
		return;
	}
	log_warn(o->log, LOG_SUB_KAFKA, "waiting for topics (%s); retry in %d ms", detail ? detail : strerror(-status),
		 o->retry_ms);
	uv_timer_start(&o->retry, on_retry, (uint64_t)o->retry_ms, 0);
	o->retry_ms = o->retry_ms * 2 > TOPIC_RETRY_MAX_MS ? TOPIC_RETRY_MAX_MS : o->retry_ms * 2;
}

static void check_topics(struct outputs *o)
{
	int rc = kafka_topics_check(o->k, 5000, on_topics, o);
	if (rc < 0)
		report_start(o, rc, "cannot check topics");
}

static void on_started(struct kafka *k, int status, const char *errstr, void *arg)
{
	struct outputs *o = arg;
	if (o->closing)
		return;
	if (status < 0) {
		o->error_class = status == -EACCES || status == -EPERM ? "kafka_auth" : "kafka_metadata";
		report_start(o, status, errstr ? errstr : "Kafka producer did not start");
		return;
	}
	log_info(o->log, LOG_SUB_KAFKA, "producer started (%s, %s)",
		 kafka_profile(k) == KAFKA_EXACTLY_ONCE ? "exactly-once" : "low-latency", kafka_bootstrap(k));
	check_topics(o);
}

/* ------------------------------------------------------------ API */

static int kv_add(struct outputs *o, const char *key, const char *value)
{
	struct kafka_kv *n = realloc(o->kv, (o->n_kv + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->kv = n;
	o->kv[o->n_kv].key = key;
	o->kv[o->n_kv].value = value;
	o->n_kv++;
	return 0;
}

int outputs_new(uv_loop_t *loop, const struct conf *c, struct log *log, const struct outputs_hooks *h,
		struct outputs **out, char *err, size_t errlen)
{
	struct outputs *o = calloc(1, sizeof(*o));
	const char *sasl_password = NULL;
	bool have_txn = false;
	int rc;

	if (!o)
		return -ENOMEM;
	o->loop = loop;
	o->log = log;
	o->hooks = *h;
	o->role = c->role;
	o->retry_ms = TOPIC_RETRY_MIN_MS;
	uv_timer_init(loop, &o->retry);
	o->retry.data = o;

	const char *names[OUT_TOPIC_COUNT] = {c->topic_trades,   c->topic_quotes,    c->topic_bars,
					      c->topic_status,   c->topic_ta_bars,   c->topic_ta_signals,
					      c->topic_ta_status, c->topic_ta_late};
	const char **ktopics = o->ktopics;
	o->conf = c;
	o->pend_tail = &o->pend;
	for (int t = 0; t < OUT_TOPIC_COUNT; t++) {
		bool raw = t <= OUT_STATUS;
		/* role=ta writes its checkpoint markers to the status topic */
		bool mine = names[t] && ((raw && c->role != CONF_ROLE_TA) || (!raw && c->role != CONF_ROLE_INGEST) ||
					 t == OUT_STATUS);
		o->names[t] = names[t];
		o->kidx[t] = -1;
		if (mine) {
			o->kidx[t] = (int)o->n_kafka_topics;
			ktopics[o->n_kafka_topics++] = names[t];
		}
	}

	kv_add(o, "bootstrap.servers", c->kafka_bootstrap);
	kv_add(o, "topics.create", c->kafka_topics_create ? "true" : "false");
	/* sink.buffer.max-bytes bounds all memory held for Kafka: half for
	 * librdkafka's queue (default 1 GiB), half for our hold queue. Before
	 * the kafka.* keys, so kafka.queue.buffering.max.kbytes still wins. */
	snprintf(o->queue_kbytes, sizeof(o->queue_kbytes), "%lld", (long long)(c->sink_buffer_max / 2048));
	kv_add(o, "queue.buffering.max.kbytes", o->queue_kbytes);
	for (size_t i = 0; i < c->kafka_count; i++) {
		if (strcmp(c->kafka[i].key, "sasl.password") == 0) {
			sasl_password = o->sasl_password = c->kafka[i].value; /* handed over apart, never as a kv */
			continue;
		}
		if (strcmp(c->kafka[i].key, "transactional.id") == 0)
			have_txn = true;
		kv_add(o, c->kafka[i].key, c->kafka[i].value);
	}
	if (!have_txn) {
		/* Also in low-latency (librdkafka then ignores it): a profile
		 * switch to exactly-once needs it. */
		/* Stable across restarts, so a restarted instance fences its
		 * predecessor's open transaction; distinct per role and feed. */
		size_t n = strlen(c->alpaca_feed ? c->alpaca_feed : "x") + 32;
		o->txn_id = malloc(n);
		if (o->txn_id)
			snprintf(o->txn_id, n, "torghut-%s-%s", conf_role_name(c->role), c->alpaca_feed ? c->alpaca_feed : "x");
		kv_add(o, "transactional.id", o->txn_id);
	}

	struct kafka_config kc = {
		.profile = c->profile == CONF_PROFILE_LOW_LATENCY ? KAFKA_LOW_LATENCY : KAFKA_EXACTLY_ONCE,
		.kv = o->kv,
		.n_kv = o->n_kv,
		.sasl_password = sasl_password,
		.topics = ktopics,
		.n_topics = o->n_kafka_topics,
		.linger_ms = (int)((c->buffer_timeout + 999999) / 1000000),
		.hold_max_bytes = (size_t)c->sink_buffer_max / 2,
		/* the producer gives up when the daemon does, so exit 3 is prompt */
		.start_timeout_ms = (int)(c->startup_timeout / 1000000),
		.txn_tag_prefix = o->tag_prefix,
	};
	/* Unique per process: tells this run's transactions from the ones of a
	 * crashed predecessor with the same transactional.id. */
	snprintf(o->run, sizeof(o->run), "%llx-%x", (unsigned long long)(uv_hrtime() / 1000000) & 0xffffffffffULL,
		 (unsigned)getpid() & 0xffffff);
	snprintf(o->tag_prefix, sizeof(o->tag_prefix), "%s", o->run);
	o->kcb = (struct kafka_callbacks){.log = on_log, .dr = on_dr, .event = on_event, .arg = o};
	rc = kafka_new(loop, &kc, &o->kcb, &o->k, err, errlen);
	if (rc < 0) {
		/* freed by retry_closed once the loop runs the close */
		o->k = NULL;
		uv_close((uv_handle_t *)&o->retry, retry_closed);
		*out = NULL;
		return rc;
	}
	*out = o;
	return 0;
}

static void on_deadline(uv_timer_t *t)
{
	struct outputs *o = t->data;
	report_start(o, -ETIMEDOUT, "Kafka not ready before the start-up deadline");
}

int outputs_start(struct outputs *o, int64_t deadline_ms)
{
	o->deadline_mono_ns = mono_ns() + deadline_ms * 1000000;
	int rc = kafka_start(o->k, on_started, o);
	if (rc < 0)
		return rc;
	/* The deadline also covers a start that hangs (unreachable brokers). */
	uv_timer_start(&o->retry, on_deadline, (uint64_t)deadline_ms, 0);
	return 0;
}

bool outputs_topic_enabled(const struct outputs *o, enum outputs_topic t)
{
	return (unsigned)t < OUT_TOPIC_COUNT && o->kidx[t] >= 0;
}

static int pend_push(struct outputs *o, enum outputs_topic t, const char *key, size_t klen, const void *val,
		     size_t vlen)
{
	struct pend *p;
	if (o->pend_bytes + klen + vlen > (size_t)o->conf->sink_buffer_max || !(p = malloc(sizeof(*p) + klen + vlen))) {
		o->st[t].refused++;
		o->gap_records++;
		return -ENOBUFS;
	}
	p->next = NULL;
	p->t = t;
	p->klen = klen;
	p->vlen = vlen;
	memcpy(p->data, key, klen);
	memcpy(p->data + klen, val, vlen);
	*o->pend_tail = p;
	o->pend_tail = &p->next;
	o->pend_bytes += klen + vlen;
	return 0;
}

/* Hands what waited to the producer, in order; after a failed switch too. */
static void pend_release(struct outputs *o)
{
	struct pend *p = o->pend;
	o->holding = false;
	o->pend = NULL;
	o->pend_tail = &o->pend;
	o->pend_bytes = 0;
	while (p) {
		struct pend *next = p->next;
		if (o->k)
			outputs_produce(o, p->t, p->data, p->klen, p->data + p->klen, p->vlen);
		free(p);
		p = next;
	}
}

int outputs_produce(struct outputs *o, enum outputs_topic t, const char *key, size_t key_len, const void *val,
		    size_t val_len)
{
	if (!outputs_topic_enabled(o, t))
		return -ENOENT;
	if (o->holding)
		return pend_push(o, t, key, key_len, val, val_len);
	int rc = kafka_produce(o->k, (unsigned)o->kidx[t], key, key_len, val, val_len, NULL);
	if (rc == 0) {
		o->st[t].produced++;
	} else if (rc == -ENOBUFS) {
		o->st[t].refused++;
		o->gap_records++;
	} else {
		o->st[t].rejected++;
	}
	return rc;
}

static void on_committed(struct kafka *k, int status, const char *errstr, void *arg)
{
	struct outputs *o = arg;
	void (*cb)(void *, int) = o->commit_cb;
	void *cbarg = o->commit_arg;

	o->commit_cb = NULL;
	if (status == 0) {
		o->commits++;
		o->last_commit_mono_ns = mono_ns();
	} else {
		o->commit_failures++;
		log_error(o->log, LOG_SUB_KAFKA, "commit failed: %s", errstr ? errstr : strerror(-status));
	}
	if (cb)
		cb(cbarg, status);
}

int outputs_commit(struct outputs *o, void (*cb)(void *arg, int status), void *arg)
{
	if (o->commit_cb || !o->k || o->switch_cb)
		return -EBUSY;
	o->commit_cb = cb;
	o->commit_arg = arg;
	int rc = kafka_commit(o->k, on_committed, o);
	if (rc < 0)
		o->commit_cb = NULL;
	return rc;
}

/* ---- the two-phase checkpoint commit (kafka.h) ---- */

static void on_prepared(struct kafka *k, int status, const char *errstr, void *arg)
{
	struct outputs *o = arg;
	void (*cb)(void *, int) = o->prep_cb;
	o->prep_cb = NULL;
	if (cb)
		cb(o->prep_arg, status);
}

int outputs_commit_begin(struct outputs *o, void (*prepared)(void *arg, int status), void *arg)
{
	if (o->commit_cb || o->prep_cb || !o->k || o->switch_cb)
		return -EBUSY;
	o->prep_cb = prepared;
	o->prep_arg = arg;
	int rc = kafka_commit_begin(o->k, on_prepared, o);
	if (rc < 0)
		o->prep_cb = NULL;
	return rc;
}

int outputs_commit_finish(struct outputs *o, const char *key, size_t key_len, const void *marker, size_t len,
			  void (*cb)(void *arg, int status), void *arg)
{
	struct kafka_marker mk = {.topic = o->kidx[OUT_STATUS] >= 0 ? (unsigned)o->kidx[OUT_STATUS] : 0,
				  .key = key, .key_len = key_len, .value = marker, .value_len = len};
	if (o->commit_cb)
		return -EBUSY;
	o->commit_cb = cb;
	o->commit_arg = arg;
	int rc = kafka_commit_finish(o->k, marker && o->kidx[OUT_STATUS] >= 0 ? &mk : NULL, on_committed, o);
	if (rc < 0)
		o->commit_cb = NULL;
	return rc;
}

int outputs_commit_cancel(struct outputs *o, void (*cb)(void *arg, int status), void *arg)
{
	if (o->commit_cb)
		return -EBUSY;
	o->prep_cb = NULL;
	o->commit_cb = cb;
	o->commit_arg = arg;
	int rc = kafka_commit_cancel(o->k, on_committed, o);
	if (rc < 0)
		o->commit_cb = NULL;
	return rc;
}

void outputs_hold(struct outputs *o)
{
	o->holding = true;
}

void outputs_hold_release(struct outputs *o)
{
	pend_release(o);
}

static void retry_closed(uv_handle_t *h);

static void switch_done(struct outputs *o, int status, const char *why)
{
	void (*cb)(void *, int, const char *) = o->switch_cb;
	o->switch_cb = NULL;
	pend_release(o);
	if (cb)
		cb(o->switch_arg, status, why);
}

static void on_switch_started(struct kafka *k, int status, const char *errstr, void *arg)
{
	struct outputs *o = arg;
	if (o->closing)
		return;
	if (status < 0) {
		log_error(o->log, LOG_SUB_KAFKA, "the %s producer did not start: %s",
			  conf_profile_name(o->switch_to), errstr ? errstr : strerror(-status));
		switch_done(o, status, errstr ? errstr : "the new producer did not start");
		if (o->hooks.fatal)
			o->hooks.fatal(o->hooks.arg, "no producer after a profile switch");
		return;
	}
	log_info(o->log, LOG_SUB_KAFKA, "producer started (%s, %s): replaced at a checkpoint boundary",
		 conf_profile_name(o->switch_to), kafka_bootstrap(k));
	o->ready = true;
	switch_done(o, 0, NULL);
}

static void on_switch_closed(void *arg)
{
	struct outputs *o = arg;
	const struct conf *c = o->conf;
	char err[512];
	bool ll = o->switch_to == CONF_PROFILE_LOW_LATENCY;
	struct kafka_config kc = {
		.profile = ll ? KAFKA_LOW_LATENCY : KAFKA_EXACTLY_ONCE,
		.kv = o->kv,
		.n_kv = o->n_kv,
		.sasl_password = o->sasl_password,
		.topics = o->ktopics,
		.n_topics = o->n_kafka_topics,
		/* as asked (a reload), else the profile's default unless it was set */
		.linger_ms = o->switch_linger_ms >= 0 ? o->switch_linger_ms
			     : conf_is_default(c, "execution.buffer-timeout") ? (ll ? 5 : 10)
									      : (int)((c->buffer_timeout + 999999) / 1000000),
		.hold_max_bytes = (size_t)c->sink_buffer_max / 2,
		.start_timeout_ms = (int)(c->startup_timeout / 1000000),
		.txn_tag_prefix = o->tag_prefix,
	};
	o->k = NULL;
	if (o->closing) { /* a drain overtook the switch: outputs_close waits for us */
		switch_done(o, -ECANCELED, "closing");
		uv_close((uv_handle_t *)&o->retry, retry_closed);
		return;
	}
	snprintf(o->tag_prefix, sizeof(o->tag_prefix), "%s-g%u", o->run, ++o->generation);
	int rc = kafka_new(o->loop, &kc, &o->kcb, &o->k, err, sizeof(err));
	if (rc == 0 && (rc = kafka_start(o->k, on_switch_started, o)) < 0)
		snprintf(err, sizeof(err), "kafka_start: %s", strerror(-rc));
	if (rc < 0) {
		log_error(o->log, LOG_SUB_KAFKA, "cannot make the %s producer: %s", conf_profile_name(o->switch_to), err);
		switch_done(o, rc, err);
		if (o->hooks.fatal)
			o->hooks.fatal(o->hooks.arg, "no producer after a profile switch");
	}
}

int outputs_switch_profile(struct outputs *o, enum conf_profile p, int linger_ms,
			   void (*cb)(void *arg, int status, const char *why), void *arg)
{
	if (!o->holding || o->switch_cb || !o->k)
		return -EINVAL;
	if (outputs_embedded(o))
		return -EOPNOTSUPP;
	o->switch_to = p;
	o->switch_linger_ms = linger_ms;
	o->switch_cb = cb;
	o->switch_arg = arg;
	o->ready = false;
	/* Nothing is open: the checkpoint just committed and every later
	 * record waits here. */
	kafka_close(o->k, on_switch_closed, o);
	return 0;
}

void outputs_discard_on_close(struct outputs *o)
{
	o->discard_on_close = true;
}

const char *outputs_txn_tag(const struct outputs *o)
{
	return o->k ? kafka_txn_tag(o->k) : "";
}

const char *outputs_aborted_tag(const struct outputs *o)
{
	return o->k ? kafka_aborted_tag(o->k) : "";
}

const char *outputs_txn_id(const struct outputs *o)
{
	for (size_t i = o->n_kv; i-- > 0;)
		if (strcmp(o->kv[i].key, "transactional.id") == 0)
			return o->kv[i].value;
	return NULL;
}

bool outputs_exactly_once(const struct outputs *o)
{
	return o->k && kafka_profile(o->k) == KAFKA_EXACTLY_ONCE;
}

void outputs_markers_req(const struct outputs *o, struct kafka_markers_req *q)
{
	memset(q, 0, sizeof(*q));
	q->bootstrap = outputs_bootstrap(o);
	q->kv = o->kv;
	q->n_kv = o->n_kv;
	q->sasl_password = o->sasl_password;
	q->topic = o->names[OUT_STATUS];
	q->txn_id = outputs_txn_id(o);
}

void outputs_set_ack_hists(struct outputs *o, struct hist *const hists[OUT_TOPIC_COUNT])
{
	for (int t = 0; t < OUT_TOPIC_COUNT; t++)
		o->ack_hist[t] = hists[t];
}

void outputs_stats(const struct outputs *o, struct outputs_stats *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->topic, o->st, sizeof(s->topic));
	s->ready = o->ready;
	s->gate = o->gate;
	s->commits = o->commits;
	s->commit_failures = o->commit_failures;
	s->aborts = o->aborts;
	s->last_commit_mono_ns = o->last_commit_mono_ns;
	s->gap_records = o->gap_records;
	s->error_class = o->error_class;
}

const char *outputs_bootstrap(const struct outputs *o)
{
	return o->k ? kafka_bootstrap(o->k) : "";
}

bool outputs_embedded(const struct outputs *o)
{
	return o->k && kafka_is_embedded(o->k);
}

static void retry_closed(uv_handle_t *h)
{
	struct outputs *o = h->data;
	void (*cb)(void *) = o->closed_cb;
	void *arg = o->closed_arg;
	for (struct pend *p = o->pend, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	free(o->kv);
	free(o->txn_id);
	free(o);
	if (cb)
		cb(arg);
}

static void kafka_closed(void *arg)
{
	struct outputs *o = arg;
	o->k = NULL;
	uv_close((uv_handle_t *)&o->retry, retry_closed);
}

static void close_after_commit(void *arg, int status)
{
	struct outputs *o = arg;
	kafka_close(o->k, kafka_closed, o);
}

void outputs_close(struct outputs *o, void (*cb)(void *arg), void *arg)
{
	o->closed_cb = cb;
	o->closed_arg = arg;
	o->start_reported = true; /* no start callback after this */
	uv_timer_stop(&o->retry);
	o->closing = true;
	if (!o->k)
		return; /* the old producer of a switch is closing: on_switch_closed ends */
	/* Commit what the open transaction holds (exactly-once) or wait for
	 * acknowledgements (low-latency), then close. */
	bool keep = !(o->discard_on_close && kafka_profile(o->k) == KAFKA_EXACTLY_ONCE);
	if (keep && o->ready && !o->commit_cb && outputs_commit(o, close_after_commit, o) == 0)
		return;
	kafka_close(o->k, kafka_closed, o);
}
