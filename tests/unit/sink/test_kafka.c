/* test_kafka.c - the producer on the loop, low-latency profile, against
 * librdkafka's mock cluster: configuration passthrough, produce and consume
 * back, delivery barrier, backpressure, delivery failure accounting. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sink/kafka.h"
#include "sink/kafka_mock.h"
#include "test_kafka_util.h"

static const char *const topics2[] = {"torghut.trades.v1", "torghut.quotes.v1"};

static struct kafka_config ll_config(const struct kafka_kv *kv, size_t n_kv)
{
	struct kafka_config c = {
		.profile = KAFKA_LOW_LATENCY,
		.kv = kv,
		.n_kv = n_kv,
		.topics = topics2,
		.n_topics = 2,
		.linger_ms = 5,
	};
	return c;
}

static void test_conf_errors(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k = NULL;
	char err[512];

	uv_loop_init(&loop);
	/* An unknown librdkafka key is named with its kafka. prefix. */
	const struct kafka_kv bad_key[] = {{"bootstrap.servers", "embedded"}, {"no.such.key", "1"}};
	struct kafka_config c = ll_config(bad_key, 2);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_null(k);
	assert_non_null(strstr(err, "kafka.no.such.key"));

	/* A bad value: librdkafka's reason, with the key. */
	const struct kafka_kv bad_val[] = {{"linger.ms", "fast"}};
	c = ll_config(bad_val, 1);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.linger.ms"));

	/* Secrets are never echoed, whatever librdkafka's text would hold. */
	const struct kafka_kv bad_secret[] = {{"no.such.password", "hunter2"}};
	c = ll_config(bad_secret, 1);
	c.sasl_password = "s3cr3t-pw";
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.no.such.password"));
	assert_null(strstr(err, "hunter2"));
	assert_null(strstr(err, "s3cr3t-pw"));

	/* The password only comes from the file. */
	const struct kafka_kv inline_pw[] = {{"sasl.password", "hunter2"}};
	c = ll_config(inline_pw, 1);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "kafka.sasl.password"));

	const struct kafka_kv no_logq[] = {{"log.queue", "false"}};
	c = ll_config(no_logq, 1);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.log.queue"));

	/* exactly-once needs a transactional.id. */
	c = ll_config(NULL, 0);
	c.profile = KAFKA_EXACTLY_ONCE;
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.transactional.id"));

	const struct kafka_kv bad_ours[] = {{"topics.create", "maybe"}};
	c = ll_config(bad_ours, 1);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.topics.create"));

	/* Good configuration: created, never started, closed. */
	const struct kafka_kv good[] = {{"bootstrap.servers", "embedded"},
					{"sasl.password.file", "/nonexistent"},
					{"transactional.id", "ignored-in-low-latency"},
					{"message.timeout.ms", "30000"}};
	c = ll_config(good, 4);
	c.sasl_password = "pw";
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_true(kafka_is_embedded(k));
	assert_null(kafka_bootstrap(k));
	assert_int_equal(kafka_produce(k, 0, "k", 1, "v", 1, &o), -EAGAIN);
	assert_int_equal(kafka_produce(k, 7, "k", 1, "v", 1, &o), -EINVAL);
	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

#define N_RECORDS 600

/* Produce through the loop, consume back with a real consumer: count, keys,
 * values and order within each partition. */
static void test_low_latency_roundtrip(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"topics.create.partitions", "4"},
				      {"debug", "broker"}};
	struct kafka_config c = ll_config(kv, 3);
	static struct tk_rec recs[2 * N_RECORDS];

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_non_null(kafka_bootstrap(k));
	assert_non_null(kafka_embedded_mock(k));

	for (int i = 0; i < N_RECORDS; i++) {
		char key[16], val[32];
		int kl = snprintf(key, sizeof(key), "SYM%d", i % 7);
		int vl = snprintf(val, sizeof(val), "%d:%d", i % 7, i);

		assert_int_equal(kafka_produce(k, (unsigned)(i % 2), key, (size_t)kl, val, (size_t)vl,
					       (void *)(uintptr_t)(i + 1)),
				 0);
		if (i % 100 == 99)
			uv_run(&loop, UV_RUN_NOWAIT); /* interleave with delivery reports */
	}
	assert_int_equal(kafka_stats(k)->topic[0].produced + kafka_stats(k)->topic[1].produced,
			 N_RECORDS);

	/* The barrier: when it reports, every earlier record is acknowledged. */
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, N_RECORDS);
	assert_int_equal(o.dr_fail + o.dr_canceled + o.dr_opaque_bad, 0);
	assert_int_equal(kafka_stats(k)->in_flight, 0);
	assert_int_equal(kafka_stats(k)->topic[0].delivered + kafka_stats(k)->topic[1].delivered,
			 N_RECORDS);
	assert_int_equal(kafka_stats(k)->consecutive_failures, 0);
	assert_true(o.max_latency_us > 0);
	assert_true(o.logs > 0); /* debug=broker logs, served on the loop */
	assert_false(o.off_loop_callback);

	size_t n = tk_consume(kafka_bootstrap(k), topics2, 2, false, recs, 2 * N_RECORDS,
			      N_RECORDS, 5000);
	assert_int_equal(n, N_RECORDS);

	/* Keys and values match; within a (topic, partition) both offsets and
	 * per-key sequence numbers increase; every record arrived once. */
	static bool seen[N_RECORDS];
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		int sym, seq;

		assert_int_equal(sscanf(recs[i].value, "%d:%d", &sym, &seq), 2);
		assert_true(seq >= 0 && seq < N_RECORDS);
		assert_false(seen[seq]);
		seen[seq] = true;
		char want_key[16];
		snprintf(want_key, sizeof(want_key), "SYM%d", sym);
		assert_string_equal(recs[i].key, want_key);
		assert_string_equal(recs[i].topic, topics2[seq % 2]);
		for (size_t j = 0; j < i; j++) {
			int s2, q2;

			if (strcmp(recs[j].topic, recs[i].topic) || recs[j].partition != recs[i].partition)
				continue;
			sscanf(recs[j].value, "%d:%d", &s2, &q2);
			/* consumer delivers a partition in offset order */
			assert_true(recs[j].offset < recs[i].offset);
			if (s2 == sym)
				assert_true(q2 < seq);
		}
	}

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A tiny librdkafka queue: refusals are immediate, distinct and counted per
 * topic; accepted records all get their delivery report. */
static void test_queue_full(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"queue.buffering.max.messages", "10"},
				      {"linger.ms", "50"}};
	struct kafka_config c = ll_config(kv, 3);
	size_t ok = 0, refused[2] = {0, 0};

	c.linger_ms = -1;
	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	for (int i = 0; i < 100; i++) {
		int r = kafka_produce(k, (unsigned)(i % 2), "AAPL", 4, "x", 1, (void *)(uintptr_t)1);

		if (r == 0)
			ok++;
		else {
			assert_int_equal(r, -ENOBUFS);
			refused[i % 2]++;
		}
	}
	assert_int_equal(ok, 10);
	assert_int_equal(kafka_stats(k)->topic[0].refused, refused[0]);
	assert_int_equal(kafka_stats(k)->topic[1].refused, refused[1]);
	assert_int_equal(refused[0] + refused[1], 90);

	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, ok);
	/* Room again once the reports are served. */
	assert_int_equal(kafka_produce(k, 0, "AAPL", 4, "y", 1, (void *)(uintptr_t)1), 0);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, ok + 1);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The broker refuses records: failures are counted per topic and class,
 * the consecutive-failure counter climbs and a success resets it.
 * (Taking the only broker down is no good trigger here: librdkafka 2.0.2's
 * idempotent producer kept records that reached its xmit queue while the
 * broker was reconnecting past message.timeout.ms; only KAFKA_EV_ERROR
 * "all brokers down" reported the outage.) */
static void test_delivery_failures(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	struct kafka_mock *m;
	char err[512];

	uv_loop_init(&loop);
	assert_int_equal(kafka_mock_new(1, false, &m, err, sizeof(err)), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics2[0], 1, 1), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics2[1], 1, 1), 0);
	const struct kafka_kv kv[] = {{"bootstrap.servers", kafka_mock_bootstrap(m)}};
	struct kafka_config c = ll_config(kv, 1);

	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_string_equal(kafka_bootstrap(k), kafka_mock_bootstrap(m));
	assert_false(kafka_is_embedded(k));

	assert_int_equal(kafka_produce(k, 0, "A", 1, "0", 1, (void *)(uintptr_t)1), 0);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, 1);

	/* Three produce requests refused, one record each (the barrier in
	 * between keeps them in separate requests). */
	rd_kafka_mock_push_request_errors(kafka_mock_cluster(m), 0 /* Produce */, 3,
					  RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
					  RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kafka_produce(k, 1, "B", 1, "x", 1, (void *)(uintptr_t)1), 0);
		assert_int_equal(tk_commit(&loop, k, &o), 0);
	}
	assert_int_equal(o.dr_fail, 3);
	assert_int_equal(o.last_dr_err, -EMSGSIZE);
	assert_int_equal(kafka_stats(k)->topic[1].failed[KAFKA_EC_SIZE], 3);
	assert_int_equal(kafka_stats(k)->topic[0].failed[KAFKA_EC_SIZE], 0);
	assert_int_equal(kafka_stats(k)->consecutive_failures, 3);
	assert_string_equal(kafka_err_class_name(KAFKA_EC_AUTH), "auth");
	assert_string_equal(kafka_err_class_wire(KAFKA_EC_AUTH), "kafka_auth");
	assert_string_equal(kafka_err_class_wire(KAFKA_EC_TIMEOUT), "kafka_produce");
	assert_string_equal(kafka_err_class_wire(KAFKA_EC_TOPIC), "kafka_metadata");

	assert_int_equal(kafka_produce(k, 0, "A", 1, "1", 1, (void *)(uintptr_t)1), 0);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, 2);
	assert_int_equal(kafka_stats(k)->consecutive_failures, 0);
	assert_false(o.off_loop_callback);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	kafka_mock_free(m);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Close with records in flight: every accepted record still gets exactly
 * one delivery report before the close callback. */
static void test_close_accounting(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"}, {"linger.ms", "200"}};
	struct kafka_config c = ll_config(kv, 2);

	c.linger_ms = -1;
	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(kafka_produce(k, 0, "K", 1, "v", 1, (void *)(uintptr_t)1), 0);
	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(o.dr_ok + o.dr_fail + o.dr_canceled, 50);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Closing while the start is still running is safe. */
static void test_close_during_start(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"}};
	struct kafka_config c = ll_config(kv, 1);

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(kafka_start(k, tk_on_done, &o), 0);
	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_true(o.done);
	assert_int_equal(o.status, -ECANCELED);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_low_latency_roundtrip),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_delivery_failures),
		cmocka_unit_test(test_close_accounting),
		cmocka_unit_test(test_close_during_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
