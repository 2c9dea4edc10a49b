/* schemas.c - the schema registry start-up gate (see schemas.h). */
#include "config.h"

#include "daemon/schemas.h"

#include "sink/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000

static const char *const files[SCHEMAS_COUNT] = {"ta-bars-1s.avsc", "ta-signals.avsc", "ta-status.avsc"};

struct schemas {
	uv_loop_t *loop;
	struct log *log;
	struct registry *reg;
	char *subject[SCHEMAS_COUNT];
	char *text[SCHEMAS_COUNT];
	int32_t id[SCHEMAS_COUNT];
	bool auto_register, force;
	int cur;
	int64_t deadline_mono;
	uv_timer_t retry;
	schemas_done_fn done;
	void *done_arg;
	char why[1024];
	const char *last_class; /* error class of the last failed call, NULL if none */
	int state;              /* 0 resolving, 1 ready, -1 failed */
	void (*closed_cb)(void *);
	void *closed_arg;
	int closing;
};

static int read_text(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int schemas_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct schemas **out, char *err,
		size_t errlen)
{
	struct schemas *s = calloc(1, sizeof(*s));
	const char *topics[SCHEMAS_COUNT] = {c->topic_ta_bars, c->topic_ta_signals, c->topic_ta_status};
	char path[4096];
	int rc;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->log = log;
	s->auto_register = c->registry_auto_register;
	for (int i = 0; i < SCHEMAS_COUNT; i++) {
		size_t n = strlen(topics[i]) + sizeof("-value");
		s->subject[i] = malloc(n);
		if (s->subject[i])
			snprintf(s->subject[i], n, "%s-value", topics[i]); /* TopicNameStrategy */
		snprintf(path, sizeof(path), "%s/%s", c->schema_dir, files[i]);
		/* start-up only: a blocking read before the loop runs */
		if ((rc = read_text(path, &s->text[i])) < 0) {
			snprintf(err, errlen, "schema.dir: cannot read %s: %s", path, strerror(-rc));
			goto fail;
		}
		s->id[i] = -1;
	}
	struct registry_opts ro = {.url = c->registry_url, .user = c->registry_user,
				   .password = c->registry_password.value, .ca_file = c->registry_ca_file};
	if ((rc = registry_new(&s->reg, loop, &ro)) < 0) {
		snprintf(err, errlen, "schema.registry.url %s: %s", c->registry_url, strerror(-rc));
		goto fail;
	}
	uv_timer_init(loop, &s->retry);
	s->retry.data = s;
	*out = s;
	return 0;
fail:
	for (int i = 0; i < SCHEMAS_COUNT; i++) {
		free(s->subject[i]);
		free(s->text[i]);
	}
	free(s);
	return rc;
}

static void finish(struct schemas *s, int status)
{
	s->state = status == 0 ? 1 : -1;
	schemas_done_fn cb = s->done;
	s->done = NULL;
	if (cb)
		cb(s->done_arg, status, status ? s->why : NULL);
}

static void step(struct schemas *s);

static void on_retry(uv_timer_t *t)
{
	step(t->data);
}

static bool transient(const struct registry_result *r)
{
	return r->err == REGISTRY_E_UNREACHABLE || r->err == REGISTRY_E_TIMEOUT || r->err == REGISTRY_E_SERVER;
}

/* Retries a transient failure until the deadline, else fails with it. */
static void retry_or_fail(struct schemas *s, const struct registry_result *r, const char *what)
{
	s->last_class = r->err_class;
	snprintf(s->why, sizeof(s->why), "subject %s: %s: %s (%s)", s->subject[s->cur], what,
		 r->message && *r->message ? r->message : "no answer", r->err_class);
	if (transient(r) && (int64_t)uv_hrtime() + RETRY_MS * 1000000LL < s->deadline_mono) {
		log_warn(s->log, LOG_SUB_KAFKA, "%s; retrying", s->why);
		uv_timer_start(&s->retry, on_retry, RETRY_MS, 0);
		return;
	}
	finish(s, transient(r) ? -ETIMEDOUT : -EPERM);
}

static void on_config_set(struct registry *r, const struct registry_result *res, void *arg)
{
	struct schemas *s = arg;
	if (s->closing)
		return;
	if (res->rc < 0) {
		retry_or_fail(s, res, "setting the compatibility level refused");
		return;
	}
	s->cur++;
	step(s);
}

static void on_registered(struct registry *r, const struct registry_result *res, void *arg)
{
	struct schemas *s = arg;
	if (s->closing)
		return;
	if (res->rc < 0) {
		retry_or_fail(s, res, "registration refused");
		return;
	}
	s->id[s->cur] = res->id;
	log_info(s->log, LOG_SUB_KAFKA, "registered %s: schema id %d, compatibility BACKWARD", s->subject[s->cur], res->id);
	/* wire.md: subjects are BACKWARD; the registry enforces it from now on */
	registry_set_config(s->reg, s->subject[s->cur], "BACKWARD", on_config_set, s);
}

static void on_checked(struct registry *r, const struct registry_result *res, void *arg)
{
	struct schemas *s = arg;
	if (s->closing)
		return;
	/* A subject without versions has nothing to be incompatible with. */
	if (res->rc < 0 && res->err != REGISTRY_E_NOT_FOUND) {
		retry_or_fail(s, res, "compatibility check failed");
		return;
	}
	if (res->rc == 0 && !res->compatible) {
		snprintf(s->why, sizeof(s->why), "subject %s: our schema is not BACKWARD compatible with the latest registered version: %s",
			 s->subject[s->cur], res->message && *res->message ? res->message : "(no detail)");
		finish(s, -EPERM);
		return;
	}
	registry_register(s->reg, s->subject[s->cur], s->text[s->cur], on_registered, s);
}

static void on_lookup(struct registry *r, const struct registry_result *res, void *arg)
{
	struct schemas *s = arg;
	if (s->closing)
		return;
	if (res->rc == 0) {
		s->id[s->cur] = res->id;
		log_info(s->log, LOG_SUB_KAFKA, "%s: schema id %d (version %d)", s->subject[s->cur], res->id, res->version);
		s->cur++;
		step(s);
		return;
	}
	if (res->err != REGISTRY_E_NOT_FOUND) {
		retry_or_fail(s, res, "lookup failed");
		return;
	}
	if (!s->auto_register && !s->force) {
		snprintf(s->why, sizeof(s->why),
			 "subject %s does not hold our schema: register it ahead of the deploy (torghutd --register-schemas) or set schema.registry.auto-register=true",
			 s->subject[s->cur]);
		finish(s, -ENOENT);
		return;
	}
	registry_check(s->reg, s->subject[s->cur], s->text[s->cur], on_checked, s);
}

static void step(struct schemas *s)
{
	if (s->cur >= SCHEMAS_COUNT) {
		finish(s, 0);
		return;
	}
	registry_lookup(s->reg, s->subject[s->cur], s->text[s->cur], on_lookup, s);
}

int schemas_resolve(struct schemas *s, bool force_register, int64_t deadline_ms, schemas_done_fn cb, void *arg)
{
	s->force = force_register;
	s->done = cb;
	s->done_arg = arg;
	s->cur = 0;
	s->deadline_mono = (int64_t)uv_hrtime() + deadline_ms * 1000000LL;
	step(s);
	return 0;
}

int32_t schemas_id(const struct schemas *s, enum schemas_which w)
{
	return s->id[w];
}

json_t *schemas_status_json(const struct schemas *s)
{
	json_t *ids = json_object();
	for (int i = 0; i < SCHEMAS_COUNT; i++)
		json_object_set_new(ids, s->subject[i], s->id[i] >= 0 ? json_integer(s->id[i]) : json_null());
	return json_pack("{s:s,s:s?,s:o}", "state", s->state > 0 ? "ready" : s->state < 0 ? "failed" : "resolving",
			 "error_class", s->last_class, "subjects", ids);
}

const char *schemas_subject(const struct schemas *s, enum schemas_which w)
{
	return s->subject[w];
}

static void part_closed(void *arg)
{
	struct schemas *s = arg;
	if (--s->closing > 0)
		return;
	void (*cb)(void *) = s->closed_cb;
	void *cbarg = s->closed_arg;
	for (int i = 0; i < SCHEMAS_COUNT; i++) {
		free(s->subject[i]);
		free(s->text[i]);
	}
	free(s);
	if (cb)
		cb(cbarg);
}

static void timer_closed(uv_handle_t *h)
{
	part_closed(h->data);
}

void schemas_close(struct schemas *s, void (*cb)(void *arg), void *arg)
{
	s->closed_cb = cb;
	s->closed_arg = arg;
	s->closing = 2;
	s->done = NULL;
	uv_close((uv_handle_t *)&s->retry, timer_closed);
	registry_close(s->reg, part_closed, s);
}
