/* schemas.c - the schema registry start-up gate (see schemas.h). */
#include "config.h"

#include "daemon/schemas.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000

/* Per subject: its file under schema.dir, its type, its topic key. */
static const struct {
	const char *file;
	enum registry_type type;
	bool ta; /* produced by role ta (else by role ingest) */
	size_t topic;
} defs[SCHEMAS_COUNT] = {
	[SCHEMAS_BARS] = {"ta-bars-1s.avsc", REGISTRY_AVRO, true, offsetof(struct conf, topic_ta_bars)},
	[SCHEMAS_SIGNALS] = {"ta-signals.avsc", REGISTRY_AVRO, true, offsetof(struct conf, topic_ta_signals)},
	[SCHEMAS_STATUS] = {"ta-status.avsc", REGISTRY_AVRO, true, offsetof(struct conf, topic_ta_status)},
	[SCHEMAS_TRADES] = {"ingest-trades.json", REGISTRY_JSON, false, offsetof(struct conf, topic_trades)},
	[SCHEMAS_QUOTES] = {"ingest-quotes.json", REGISTRY_JSON, false, offsetof(struct conf, topic_quotes)},
	[SCHEMAS_BARS_1M] = {"ingest-bars-1m.json", REGISTRY_JSON, false, offsetof(struct conf, topic_bars)},
	[SCHEMAS_RAW_STATUS] = {"ingest-status.json", REGISTRY_JSON, false, offsetof(struct conf, topic_status)},
};

struct schemas {
	uv_loop_t *loop;
	struct log *log;
	struct registry *reg;
	char *subject[SCHEMAS_COUNT]; /* NULL: not this role's */
	char *text[SCHEMAS_COUNT];
	int32_t id[SCHEMAS_COUNT];
	uint64_t errors[SCHEMAS_ERR_COUNT];
	bool auto_register, force;
	int cur;
	int64_t deadline_mono;
	uv_timer_t retry;
	schemas_done_fn done;
	void *done_arg;
	char why[1024];
	const char *last_class; /* error class of the last failed call, NULL if none */
	enum schemas_state state;
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
	char path[4096];
	int rc;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->log = log;
	s->auto_register = c->registry_auto_register;
	for (int i = 0; i < SCHEMAS_COUNT; i++) {
		const char *topic = *(char *const *)((const char *)c + defs[i].topic);
		bool mine = c->role == CONF_ROLE_ALL || (c->role == CONF_ROLE_TA) == defs[i].ta;
		s->id[i] = -1;
		if (!mine || !topic || !*topic)
			continue;
		size_t n = strlen(topic) + sizeof("-value");
		if (!(s->subject[i] = malloc(n))) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		snprintf(s->subject[i], n, "%s-value", topic); /* TopicNameStrategy */
		snprintf(path, sizeof(path), "%s/%s", c->schema_dir, defs[i].file);
		/* start-up only: a blocking read before the loop runs */
		if ((rc = read_text(path, &s->text[i])) < 0) {
			snprintf(err, errlen, "schema.dir: cannot read %s: %s", path, strerror(-rc));
			goto fail;
		}
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
	s->state = status == 0 ? SCHEMAS_READY : SCHEMAS_FAILED;
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

static void note_error(struct schemas *s, enum registry_err e)
{
	if ((unsigned)e < SCHEMAS_ERR_COUNT)
		s->errors[e]++;
	s->last_class = registry_err_class(e);
}

/* Retries a transient failure until the deadline, else fails with it. */
static void retry_or_fail(struct schemas *s, const struct registry_result *r, const char *what)
{
	note_error(s, r->err);
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
		note_error(s, REGISTRY_E_INCOMPATIBLE);
		snprintf(s->why, sizeof(s->why), "subject %s: our schema is not BACKWARD compatible with the latest registered version: %s",
			 s->subject[s->cur], res->message && *res->message ? res->message : "(no detail)");
		finish(s, -EPERM);
		return;
	}
	registry_register(s->reg, s->subject[s->cur], defs[s->cur].type, s->text[s->cur], on_registered, s);
}

static void on_lookup(struct registry *r, const struct registry_result *res, void *arg)
{
	struct schemas *s = arg;
	if (s->closing)
		return;
	const char *want = registry_type_name(defs[s->cur].type);
	if (res->rc == 0 && res->schema_type && strcmp(res->schema_type, want) != 0) {
		/* the registry matched the text under another type: not ours */
		note_error(s, REGISTRY_E_INVALID);
		snprintf(s->why, sizeof(s->why), "subject %s: the registry answered a %s schema for our %s one (schema_invalid)",
			 s->subject[s->cur], res->schema_type, want);
		finish(s, -EPERM);
		return;
	}
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
		note_error(s, REGISTRY_E_NOT_FOUND);
		snprintf(s->why, sizeof(s->why),
			 "subject %s does not hold our schema: register it ahead of the deploy (torghutd --register-schemas) or set schema.registry.auto-register=true",
			 s->subject[s->cur]);
		finish(s, -ENOENT);
		return;
	}
	registry_check(s->reg, s->subject[s->cur], defs[s->cur].type, s->text[s->cur], on_checked, s);
}

static void step(struct schemas *s)
{
	while (s->cur < SCHEMAS_COUNT && !s->subject[s->cur])
		s->cur++; /* not this role's */
	if (s->cur >= SCHEMAS_COUNT) {
		finish(s, 0);
		return;
	}
	registry_lookup(s->reg, s->subject[s->cur], defs[s->cur].type, s->text[s->cur], on_lookup, s);
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

enum schemas_state schemas_state(const struct schemas *s)
{
	return s->state;
}

const char *schemas_error_class(const struct schemas *s)
{
	return s->last_class;
}

uint64_t schemas_errors(const struct schemas *s, enum registry_err e)
{
	return (unsigned)e < SCHEMAS_ERR_COUNT ? s->errors[e] : 0;
}

json_t *schemas_status_json(const struct schemas *s)
{
	json_t *ids = json_object();
	for (int i = 0; i < SCHEMAS_COUNT; i++)
		if (s->subject[i])
			json_object_set_new(ids, s->subject[i], s->id[i] >= 0 ? json_integer(s->id[i]) : json_null());
	json_t *errors = json_object();
	for (int e = REGISTRY_OK + 1; e < SCHEMAS_ERR_COUNT; e++)
		if (s->errors[e])
			json_object_set_new(errors, registry_err_class((enum registry_err)e), json_integer((json_int_t)s->errors[e]));
	return json_pack("{s:s,s:s?,s:o,s:o}", "state",
			 s->state == SCHEMAS_READY ? "ready" : s->state == SCHEMAS_FAILED ? "failed" : "resolving",
			 "error_class", s->last_class, "subjects", ids, "errors", errors);
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
