/* tasource.c - role=ta's input (see tasource.h). */
#include "config.h"

#include "daemon/tasource.h"

#include "core/clock.h"
#include "sink/envelope.h"
#include "sink/kafka_markers.h"
#include "sink/seq.h"
#include "source/dedup.h"
#include "source/envelope_in.h"
#include "source/kafka_in.h"
#include "state/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POS_MAX 1024           /* partitions of the three topics */
#define REJECT_LOG_EVERY 1000  /* a malformed record is logged once per this many */

struct tasource {
	uv_loop_t *loop;
	struct log *log;
	const struct conf *conf;
	struct tasource_hooks h;
	struct outputs *out;
	struct kafka_in *in; /* made at start: the producer's bootstrap is known then */
	/* positions restored before the consumer exists */
	struct kafka_in_pos *pending;
	size_t npending;
	struct dedup *dedup;
	struct seq_map *seq;
	const char *feed;

	/* the checkpoint being saved: positions at its boundary */
	struct kafka_in_pos *saved;
	size_t nsaved;
	bool saved_done;
	struct dedup_saver dd_saver;
	ssize_t dd_len;
	int64_t dd_off;

	bool held;
	uint64_t events, duplicates, rejected, skipped, errors;
	char last_reject[256];
	void (*closed_cb)(void *);
	void *closed_arg;
};

static int64_t now_mono(void)
{
	return (int64_t)uv_hrtime();
}

static void on_msg(void *arg, const struct kafka_in_msg *m)
{
	struct tasource *s = arg;
	struct event ev;
	char err[160];
	int rc = envelope_in_decode(m->value, m->len, &ev, err, sizeof(err));
	if (rc == -ENOTSUP) { /* a channel TA does not use */
		s->skipped++;
		return;
	}
	if (rc < 0) {
		/* Counted and named, never silent; logged at a bounded rate. */
		snprintf(s->last_reject, sizeof(s->last_reject), "%s[%" PRId32 "]@%" PRId64 ": %s", m->topic,
			 m->partition, m->offset, err);
		if (s->rejected++ % REJECT_LOG_EVERY == 0)
			log_warn(s->log, LOG_SUB_TA, "input record rejected (%" PRIu64 " so far): %s", s->rejected,
				 s->last_reject);
		return;
	}
	ev.recv_real_ns = clock_real_ns();
	ev.recv_mono_ns = now_mono();
	if (dedup_seen(s->dedup, &ev)) {
		s->duplicates++;
		return;
	}
	s->events++;
	s->h.on_event(s->h.arg, &ev);
}

static void on_error(void *arg, bool fatal, const char *what)
{
	struct tasource *s = arg;
	if (!fatal) { /* librdkafka retries; a broker outage repeats: logged at a bounded rate */
		if (s->errors++ % REJECT_LOG_EVERY == 0)
			log_warn(s->log, LOG_SUB_TA, "input consumer (%" PRIu64 " errors so far): %s", s->errors, what);
		return;
	}
	log_error(s->log, LOG_SUB_TA, "input consumer: %s", what);
	if (s->h.on_fatal)
		s->h.on_fatal(s->h.arg, what);
}

int tasource_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		 const struct tasource_hooks *h, struct tasource **res, char *err, size_t errlen)
{
	struct tasource *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->log = log;
	s->conf = c;
	s->h = *h;
	s->out = out;
	s->feed = c->alpaca_feed;
	s->dedup = dedup_new(DEDUP_FEED_WINDOW_NS, DEDUP_FEED_ENTRIES);
	s->seq = seq_map_new();
	s->saved = calloc(POS_MAX, sizeof(*s->saved));
	s->pending = calloc(POS_MAX, sizeof(*s->pending));
	if (!s->dedup || !s->seq || !s->saved || !s->pending) {
		snprintf(err, errlen, "out of memory");
		dedup_free(s->dedup);
		seq_map_free(s->seq);
		free(s->saved);
		free(s->pending);
		free(s);
		return -ENOMEM;
	}
	*res = s;
	return 0;
}

/* The producer's settings a consumer ignores are expected here (one
 * kafka.* set serves both): their warnings are not news. */
static void consumer_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (strcmp(fac, "CONFWARN") != 0)
		rd_kafka_log_print(rk, level, fac, buf);
}

int tasource_start(struct tasource *s)
{
	const struct conf *c = s->conf;
	struct kafka_markers_req q;
	char err[512];
	outputs_markers_req(s->out, &q);
	rd_kafka_conf_t *kc = kafka_markers_consumer_conf(&q, err, sizeof(err));
	if (!kc) {
		log_error(s->log, LOG_SUB_TA, "input consumer: %s", err);
		return -EINVAL;
	}
	rd_kafka_conf_set_log_cb(kc, consumer_log);
	const char *topics[] = {c->topic_trades, c->topic_quotes, c->topic_bars};
	struct kafka_in_opts o = {
		.topics = topics,
		.ntopics = 3,
		.group_id = c->ta_group_id,
		/* exactly-once inputs: only what ingest committed */
		.read_committed = c->profile == CONF_PROFILE_EXACTLY_ONCE,
		.auto_offset_reset = c->ta_auto_offset_reset,
	};
	struct kafka_in_cbs cbs = {.on_msg = on_msg, .on_error = on_error, .arg = s};
	int rc = kafka_in_new(s->loop, kc, &o, &cbs, &s->in, err, sizeof(err));
	if (rc < 0) {
		rd_kafka_conf_destroy(kc);
		log_error(s->log, LOG_SUB_TA, "input consumer: %s", err);
		return rc;
	}
	if (s->held)
		kafka_in_hold(s->in, true);
	if (s->npending && (rc = kafka_in_set_positions(s->in, s->pending, s->npending)) < 0)
		return rc;
	s->npending = 0;
	return kafka_in_start(s->in);
}

void tasource_hold(struct tasource *s, bool hold)
{
	s->held = hold;
	if (s->in)
		kafka_in_hold(s->in, hold);
}

/* ---------------------------------------------------------------- state */

/* "topic:partition" -> next offset, the positions' section. */
static size_t pos_keys(const struct kafka_in_pos *p, size_t n, char (*keys)[160], struct snapshot_kv *kv)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i].offset < 0)
			continue; /* nothing delivered since assigned: the group's offset holds */
		snprintf(keys[k], sizeof(keys[k]), "%s:%" PRId32, p[i].topic, p[i].partition);
		kv[k] = (struct snapshot_kv){keys[k], p[i].offset};
		k++;
	}
	return k;
}

static int64_t pos_encode(const struct tasource *s, uint8_t *out, size_t cap)
{
	char(*keys)[160] = malloc(POS_MAX * sizeof(*keys));
	struct snapshot_kv *kv = malloc(POS_MAX * sizeof(*kv));
	int64_t n = -ENOMEM;
	if (keys && kv)
		n = snapshot_kv_encode(kv, pos_keys(s->saved, s->nsaved, keys, kv), out, cap);
	free(keys);
	free(kv);
	return n;
}

ssize_t tasource_state_save_begin(struct tasource *s)
{
	/* The boundary: the positions after the last event delivered. */
	if (s->in) {
		s->nsaved = kafka_in_positions(s->in, s->saved, POS_MAX);
		if (s->nsaved > POS_MAX)
			return -E2BIG; /* more partitions than a checkpoint holds */
	} else { /* not started: what was restored still holds */
		memcpy(s->saved, s->pending, s->npending * sizeof(*s->saved));
		s->nsaved = s->npending;
	}
	s->saved_done = false;
	s->dd_len = dedup_save_begin(s->dedup, &s->dd_saver);
	int sl = seq_map_save(s->seq, NULL, 0);
	int64_t pl = pos_encode(s, NULL, 0);
	if (s->dd_len < 0 || sl < 0 || pl < 0)
		return s->dd_len < 0 ? s->dd_len : sl < 0 ? sl : (ssize_t)pl;
	return 3 * SNAPSHOT_SECTION_HDR + s->dd_len + sl + (ssize_t)pl;
}

int tasource_state_save_reserve(struct tasource *s, struct snapshot_writer *w)
{
	uint8_t *p;
	if (s->dd_len < 0)
		return (int)s->dd_len;
	if ((s->dd_off = snapshot_writer_reserve_off(w, SNAPSHOT_SEC_DEDUP, (size_t)s->dd_len)) < 0)
		return (int)s->dd_off;
	int sl = seq_map_save(s->seq, NULL, 0);
	if (sl < 0 || !(p = snapshot_writer_reserve(w, SNAPSHOT_SEC_SEQ, (size_t)sl)) || seq_map_save(s->seq, p, (size_t)sl) != sl)
		return sl < 0 ? sl : -ENOMEM;
	int64_t pl = pos_encode(s, NULL, 0);
	if (pl < 0 || !(p = snapshot_writer_reserve(w, SNAPSHOT_SEC_SOURCE_POS, (size_t)pl)) ||
	    pos_encode(s, p, (size_t)pl) != pl)
		return pl < 0 ? (int)pl : -ENOMEM;
	s->saved_done = true;
	return 0;
}

int tasource_state_save_step(struct tasource *s, struct snapshot_writer *w, size_t budget)
{
	return dedup_save_step(s->dedup, &s->dd_saver, snapshot_writer_at(w, (size_t)s->dd_off), budget);
}

struct pos_load {
	struct kafka_in_pos *p;
	size_t n;
};

static int load_pos(const char *key, size_t key_len, int64_t value, void *arg)
{
	struct pos_load *l = arg;
	char k[160];
	if (key_len >= sizeof(k) || l->n == POS_MAX || value < 0)
		return -EINVAL;
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	char *colon = strrchr(k, ':'), *end;
	if (!colon || colon == k || (size_t)(colon - k) >= sizeof(l->p->topic))
		return -EINVAL;
	long part = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || part < 0 || part > INT32_MAX)
		return -EINVAL;
	struct kafka_in_pos *p = &l->p[l->n++];
	memset(p, 0, sizeof(*p));
	memcpy(p->topic, k, (size_t)(colon - k)); /* fits: checked above */
	p->partition = (int32_t)part;
	p->offset = value;
	return 0;
}

int tasource_state_load(struct tasource *s, const struct snapshot *snap)
{
	const uint8_t *p;
	size_t n;
	int rc;
	struct pos_load l = {calloc(POS_MAX, sizeof(*l.p)), 0};
	if (!l.p)
		return -ENOMEM;
	if (snapshot_section(snap, SNAPSHOT_SEC_SOURCE_POS, &p, &n) == 0 &&
	    (rc = snapshot_kv_decode(p, n, load_pos, &l)) < 0)
		goto out;
	if (snapshot_section(snap, SNAPSHOT_SEC_DEDUP, &p, &n) == 0 && (rc = dedup_load(s->dedup, p, n)) < 0)
		goto out;
	if (snapshot_section(snap, SNAPSHOT_SEC_SEQ, &p, &n) == 0 && (rc = seq_map_load(s->seq, p, n)) < 0)
		goto out;
	/* Last: a failure above leaves the consumer where it was. */
	if (s->in) {
		rc = kafka_in_set_positions(s->in, l.p, l.n);
	} else {
		memcpy(s->pending, l.p, l.n * sizeof(*l.p));
		s->npending = l.n;
		rc = 0;
	}
	if (rc == 0)
		log_info(s->log, LOG_SUB_TA, "input positions restored for %zu partitions", l.n);
out:
	free(l.p);
	return rc < 0 ? (rc == -ENOMEM ? rc : -EINVAL) : 0;
}

void tasource_checkpointed(struct tasource *s)
{
	if (s->in && s->saved_done && s->nsaved && tasource_assigned(s)) /* else not a member to commit as */
		kafka_in_commit(s->in, s->saved, s->nsaved); /* best effort: monitoring only */
}

ssize_t tasource_marker(struct tasource *s, uint64_t id, const char *detail, char *buf, size_t cap)
{
	return envelope_write_marker(s->feed, seq_map_next(s->seq, SEQ_CHANNEL_CONN_STATUS, s->feed), id, detail, buf,
				     cap);
}

const char *tasource_key(const struct tasource *s)
{
	return s->feed;
}

/* ---------------------------------------------------------------- status */

json_t *tasource_status_json(const struct tasource *s)
{
	struct kafka_in_stats st = {0};
	if (s->in)
		kafka_in_stats(s->in, &st);
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?}", "group", s->conf->ta_group_id,
			 "assigned_partitions", (json_int_t)st.assigned, "records", (json_int_t)st.messages,
			 "events", (json_int_t)s->events, "duplicates", (json_int_t)s->duplicates,
			 "rejected", (json_int_t)s->rejected, "skipped", (json_int_t)s->skipped,
			 "consumer_errors", (json_int_t)st.errors, "rebalances", (json_int_t)st.rebalances,
			 "last_rejected", s->last_reject[0] ? s->last_reject : NULL);
}

void tasource_stats(const struct tasource *s, struct tasource_stats *st)
{
	*st = (struct tasource_stats){.events = s->events, .duplicates = s->duplicates, .rejected = s->rejected,
				      .skipped = s->skipped};
	if (s->in) {
		struct kafka_in_stats ks;
		kafka_in_stats(s->in, &ks);
		st->assigned = ks.assigned;
	}
}

bool tasource_assigned(const struct tasource *s)
{
	struct kafka_in_stats st = {0};
	if (s->in)
		kafka_in_stats(s->in, &st);
	return st.assigned > 0;
}

static void in_closed(void *arg)
{
	struct tasource *s = arg;
	void (*cb)(void *) = s->closed_cb;
	void *cb_arg = s->closed_arg;
	dedup_free(s->dedup);
	seq_map_free(s->seq);
	free(s->saved);
	free(s->pending);
	free(s);
	if (cb)
		cb(cb_arg);
}

void tasource_close(struct tasource *s, void (*cb)(void *arg), void *arg)
{
	s->closed_cb = cb;
	s->closed_arg = arg;
	if (s->in)
		kafka_in_close(s->in, in_closed, s);
	else
		in_closed(s);
}
