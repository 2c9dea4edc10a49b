/* Tests of the schema registry client against tests/registry/fake_registry.py
 * (started here, one process per fixture), driven by a real uv loop. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sink/registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#define SCHEMA_V1 "{\"type\":\"record\",\"name\":\"Bar\",\"namespace\":\"torghut.ta\",\"fields\":[" \
	"{\"name\":\"symbol\",\"type\":\"string\"},{\"name\":\"c\",\"type\":\"double\"}]}"
#define SCHEMA_V2 "{\"type\":\"record\",\"name\":\"Bar\",\"namespace\":\"torghut.ta\",\"fields\":[" \
	"{\"name\":\"symbol\",\"type\":\"string\"},{\"name\":\"c\",\"type\":\"double\"}," \
	"{\"name\":\"vwap\",\"type\":[\"null\",\"double\"],\"default\":null}]}"
#define SCHEMA_BAD "{\"type\":\"record\",\"name\":\"Bar\",\"namespace\":\"torghut.ta\",\"fields\":[" \
	"{\"name\":\"symbol\",\"type\":\"string\"},{\"name\":\"c\",\"type\":\"double\"}," \
	"{\"name\":\"count\",\"type\":\"long\"}]}"

struct server {
	pid_t pid;
	int port;
	char url[64];
};

static int server_start(struct server *s, const char *user)
{
	const char *top = getenv("top_srcdir");
	char script[1024];
	snprintf(script, sizeof(script), "%s/tests/registry/fake_registry.py", top ? top : ".");
	if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0)
		return -ENOENT;
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (user)
			execl("/usr/bin/python3", "python3", script, "--user", user, (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	char line[32] = "";
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		return -EIO;
	}
	fclose(f);
	s->port = atoi(line);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return s->port > 0 ? 0 : -EIO;
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static size_t sink_cb(char *p, size_t a, size_t b, void *u)
{
	return a * b;
}

/* Test-side knob setting: blocking is fine here, this is not the loop. */
static void knob(const struct server *s, const char *what, const char *body)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/%s", s->url, what);
	CURL *e = curl_easy_init();
	assert_non_null(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_cb);
	long status = 0;
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_easy_cleanup(e);
}

struct fixture {
	struct server srv;
	uv_loop_t loop;
};

/* What a callback saw; strings copied since the result dies with the call. */
struct got {
	int calls;
	struct registry_result res;
	char err_class[64], message[1024], level[32], schema_type[16];
};

static void got_cb(struct registry *r, const struct registry_result *res, void *arg)
{
	struct got *g = arg;
	g->calls++;
	g->res = *res;
	snprintf(g->err_class, sizeof(g->err_class), "%s", res->err_class);
	snprintf(g->message, sizeof(g->message), "%s", res->message);
	snprintf(g->level, sizeof(g->level), "%s", res->level ? res->level : "");
	snprintf(g->schema_type, sizeof(g->schema_type), "%s", res->schema_type ? res->schema_type : "");
	g->res.err_class = g->res.message = g->res.level = g->res.schema = g->res.schema_type = NULL;
}

static void guard_fired(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Run the loop until the callback ran (or 10 s passed: a failure). */
static void wait_for(uv_loop_t *loop, struct got *g)
{
	uv_timer_t guard;
	int expired = 0;
	uv_timer_init(loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, guard_fired, 10000, 0);
	while (g->calls == 0 && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(g->calls, 1);
}

static void closed_cb(void *arg)
{
	*(int *)arg = 1;
}

static void close_registry(uv_loop_t *loop, struct registry *r)
{
	int closed = 0;
	registry_close(r, closed_cb, &closed);
	for (int i = 0; i < 1000 && !closed; i++)
		uv_run(loop, UV_RUN_ONCE);
	assert_true(closed);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	int rc = server_start(&f->srv, NULL);
	if (rc < 0) {
		free(f);
		return -1;
	}
	uv_loop_init(&f->loop);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	server_stop(&f->srv);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	int rc = uv_loop_close(&f->loop);
	free(f);
	return rc == 0 ? 0 : -1;
}

static struct registry *make(struct fixture *f, const char *url, long timeout_ms, int retries)
{
	struct registry_opts o = { .url = url, .timeout_ms = timeout_ms, .max_retries = retries,
				   .backoff_ms = 20, .backoff_max_ms = 100 };
	struct registry *r = NULL;
	assert_int_equal(registry_new(&r, &f->loop, &o), 0);
	return r;
}

static void test_register_lookup_check_config(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 2);
	const char *subj = "torghut.ta.bars.1s-value";
	struct got g = { 0 };

	/* unknown subject: lookup says not found */
	assert_int_equal(registry_lookup(r, subj, REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -ENOENT);
	assert_string_equal(g.err_class, "schema_not_found");
	assert_int_equal(g.res.error_code, 40401);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_string_equal(g.err_class, "ok");
	int id1 = g.res.id;
	assert_true(id1 > 0);
	assert_int_equal(g.res.attempts, 1);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_lookup(r, subj, REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_int_equal(g.res.id, id1);
	assert_int_equal(g.res.version, 1);

	/* registering again is idempotent */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.id, id1);

	/* BACKWARD-compatible evolution: check says yes, register gets a new id */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_check(r, subj, REGISTRY_AVRO, SCHEMA_V2, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_true(g.res.compatible);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, SCHEMA_V2, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_true(g.res.id > id1);

	/* added field without a default: check says no, register is refused */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_check(r, subj, REGISTRY_AVRO, SCHEMA_BAD, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_false(g.res.compatible);
	assert_string_equal(g.err_class, "schema_incompatible");
	assert_non_null(strstr(g.message, "count: added field without a default"));

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, SCHEMA_BAD, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EINVAL);
	assert_string_equal(g.err_class, "schema_incompatible");
	assert_int_equal(g.res.http_status, 409);
	assert_int_equal(g.res.error_code, 409);
	assert_non_null(strstr(g.message, "incompatible"));
	assert_non_null(strstr(g.message, "count: added field without a default"));
	assert_int_equal(g.res.attempts, 1); /* a 4xx is not retried */

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_versions(r, subj, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.n_versions, 2);
	assert_int_equal(g.res.versions[0], 1);
	assert_int_equal(g.res.versions[1], 2);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_get_version(r, subj, 0, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_int_equal(g.res.version, 2);

	/* config: none set yet, then BACKWARD */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_get_config(r, subj, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -ENOENT);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_set_config(r, subj, "BACKWARD", got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_string_equal(g.level, "BACKWARD");

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_get_config(r, subj, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_string_equal(g.level, "BACKWARD");

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_set_config(r, subj, "SIDEWAYS", got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EINVAL);
	assert_string_equal(g.err_class, "schema_invalid");

	assert_int_equal(registry_pending(r), 0);
	close_registry(&f->loop, r);
}

static void test_retries_then_ok(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 3);
	struct got g = { 0 };
	knob(&f->srv, "_fail", "{\"status\":503,\"count\":2}");
	assert_int_equal(registry_register(r, "s-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_true(g.res.id > 0);
	assert_int_equal(g.res.attempts, 3);

	/* more failures than retries: the server error class */
	memset(&g, 0, sizeof(g));
	knob(&f->srv, "_fail", "{\"status\":500,\"count\":10}");
	assert_int_equal(registry_lookup(r, "s-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EIO);
	assert_string_equal(g.err_class, "schema_registry_error");
	assert_int_equal(g.res.http_status, 500);
	assert_int_equal(g.res.attempts, 4);
	close_registry(&f->loop, r);
}

static void test_garbage_answer(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 3);
	struct got g = { 0 };
	knob(&f->srv, "_garbage", "{\"count\":1}");
	assert_int_equal(registry_register(r, "g-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EPROTO);
	assert_string_equal(g.err_class, "schema_registry_protocol");
	assert_int_equal(g.res.attempts, 1); /* a 200 is not retried */
	close_registry(&f->loop, r);
}

static void tick(uv_timer_t *t)
{
	(*(int *)t->data)++;
}

static void test_slow_server_times_out_loop_stays_live(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 400, 0);
	knob(&f->srv, "_delay", "{\"ms\":2000,\"count\":1}");
	uv_timer_t ticker;
	int ticks = 0;
	uv_timer_init(&f->loop, &ticker);
	ticker.data = &ticks;
	uv_timer_start(&ticker, tick, 10, 10);
	struct got g = { 0 };
	uint64_t t0 = uv_now(&f->loop);
	assert_int_equal(registry_register(r, "slow-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	uint64_t took = uv_now(&f->loop) - t0;
	uv_close((uv_handle_t *)&ticker, NULL);
	assert_int_equal(g.res.rc, -ETIMEDOUT);
	assert_string_equal(g.err_class, "schema_registry_timeout");
	assert_true(took >= 350 && took < 1900);
	/* the loop kept running while the request was outstanding */
	assert_true(ticks >= 10);
	close_registry(&f->loop, r);
}

static void test_unreachable(void **state)
{
	struct fixture *f = *state;
	/* a port that was just free: nothing listens there */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	struct registry *r = make(f, url, 1000, 2);
	struct got g = { 0 };
	assert_int_equal(registry_lookup(r, "x-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -ECONNREFUSED);
	assert_string_equal(g.err_class, "schema_registry_unreachable");
	assert_int_equal(g.res.attempts, 3);
	assert_int_equal(g.res.http_status, 0);
	assert_true(g.message[0] != '\0');
	close_registry(&f->loop, r);
}

static void test_close_cancels_pending(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	knob(&f->srv, "_delay", "{\"ms\":1000,\"count\":1}");
	struct registry *r = make(f, f->srv.url, 5000, 0);
	struct got g = { 0 };
	assert_int_equal(registry_register(r, "c-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(registry_pending(r), 1);
	close_registry(&f->loop, r);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res.rc, -ECANCELED);
	assert_string_equal(g.err_class, "schema_registry_cancelled");
}

struct closer {
	struct got g;
	int *closed;
};

static void close_from_cb(struct registry *r, const struct registry_result *res, void *arg)
{
	struct closer *c = arg;
	got_cb(r, res, &c->g);
	registry_close(r, closed_cb, c->closed);
	/* closing: no new work is accepted */
	assert_int_equal(registry_lookup(r, "x", REGISTRY_AVRO, SCHEMA_V1, got_cb, NULL), -ECANCELED);
}

static void test_close_from_callback(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 0);
	int closed = 0;
	struct closer c = { .closed = &closed };
	struct got g2 = { 0 };
	knob(&f->srv, "_delay", "{\"ms\":800,\"count\":1,\"match\":\"slow-value\"}");
	assert_int_equal(registry_lookup(r, "slow-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g2), 0);
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(registry_versions(r, "none-value", close_from_cb, &c), 0);
	wait_for(&f->loop, &c.g);
	assert_int_equal(c.g.res.rc, -ENOENT);
	for (int i = 0; i < 1000 && !closed; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(closed);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g2.res.rc, -ECANCELED);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	size_t n = buf ? fread(buf, 1, (1 << 16) - 1, fp) : 0;
	fclose(fp);
	if (buf && n == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The shipped TA schemas go through the fake registry's BACKWARD rules too. */
static void test_real_schemas_register(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 0);
	const char *names[] = { "ta-bars-1s", "ta-signals", "ta-status" };
	const char *top = getenv("top_srcdir");
	int ids[3];
	for (int i = 0; i < 3; i++) {
		char path[1024], subj[64];
		snprintf(path, sizeof(path), "%s/schemas/%s.avsc", top ? top : ".", names[i]);
		snprintf(subj, sizeof(subj), "torghut.%s-value", names[i]);
		char *s = slurp(path);
		assert_non_null(s);
		struct got g = { 0 };
		assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, s, got_cb, &g), 0);
		wait_for(&f->loop, &g);
		assert_int_equal(g.res.rc, 0);
		ids[i] = g.res.id;
		memset(&g, 0, sizeof(g));
		assert_int_equal(registry_check(r, subj, REGISTRY_AVRO, s, got_cb, &g), 0);
		wait_for(&f->loop, &g);
		assert_int_equal(g.res.rc, 0);
		assert_true(g.res.compatible);
		free(s);
	}
	assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
	close_registry(&f->loop, r);
}

/* Request bodies, no socket: schemaType only for JSON (Avro is the default). */
static void test_schema_body(void **state)
{
	char *b = registry_schema_body(REGISTRY_AVRO, "{\"type\":\"string\"}");
	assert_string_equal(b, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}");
	free(b);
	b = registry_schema_body(REGISTRY_JSON, "{}");
	assert_string_equal(b, "{\"schema\":\"{}\",\"schemaType\":\"JSON\"}");
	free(b);
	assert_null(registry_schema_body(REGISTRY_JSON, NULL));
	assert_string_equal(registry_type_name(REGISTRY_AVRO), "AVRO");
	assert_string_equal(registry_type_name(REGISTRY_JSON), "JSON");
}

#define JSON_V1 "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}"
#define JSON_V2 "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"}},\"required\":[\"a\"]}"
#define JSON_BAD "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"c\":{\"type\":\"number\"}},\"required\":[\"a\",\"c\"]}"

/* JSON Schema subjects: the type is sent, stored, matched and answered. */
static void test_json_schema_type(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 0);
	const char *subj = "torghut.trades.v1-value";
	struct got g = { 0 };

	assert_int_equal(registry_register(r, subj, REGISTRY_JSON, JSON_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	int id = g.res.id;

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_get_version(r, subj, 0, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.id, id);
	assert_string_equal(g.schema_type, "JSON");

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_lookup(r, subj, REGISTRY_JSON, JSON_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_int_equal(g.res.id, id);
	assert_string_equal(g.schema_type, "JSON");

	/* the same text as Avro is another schema */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_lookup(r, subj, REGISTRY_AVRO, JSON_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -ENOENT);
	assert_int_equal(g.res.error_code, 40403);

	/* an optional property: compatible; a new required one: not */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_check(r, subj, REGISTRY_JSON, JSON_V2, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	assert_true(g.res.compatible);

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_check(r, subj, REGISTRY_JSON, JSON_BAD, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_false(g.res.compatible);
	assert_non_null(strstr(g.message, "new required property c"));

	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_JSON, JSON_BAD, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EINVAL);
	assert_int_equal(g.res.http_status, 409);

	/* a switch of type is refused */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, subj, REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EINVAL);
	assert_non_null(strstr(g.message, "schema type changed JSON -> AVRO"));

	/* an Avro answer without schemaType reads as AVRO */
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, "avro-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_get_version(r, "avro-value", 1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_string_equal(g.schema_type, "AVRO");
	close_registry(&f->loop, r);
}

/* The shipped ingest JSON Schemas register as JSON and pass their own check. */
static void test_real_json_schemas_register(void **state)
{
	struct fixture *f = *state;
	knob(&f->srv, "_reset", "{}");
	struct registry *r = make(f, f->srv.url, 5000, 0);
	const char *names[] = { "ingest-trades", "ingest-quotes", "ingest-bars-1m", "ingest-status" };
	const char *top = getenv("top_srcdir");
	for (int i = 0; i < 4; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/schemas/%s.json", top ? top : ".", names[i]);
		char *s = slurp(path);
		assert_non_null(s);
		struct got g = { 0 };
		assert_int_equal(registry_register(r, names[i], REGISTRY_JSON, s, got_cb, &g), 0);
		wait_for(&f->loop, &g);
		assert_int_equal(g.res.rc, 0);
		memset(&g, 0, sizeof(g));
		assert_int_equal(registry_check(r, names[i], REGISTRY_JSON, s, got_cb, &g), 0);
		wait_for(&f->loop, &g);
		assert_true(g.res.compatible);
		memset(&g, 0, sizeof(g));
		assert_int_equal(registry_lookup(r, names[i], REGISTRY_JSON, s, got_cb, &g), 0);
		wait_for(&f->loop, &g);
		assert_int_equal(g.res.rc, 0);
		assert_string_equal(g.schema_type, "JSON");
		free(s);
	}
	close_registry(&f->loop, r);
}

static void test_basic_auth(void **state)
{
	struct fixture *f = *state;
	struct server as;
	assert_int_equal(server_start(&as, "torghut:s3cret"), 0);
	struct registry_opts o = { .url = as.url, .user = "torghut", .password = "s3cret",
				   .timeout_ms = 5000, .max_retries = 0 };
	struct registry *r = NULL;
	assert_int_equal(registry_new(&r, &f->loop, &o), 0);
	struct got g = { 0 };
	assert_int_equal(registry_register(r, "a-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, 0);
	close_registry(&f->loop, r);

	o.password = "wrong";
	assert_int_equal(registry_new(&r, &f->loop, &o), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(registry_register(r, "a-value", REGISTRY_AVRO, SCHEMA_V1, got_cb, &g), 0);
	wait_for(&f->loop, &g);
	assert_int_equal(g.res.rc, -EACCES);
	assert_string_equal(g.err_class, "schema_registry_auth");
	assert_int_equal(g.res.http_status, 401);
	close_registry(&f->loop, r);
	server_stop(&as);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	struct registry *r = NULL;
	struct registry_opts o = { 0 };
	assert_int_equal(registry_new(&r, &f->loop, &o), -EINVAL);
	r = make(f, f->srv.url, 1000, 0);
	assert_int_equal(registry_register(r, "", REGISTRY_AVRO, SCHEMA_V1, got_cb, NULL), -EINVAL);
	assert_int_equal(registry_register(r, "x", REGISTRY_AVRO, NULL, got_cb, NULL), -EINVAL);
	assert_int_equal(registry_register(r, "x", (enum registry_type)7, SCHEMA_V1, got_cb, NULL), -EINVAL);
	assert_int_equal(registry_set_config(r, "x", "", got_cb, NULL), -EINVAL);
	assert_string_equal(registry_err_class(REGISTRY_E_UNREACHABLE), "schema_registry_unreachable");
	assert_string_equal(registry_err_class(REGISTRY_E_INCOMPATIBLE), "schema_incompatible");
	close_registry(&f->loop, r);
}

int main(void)
{
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("SKIP: no /usr/bin/python3 for the fake registry\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_lookup_check_config),
		cmocka_unit_test(test_retries_then_ok),
		cmocka_unit_test(test_garbage_answer),
		cmocka_unit_test(test_slow_server_times_out_loop_stays_live),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_close_cancels_pending),
		cmocka_unit_test(test_close_from_callback),
		cmocka_unit_test(test_real_schemas_register),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_schema_body),
		cmocka_unit_test(test_json_schema_type),
		cmocka_unit_test(test_real_json_schemas_register),
		cmocka_unit_test(test_bad_args),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
