/* test_kafka_topics.c - topic readiness (metadata off-loop, admin creation),
 * the embedded cluster, and the torghut-kafka-mock helper program. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "sink/kafka.h"
#include "sink/kafka_mock.h"
#include "test_kafka_util.h"

static const char *const topics3[] = {"torghut.trades.v1", "torghut.quotes.v1",
				      "torghut.status.v1"};

static int check(uv_loop_t *loop, struct kafka *k, struct tk_obs *o, int timeout_ms)
{
	o->tq_done = false;
	assert_int_equal(kafka_topics_check(k, timeout_ms, tk_on_topics, o), 0);
	assert_int_equal(kafka_topics_check(k, timeout_ms, tk_on_topics, o), -EBUSY);
	assert_true(tk_run_until(loop, &o->tq_done, 30000));
	return o->tq_status;
}

/* A topic that is not there is reported by name and by bit; once it exists
 * the check passes. Producing never creates it behind our back. */
static void test_missing_topic(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	struct kafka_mock *m;
	char err[512];

	uv_loop_init(&loop);
	assert_int_equal(kafka_mock_new(1, false, &m, err, sizeof(err)), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics3[0], 2, 1), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics3[0], 2, 1), -EEXIST);
	assert_int_equal(kafka_mock_topic_create(m, topics3[2], 1, 1), 0);
	const struct kafka_kv kv[] = {{"bootstrap.servers", kafka_mock_bootstrap(m)}};
	struct kafka_config c = {.profile = KAFKA_LOW_LATENCY,
				 .kv = kv,
				 .n_kv = 1,
				 .topics = topics3,
				 .n_topics = 3,
				 .linger_ms = 5};

	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(kafka_topics_check(k, 1000, tk_on_topics, &o), -EAGAIN);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	assert_int_equal(check(&loop, k, &o, 5000), -ENOENT);
	assert_int_equal(o.tq_missing, 1u << 1);
	assert_non_null(strstr(o.tq_detail, "missing topic torghut.quotes.v1"));
	assert_null(strstr(o.tq_detail, "torghut.trades.v1"));

	/* Still missing a moment later: the producer's own metadata requests
	 * do not auto-create it (allow.auto.create.topics=false). */
	usleep(300 * 1000);
	assert_int_equal(check(&loop, k, &o, 5000), -ENOENT);
	assert_int_equal(o.tq_missing, 1u << 1);

	assert_int_equal(kafka_mock_topic_create(m, topics3[1], 1, 1), 0);
	assert_int_equal(check(&loop, k, &o, 5000), 0);
	assert_int_equal(o.tq_missing, 0);
	assert_false(o.off_loop_callback);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	kafka_mock_free(m);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_tick(uv_timer_t *t)
{
	(*(int *)t->data)++;
}

/* kafka.topics.create=true goes through the admin API. librdkafka 2.0.2's
 * mock cluster has no controller, so CreateTopics fails: the failure is in
 * the detail next to the missing topic, and the loop never waited for it. */
static void test_topics_create_admin(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	struct kafka_mock *m;
	char err[512];

	uv_loop_init(&loop);
	assert_int_equal(kafka_mock_new(1, false, &m, err, sizeof(err)), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics3[0], 1, 1), 0);
	assert_int_equal(kafka_mock_topic_create(m, topics3[1], 1, 1), 0);
	const struct kafka_kv kv[] = {{"bootstrap.servers", kafka_mock_bootstrap(m)},
				      {"topics.create", "true"},
				      {"topics.create.partitions", "3"}};
	struct kafka_config c = {.profile = KAFKA_LOW_LATENCY,
				 .kv = kv,
				 .n_kv = 3,
				 .topics = topics3,
				 .n_topics = 3,
				 .linger_ms = 5};

	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);

	/* The loop keeps turning while the admin request is outstanding. */
	uv_timer_t tick;
	int ticks = 0;

	uv_timer_init(&loop, &tick);
	tick.data = &ticks;
	uv_timer_start(&tick, on_tick, 10, 10);
	o.tq_done = false;
	assert_int_equal(kafka_topics_check(k, 800, tk_on_topics, &o), 0);
	assert_true(tk_run_until(&loop, &o.tq_done, 30000));
	uv_timer_stop(&tick);
	uv_close((uv_handle_t *)&tick, NULL);
	assert_int_equal(o.tq_status, -ENOENT);
	assert_int_equal(o.tq_missing, 1u << 2);
	assert_non_null(strstr(o.tq_detail, "missing topic torghut.status.v1"));
	assert_non_null(strstr(o.tq_detail, "create"));
	assert_true(ticks >= 20); /* ~800 ms of admin timeout, loop not blocked */

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	kafka_mock_free(m);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* bootstrap.servers=embedded creates every configured topic. */
static void test_embedded_topics(void **state)
{
	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"embedded.brokers", "3"},
				      {"topics.create.partitions", "2"}};
	struct kafka_config c = {.profile = KAFKA_LOW_LATENCY,
				 .kv = kv,
				 .n_kv = 2,
				 .topics = topics3,
				 .n_topics = 3,
				 .linger_ms = 5};

	uv_loop_init(&loop);
	/* No bootstrap.servers at all: the interface default is embedded. */
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_true(kafka_is_embedded(k));
	assert_int_equal(tk_start(&loop, k, &o), 0);
	/* Three brokers: three addresses. */
	const char *bs = kafka_bootstrap(k);
	assert_non_null(bs);
	assert_non_null(strchr(bs, ','));
	assert_non_null(strchr(strchr(bs, ',') + 1, ','));
	assert_int_equal(check(&loop, k, &o, 5000), 0);

	tk_close(&loop, k, &o);
	assert_true(o.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The helper program: prints the bootstrap line, serves producers and
 * consumers, exits 0 on SIGTERM. */
static void test_mock_helper(void **state)
{
	const char *bd = getenv("top_builddir");
	char path[1024], line[512] = "";
	int out[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/src/cmd/torghut-kafka-mock", bd ? bd : ".");
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "skipping: %s not built\n", path);
		skip();
	}
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl(path, path, "-b", "2", "-p", "2", topics3[0], "torghut.quotes.v1:3", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	assert_non_null(fgets(line, sizeof(line), f));
	line[strcspn(line, "\n")] = 0;
	assert_non_null(strchr(line, ':'));

	uv_loop_t loop;
	struct tk_obs o = {0};
	struct kafka_callbacks cb = tk_callbacks(&o);
	struct kafka *k;
	char err[512];
	const struct kafka_kv kv[] = {{"bootstrap.servers", line}};
	struct kafka_config c = {.profile = KAFKA_LOW_LATENCY,
				 .kv = kv,
				 .n_kv = 1,
				 .topics = topics3,
				 .n_topics = 2,
				 .linger_ms = 5};

	uv_loop_init(&loop);
	assert_int_equal(kafka_new(&loop, &c, &cb, &k, err, sizeof(err)), 0);
	assert_int_equal(tk_start(&loop, k, &o), 0);
	assert_int_equal(check(&loop, k, &o, 5000), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(kafka_produce(k, (unsigned)(i % 2), "X", 1, "r", 1, (void *)(uintptr_t)1),
				 0);
	assert_int_equal(tk_commit(&loop, k, &o), 0);
	assert_int_equal(o.dr_ok, 10);
	tk_close(&loop, k, &o);
	assert_int_equal(uv_loop_close(&loop), 0);

	static struct tk_rec recs[32];
	assert_int_equal(tk_consume(line, topics3, 2, false, recs, 32, 10, 3000), 10);

	int st;
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_topic),
		cmocka_unit_test(test_topics_create_admin),
		cmocka_unit_test(test_embedded_topics),
		cmocka_unit_test(test_mock_helper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
