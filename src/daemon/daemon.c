/* daemon.c - start-up order, signals, watchdog, reload and drain. */
#include "config.h"

#include "daemon/daemon_int.h"
#include "daemon/checkpoints.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
	return (int64_t)uv_hrtime();
}

/* ---------------------------------------------------------------- reload */

static void reload_work(uv_work_t *w)
{
	struct daemon *d = w->data;
	const struct daemon_args *a = d->args;
	const char *path = d->conf->path;

	d->reload_next = NULL;
	d->reload_rc = conf_load(path, a->sets, a->nsets, d->credentials_dir, &d->reload_next, &d->reload_err);
}

static void on_reload_switched(void *arg, int status, uint64_t id, const char *detail)
{
	struct daemon *d = arg;
	if (status < 0)
		log_error(d->log, LOG_SUB_CONF, "reload: %s", detail);
}

static void reload_done(uv_work_t *w, int status)
{
	struct daemon *d = w->data;
	struct ctl_call *call = d->reload_call;
	char why[1024], changed[1024];

	d->reloading = false;
	d->reload_call = NULL;
	if (d->state == DAEMON_DRAINING) { /* too late to matter */
		if (call)
			ctl_call_fail(call, "the daemon is draining");
		conf_free(d->reload_next);
		d->reload_next = NULL;
		conf_errors_fini(&d->reload_err);
		return;
	}
	notify_status(&d->notify, "running");
	if (status < 0 || d->reload_rc < 0) {
		d->reload_failures++;
		const char *e = d->reload_err.text ? d->reload_err.text : "cancelled";
		log_error(d->log, LOG_SUB_CONF, "reload refused, keeping the running configuration:\n%s", e);
		if (call)
			ctl_call_fail(call, "reload refused: %s", e);
		conf_errors_fini(&d->reload_err);
		return;
	}
	if (conf_diff_live(d->conf, d->reload_next, why, sizeof(why), changed, sizeof(changed)) < 0) {
		d->reload_failures++;
		log_error(d->log, LOG_SUB_CONF, "reload refused: %s cannot change while running; restart torghutd to apply", why);
		if (call)
			ctl_call_fail(call, "reload refused: %s cannot change while running; restart torghutd to apply", why);
		conf_free(d->reload_next);
		d->reload_next = NULL;
		return;
	}
	/* Live keys (conf.c F_LIVE): the log level, and the symbols, handed to
	 * the session (unsubscribe removed ones first, then subscribe). */
	struct conf *old = d->conf;
	struct conf **r = realloc(d->retired, (d->nretired + 1) * sizeof(*r));
	if (!r) {
		d->reload_failures++;
		if (call)
			ctl_call_fail(call, "reload refused: out of memory");
		conf_free(d->reload_next);
		d->reload_next = NULL;
		return;
	}
	d->retired = r;
	d->retired[d->nretired++] = old;
	d->conf = d->reload_next;
	d->reload_next = NULL;
	d->log->level = (enum log_level)d->conf->log_level;
	if (d->in && strstr(changed, "alpaca.symbols"))
		ingest_apply_conf_symbols(d->in, d->conf);
	/* profile and execution.buffer-timeout: the producer is replaced at the
	 * next checkpoint boundary (as `torghutctl profile`). */
	const char *producer = NULL;
	if (d->cp && (strstr(changed, "profile") || strstr(changed, "execution.buffer-timeout"))) {
		int linger = strstr(changed, "execution.buffer-timeout") ? (int)((d->conf->buffer_timeout + 999999) / 1000000) : -1;
		int rc = checkpoints_switch_profile(d->cp, d->conf->profile, linger, on_reload_switched, d);
		producer = rc == 0 ? "replaced at the next checkpoint boundary"
			   : rc == -EALREADY ? "unchanged" : rc == -EOPNOTSUPP ? "not replaced: embedded Kafka (restart to apply)"
			   : "not replaced now (a switch is pending or the daemon is starting): restart to apply";
		log_info(d->log, LOG_SUB_CONF, "Kafka producer %s", producer);
	}
	d->reloads++;
	log_info(d->log, LOG_SUB_CONF, "configuration reloaded (%s)", changed[0] ? changed : "no changes");
	if (call)
		ctl_call_reply(call, json_pack("{s:s,s:s?}", "changed", changed, "producer", producer));
}

void daemon_reload(struct daemon *d, struct ctl_call *call)
{
	if (d->state == DAEMON_DRAINING) {
		if (call)
			ctl_call_fail(call, "the daemon is draining");
		return;
	}
	if (d->reloading) {
		if (call)
			ctl_call_fail(call, "a reload is already in progress");
		return;
	}
	d->reloading = true;
	d->reload_call = call;
	d->reload_work.data = d;
	notify_reloading(&d->notify);
	log_info(d->log, LOG_SUB_CONF, "reloading %s", d->conf->path ? d->conf->path : "(defaults)");
	/* Parsing reads files: never on the loop thread. */
	int rc = uv_queue_work(&d->loop, &d->reload_work, reload_work, reload_done);
	if (rc < 0) {
		d->reloading = false;
		d->reload_call = NULL;
		if (call)
			ctl_call_fail(call, "cannot start the reload: %s", uv_strerror(rc));
	}
}

/* ---------------------------------------------------------------- drain */

static void ctl_closed(void *arg)
{
	struct daemon *d = arg;
	d->ctl = NULL;
	log_info(d->log, LOG_SUB_CORE, "drained");
}

static void obs_closed(void *arg)
{
	struct daemon *d = arg;
	if (d->ctl)
		ctl_server_close(d->ctl, ctl_closed, d);
}

/* Last: the HTTP endpoint, then the control socket. */
static void drain_close_ctl(struct daemon *d)
{
	if (d->obs)
		observe_close(d->obs, obs_closed, d);
	else
		obs_closed(d);
}

static void outputs_closed(void *arg);

static void drain_outputs(struct daemon *d);

static void schemas_closed(void *arg)
{
	struct daemon *d = arg;
	d->schemas = NULL;
	drain_outputs(d);
}

static void checkpoints_closed(void *arg)
{
	struct daemon *d = arg;
	d->cp = NULL;
	drain_outputs(d);
}

static void drain_outputs(struct daemon *d)
{
	if (d->schemas) {
		schemas_close(d->schemas, schemas_closed, d);
		return;
	}
	if (d->cp) {
		checkpoints_close(d->cp, checkpoints_closed, d);
		return;
	}
	if (d->out)
		outputs_close(d->out, outputs_closed, d);
	else
		drain_close_ctl(d);
}

static void ta_closed(void *arg)
{
	struct daemon *d = arg;
	d->ta = NULL;
	drain_outputs(d);
}

/* After the source stops: the TA engine's last records, then Kafka. */
static void drain_ta(struct daemon *d)
{
	if (d->ta)
		analytics_close(d->ta, ta_closed, d);
	else
		drain_outputs(d);
}

static void ingest_closed(void *arg)
{
	struct daemon *d = arg;
	d->in = NULL;
	log_info(d->log, LOG_SUB_ALPACA, "Alpaca session closed");
	drain_ta(d);
}

static void outputs_closed(void *arg)
{
	struct daemon *d = arg;
	d->out = NULL;
	log_info(d->log, LOG_SUB_KAFKA, "Kafka closed");
	drain_close_ctl(d);
}

static void src_closed(void *arg)
{
	struct daemon *d = arg;
	d->src = NULL;
	log_info(d->log, LOG_SUB_TA, "input consumer closed");
	drain_ta(d);
}

static void drain_sources(void *arg)
{
	struct daemon *d = arg;
	if (d->in)
		ingest_close(d->in, ingest_closed, d); /* then TA, Kafka, the control socket */
	else if (d->src)
		tasource_close(d->src, src_closed, d);
	else
		drain_ta(d);
}

/* The steps in order: the final checkpoint (open bars stay open: they are
 * in it), the Alpaca session, the TA engine, Kafka (exactly-once: what came
 * after the final checkpoint is not committed; a restart reports it as a
 * gap), the HTTP endpoint, the control socket. Each step hands over to the
 * next from its completion callback; the control socket closes last so
 * `torghutctl status` answers during the drain. */
void daemon_drain(struct daemon *d, const char *why)
{
	if (d->state == DAEMON_DRAINING)
		return;
	d->state = DAEMON_DRAINING;
	log_info(d->log, LOG_SUB_CORE, "draining (%s)", why);
	notify_stopping(&d->notify);
	notify_status(&d->notify, "draining (%s)", why);
	uv_signal_stop(&d->sig_term);
	uv_signal_stop(&d->sig_int);
	uv_signal_stop(&d->sig_hup);
	uv_timer_stop(&d->watchdog);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	if (d->out && d->cp)
		outputs_discard_on_close(d->out); /* only checkpointed outputs commit */
	if (d->cp)
		checkpoints_final(d->cp, drain_sources, d);
	else
		drain_sources(d);
}

/* ---------------------------------------------------------------- signals */

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (signum == SIGHUP)
		daemon_reload(d, NULL);
	else
		daemon_drain(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watchdog(uv_timer_t *t)
{
	struct daemon *d = t->data;
	/* Pinged from the loop itself: a stalled loop stops the pings and
	 * systemd kills us, which is the point. */
	notify_watchdog(&d->notify);
}

/* ---------------------------------------------------------------- outputs */

static void go_ready(struct daemon *d)
{
	d->state = DAEMON_RUNNING;
	notify_ready(&d->notify);
	notify_status(&d->notify, "running, profile %s, role %s", conf_profile_name(d->conf->profile),
		      conf_role_name(d->conf->role));
	log_info(d->log, LOG_SUB_CORE, "torghutd %s running (profile %s, role %s)", PACKAGE_VERSION,
		 conf_profile_name(d->conf->profile), conf_role_name(d->conf->role));
	checkpoints_start(d->cp);
	/* A first checkpoint before any data: a crash before the first
	 * interval ends still leaves a trace, so the next start knows it
	 * resumes (and reports the loss) rather than starting afresh. */
	checkpoints_take(d->cp, false, NULL, NULL, NULL);
	if (d->ta)
		analytics_start(d->ta);
	if (d->in && ingest_start(d->in) < 0)
		log_error(d->log, LOG_SUB_ALPACA, "the Alpaca session did not start");
	if (d->src && tasource_start(d->src) < 0)
		log_error(d->log, LOG_SUB_TA, "the input consumer did not start");
}

static void on_ingest_fatal(void *arg, int code, const char *msg)
{
	/* No retry loop (402, 409, ...): the daemon keeps serving status and
	 * Kafka; the alpaca_ws gate stays off until the operator fixes it. */
	struct daemon *d = arg;
	notify_status(&d->notify, "Alpaca refused the session (%d): %s", code, msg);
}

static void on_ingest_event(void *arg, const struct event *ev)
{
	struct daemon *d = arg;
	if (d->ta)
		analytics_on_event(d->ta, ev);
}

static void on_src_fatal(void *arg, const char *why)
{
	struct daemon *d = arg;
	d->exit_code = DAEMON_EXIT_DEPENDENCY;
	daemon_drain(d, "the input consumer failed");
}

/* role=ta: the raw topics in. */
static int setup_tasource(struct daemon *d, char *err, size_t errlen)
{
	if (d->conf->role != CONF_ROLE_TA)
		return 0;
	struct tasource_hooks h = {.on_event = on_ingest_event, .on_fatal = on_src_fatal, .arg = d};
	return tasource_new(&d->loop, d->conf, d->log, d->out, &h, &d->src, err, errlen);
}

/* The Alpaca source, unless this role has none or it is not configured. */
static int setup_ingest(struct daemon *d, char *err, size_t errlen)
{
	const struct conf *c = d->conf;
	if (c->role == CONF_ROLE_TA) {
		d->ingest_off = "role=ta reads the raw topics, not Alpaca";
		return 0;
	}
	if (c->alpaca_symbol_count == 0) {
		d->ingest_off = "alpaca.symbols is empty";
	} else if (c->alpaca_auth == CONF_AUTH_MESSAGE && !c->alpaca_key.value) {
		d->ingest_off = "no Alpaca credentials (alpaca.key.file, alpaca.secret.file)";
	}
	if (d->ingest_off) {
		log_error(d->log, LOG_SUB_ALPACA, "not connecting to Alpaca: %s", d->ingest_off);
		return 0;
	}
	struct ingest_hooks h = {.on_fatal = on_ingest_fatal, .on_event = on_ingest_event, .arg = d};
	return ingest_new(&d->loop, c, d->log, d->out, &h, &d->in, err, errlen);
}

static void gate_done(struct daemon *d)
{
	if (--d->start_gates == 0)
		go_ready(d);
}

static void on_restored(void *arg, int status, const char *why)
{
	struct daemon *d = arg;
	if (d->state == DAEMON_DRAINING)
		return;
	if (status < 0) {
		log_error(d->log, LOG_SUB_STATE, "cannot restore the state: %s", why ? why : strerror(-status));
		d->exit_code = DAEMON_EXIT_DEPENDENCY;
		daemon_drain(d, "a dependency failed at start-up");
		return;
	}
	gate_done(d);
}

static void on_outputs_ready(void *arg, int status, const char *why)
{
	struct daemon *d = arg;
	if (d->state == DAEMON_DRAINING)
		return;
	if (status < 0) {
		log_error(d->log, LOG_SUB_KAFKA, "Kafka is not ready: %s", why ? why : strerror(-status));
		d->exit_code = DAEMON_EXIT_DEPENDENCY;
		daemon_drain(d, "a dependency failed at start-up");
		return;
	}
	/* Kafka first: in exactly-once, init_transactions has fenced any
	 * predecessor, so its last transaction is decided before we ask
	 * which checkpoint committed. */
	int64_t left = d->conf->startup_timeout / 1000000 - (int64_t)((uv_hrtime() - d->start_mono_ns) / 1000000);
	checkpoints_restore(d->cp, left > 1000 ? left : 1000, on_restored, d);
}

static void on_schemas_ready(void *arg, int status, const char *why)
{
	struct daemon *d = arg;
	if (d->state == DAEMON_DRAINING)
		return;
	if (status < 0) {
		log_error(d->log, LOG_SUB_KAFKA, "schema registry: %s", why);
		d->exit_code = DAEMON_EXIT_DEPENDENCY;
		daemon_drain(d, "a dependency failed at start-up");
		return;
	}
	if (d->args->register_schemas) {
		log_info(d->log, LOG_SUB_KAFKA, "every subject holds our schema");
		daemon_drain(d, "--register-schemas done");
		return;
	}
	if (d->ta)
		analytics_set_schema_ids(d->ta, schemas_id(d->schemas, SCHEMAS_BARS),
					 schemas_id(d->schemas, SCHEMAS_SIGNALS), schemas_id(d->schemas, SCHEMAS_STATUS));
	gate_done(d);
}

/* The registry gate: every subject resolved before any record is produced. */
static int setup_schemas(struct daemon *d, char *err, size_t errlen)
{
	const struct conf *c = d->conf;
	if (!c->registry_url) {
		if (d->args->register_schemas) {
			snprintf(err, errlen, "--register-schemas needs schema.registry.url");
			return -EINVAL;
		}
		return 0;
	}
	/* the subjects of this role: TA (Avro), ingest (JSON Schema) or both */
	int rc = schemas_new(&d->loop, c, d->log, &d->schemas, err, errlen);
	if (rc < 0)
		return rc;
	d->start_gates++;
	return schemas_resolve(d->schemas, d->args->register_schemas, c->startup_timeout / 1000000, on_schemas_ready, d);
}

static void on_outputs_aborted(void *arg, const char *why)
{
	struct daemon *d = arg;
	log_error(d->log, LOG_SUB_KAFKA, "transaction aborted (%s): its records are not committed", why);
	if (d->cp)
		checkpoints_on_aborted(d->cp, why);
}

/* ---------------------------------------------------------------- state */

/* The checkpoint's view of the state: ingest (dedup, seq, channel times)
 * then the TA engine, held still from begin to end. */
static ssize_t cp_save_begin(void *arg)
{
	struct daemon *d = arg;
	ssize_t n = 0, m = 0;
	if (d->in)
		ingest_hold(d->in, true);
	if (d->src)
		tasource_hold(d->src, true);
	if (d->ta)
		analytics_hold(d->ta, true);
	if (d->in && (m = ingest_state_save_begin(d->in)) < 0)
		return m;
	n += d->in ? m : 0;
	if (d->src && (m = tasource_state_save_begin(d->src)) < 0)
		return m;
	n += d->src ? m : 0;
	if (d->ta && (m = analytics_state_save_begin(d->ta)) < 0)
		return m;
	return n + (d->ta ? m : 0);
}

static int cp_save_reserve(void *arg, struct snapshot_writer *w)
{
	struct daemon *d = arg;
	int rc = 0;
	if (d->in && (rc = ingest_state_save_reserve(d->in, w)) < 0)
		return rc;
	if (d->src && (rc = tasource_state_save_reserve(d->src, w)) < 0)
		return rc;
	if (d->ta && (rc = analytics_state_save_reserve(d->ta, w)) < 0)
		return rc;
	return 0;
}

static int cp_save_step(void *arg, struct snapshot_writer *w, size_t budget)
{
	struct daemon *d = arg;
	if ((d->in || d->src) && !d->in_saved) {
		int rc = d->in ? ingest_state_save_step(d->in, w, budget) : tasource_state_save_step(d->src, w, budget);
		if (rc <= 0)
			return rc;
		d->in_saved = true; /* until save_end: the TA engine's steps follow */
		return d->ta ? 0 : 1;
	}
	return d->ta ? analytics_state_save_step(d->ta, w, budget) : 1;
}

static void cp_save_end(void *arg)
{
	struct daemon *d = arg;
	d->in_saved = false;
	if (d->ta)
		analytics_hold(d->ta, false);
	if (d->in)
		ingest_hold(d->in, false);
	if (d->src)
		tasource_hold(d->src, false);
}

static int cp_load(void *arg, const struct snapshot *snap, uint64_t id, const char *why)
{
	struct daemon *d = arg;
	int rc = 0;
	if (d->in && (rc = ingest_state_load(d->in, snap, id, why)) < 0)
		return rc;
	if (d->src && (rc = tasource_state_load(d->src, snap)) < 0)
		return rc;
	if (d->ta && (rc = analytics_state_load(d->ta, snap)) < 0)
		return rc;
	return 0;
}

static ssize_t cp_marker(void *arg, uint64_t id, const char *detail, char *buf, size_t cap, const char **key)
{
	struct daemon *d = arg;
	if (d->src) {
		*key = tasource_key(d->src);
		return tasource_marker(d->src, id, detail, buf, cap);
	}
	if (!d->in)
		return -ENOENT;
	*key = ingest_feed(d->in);
	return ingest_marker(d->in, id, detail, buf, cap);
}

static void cp_completed(void *arg, uint64_t id)
{
	struct daemon *d = arg;
	if (d->src)
		tasource_checkpointed(d->src);
}

static const char *cp_marker_key(void *arg)
{
	struct daemon *d = arg;
	return d->src ? tasource_key(d->src) : d->in ? ingest_feed(d->in) : NULL;
}

static void cp_fatal(void *arg, const char *why)
{
	struct daemon *d = arg;
	log_error(d->log, LOG_SUB_STATE, "%s: stopping for a restart", why);
	d->exit_code = DAEMON_EXIT_DEPENDENCY;
	daemon_drain(d, "unrecoverable checkpoint error");
}

static void on_outputs_fatal(void *arg, const char *why)
{
	struct daemon *d = arg;
	log_error(d->log, LOG_SUB_KAFKA, "Kafka is unrecoverable (%s): stopping for a restart", why);
	d->exit_code = DAEMON_EXIT_DEPENDENCY;
	daemon_drain(d, "Kafka fatal error");
}

/* ---------------------------------------------------------------- run */

static int mkdir_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* mkdir -p: each missing level, 0750 */
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0750) < 0 && errno != EEXIST)
				return -errno;
			if ((*p = c) == '\0')
				break;
		}
	}
	return 0;
}

static void walk_report(uv_handle_t *h, void *arg)
{
	struct daemon *d = arg;
	if (!uv_is_closing(h))
		log_error(d->log, LOG_SUB_CORE, "handle of type %s still open at exit", uv_handle_type_name(h->type));
}

int daemon_run(const struct daemon_args *a, struct conf *conf, struct log *log)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[512];
	int rc, code;

	if (!d) {
		conf_free(conf);
		return DAEMON_EXIT_DEPENDENCY;
	}
	d->magic = DAEMON_MAGIC;
	d->log = log;
	d->conf = conf;
	d->args = a;
	d->credentials_dir = getenv("CREDENTIALS_DIRECTORY");
	d->start_mono_ns = mono_ns();
	log->level = (enum log_level)conf->log_level;
	notify_init(&d->notify);
	uv_loop_init(&d->loop);

	/* 1. signals: a SIGTERM during start-up still drains cleanly */
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	signal(SIGPIPE, SIG_IGN);

	/* 2. watchdog timer, only when systemd asked for one */
	uv_timer_init(&d->loop, &d->watchdog);
	d->watchdog.data = d;
	if (d->notify.watchdog_usec) {
		uint64_t every_ms = d->notify.watchdog_usec / 2000;
		uv_timer_start(&d->watchdog, on_watchdog, 0, every_ms ? every_ms : 1);
	}

	/* --register-schemas: only the registry step, then exit */
	if (a->register_schemas) {
		d->start_gates = 1; /* never reached zero: the schemas callback drains */
		if ((rc = setup_schemas(d, err, sizeof(err))) < 0) {
			d->schemas = NULL;
			log_error(log, LOG_SUB_KAFKA, "%s", err);
			code = rc == -EINVAL ? DAEMON_EXIT_CONFIG : DAEMON_EXIT_DEPENDENCY;
			goto fail;
		}
		uv_run(&d->loop, UV_RUN_DEFAULT);
		code = d->exit_code;
		goto out;
	}

	/* 3. control socket */
	if ((rc = mkdir_parent(conf->control_socket)) < 0) {
		log_error(log, LOG_SUB_CTL, "cannot create the directory of %s: %s", conf->control_socket, strerror(-rc));
		code = DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}
	struct ctl_server_opts co = {.path = conf->control_socket,
				     .commands = daemon_commands,
				     .ncommands = daemon_ncommands,
				     .arg = d,
				     .daemon_uid = geteuid()};
	if ((rc = ctl_server_new(&d->loop, &co, &d->ctl, err, sizeof(err))) < 0) {
		d->ctl = NULL;
		log_error(log, LOG_SUB_CTL, "control socket: %s", err);
		code = DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}
	log_info(log, LOG_SUB_CTL, "control socket at %s", conf->control_socket);

	/* 3b. metrics and the HTTP endpoint */
	if ((rc = observe_new(d, err, sizeof(err))) < 0) {
		log_error(log, LOG_SUB_HTTP, "http.listen %s: %s", conf->http_listen, rc == -EINVAL ? err : uv_strerror(rc));
		code = rc == -EINVAL ? DAEMON_EXIT_CONFIG : DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}
	log_info(log, LOG_SUB_HTTP, "metrics and health on http://%s (port %d)", conf->http_listen, observe_port(d->obs));

	if (strcmp(conf->kafka_bootstrap, "embedded") == 0)
		log_warn(log, LOG_SUB_KAFKA, "kafka.bootstrap.servers=embedded: the in-process Kafka is for demos and tests and is NOT durable");

	/* 4. Kafka: the producer and every topic, before READY=1 */
	d->start_gates = 1;
	struct outputs_hooks oh = {.ready = on_outputs_ready, .aborted = on_outputs_aborted,
				   .fatal = on_outputs_fatal, .arg = d};
	if ((rc = outputs_new(&d->loop, conf, log, &oh, &d->out, err, sizeof(err))) < 0 ||
	    (rc = outputs_start(d->out, conf->startup_timeout / 1000000)) < 0) {
		log_error(log, LOG_SUB_KAFKA, "cannot start the Kafka producer: %s", rc == -EINVAL ? err : strerror(-rc));
		code = rc == -EINVAL ? DAEMON_EXIT_CONFIG : DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}
	/* 5. the TA engine (roles all and ta) */
	if (conf->role != CONF_ROLE_INGEST && (rc = analytics_new(&d->loop, conf, log, d->out, &d->ta)) < 0) {
		d->ta = NULL;
		log_error(log, LOG_SUB_TA, "cannot create the TA engine: %s", strerror(-rc));
		code = DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}
	if ((rc = setup_tasource(d, err, sizeof(err))) < 0) {
		d->src = NULL;
		log_error(log, LOG_SUB_TA, "role=ta input: %s", err);
		code = DAEMON_EXIT_CONFIG;
		goto fail;
	}

	/* 5b. the checkpoint store and coordinator (restores once Kafka is up) */
	struct checkpoints_hooks ch = {.save_begin = cp_save_begin, .save_reserve = cp_save_reserve,
				       .save_step = cp_save_step, .save_end = cp_save_end, .load = cp_load, .marker = cp_marker,
				       .marker_key = cp_marker_key, .completed = cp_completed, .fatal = cp_fatal,
				       .arg = d};
	if ((rc = checkpoints_new(&d->loop, conf, log, d->out, &ch, &d->cp, err, sizeof(err))) < 0) {
		d->cp = NULL;
		log_error(log, LOG_SUB_STATE, "%s", err);
		code = rc == -EINVAL ? DAEMON_EXIT_CONFIG : DAEMON_EXIT_DEPENDENCY;
		goto fail;
	}

	/* 6. the schema registry gate (with schema.registry.url) */
	if ((rc = setup_schemas(d, err, sizeof(err))) < 0) {
		d->schemas = NULL;
		log_error(log, LOG_SUB_KAFKA, "%s", err);
		code = DAEMON_EXIT_CONFIG;
		goto fail;
	}

	/* 7. the Alpaca source: created now so its configuration problems stop
	 * start-up, started once Kafka is ready */
	if ((rc = setup_ingest(d, err, sizeof(err))) < 0) {
		d->in = NULL;
		log_error(log, LOG_SUB_ALPACA, "%s", err);
		code = DAEMON_EXIT_CONFIG;
		goto fail;
	}
	observe_attach(d->obs);
	notify_status(&d->notify, "starting: waiting for Kafka");

	uv_run(&d->loop, UV_RUN_DEFAULT);
	code = d->exit_code;
	goto out;

fail:
	daemon_drain(d, "start-up failed");
	uv_run(&d->loop, UV_RUN_DEFAULT);
out:
	if (uv_loop_close(&d->loop) == UV_EBUSY) {
		uv_walk(&d->loop, walk_report, d);
		if (code == 0)
			code = DAEMON_EXIT_DEPENDENCY;
	}
	if (d->reload_next)
		conf_free(d->reload_next);
	conf_errors_fini(&d->reload_err);
	conf_free(d->conf);
	for (size_t i = 0; i < d->nretired; i++)
		conf_free(d->retired[i]);
	free(d->retired);
	d->magic = 0;
	free(d);
	return code;
}
