/* test_kafka_txn.c - the exactly-once profile against librdkafka's mock
 * cluster: commits with records held while a commit is in flight, the abort
 * path on an injected EndTxn error, fencing, a failed record, and the hold
 * queue bound.
 *
 * librdkafka 2.0.2's mock cluster does not filter aborted transactional
 * records for read_committed readers (it keeps no aborted-transaction index
 * and reports the high watermark as the last stable offset). So the tests
 * check "committed records arrive exactly once" and never "aborted records
 * are invisible"; the latter needs a real broker (system tests). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sink/kafka.h"
#include "sink/kafka_mock.h"
#include "test_kafka_util.h"

#define EndTxn 26 /* Kafka ApiKey */

static const char *const topics[] = {"torghut.ta.bars.1s.v1", "torghut.ta.signals.v1"};

static struct kafka_config eos_config(const struct kafka_kv *kv, size_t n_kv)
{
	struct kafka_config c = {
		.profile = KAFKA_EXACTLY_ONCE,
		.kv = kv,
		.n_kv = n_kv,
		.topics = topics,
		.n_topics = 2,
		.linger_ms = 10,
	};
	return c;
}

static void produce_range(struct kafka *k, int from, int to)
{
	for (int i = from; i < to; i++) {
		char key[16], val[32];
		int kl = snprintf(key, sizeof(key), "SYM%d", i % 5);
		int vl = snprintf(val, sizeof(val), "r%d", i);

		assert_int_equal(kafka_produce(k, (unsigned)(i % 2), key, (size_t)kl, val, (size_t)vl,
					       (void *)(uintptr_t)(i + 1)),
				 0);
	}
}

/* Counts how often each r<i> appears; checks per-partition order. */
static void count_values(const struct tk_rec *recs, size_t n, int *counts, int max)
{
	for (size_t i = 0; i < n; i++) {
		int v;

		assert_int_equal(sscanf(recs[i].value, "r%d", &v), 1);
		assert_true(v >= 0 && v < max);
		counts[v]++;
		for (size_t j = 0; j < i; j++) {
			int w;

			if (strcmp(recs[j].topic, recs[i].topic) || recs[j].partition != recs[i].partition ||
			    strcmp(recs[j].key, recs[i].key))
				continue;
			sscanf(recs[j].value, "r%d", &w);
			assert_true(w < v); /* per key, in produce order */
		}
	}
}

#define N1 100
#define N2 50
#define N3 30

static void test_commit_with_held_records(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-1"},
				      {"topics.create.partitions", "3"}};
	struct kafka_config c = eos_config(kv, 3);
	static struct tk_rec recs[4 * (N1 + N2 + N3)];
	int counts[N1 + N2 + N3] = {0};

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(kafka_produce(k, 0, "k", 1, "v", 1, &o), -EAGAIN);
	assert_int_equal(kafka_commit(k, tk_on_done, &o), -EAGAIN);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_int_equal(kafka_profile(k), KAFKA_EXACTLY_ONCE);

	produce_range(k, 0, N1);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, N1);

	/* A commit in flight: new records are held, then go into the next
	 * transaction once the commit returns. */
	produce_range(k, N1, N1 + 10);
	o.done = false;
	assert_int_equal(kafka_commit(k, tk_on_done, &o), 0);
	assert_int_equal(kafka_commit(k, tk_on_done, &o), -EBUSY);
	produce_range(k, N1 + 10, N1 + N2);
	assert_int_equal(kafka_stats(k)->held_msgs, N2 - 10);
	assert_true(kafka_stats(k)->held_bytes > 0);
	assert_int_equal(kafka_stats(k)->topic[0].held + kafka_stats(k)->topic[1].held, N2 - 10);
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, 0);
	assert_int_equal(kafka_stats(k)->held_msgs, 0);

	produce_range(k, N1 + N2, N1 + N2 + N3);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, N1 + N2 + N3);
	assert_int_equal(o.dr_fail + o.dr_canceled + o.dr_opaque_bad, 0);
	assert_int_equal(kafka_stats(k)->commits, 3);
	assert_int_equal(kafka_stats(k)->aborts, 0);
	assert_false(o.off_loop_callback);

	size_t n = tk_consume(kafka_bootstrap(k), topics, 2, true, recs, 4 * (N1 + N2 + N3),
			      N1 + N2 + N3, 5000);
	assert_int_equal(n, N1 + N2 + N3);
	count_values(recs, n, counts, N1 + N2 + N3);
	for (int i = 0; i < N1 + N2 + N3; i++)
		assert_int_equal(counts[i], 1);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* An abortable EndTxn error: the commit reports -ECANCELED (restore from the
 * last checkpoint), records held during it are dropped with a report each,
 * and the next transaction works. */
static void test_commit_abortable_error(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-2"}};
	struct kafka_config c = eos_config(kv, 2);
	static struct tk_rec recs[256];
	int counts[64] = {0};

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	produce_range(k, 0, 10);
	/* Not in librdkafka's retriable or fatal lists: a permanent EndTxn
	 * failure, which the transaction manager turns into an abortable one. */
	rd_kafka_mock_push_request_errors(kafka_mock_cluster(kafka_embedded_mock(k)), EndTxn, 1,
					  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	o.done = false;
	assert_int_equal(kafka_commit(k, tk_on_done, &o), 0);
	produce_range(k, 10, 13); /* held; dropped by the abort */
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, -ECANCELED);
	assert_non_null(strstr(o.errstr, "aborted"));
	assert_int_equal(o.dr_canceled, 3);
	assert_int_equal(kafka_stats(k)->aborts, 1);
	assert_int_equal(kafka_stats(k)->commit_failures, 1);
	assert_int_equal(kafka_stats(k)->held_msgs, 0);
	assert_int_equal(kafka_stats(k)->in_flight, 0);
	assert_int_equal(o.events[KAFKA_EV_FATAL], 0);

	/* The owner restored; the next transaction commits. */
	produce_range(k, 20, 25);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(kafka_stats(k)->commits, 1);

	/* The mock shows the aborted r0..r9 too (see the file comment), so
	 * only the committed r20..r24 are checked: each exactly once. */
	size_t n = tk_consume(kafka_bootstrap(k), topics, 2, true, recs, 256, 15, 3000);
	assert_true(n >= 5);
	count_values(recs, n, counts, 64);
	for (int i = 20; i < 25; i++)
		assert_int_equal(counts[i], 1);
	for (int i = 10; i < 13; i++)
		assert_int_equal(counts[i], 0); /* held records never left */

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Fenced on commit: fatal, announced once, and everything refuses after. */
static void test_commit_fenced(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-3"}};
	struct kafka_config c = eos_config(kv, 2);

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	produce_range(k, 0, 5);
	rd_kafka_mock_push_request_errors(kafka_mock_cluster(kafka_embedded_mock(k)), EndTxn, 1,
					  RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
	assert_int_equal(tk_commit(&loop, k, &o), -ENOTRECOVERABLE);
	assert_true(o.errstr[0] != 0);
	/* Drain the fatal error event as well. */
	for (int i = 0; i < 50; i++)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
	assert_int_equal(o.events[KAFKA_EV_FATAL], 1);
	assert_int_equal(kafka_produce(k, 0, "k", 1, "v", 1, &o), -ENOTRECOVERABLE);
	assert_int_equal(kafka_commit(k, tk_on_done, &o), -ENOTRECOVERABLE);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A record fails inside a transaction: the producer aborts at once and
 * tells the owner (KAFKA_EV_ABORTED) instead of waiting for the commit. */
static void test_failed_record_aborts(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-4"}};
	struct kafka_config c = eos_config(kv, 2);

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	rd_kafka_mock_push_request_errors(kafka_mock_cluster(kafka_embedded_mock(k)), 0 /* Produce */,
					  1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	produce_range(k, 0, 1);
	bool aborted = false;
	for (uint64_t end = tk_now_ms() + 20000; !aborted && tk_now_ms() < end;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		aborted = o.events[KAFKA_EV_ABORTED] > 0;
		/* While the abort runs, records are refused, not lost silently. */
		if (!aborted && o.dr_fail)
			assert_true(kafka_produce(k, 0, "k", 1, "v", 1, &o) == -ECANCELED ||
				    o.events[KAFKA_EV_ABORTED] > 0);
	}
	assert_true(aborted);
	assert_int_equal(o.dr_fail, 1);
	assert_int_equal(kafka_stats(k)->aborts, 1);
	assert_int_equal(o.events[KAFKA_EV_FATAL], 0);

	/* librdkafka 2.0.2 does not bump the epoch on that first abort, so the
	 * next transaction hits OUT_OF_ORDER_SEQUENCE_NUMBER once (against the
	 * mock cluster at least) and is aborted with an epoch bump; the owner
	 * sees a second -ECANCELED and restores again. After that it is clean. */
	size_t ok_before = o.dr_ok;
	produce_range(k, 10, 12);
	int r = tk_commit(&loop, k, &o);
	if (r == -ECANCELED) {
		assert_int_equal(kafka_stats(k)->aborts, 2);
		ok_before = o.dr_ok;
		produce_range(k, 10, 12);
		r = tk_commit(&loop, k, &o);
	}
	assert_int_equal(r, 0);
	assert_int_equal(o.dr_ok - ok_before, 2);
	assert_int_equal(o.events[KAFKA_EV_FATAL], 0);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The hold queue is bounded: past hold_max_bytes records are refused with
 * -ENOBUFS and counted, and the accepted ones still go out. */
static void test_hold_bound(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-5"}};
	struct kafka_config c = eos_config(kv, 2);
	char big[200];
	size_t held = 0, refused = 0;

	memset(big, 'x', sizeof(big));
	c.hold_max_bytes = 1024;
	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	o.done = false;
	assert_int_equal(kafka_commit(k, tk_on_done, &o), 0);
	for (int i = 0; i < 10; i++) {
		int r = kafka_produce(k, 1, "K", 1, big, sizeof(big), (void *)(uintptr_t)1);

		if (r == 0)
			held++;
		else {
			assert_int_equal(r, -ENOBUFS);
			refused++;
		}
	}
	assert_true(held >= 3 && held < 10);
	assert_int_equal(kafka_stats(k)->topic[1].refused, refused);
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, 0);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, held);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Held records waiting for room in a tiny librdkafka queue when a commit is
 * asked for: the commit waits for those offered before it, and records
 * offered after it go into the next transaction. */
static void test_deferred_commit_boundary(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-7"},
				      {"queue.buffering.max.messages", "5"}};
	struct kafka_config c = eos_config(kv, 3);
	static struct tk_rec recs[128];
	int counts[32] = {0};

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	/* 20 records held behind an empty commit ... */
	o.done = false;
	assert_int_equal(kafka_commit(k, tk_on_done, &o), 0);
	produce_range(k, 0, 20);
	assert_int_equal(kafka_stats(k)->held_msgs, 20);
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, 0);
	/* ... of which only 5 fit in librdkafka's queue at once. */
	assert_true(kafka_stats(k)->held_msgs > 0);

	o.done = false;
	assert_int_equal(kafka_commit(k, tk_on_done, &o), 0);
	produce_range(k, 20, 23); /* after the commit call: next transaction */
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, 0);
	assert_int_equal(o.dr_ok, 20); /* the commit flushed exactly r0..r19 */

	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, 23);
	assert_int_equal(kafka_stats(k)->topic[0].refused + kafka_stats(k)->topic[1].refused, 0);

	size_t n = tk_consume(kafka_bootstrap(k), topics, 2, true, recs, 128, 23, 3000);
	assert_int_equal(n, 23);
	count_values(recs, n, counts, 32);
	for (int i = 0; i < 23; i++)
		assert_int_equal(counts[i], 1);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Profile switch at a checkpoint: close after the commit, re-create. */
static void test_profile_switch(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	struct kafka_mock *m;
	char err[512];

	uv_loop_init(&loop);
	assert_int_equal(kafka_mock_new(1, false, &m, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(kafka_mock_topic_create(m, topics[i], 1, 1), 0);
	const struct kafka_kv kv[] = {{"bootstrap.servers", kafka_mock_bootstrap(m)},
				      {"transactional.id", "torghut-test-6"}};
	struct kafka_config c = eos_config(kv, 2);

	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	produce_range(k, 0, 4);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	tk_close(&loop, k, &o);
	assert_true(o.closed);

	c.profile = KAFKA_LOW_LATENCY;
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_int_equal(kafka_profile(k), KAFKA_LOW_LATENCY);
	produce_range(k, 4, 8);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, 8);
	tk_close(&loop, k, &o);
	assert_true(o.closed);

	static struct tk_rec recs[64];
	int counts[8] = {0};
	size_t n = tk_consume(kafka_mock_bootstrap(m), topics, 2, true, recs, 64, 8, 3000);
	assert_int_equal(n, 8);
	count_values(recs, n, counts, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(counts[i], 1);
	kafka_mock_free(m);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Two-phase: the boundary holds later records, prepared comes once the
 * earlier ones are delivered, the marker goes last into the transaction,
 * and every record names its transaction in the torghut-txn header. */
static void test_two_phase(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0}, p = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-test-2pc"}};
	struct kafka_config c = eos_config(kv, 2);
	static struct tk_rec recs[256];
	int counts[64] = {0};
	const struct kafka_marker mk = {.topic = 1, .key = "chk", .key_len = 3, .value = "r40", .value_len = 3};

	c.txn_tag_prefix = "run7";
	p.loop_thread = o.loop_thread;
	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), -EAGAIN);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_string_equal(kafka_txn_tag(k), "run7.1");

	produce_range(k, 0, 10);
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), 0);
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), -EBUSY);
	assert_int_equal(kafka_commit(k, tk_on_done, &o), -EBUSY);
	assert_int_equal(kafka_commit_finish(k, &mk, tk_on_done, &o), -EINVAL); /* not prepared yet */
	produce_range(k, 10, 15); /* after the boundary: held */
	assert_int_equal(kafka_stats(k)->held_msgs, 5);
	assert_true(tk_run_until(&loop, &p.done, 30000));
	assert_int_equal(p.status, 0);
	assert_int_equal(o.dr_ok, 10); /* all before the boundary, none after */
	assert_int_equal(kafka_stats(k)->held_msgs, 5);

	o.done = false;
	assert_int_equal(kafka_commit_finish(k, &mk, tk_on_done, &o), 0);
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, 0);
	assert_string_equal(kafka_txn_tag(k), "run7.2");
	assert_int_equal(tk_commit(&loop, k, &o), 0); /* r10..r14 in transaction 2 */

	/* Cancel after prepared: the transaction is aborted, the held records
	 * are dropped, and the next transaction has the next tag. */
	produce_range(k, 20, 23);
	p.done = false;
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), 0);
	produce_range(k, 23, 25);
	assert_true(tk_run_until(&loop, &p.done, 30000));
	o.done = false;
	assert_int_equal(kafka_commit_cancel(k, tk_on_done, &o), 0);
	assert_true(tk_run_until(&loop, &o.done, 30000));
	assert_int_equal(o.status, -ECANCELED);
	assert_int_equal(o.dr_canceled, 2);
	assert_string_equal(kafka_txn_tag(k), "run7.4");
	assert_int_equal(o.events[KAFKA_EV_ABORTED], 0); /* answered through the callback */

	produce_range(k, 30, 32);
	assert_int_equal(tk_commit(&loop, k, &o), 0);

	size_t n = tk_consume(kafka_bootstrap(k), topics, 2, true, recs, 256, 23, 3000);
	assert_true(n >= 18);
	count_values(recs, n, counts, 64);
	for (size_t i = 0; i < n; i++) {
		int v;

		sscanf(recs[i].value, "r%d", &v);
		const char *want = v < 10 || v == 40 ? "run7.1" : v < 15 ? "run7.2" : v < 30 ? "run7.3" : "run7.4";
		assert_string_equal(recs[i].txn, want);
	}
	assert_int_equal(counts[40], 1); /* the marker */
	for (int i = 0; i < 15; i++)
		assert_int_equal(counts[i], 1);
	for (int i = 23; i < 25; i++)
		assert_int_equal(counts[i], 0); /* held, then dropped by the cancel */
	tk_close(&loop, k, &o);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Low-latency: the same calls are a delivery barrier without transactions;
 * close answers a pending prepared callback. */
static void test_two_phase_low_latency(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0}, p = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"}};
	struct kafka_config c = eos_config(kv, 1);

	c.profile = KAFKA_LOW_LATENCY;
	c.txn_tag_prefix = "ignored";
	p.loop_thread = o.loop_thread;
	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_string_equal(kafka_txn_tag(k), "");
	produce_range(k, 0, 20);
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), 0);
	produce_range(k, 20, 25);
	assert_true(tk_run_until(&loop, &p.done, 30000));
	assert_int_equal(p.status, 0);
	assert_int_equal(o.dr_ok, 20);
	o.done = false;
	assert_int_equal(kafka_commit_finish(k, NULL, tk_on_done, &o), 0);
	assert_true(o.done); /* synchronous */
	assert_int_equal(o.status, 0);
	assert_int_equal(kafka_stats(k)->held_msgs, 0);

	/* A barrier that never completes before close: answered -ECANCELED. */
	p.done = false;
	rd_kafka_mock_broker_set_down(kafka_mock_cluster(kafka_embedded_mock(k)), 1);
	produce_range(k, 30, 32);
	assert_int_equal(kafka_commit_begin(k, tk_on_done, &p), 0);
	tk_close(&loop, k, &o);
	assert_true(p.done);
	assert_int_equal(p.status, -ECANCELED);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_with_held_records),
		cmocka_unit_test(test_commit_abortable_error),
		cmocka_unit_test(test_commit_fenced),
		cmocka_unit_test(test_failed_record_aborts),
		cmocka_unit_test(test_hold_bound),
		cmocka_unit_test(test_deferred_commit_boundary),
		cmocka_unit_test(test_profile_switch),
		cmocka_unit_test(test_two_phase),
		cmocka_unit_test(test_two_phase_low_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
