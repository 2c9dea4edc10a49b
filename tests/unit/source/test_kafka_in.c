/* test_kafka_in.c - the raw topics in, on librdkafka's in-process mock
 * cluster: every record of two 2-partition topics arrives once, in partition
 * order, with its offset, in bounded slices; positions follow; a hold stops
 * delivery (also from inside on_msg) and its release loses nothing; a seek
 * of assigned partitions re-delivers exactly from there; committed positions
 * are where the group's next member starts; set positions start a new group
 * mid-way; close completes early and late. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "sink/kafka_mock.h"
#include "source/kafka_in.h"

#define NPART 4   /* 2 topics x 2 partitions */
#define MAXREC 4096
#define SLICE 5

static const char *const topics[] = {"torghut.trades.v1", "torghut.quotes.v1"};

struct rec {
	int tp; /* topic * 2 + partition */
	int64_t offset;
	char key[16];
	char value[64];
};

struct obs {
	struct kafka_in *k;
	struct rec r[MAXREC];
	size_t n;
	size_t hold_at; /* hold from inside on_msg when n reaches it (0: never) */
	size_t errors, fatal;
	char last_error[512];
	bool closed;
};

struct fix {
	uv_loop_t loop;
	struct kafka_mock *mock;
	rd_kafka_t *prod;
	int64_t produced[NPART]; /* records per partition so far */
	size_t max_per_iter;     /* records delivered by one uv_run(NOWAIT) at most */
	/* Set as soon as the partitions are assigned, before any record:
	 * while librdkafka may still be fetching the committed offsets. */
	int64_t seek_on_assign;  /* 0: none */
	bool seeked;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int tp_of(const char *topic, int32_t partition)
{
	return (strcmp(topic, topics[0]) ? 2 : 0) + partition;
}

static void on_msg(void *arg, const struct kafka_in_msg *m)
{
	struct obs *o = arg;
	struct rec *r;

	assert_true(o->n < MAXREC);
	r = &o->r[o->n++];
	r->tp = tp_of(m->topic, m->partition);
	r->offset = m->offset;
	assert_true(m->key_len < sizeof(r->key) && m->len < sizeof(r->value));
	memcpy(r->key, m->key, m->key_len);
	r->key[m->key_len] = 0;
	memcpy(r->value, m->value, m->len);
	r->value[m->len] = 0;
	assert_true(m->timestamp_ms > 0);
	if (o->hold_at && o->n == o->hold_at)
		kafka_in_hold(o->k, true);
}

static void on_error(void *arg, bool fatal, const char *what)
{
	struct obs *o = arg;

	o->errors++;
	o->fatal += fatal;
	snprintf(o->last_error, sizeof(o->last_error), "%s", what);
	if (getenv("TK_VERBOSE"))
		fprintf(stderr, "on_error fatal=%d %s\n", fatal, what);
}

static void on_closed(void *arg)
{
	((struct obs *)arg)->closed = true;
}

/* Runs the loop until o->n >= want or ms pass; records the most records one
 * loop iteration delivered. */
static void run_until(struct fix *f, struct obs *o, size_t want, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (o->n < want && now_ms() < end) {
		size_t before = o->n;

		uv_run(&f->loop, UV_RUN_NOWAIT);
		if (o->n - before > f->max_per_iter)
			f->max_per_iter = o->n - before;
		if (f->seek_on_assign && !f->seeked && o->n == 0 && o->k) {
			struct kafka_in_stats st;
			struct kafka_in_pos p[NPART];

			kafka_in_stats(o->k, &st);
			if (st.assigned == NPART) {
				assert_int_equal(kafka_in_positions(o->k, p, NPART), NPART);
				for (int i = 0; i < NPART; i++)
					p[i].offset = f->seek_on_assign;
				assert_int_equal(kafka_in_set_positions(o->k, p, NPART), 0);
				f->seeked = true;
			}
		}
		usleep(500);
	}
}

static void run_for(struct fix *f, struct obs *o, int ms)
{
	run_until(f, o, SIZE_MAX, ms);
}

static void fix_init(struct fix *f)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(kafka_mock_new(1, false, &f->mock, err, sizeof(err)), 0);
	for (int t = 0; t < 2; t++)
		assert_int_equal(kafka_mock_topic_create(f->mock, topics[t], 2, 1), 0);
	rd_kafka_conf_set(c, "bootstrap.servers", kafka_mock_bootstrap(f->mock), err, sizeof(err));
	rd_kafka_conf_set(c, "linger.ms", "1", err, sizeof(err));
	f->prod = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	assert_non_null(f->prod);
}

static void fix_fini(struct fix *f)
{
	rd_kafka_destroy(f->prod);
	kafka_mock_free(f->mock);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* n more records into every partition (test side: blocking is fine here). */
static void produce(struct fix *f, int n)
{
	char key[16], val[64];

	for (int tp = 0; tp < NPART; tp++)
		for (int i = 0; i < n; i++) {
			int64_t off = f->produced[tp]++;

			snprintf(key, sizeof(key), "SYM%d", (int)(off % 5));
			snprintf(val, sizeof(val), "%s|%d|%lld", topics[tp / 2], tp % 2, (long long)off);
			assert_int_equal(rd_kafka_producev(f->prod, RD_KAFKA_V_TOPIC(topics[tp / 2]),
							   RD_KAFKA_V_PARTITION(tp % 2),
							   RD_KAFKA_V_KEY(key, strlen(key)),
							   RD_KAFKA_V_VALUE(val, strlen(val)),
							   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
					 0);
		}
	assert_int_equal(rd_kafka_flush(f->prod, 10000), 0);
}

static struct kafka_in *consumer(struct fix *f, struct obs *o, const char *group, bool rc)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	struct kafka_in_opts op = {.topics = topics, .ntopics = 2, .group_id = group,
				   .read_committed = rc, .auto_offset_reset = "earliest",
				   .slice_msgs = SLICE};
	struct kafka_in_cbs cb = {on_msg, on_error, o};

	rd_kafka_conf_set(c, "bootstrap.servers", kafka_mock_bootstrap(f->mock), err, sizeof(err));
	rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
	/* The mock cluster waits session.timeout.ms - 1 s for a rejoin when a
	 * group's member left: keep the second member's wait short. */
	rd_kafka_conf_set(c, "session.timeout.ms", "4000", err, sizeof(err));
	rd_kafka_conf_set(c, "heartbeat.interval.ms", "500", err, sizeof(err));
	if (getenv("KIN_DEBUG"))
		rd_kafka_conf_set(c, "debug", getenv("KIN_DEBUG"), err, sizeof(err));
	assert_int_equal(kafka_in_new(&f->loop, c, &op, &cb, &o->k, err, sizeof(err)), 0);
	return o->k;
}

/* Closes o->k and waits for its callback. */
static void close_wait(uv_loop_t *loop, struct obs *o)
{
	o->closed = false;
	kafka_in_close(o->k, on_closed, o);
	kafka_in_close(o->k, on_closed, o); /* ignored */
	for (uint64_t end = now_ms() + 30000; !o->closed && now_ms() < end;)
		uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
	assert_true(o->closed);
	o->k = NULL;
}

/* Records [from, n) hold, per partition, exactly offsets first[tp]..end[tp]-1
 * in order, with the values produced. */
static void check_range(const struct obs *o, size_t from, const int64_t first[NPART],
			const int64_t end[NPART])
{
	int64_t next[NPART];
	char want[64];

	memcpy(next, first, sizeof(next));
	for (size_t i = from; i < o->n; i++) {
		const struct rec *r = &o->r[i];

		assert_int_equal(r->offset, next[r->tp]);
		snprintf(want, sizeof(want), "%s|%d|%lld", topics[r->tp / 2], r->tp % 2, (long long)r->offset);
		assert_string_equal(r->value, want);
		snprintf(want, sizeof(want), "SYM%d", (int)(r->offset % 5));
		assert_string_equal(r->key, want);
		next[r->tp]++;
	}
	for (int tp = 0; tp < NPART; tp++)
		assert_int_equal(next[tp], end[tp]);
}

static void check_positions(struct kafka_in *k, int64_t want)
{
	struct kafka_in_pos p[8];
	bool seen[NPART] = {false};

	assert_int_equal(kafka_in_positions(k, p, 8), NPART);
	assert_int_equal(kafka_in_positions(k, p, 1), NPART); /* the count, even past cap */
	for (int i = 0; i < NPART; i++) {
		int tp = tp_of(p[i].topic, p[i].partition);

		assert_false(seen[tp]);
		seen[tp] = true;
		assert_int_equal(p[i].offset, want);
	}
}

/* Waits for records [from, total), then a while for any beyond: exactly
 * offsets first[tp]..end[tp]-1 of every partition. */
static void expect(struct fix *f, struct obs *o, size_t from, size_t total, const int64_t first[NPART],
		   const int64_t end[NPART])
{
	run_until(f, o, total, 30000);
	run_for(f, o, 300); /* duplicates would show up now */
	assert_int_equal(o->n, total);
	check_range(o, from, first, end);
}

/* The same for every partition: offsets first..end-1. */
static void expect_all(struct fix *f, struct obs *o, size_t from, int64_t first, int64_t end)
{
	int64_t a[NPART], b[NPART];

	for (int i = 0; i < NPART; i++)
		a[i] = first, b[i] = end;
	expect(f, o, from, from + (size_t)(NPART * (end - first)), a, b);
}

static void test_consume_hold_seek_commit(void **state)
{
	static struct fix f;
	static struct obs o;
	struct kafka_in_stats st;
	struct kafka_in_pos p[NPART];

	memset(&o, 0, sizeof(o));
	fix_init(&f);
	produce(&f, 50);
	consumer(&f, &o, "g-main", false);
	assert_int_equal(kafka_in_commit(o.k, NULL, 0), -ENOTCONN); /* not started */
	assert_int_equal(kafka_in_start(o.k), 0);
	assert_int_equal(kafka_in_start(o.k), -EALREADY);

	/* Everything, once, in order, in slices. */
	expect_all(&f, &o, 0, 0, 50);
	assert_true(f.max_per_iter <= 2 * SLICE);
	check_positions(o.k, 50);
	kafka_in_stats(o.k, &st);
	assert_int_equal(st.messages, 200);
	assert_int_equal(st.assigned, NPART);
	assert_true(st.rebalances >= 1);
	assert_int_equal(st.errors, 0);

	/* Held: nothing is delivered, positions stay; released: all of it. */
	kafka_in_hold(o.k, true);
	produce(&f, 10);
	run_for(&f, &o, 1000);
	assert_int_equal(o.n, 200);
	check_positions(o.k, 50);
	kafka_in_hold(o.k, false);
	assert_int_equal(o.n, 200); /* never from inside the call */
	expect_all(&f, &o, 200, 50, 60);

	/* A hold from inside on_msg stops delivery right after that record. */
	o.hold_at = 250;
	produce(&f, 10);
	run_for(&f, &o, 1000);
	assert_int_equal(o.n, 250);
	o.hold_at = 0;
	kafka_in_hold(o.k, false);
	expect_all(&f, &o, 240, 60, 70);
	check_positions(o.k, 70);

	/* Seek of assigned partitions: exactly from there again. */
	for (int tp = 0; tp < NPART; tp++) {
		snprintf(p[tp].topic, sizeof(p[tp].topic), "%s", topics[tp / 2]);
		p[tp].partition = tp % 2;
		p[tp].offset = 63;
	}
	assert_int_equal(kafka_in_set_positions(o.k, p, NPART), 0);
	check_positions(o.k, 63); /* at once */
	expect_all(&f, &o, 280, 63, 70);
	check_positions(o.k, 70);

	/* Commit 65: the group's next member starts there. */
	for (int tp = 0; tp < NPART; tp++)
		p[tp].offset = 65;
	assert_int_equal(kafka_in_commit(o.k, p, NPART), 0);
	run_for(&f, &o, 500);
	assert_int_equal(o.errors, 0);
	close_wait(&f.loop, &o);

	memset(&o, 0, sizeof(o));
	consumer(&f, &o, "g-main", false);
	assert_int_equal(kafka_in_start(o.k), 0);
	expect_all(&f, &o, 0, 65, 70);
	assert_int_equal(o.errors, 0);
	close_wait(&f.loop, &o);

	/* A seek right at the assignment, before a record: not overridden
	 * by the committed offset (65) arriving after it. */
	memset(&o, 0, sizeof(o));
	consumer(&f, &o, "g-main", false);
	f.seek_on_assign = 67;
	assert_int_equal(kafka_in_start(o.k), 0);
	expect_all(&f, &o, 0, 67, 70);
	assert_true(f.seeked);
	check_positions(o.k, 70);
	close_wait(&f.loop, &o);
	fix_fini(&f);
}

/* A restored checkpoint in a new group: set positions before the start;
 * the partition without one starts at auto.offset.reset (earliest). */
static void test_set_positions_new_group(void **state)
{
	static struct fix f;
	static struct obs o;
	struct kafka_in_pos p[3];
	const int64_t first[NPART] = {20, 0, 33, 49}, end[NPART] = {50, 50, 50, 50};

	memset(&o, 0, sizeof(o));
	fix_init(&f);
	produce(&f, 50);
	consumer(&f, &o, "g-restored", true);
	for (int i = 0, tp = 0; tp < NPART; tp++) {
		if (tp == 1)
			continue;
		snprintf(p[i].topic, sizeof(p[i].topic), "%s", topics[tp / 2]);
		p[i].partition = tp % 2;
		p[i++].offset = first[tp];
	}
	assert_int_equal(kafka_in_set_positions(o.k, p, 3), 0);
	/* nothing assigned yet: the set positions are the state a checkpoint
	 * taken now must keep */
	struct kafka_in_pos q[4];
	assert_int_equal(kafka_in_positions(o.k, q, 4), 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(q[i].topic, p[i].topic);
		assert_int_equal(q[i].partition, p[i].partition);
		assert_int_equal(q[i].offset, p[i].offset);
	}
	assert_int_equal(kafka_in_start(o.k), 0);
	expect(&f, &o, 0, 30 + 50 + 17 + 1, first, end);
	check_positions(o.k, 50);
	assert_int_equal(o.errors, 0);
	close_wait(&f.loop, &o);
	fix_fini(&f);
}

static void test_bad_options_and_early_close(void **state)
{
	uv_loop_t loop;
	struct obs o = {0};
	struct kafka_in *k;
	char err[512];
	struct kafka_in_cbs cb = {on_msg, on_error, &o};
	struct kafka_in_opts op = {.topics = topics, .ntopics = 2, .group_id = "g"};
	const char *const empty[] = {""};
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	assert_int_equal(uv_loop_init(&loop), 0);
	op.group_id = NULL;
	assert_int_equal(kafka_in_new(&loop, c, &op, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "group"));
	op.group_id = "g";
	op.topics = empty;
	op.ntopics = 1;
	assert_int_equal(kafka_in_new(&loop, c, &op, &cb, &k, err, sizeof(err)), -EINVAL);
	op.topics = topics;
	op.ntopics = 2;
	op.auto_offset_reset = "sideways";
	assert_int_equal(kafka_in_new(&loop, c, &op, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "auto.offset.reset"));
	op.auto_offset_reset = "latest";
	/* The refused calls left c to us; this one takes it. */
	assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(kafka_in_new(&loop, c, &op, &cb, &k, err, sizeof(err)), 0);

	/* Closed before the start: frees, calls back. */
	o.k = k;
	close_wait(&loop, &o);

	/* Closed while the start job runs (broker unreachable: no group). */
	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err));
	rd_kafka_conf_set(c, "log_level", getenv("KIN_DEBUG") ? "7" : "0", err, sizeof(err));
	if (getenv("KIN_DEBUG"))
		rd_kafka_conf_set(c, "debug", getenv("KIN_DEBUG"), err, sizeof(err));
	assert_int_equal(kafka_in_new(&loop, c, &op, &cb, &o.k, err, sizeof(err)), 0);
	assert_int_equal(kafka_in_start(o.k), 0);
	close_wait(&loop, &o);
	assert_int_equal(o.n, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options_and_early_close),
		cmocka_unit_test(test_consume_hold_seek_commit),
		cmocka_unit_test(test_set_positions_new_group),
	};

	alarm(240); /* a hang fails the test instead of stalling the suite */
	if (getenv("KIN_FILTER"))
		cmocka_set_test_filter(getenv("KIN_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
