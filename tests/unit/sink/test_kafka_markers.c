/* test_kafka_markers.c - finding the newest committed checkpoint marker:
 * the match rule, and a scan of a status topic on the mock cluster where the
 * newest marker of ours lies beyond the first window, among other feeds'
 * and other transactional ids' markers. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sink/kafka.h"
#include "sink/kafka_markers.h"
#include "test_kafka_util.h"

static int marker(char *buf, size_t cap, const char *status, uint64_t id, const char *detail)
{
	return snprintf(buf, cap,
			"{\"channel\":\"status\",\"symbol\":\"iex\",\"seq\":1,\"payload\":{\"component\":\"torghutd\","
			"\"status\":\"%s\",\"attempt\":%llu,\"detail\":\"%s\"},\"version\":2}",
			status, (unsigned long long)id, detail);
}

static void test_match(void **state)
{
	char b[512];
	uint64_t id = 0;
	int n;

	n = marker(b, sizeof(b), "checkpoint", 42, "txn=torghut-all-iex tag=ab.3");
	assert_int_equal(kafka_markers_match(b, (size_t)n, "torghut-all-iex", &id), 1);
	assert_int_equal(id, 42);
	assert_int_equal(kafka_markers_match(b, (size_t)n, "torghut-all", &id), 0); /* a prefix is not ours */
	assert_int_equal(kafka_markers_match(b, (size_t)n, "torghut-all-iex2", &id), 0);
	n = marker(b, sizeof(b), "gap", 42, "txn=torghut-all-iex tag=ab.3");
	assert_int_equal(kafka_markers_match(b, (size_t)n, "torghut-all-iex", &id), 0);
	n = marker(b, sizeof(b), "checkpoint", 0, "txn=torghut-all-iex tag=ab.3");
	assert_int_equal(kafka_markers_match(b, (size_t)n, "torghut-all-iex", &id), 0);
	assert_int_equal(kafka_markers_match("{not json", 9, "x", &id), 0);
	assert_int_equal(kafka_markers_match("", 0, "x", &id), 0);
	assert_int_equal(kafka_markers_detail("t1", "ab.3", b, sizeof(b)), 15);
	assert_string_equal(b, "txn=t1 tag=ab.3");
	assert_int_equal(kafka_markers_detail("t1", "ab.3", b, 5), -ENOSPC);
}

static const char *const topics[] = {"torghut.status.v1"};

static void produce(struct kafka *k, const char *key, const char *status, uint64_t id, const char *txn)
{
	char b[512], d[128];

	snprintf(d, sizeof(d), "txn=%s tag=x.1", txn);
	int n = marker(b, sizeof(b), status, id, d);
	assert_int_equal(kafka_produce(k, 0, key, strlen(key), b, (size_t)n, (void *)1), 0);
}

static void test_scan(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", "embedded"},
				      {"transactional.id", "torghut-scan"},
				      {"topics.create.partitions", "2"}};
	struct kafka_config c = {.profile = KAFKA_EXACTLY_ONCE, .kv = kv, .n_kv = 3, .topics = topics,
				 .n_topics = 1, .linger_ms = 5};
	uint64_t id = 99;

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	struct kafka_markers_req q = {.bootstrap = kafka_bootstrap(k), .kv = kv, .n_kv = 3, .topic = topics[0],
				      .key = "iex", .txn_id = "mine", .timeout_ms = 20000};
	/* An empty topic: no marker, no error. */
	assert_int_equal(kafka_markers_scan(&q, &id, err, sizeof(err)), 0);
	assert_int_equal(id, 0);

	produce(k, "iex", "checkpoint", 3, "mine");
	produce(k, "iex", "checkpoint", 7, "mine");
	produce(k, "iex", "checkpoint", 50, "other");  /* another instance */
	produce(k, "sip", "checkpoint", 60, "mine");   /* another feed's key */
	for (int i = 0; i < 1500; i++)                 /* pushes ours out of the first window */
		produce(k, "iex", i % 2 ? "subscribed" : "gap", (uint64_t)i, "mine");
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(kafka_markers_scan(&q, &id, err, sizeof(err)), 0);
	assert_int_equal(id, 7);

	/* Unreachable: a clear error within the timeout. */
	q.bootstrap = "127.0.0.1:1";
	q.timeout_ms = 1500;
	assert_true(kafka_markers_scan(&q, &id, err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	/* A setting librdkafka refuses. */
	const struct kafka_kv bad[] = {{"socket.timeout.ms", "banana"}};
	q.kv = bad;
	q.n_kv = 1;
	assert_int_equal(kafka_markers_scan(&q, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kafka.socket.timeout.ms"));

	tk_close(&loop, k, &o);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
