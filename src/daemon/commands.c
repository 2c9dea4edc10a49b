/* commands.c - the control commands torghutd answers. */
#include "config.h"

#include "daemon/daemon_int.h"
#include "daemon/checkpoints.h"

#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "core/conf_parse.h"
#include "daemon/testhooks.h"
#include <unistd.h>

static struct daemon *daemon_of(void *arg)
{
	struct daemon *d = arg;
	if (!d || d->magic != DAEMON_MAGIC)
		abort(); /* a corrupted callback argument: nothing safe to do */
	return d;
}

static const char *state_name(enum daemon_state s)
{
	return s == DAEMON_RUNNING ? "running" : s == DAEMON_DRAINING ? "draining" : "starting";
}

static void cmd_status(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	const struct conf *c = d->conf;
	struct ctl_server_stats cs = {0};
	json_t *warnings = json_array();

	if (d->ctl)
		ctl_server_stats(d->ctl, &cs);
	if (strcmp(c->kafka_bootstrap, "embedded") == 0)
		json_array_append_new(warnings, json_string("kafka.bootstrap.servers=embedded: the in-process Kafka is not durable"));

	struct outputs_stats os = {0};
	if (d->out)
		outputs_stats(d->out, &os);
	json_t *topics = json_object();
	static const char *const tname[OUT_TOPIC_COUNT] = {"trades", "quotes", "bars", "status", "ta.bars", "ta.signals", "ta.status", "ta.late"};
	for (int t = 0; d->out && t < OUT_TOPIC_COUNT; t++) {
		if (!outputs_topic_enabled(d->out, (enum outputs_topic)t))
			continue;
		json_object_set_new(topics, tname[t], json_pack("{s:I,s:I,s:I,s:I,s:I}",
			"produced", (json_int_t)os.topic[t].produced, "delivered", (json_int_t)os.topic[t].delivered,
			"failed", (json_int_t)os.topic[t].failed, "refused", (json_int_t)os.topic[t].refused,
			"rejected", (json_int_t)os.topic[t].rejected));
	}
	json_t *kafka = json_pack("{s:s,s:s,s:b,s:b,s:s?,s:I,s:I,s:I,s:I,s:o}",
		"state", !d->out ? "closed" : os.ready ? "ready" : "starting",
		"bootstrap", d->out ? outputs_bootstrap(d->out) : c->kafka_bootstrap,
		"embedded", d->out ? outputs_embedded(d->out) : 0,
		"gate", os.gate,
		"error_class", os.error_class,
		"commits", (json_int_t)os.commits, "commit_failures", (json_int_t)os.commit_failures,
		"aborts", (json_int_t)os.aborts, "gap_records", (json_int_t)os.gap_records,
		"topics", topics);
	json_t *subs = json_pack("{s:{s:s,s:s,s:I,s:I,s:I,s:i}, s:{s:s,s:I,s:I}}",
		"ctl", "state", d->ctl ? "listening" : "closed", "socket", c->control_socket,
			"accepted", (json_int_t)cs.accepted, "refused", (json_int_t)cs.refused,
			"requests", (json_int_t)cs.requests, "clients", (int)cs.clients,
		"conf", "state", d->reloading ? "reloading" : "loaded", "reloads", (json_int_t)d->reloads,
			"reload_failures", (json_int_t)d->reload_failures);
	json_object_set_new(subs, "kafka", kafka);
	if (d->obs)
		json_object_set_new(subs, "http", json_pack("{s:s,s:i}", "listen", c->http_listen, "port", observe_port(d->obs)));
	if (d->ta)
		json_object_set_new(subs, "ta", analytics_status_json(d->ta));
	if (d->schemas)
		json_object_set_new(subs, "schema_registry", schemas_status_json(d->schemas));
	if (d->cp)
		json_object_set_new(subs, "checkpoints", checkpoints_status_json(d->cp));
	if (d->src)
		json_object_set_new(subs, "input", tasource_status_json(d->src));
	if (d->in)
		json_object_set_new(subs, "alpaca", ingest_status_json(d->in));
	else
		json_object_set_new(subs, "alpaca", json_pack("{s:s,s:s}", "state", "off", "reason",
			d->ingest_off ? d->ingest_off : "not started"));
	json_t *r = json_pack("{s:s,s:I,s:f,s:s,s:s,s:s,s:s,s:s?,s:o,s:o,s:{s:b,s:I}}",
		"version", PACKAGE_VERSION,
		"pid", (json_int_t)getpid(),
		"uptime_s", (double)((int64_t)uv_hrtime() - d->start_mono_ns) / 1e9,
		"state", state_name(d->state),
		"profile", d->out ? (outputs_exactly_once(d->out) ? "exactly-once" : "low-latency") : conf_profile_name(c->profile),
		"role", conf_role_name(c->role),
		"log_level", log_level_name(d->log->level),
		"config", c->path,
		"subsystems", subs,
		"warnings", warnings,
		"systemd", "notify", d->notify.enabled, "watchdog_usec", (json_int_t)d->notify.watchdog_usec);
	ctl_call_reply(call, r);
}

static void cmd_log_level(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	json_t *lv = json_object_get(req, "level");
	enum log_level prev = d->log->level, next;

	if (!lv) {
		ctl_call_reply(call, json_pack("{s:s}", "level", log_level_name(prev)));
		return;
	}
	if (!json_is_string(lv) || log_level_parse(json_string_value(lv), &next) < 0) {
		ctl_call_fail(call, "\"level\" must be one of error, warn, info, debug");
		return;
	}
	d->log->level = next;
	log_info(d->log, LOG_SUB_CTL, "log level %s -> %s", log_level_name(prev), log_level_name(next));
	ctl_call_reply(call, json_pack("{s:s,s:s}", "level", log_level_name(next), "previous", log_level_name(prev)));
}

static void cmd_reload(void *arg, struct ctl_call *call, json_t *req)
{
	daemon_reload(daemon_of(arg), call);
}

static void cmd_drain(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	/* Answer first: the drain closes the control socket last, after the
	 * reply has been written. */
	ctl_call_reply(call, json_pack("{s:b}", "draining", 1));
	daemon_drain(d, "drain command");
}

static void cmd_metrics(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	if (!d->obs) {
		ctl_call_fail(call, "metrics are not available while draining");
		return;
	}
	ctl_call_reply(call, json_pack("{s:o}", "metrics", observe_metrics_json(d->obs)));
}

static void cmd_market(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	json_t *lim = json_object_get(req, "limit");
	size_t limit = json_is_integer(lim) && json_integer_value(lim) > 0 ? (size_t)json_integer_value(lim) : 500;
	if (!d->ta) {
		ctl_call_fail(call, "no TA engine in this role");
		return;
	}
	ctl_call_reply(call, json_pack("{s:o}", "symbols", analytics_market_json(d->ta, limit)));
}

static void cmd_symbols(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	if (!d->in) {
		ctl_call_fail(call, "no Alpaca source: %s", d->ingest_off ? d->ingest_off : "not started");
		return;
	}
	ctl_call_reply(call, json_pack("{s:o}", "channels", ingest_symbols_json(d->in)));
}

static void sub_done(void *arg, int result, const char *detail)
{
	struct ctl_call *call = arg;
	if (result == 0)
		ctl_call_reply(call, json_pack("{s:s}", "result", "confirmed by the server"));
	else if (result == -ENOTCONN)
		ctl_call_reply(call, json_pack("{s:s}", "result", "not connected: applied on the next connection"));
	else if (result > 0) /* Alpaca refused it: 400, 405 (symbol limit), 410, 413 */
		ctl_call_fail(call, "Alpaca refused the change (%d): %s", result, detail ? detail : "");
	else
		ctl_call_fail(call, "subscription change not confirmed: %s", detail ? detail : strerror(-result));
}

static void change_symbols(struct daemon *d, struct ctl_call *call, json_t *req, bool add)
{
	json_t *a = json_object_get(req, "symbols"), *v;
	const char *syms[256];
	size_t n = 0, i;
	char err[256];

	if (!d->in) {
		ctl_call_fail(call, "no Alpaca source: %s", d->ingest_off ? d->ingest_off : "not started");
		return;
	}
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 256) {
		ctl_call_fail(call, "\"symbols\" must be an array of 1 to 256 symbols");
		return;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !conf_symbol_valid(json_string_value(v), json_string_length(v))) {
			ctl_call_fail(call, "invalid symbol at index %zu (upper-case letters, digits, . / -)", i);
			return;
		}
		syms[n++] = json_string_value(v);
	}
	if (ingest_change_symbols(d->in, syms, n, add, sub_done, call, err, sizeof(err)) < 0)
		ctl_call_fail(call, "%s", err);
}

static void cmd_subscribe(void *arg, struct ctl_call *call, json_t *req)
{
	change_symbols(daemon_of(arg), call, req, true);
}

static void cmd_unsubscribe(void *arg, struct ctl_call *call, json_t *req)
{
	change_symbols(daemon_of(arg), call, req, false);
}

static void on_checkpoint_done(void *arg, int status, uint64_t id, const char *detail)
{
	struct ctl_call *call = arg;
	if (status < 0)
		ctl_call_fail(call, "%s", detail ? detail : strerror(-status));
	else
		ctl_call_reply(call, json_pack("{s:I,s:s}", "id", (json_int_t)id, "detail", detail ? detail : ""));
}

static void take(struct daemon *d, struct ctl_call *call, bool savepoint, const char *dir)
{
	int rc = d->cp && d->state == DAEMON_RUNNING ? checkpoints_take(d->cp, savepoint, dir, on_checkpoint_done, call)
						      : -EAGAIN;
	if (rc == -EBUSY)
		ctl_call_fail(call, "a checkpoint is being taken: try again when it is done");
	else if (rc == -EAGAIN)
		ctl_call_fail(call, "not running (%s)", state_name(d->state));
	else if (rc < 0)
		ctl_call_fail(call, "cannot take a checkpoint: %s", strerror(-rc));
}

/* {"cmd":"checkpoint"}: answered when it is committed. */
static void cmd_checkpoint(void *arg, struct ctl_call *call, json_t *req)
{
	take(daemon_of(arg), call, false, NULL);
}

/* {"cmd":"savepoint","dir":"..."}: dir optional (under state.savepoints.dir). */
static void cmd_savepoint(void *arg, struct ctl_call *call, json_t *req)
{
	json_t *dir = json_object_get(req, "dir");
	if (dir && !json_is_string(dir)) {
		ctl_call_fail(call, "\"dir\" must be a string (a directory or s3:// URL)");
		return;
	}
	take(daemon_of(arg), call, true, dir ? json_string_value(dir) : NULL);
}

/* {"cmd":"profile"} the profile in use; {"cmd":"profile","profile":P}
 * switches at the next checkpoint boundary, answered once switched. */
static void cmd_profile(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = daemon_of(arg);
	json_t *p = json_object_get(req, "profile");
	const char *now = d->out && outputs_exactly_once(d->out) ? "exactly-once" : "low-latency";
	enum conf_profile want;
	if (!p) {
		ctl_call_reply(call, json_pack("{s:s}", "profile", now));
		return;
	}
	if (!json_is_string(p) || conf_profile_parse(json_string_value(p), &want) < 0) {
		ctl_call_fail(call, "\"profile\" must be exactly-once or low-latency");
		return;
	}
	if (ctl_call_access(call) != CTL_ACCESS_ALL) {
		ctl_call_fail(call, "switching the profile needs root or the daemon's user");
		return;
	}
	int rc = d->cp && d->state == DAEMON_RUNNING ? checkpoints_switch_profile(d->cp, want, -1, on_checkpoint_done, call)
						      : -EAGAIN;
	if (rc == -EALREADY)
		ctl_call_reply(call, json_pack("{s:s,s:s}", "profile", now, "detail", "already in this profile"));
	else if (rc == -EOPNOTSUPP)
		ctl_call_fail(call, "embedded Kafka lives in the producer and would be lost: restart with the profile instead");
	else if (rc == -EBUSY)
		ctl_call_fail(call, "a profile switch is already pending");
	else if (rc < 0)
		ctl_call_fail(call, "not running (%s)", state_name(d->state));
}

const struct ctl_command daemon_commands[] = {
	{"metrics", false, cmd_metrics},
	{"symbols", false, cmd_symbols},
	{"market", false, cmd_market},
	{"subscribe", true, cmd_subscribe},
	{"unsubscribe", true, cmd_unsubscribe},
	{"status", false, cmd_status},
	{"log-level", true, cmd_log_level},
	{"reload", true, cmd_reload},
	{"drain", true, cmd_drain},
	{"checkpoint", true, cmd_checkpoint},
	{"savepoint", true, cmd_savepoint},
	{"profile", false, cmd_profile},
	{"debug-stall", true, testhooks_cmd_stall}, /* refused unless debug.test-hooks */
};
const size_t daemon_ncommands = sizeof(daemon_commands) / sizeof(daemon_commands[0]);
