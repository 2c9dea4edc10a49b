/* Tests of the configuration loader: values, defaults, every error path. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/conf.h"
#include "core/conf_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tmp {
	char dir[64];
};

static char *write_file(struct tmp *t, const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/tg-conf-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

/* Loads text as torghut.conf; returns rc and leaves errors in *e. */
static int load(struct tmp *t, const char *text, const char *const *sets, size_t nsets, struct conf **c,
		struct conf_errors *e)
{
	char *p = text ? write_file(t, "torghut.conf", text) : NULL;
	return conf_load(p, sets, nsets, NULL, c, e);
}

static void test_defaults(void **state)
{
	struct conf *c = NULL;
	struct conf_errors e;
	assert_int_equal(load(*state, "", NULL, 0, &c, &e), 0);
	assert_int_equal(c->profile, CONF_PROFILE_EXACTLY_ONCE);
	assert_int_equal(c->role, CONF_ROLE_ALL);
	assert_string_equal(c->alpaca_url, "wss://stream.data.alpaca.markets/v2/iex");
	assert_string_equal(c->alpaca_feed, "iex");
	assert_int_equal(c->alpaca_channels, CONF_CH_TRADES | CONF_CH_QUOTES | CONF_CH_BARS | CONF_CH_UPDATED_BARS);
	assert_int_equal(c->alpaca_reconnect_base, 500000000LL);
	assert_int_equal(c->watermark_interval, 100000000LL);
	assert_int_equal(c->buffer_timeout, 10000000LL);
	assert_int_equal(c->max_out_of_orderness, 2000000000LL);
	assert_int_equal(c->checkpoints_retained, 3);
	assert_int_equal(c->sink_buffer_max, 64 << 20);
	assert_string_equal(c->kafka_bootstrap, "embedded");
	assert_string_equal(c->topic_ta_signals, "torghut.ta.signals.v1");
	assert_null(c->topic_ta_late);
	/* librdkafka's 60 s default would break the transaction rule: we pick a safe one */
	assert_true(c->transaction_timeout_ms * 1000000LL > c->checkpoint_timeout + c->failover_budget);
	assert_non_null(strstr(c->savepoints_dir, "/lib/torghut/savepoints"));
	conf_free(c);
}

static void test_low_latency_profile_defaults(void **state)
{
	struct conf *c = NULL;
	struct conf_errors e;
	const char *sets[] = {"profile=low-latency"};
	assert_int_equal(load(*state, "", sets, 1, &c, &e), 0);
	assert_int_equal(c->profile, CONF_PROFILE_LOW_LATENCY);
	assert_int_equal(c->watermark_interval, 50000000LL);
	assert_int_equal(c->buffer_timeout, 5000000LL);
	conf_free(c);
}

static void test_values_and_overrides(void **state)
{
	struct conf *c = NULL;
	struct conf_errors e;
	const char *text = "# comment\n"
			   "  alpaca.symbols = NVDA, AAPL ,BRK.B\n"
			   "alpaca.url = ws://127.0.0.1:8765/v2/test\n"
			   "execution.buffer-timeout = 250us\n"
			   "watermark.max-out-of-orderness = 1.5s\n"
			   "kafka.linger.ms = 7\n"
			   "state.checkpoints.dir = s3://bucket/prefix\n"
			   "fs.s3a.path.style.access = true\n";
	const char *sets[] = {"execution.buffer-timeout=1ms", "kafka.linger.ms=3"};
	assert_int_equal(load(*state, text, sets, 2, &c, &e), 0);
	assert_int_equal(c->alpaca_symbol_count, 3);
	assert_string_equal(c->alpaca_symbols[2], "BRK.B");
	assert_string_equal(c->alpaca_feed, "test");
	assert_int_equal(c->buffer_timeout, 1000000LL);
	assert_int_equal(c->max_out_of_orderness, 1500000000LL);
	assert_true(c->s3_path_style);
	assert_string_equal(c->savepoints_dir, "s3://bucket/savepoints");
	int found = 0;
	for (size_t i = 0; i < c->kafka_count; i++)
		if (strcmp(c->kafka[i].key, "linger.ms") == 0) {
			assert_string_equal(c->kafka[i].value, "3");
			found = 1;
		}
	assert_true(found);
	conf_free(c);
}

/* Expects failure and that the error text contains every needle. */
static void expect_error(struct tmp *t, const char *text, const char *const *sets, size_t nsets, ...)
{
	struct conf *c = NULL;
	struct conf_errors e;
	va_list ap;
	int rc = load(t, text, sets, nsets, &c, &e);
	assert_int_not_equal(rc, 0);
	assert_null(c);
	assert_non_null(e.text);
	va_start(ap, nsets);
	for (const char *needle; (needle = va_arg(ap, const char *));) {
		if (!strstr(e.text, needle))
			fail_msg("error text \"%s\" lacks \"%s\"", e.text, needle);
	}
	va_end(ap);
	conf_errors_fini(&e);
}

static void test_bad_duration(void **state)
{
	expect_error(*state, "\n\nexecution.buffer-timeout = fast\n", NULL, 0,
		     "torghut.conf:3: execution.buffer-timeout: expected a duration", "\"fast\"", NULL);
	expect_error(*state, "alpaca.idle.timeout = 30\n", NULL, 0, "torghut.conf:1: alpaca.idle.timeout", NULL);
	expect_error(*state, "alpaca.idle.timeout = 1ms\n", NULL, 0, "out of range", NULL);
}

/* A key the daemon needs, set empty, is an error, not a NULL for later. */
static void test_empty_required(void **state)
{
	expect_error(*state, "role = ta\nkafka.bootstrap.servers =\n", NULL, 0,
		     "torghut.conf:2: kafka.bootstrap.servers: must not be empty (the default is \"embedded\")", NULL);
	expect_error(*state, "ta.group.id =\n", NULL, 0, "torghut.conf:1: ta.group.id: must not be empty", NULL);
	expect_error(*state, "ta.auto.offset.reset = smallest\n", NULL, 0,
		     "torghut.conf:1: ta.auto.offset.reset: expected earliest or latest, got \"smallest\"", NULL);
	expect_error(*state, "debug.checkpoint-step = lots\n", NULL, 0,
		     "torghut.conf:1: debug.checkpoint-step: expected a size from 0 to 1GiB", NULL);
}

static void test_unknown_key(void **state)
{
	expect_error(*state, "profile = exactly-once\nalpaca.symbolz = NVDA\n", NULL, 0,
		     "torghut.conf:2: alpaca.symbolz: unknown key", NULL);
	const char *sets[] = {"nope=1"};
	expect_error(*state, "", sets, 1, "--set: nope: unknown key", NULL);
}

static void test_kafka_passthrough_checked_by_librdkafka(void **state)
{
	expect_error(*state, "kafka.linger.msx = 5\n", NULL, 0, "torghut.conf:1: kafka.linger.msx: librdkafka refuses it", NULL);
	expect_error(*state, "kafka.acks = maybe\n", NULL, 0, "kafka.acks", NULL);
}

static void test_missing_file(void **state)
{
	struct conf *c = NULL;
	struct conf_errors e;
	int rc = conf_load("/nonexistent/torghut.conf", NULL, 0, NULL, &c, &e);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(e.text, "/nonexistent/torghut.conf: cannot read"));
	conf_errors_fini(&e);
}

static void test_inline_secret_refused(void **state)
{
	expect_error(*state, "alpaca.key = AKXXXX\n", NULL, 0,
		     "torghut.conf:1: alpaca.key: secrets are not accepted inline", NULL);
	expect_error(*state, "kafka.sasl.password = hunter2\n", NULL, 0,
		     "kafka.sasl.password: secrets are not accepted inline", NULL);
	/* ... and the secret itself never appears in the error */
	struct conf *c = NULL;
	struct conf_errors e;
	assert_int_not_equal(load(*state, "kafka.sasl.password = hunter2\n", NULL, 0, &c, &e), 0);
	assert_null(strstr(e.text, "hunter2"));
	conf_errors_fini(&e);

	/* allowed explicitly: accepted, and redacted when printed */
	const char *sets[] = {"allow-inline-secrets=true"};
	assert_int_equal(load(*state, "alpaca.key = AKXXXX\nalpaca.secret = SKYYYY\nkafka.sasl.password = hunter2\n", sets, 1, &c, &e), 0);
	assert_string_equal(c->alpaca_key.value, "AKXXXX");
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	conf_print(c, f);
	fclose(f);
	assert_null(strstr(buf, "AKXXXX"));
	assert_null(strstr(buf, "SKYYYY"));
	assert_null(strstr(buf, "hunter2"));
	assert_non_null(strstr(buf, "<redacted>"));
	free(buf);
	conf_free(c);
}

static void test_secret_files(void **state)
{
	struct tmp *t = *state;
	struct conf *c = NULL;
	struct conf_errors e;
	char text[512];

	write_file(t, "key", "AKFILE\n");
	write_file(t, "secret", "SKFILE");
	write_file(t, "pw", "s3cret\n");
	write_file(t, "empty", "");
	/* relative paths resolve against $CREDENTIALS_DIRECTORY (systemd LoadCredential) */
	snprintf(text, sizeof(text), "alpaca.key.file = key\nalpaca.secret.file = %s/secret\nkafka.sasl.password.file = pw\n", t->dir);
	char *p = write_file(t, "torghut.conf", text);
	assert_int_equal(conf_load(p, NULL, 0, t->dir, &c, &e), 0);
	assert_string_equal(c->alpaca_key.value, "AKFILE");
	assert_string_equal(c->alpaca_secret.value, "SKFILE");
	int found = 0;
	for (size_t i = 0; i < c->kafka_count; i++)
		if (strcmp(c->kafka[i].key, "sasl.password") == 0) {
			assert_string_equal(c->kafka[i].value, "s3cret");
			assert_true(c->kafka[i].secret);
			found = 1;
		}
	assert_true(found);
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	conf_print(c, f);
	fclose(f);
	assert_null(strstr(buf, "s3cret"));
	assert_null(strstr(buf, "AKFILE"));
	free(buf);
	conf_free(c);

	/* unset *.file keys find a systemd credential named after the key */
	write_file(t, "alpaca.key", "AKCRED\n");
	write_file(t, "alpaca.secret", "SKCRED\n");
	p = write_file(t, "torghut.conf", "");
	assert_int_equal(conf_load(p, NULL, 0, t->dir, &c, &e), 0);
	assert_string_equal(c->alpaca_key.value, "AKCRED");
	assert_string_equal(c->alpaca_secret.value, "SKCRED");
	conf_free(c);

	snprintf(text, sizeof(text), "alpaca.key.file = %s/empty\nalpaca.secret.file = %s/nope\n", t->dir, t->dir);
	expect_error(t, text, NULL, 0, "torghut.conf:1: alpaca.key.file: cannot read secret file", "is empty",
		     "torghut.conf:2: alpaca.secret.file", "No such file", NULL);
}

static void test_transaction_timeout_rule(void **state)
{
	expect_error(*state, "kafka.transaction.timeout.ms = 60000\n", NULL, 0,
		     "torghut.conf:1: kafka.transaction.timeout.ms: 60000 ms must exceed execution.checkpointing.timeout (1m) + recovery.failover-budget (30s) = 90000 ms",
		     NULL);
	/* fine when large enough, and irrelevant in the low-latency profile */
	struct conf *c = NULL;
	struct conf_errors e;
	assert_int_equal(load(*state, "kafka.transaction.timeout.ms = 90001\n", NULL, 0, &c, &e), 0);
	assert_int_equal(c->transaction_timeout_ms, 90001);
	conf_free(c);
	const char *sets[] = {"profile=low-latency"};
	assert_int_equal(load(*state, "kafka.transaction.timeout.ms = 60000\n", sets, 1, &c, &e), 0);
	conf_free(c);
}

static void test_other_errors(void **state)
{
	expect_error(*state, "just text\n", NULL, 0, "torghut.conf:1: expected KEY = VALUE", NULL);
	expect_error(*state, "profile = fast\n", NULL, 0, "profile: expected exactly-once or low-latency", NULL);
	expect_error(*state, "role = both\n", NULL, 0, "role: expected all, ingest or ta", NULL);
	expect_error(*state, "alpaca.url = https://x/v2/iex\n", NULL, 0, "alpaca.url: expected a ws:// or wss:// URL", NULL);
	expect_error(*state, "alpaca.symbols = NVDA,nvda\n", NULL, 0, "invalid symbol \"nvda\"", NULL);
	expect_error(*state, "alpaca.symbols = *,NVDA\n", NULL, 0, "cannot be combined", NULL);
	expect_error(*state, "alpaca.channels = trades,news\n", NULL, 0, "unknown channel \"news\"", NULL);
	expect_error(*state, "kafka.topics.create = maybe\n", NULL, 0, "expected true or false", NULL);
	expect_error(*state, "state.checkpoints.num-retained = 0\n", NULL, 0, "expected a whole number from 1", NULL);
	expect_error(*state, "state.checkpoints.dir = ftp://x\n", NULL, 0, "expected file:///path", NULL);
	expect_error(*state, "http.listen = 9090\n", NULL, 0, "expected HOST:PORT", NULL);
	expect_error(*state, "sink.buffer.max-bytes = lots\n", NULL, 0, "sink.buffer.max-bytes: expected a size", NULL);
	expect_error(*state, "sink.buffer.max-bytes = 12\n", NULL, 0, "expected a size from 1MiB", NULL);
	expect_error(*state, "profile = low-latency\nprofile = exactly-once\n", NULL, 0,
		     "torghut.conf:2: profile: set twice (first at torghut.conf:1)", NULL);
	expect_error(*state, "alpaca.reconnect.base = 10s\nalpaca.reconnect.max = 1s\n", NULL, 0,
		     "alpaca.reconnect.max: must not be below", NULL);
	/* several problems are all reported at once */
	expect_error(*state, "a = 1\nb = 2\n", NULL, 0, "torghut.conf:1: a:", "torghut.conf:2: b:", NULL);
	const char *bad_set[] = {"novalue"};
	expect_error(*state, "", bad_set, 1, "--set: expected KEY=VALUE", NULL);
}

static void test_binary_file(void **state)
{
	struct tmp *t = *state;
	char *p = write_file(t, "torghut.conf", "");
	FILE *f = fopen(p, "wb");
	fwrite("a\0b", 1, 3, f);
	fclose(f);
	struct conf *c = NULL;
	struct conf_errors e;
	assert_int_not_equal(conf_load(p, NULL, 0, NULL, &c, &e), 0);
	assert_non_null(strstr(e.text, "binary"));
	conf_errors_fini(&e);
}

static void test_durations(void **state)
{
	int64_t ns;
	char buf[32];
	assert_int_equal(conf_parse_duration("5ms", &ns), 0);
	assert_int_equal(ns, 5000000);
	assert_int_equal(conf_parse_duration("2m", &ns), 0);
	assert_int_equal(ns, 120000000000LL);
	assert_int_equal(conf_parse_duration("0.25s", &ns), 0);
	assert_int_equal(ns, 250000000);
	assert_int_equal(conf_parse_duration("10", &ns), -EINVAL);
	assert_int_equal(conf_parse_duration("ms", &ns), -EINVAL);
	assert_int_equal(conf_parse_duration("-1s", &ns), -EINVAL);
	assert_int_equal(conf_parse_duration("99999999999999999999h", &ns), -ERANGE);
	int64_t sz;
	assert_int_equal(conf_parse_size("64MiB", &sz), 0);
	assert_int_equal(sz, 64 << 20);
	assert_int_equal(conf_parse_size("2k", &sz), 0);
	assert_int_equal(sz, 2000);
	assert_int_equal(conf_parse_size("4096", &sz), 0);
	assert_int_equal(sz, 4096);
	assert_int_equal(conf_parse_size("5 MiB", &sz), -EINVAL);
	assert_int_equal(conf_parse_size("9999999999GiB", &sz), -ERANGE);
	conf_format_duration(250000000, buf, sizeof(buf));
	assert_string_equal(buf, "250ms");
	conf_format_duration(120000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
}

static void test_reload_diff(void **state)
{
	struct conf *a = NULL, *b = NULL;
	struct conf_errors e;
	char why[256], changed[256];
	const char *s1[] = {"log.level=debug", "alpaca.symbols=NVDA"};
	const char *s2[] = {"control.socket=/tmp/other.sock"};

	assert_int_equal(load(*state, "", NULL, 0, &a, &e), 0);
	assert_int_equal(load(*state, "", s1, 2, &b, &e), 0);
	assert_int_equal(conf_diff_live(a, b, why, sizeof(why), changed, sizeof(changed)), 0);
	assert_non_null(strstr(changed, "log.level"));
	assert_non_null(strstr(changed, "alpaca.symbols"));
	conf_free(b);
	assert_int_equal(load(*state, "", s2, 1, &b, &e), 0);
	assert_int_equal(conf_diff_live(a, b, why, sizeof(why), changed, sizeof(changed)), -EPERM);
	assert_string_equal(why, "control.socket");
	conf_free(b);
	/* The profile (and the keys whose default follows it) and the buffer
	 * timeout are live: the daemon replaces the producer at a checkpoint. */
	const char *s3[] = {"profile=low-latency", "execution.buffer-timeout=2ms"};
	assert_int_equal(load(*state, "", s3, 2, &b, &e), 0);
	assert_int_equal(conf_diff_live(a, b, why, sizeof(why), changed, sizeof(changed)), 0);
	assert_non_null(strstr(changed, "profile"));
	assert_non_null(strstr(changed, "execution.buffer-timeout"));
	conf_free(b);
	conf_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_low_latency_profile_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_and_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kafka_passthrough_checked_by_librdkafka, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_secret_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_timeout_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_file, setup, teardown),
		cmocka_unit_test(test_durations),
		cmocka_unit_test_setup_teardown(test_empty_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_diff, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
