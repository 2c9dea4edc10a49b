/* observe.c - metrics, /metrics /healthz /readyz, the loop-lag probe.
 *
 * Counters owned by the modules (session, parser, Kafka, TA) are copied into
 * the registry when it is rendered, so the hot path pays only for histogram
 * records. */
#include "config.h"

#include "daemon/daemon_int.h"
#include "daemon/observe.h"
#include "core/clock.h"
#include "daemon/checkpoints.h"

#include "core/hist.h"
#include "core/looplag.h"
#include "core/metrics.h"
#include "net/http.h"
#include "source/alpaca.h"
#include "source/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const topic_label[OUT_TOPIC_COUNT] = {"trades", "quotes", "bars", "status",
							  "ta.bars", "ta.signals", "ta.status", "ta.late"};

struct observe {
	struct daemon *d;
	struct metrics *m;
	struct http_server *http;
	struct looplag *lag;
	struct hist *loop_lag, *loop_busy, *ingest_lat, *bar_to_signal, *event_to_signal, *checkpoint;
	struct hist *ack[OUT_TOPIC_COUNT];
	int closing;
	void (*closed_cb)(void *);
	void *closed_arg;
};

static void set_counter(struct metrics *m, const char *name, const char *const *labels, uint64_t v)
{
	uint64_t *c;
	if (metrics_counter(m, name, NULL, labels, &c) == 0)
		*c = v;
}

static void set_gauge(struct metrics *m, const char *name, const char *const *labels, int64_t v)
{
	int64_t *g;
	if (metrics_gauge(m, name, NULL, labels, &g) == 0)
		*g = v;
}

#define GATES 5

/* The readiness gates of upstream §3.5, after ours for the schema registry. */
static size_t gates(struct daemon *d, struct metrics_gate *g)
{
	struct outputs_stats os = {0};
	if (d->out)
		outputs_stats(d->out, &os);
	bool subscribed = false, flowing = false;
	if (d->in) {
		const struct alpaca_stats *as = ingest_alpaca_stats(d->in);
		subscribed = ingest_subscribed(d->in);
		flowing = subscribed && as->last_data &&
			  (int64_t)uv_hrtime() - as->last_data < d->conf->alpaca_idle_timeout;
	}
	/* First: until every subject resolves, the source is held back, so the
	 * registry's class is the cause to report. Open without a registry. */
	const char *rc = d->schemas ? schemas_error_class(d->schemas) : NULL;
	g[0] = (struct metrics_gate){"schema_registry", !d->schemas || schemas_state(d->schemas) == SCHEMAS_READY,
				     rc ? rc : "schema_registry_resolving"};
	if (d->src) /* role=ta: the input is the raw topics, its partitions assigned */
		subscribed = flowing = tasource_assigned(d->src);
	g[1] = (struct metrics_gate){"alpaca_ws", subscribed, d->src ? "ta_input_not_assigned" :
				     d->in ? "alpaca_ws_not_subscribed" : "alpaca_not_configured"};
	g[2] = (struct metrics_gate){"kafka", os.ready && os.gate, os.error_class ? os.error_class : "kafka_produce"};
	g[3] = (struct metrics_gate){"market_data_channels", flowing, "market_data_channel_starvation"};
	g[4] = (struct metrics_gate){"checkpoint", d->cp && checkpoints_gate(d->cp), "checkpoint_store"};
	return GATES;
}

static void collect(struct observe *o)
{
	struct daemon *d = o->d;
	struct metrics *m = o->m;
	struct metrics_gate g[GATES];
	bool ready = true;

	if (d->in) {
		const struct alpaca_stats *as = ingest_alpaca_stats(d->in);
		const struct frame_stats *fs = ingest_frame_stats(d->in);
		set_counter(m, METRICS_WS_CONNECTS, NULL, as->transports_up);
		set_counter(m, METRICS_WS_RECONNECTS, NULL, as->reconnects);
		for (int c = 1; c < ALPACA_CLASS_COUNT; c++)
			if (as->reconnects_by_class[c])
				set_counter(m, METRICS_WS_CONNECT_ERRORS,
					    METRICS_LABELS("error_class", alpaca_class_name((enum alpaca_class)c)),
					    as->reconnects_by_class[c]);
		for (int ch = 0; ch < ALPACA_CH_COUNT; ch++)
			set_counter(m, METRICS_MESSAGES_IN,
				    METRICS_LABELS("channel", alpaca_channel_name((enum alpaca_channel)ch)),
				    as->ch[ch].events);
		set_counter(m, METRICS_DEDUP_DROPS, METRICS_LABELS("channel", "all"), ingest_duplicates(d->in));
		for (int r = 0; r < FRAME_REJ_COUNT; r++)
			set_counter(m, METRICS_PARSE_REJECTS, METRICS_LABELS("reason", frame_reject_name((enum frame_reject)r)),
				    fs->by_reason[r]);
		set_counter(m, METRICS_PARSE_REJECTS, METRICS_LABELS("reason", "frame"), fs->frames_bad);
	}
	if (d->src) {
		struct tasource_stats ts;
		tasource_stats(d->src, &ts);
		set_counter(m, METRICS_TA_INPUT_RECORDS, METRICS_LABELS("outcome", "event"), ts.events);
		set_counter(m, METRICS_TA_INPUT_RECORDS, METRICS_LABELS("outcome", "duplicate"), ts.duplicates);
		set_counter(m, METRICS_TA_INPUT_RECORDS, METRICS_LABELS("outcome", "rejected"), ts.rejected);
		set_counter(m, METRICS_TA_INPUT_RECORDS, METRICS_LABELS("outcome", "skipped"), ts.skipped);
		set_gauge(m, METRICS_TA_INPUT_PARTITIONS, NULL, (int64_t)ts.assigned);
	}
	if (d->ta)
		set_counter(m, METRICS_LATE_TRADES, NULL, analytics_late_trades(d->ta));
	if (d->out) {
		struct outputs_stats os;
		outputs_stats(d->out, &os);
		for (int t = 0; t < OUT_TOPIC_COUNT; t++) {
			if (!outputs_topic_enabled(d->out, (enum outputs_topic)t))
				continue;
			set_counter(m, METRICS_KAFKA_PRODUCED, METRICS_LABELS("topic", topic_label[t]), os.topic[t].produced);
			set_counter(m, METRICS_KAFKA_PRODUCE_FAILURES, METRICS_LABELS("topic", topic_label[t]),
				    os.topic[t].failed + os.topic[t].refused + os.topic[t].rejected);
		}
		set_counter(m, METRICS_KAFKA_TXN_COMMITS, NULL, os.commits);
		set_counter(m, METRICS_KAFKA_TXN_ABORTS, NULL, os.aborts);
	}
	if (d->schemas)
		for (int e = REGISTRY_OK + 1; e < SCHEMAS_ERR_COUNT; e++)
			set_counter(m, METRICS_REGISTRY_ERRORS, METRICS_LABELS("class", registry_err_class((enum registry_err)e)),
				    schemas_errors(d->schemas, (enum registry_err)e));
	static const char *const reg_state[] = {"off", "resolving", "ready", "failed"};
	int cur = d->schemas ? 1 + (int)schemas_state(d->schemas) : 0;
	for (int i = 0; i < 4; i++)
		set_gauge(m, METRICS_REGISTRY_GATE, METRICS_LABELS("state", reg_state[i]), i == cur);
	if (d->cp) {
		struct checkpoints_stats cs;
		checkpoints_stats(d->cp, &cs);
		set_counter(m, METRICS_CHECKPOINTS, NULL, cs.completed);
		set_counter(m, METRICS_CHECKPOINT_FAILURES, NULL, cs.failed);
		int64_t *age;
		if (metrics_gauge(m, METRICS_CHECKPOINT_AGE, NULL, NULL, &age) == 0)
			*age = cs.last_done_real_ns ? (clock_real_ns() - cs.last_done_real_ns) / 1000000000
						    : (int64_t)(uv_hrtime() - (uint64_t)d->start_mono_ns) / 1000000000;
	}
	size_t n = gates(d, g);
	json_decref(metrics_readyz_json(g, n, &ready));
	set_gauge(m, METRICS_READY, NULL, ready);
	for (size_t i = 0; i < n; i++)
		set_gauge(m, METRICS_READY_GATE, METRICS_LABELS("gate", g[i].name), g[i].ok);
}

/* ------------------------------------------------------------ HTTP */

static double cp_encode_seconds(void *arg)
{
	struct observe *o = arg;
	struct checkpoints_stats cs = {0};
	if (o->d->cp)
		checkpoints_stats(o->d->cp, &cs);
	return cs.last_snapshot_ns / 1e9;
}

static double cp_step_max_seconds(void *arg)
{
	struct observe *o = arg;
	struct checkpoints_stats cs = {0};
	if (o->d->cp)
		checkpoints_stats(o->d->cp, &cs);
	return cs.last_step_max_ns / 1e9;
}

static void h_metrics(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct observe *o = arg;
	struct metrics_buf b = {0};
	collect(o);
	if (metrics_render_prometheus(o->m, &b) < 0) {
		http_response_status(resp, 500);
		metrics_buf_free(&b);
		return;
	}
	http_response_type(resp, METRICS_PROM_CONTENT_TYPE);
	http_response_adopt(resp, b.data, b.len);
}

static void h_healthz(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct observe *o = arg;
	bool up = o->d->state != DAEMON_DRAINING;
	http_response_status(resp, up ? 200 : 503);
	http_response_type(resp, "application/json");
	http_response_printf(resp, "{\"status\":\"%s\"}\n", up ? "ok" : "draining");
}

static void h_readyz(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct observe *o = arg;
	struct metrics_gate g[GATES];
	bool ready;
	json_t *body = metrics_readyz_json(g, gates(o->d, g), &ready);
	if (o->d->cp) {
		struct checkpoints_stats cs;
		checkpoints_stats(o->d->cp, &cs);
		json_object_set_new(body, "checkpoint_last_id", json_integer((json_int_t)cs.last_id));
		if (cs.last_error && *cs.last_error)
			json_object_set_new(body, "checkpoint_error", json_string(cs.last_error));
	}
	if (o->d->schemas) /* the gate's own class even when another gate fails first */
		json_object_set_new(body, "schema_registry", schemas_status_json(o->d->schemas));
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	http_response_status(resp, ready ? 200 : 503);
	http_response_type(resp, "application/json");
	if (s)
		http_response_adopt(resp, s, strlen(s));
}

static const struct http_route routes[] = {
	{"/metrics", h_metrics},
	{"/healthz", h_healthz},
	{"/readyz", h_readyz},
};

/* ------------------------------------------------------------ life cycle */

int observe_new(struct daemon *d, char *err, size_t errlen)
{
	struct observe *o = calloc(1, sizeof(*o));
	int rc;

	if (!o)
		return -ENOMEM;
	o->d = d;
	if ((rc = metrics_new(&o->m)) < 0) {
		free(o);
		return rc;
	}
	metrics_histogram(o->m, METRICS_LOOP_LAG, NULL, NULL, &o->loop_lag);
	metrics_histogram(o->m, METRICS_LOOP_BUSY, NULL, NULL, &o->loop_busy);
	metrics_histogram(o->m, METRICS_LAT_EVENT_TO_PRODUCE, NULL, METRICS_LABELS("topic", "ingest"), &o->ingest_lat);
	metrics_histogram(o->m, METRICS_LAT_BAR_TO_SIGNAL, NULL, NULL, &o->bar_to_signal);
	metrics_histogram(o->m, METRICS_LAT_EVENT_TO_SIGNAL, NULL, NULL, &o->event_to_signal);
	metrics_histogram(o->m, METRICS_CHECKPOINT_DURATION, NULL, NULL, &o->checkpoint);
	struct looplag_opts lo = {.busy = true, .lag = o->loop_lag, .busy_hist = o->loop_busy};
	if ((rc = looplag_new(&d->loop, &lo, &o->lag)) < 0) {
		snprintf(err, errlen, "loop-lag probe: %s", uv_strerror(rc));
		goto fail;
	}
	metrics_gauge_fn(o->m, METRICS_LOOP_LAG_MAX, NULL, NULL, looplag_recent_max_seconds, o->lag);
	metrics_gauge_fn(o->m, METRICS_CHECKPOINT_ENCODE, NULL, NULL, cp_encode_seconds, o);
	metrics_gauge_fn(o->m, METRICS_CHECKPOINT_STEP_MAX, NULL, NULL, cp_step_max_seconds, o);
	struct http_server_opts ho = {.listen = d->conf->http_listen, .routes = routes, .nroutes = 3, .arg = o};
	if ((rc = http_server_new(&d->loop, &ho, &o->http, err, errlen)) < 0) {
		looplag_close(o->lag, NULL, NULL);
		goto fail;
	}
	d->obs = o;
	return 0;
fail:
	metrics_free(o->m);
	free(o);
	return rc;
}

int observe_port(const struct observe *o)
{
	return http_server_port(o->http);
}

void observe_attach(struct observe *o)
{
	struct daemon *d = o->d;
	if (d->in)
		ingest_set_hist(d->in, o->ingest_lat);
	if (d->ta)
		analytics_set_hists(d->ta, o->bar_to_signal, o->event_to_signal);
	if (d->cp)
		checkpoints_set_hist(d->cp, o->checkpoint);
	if (d->out) {
		for (int t = 0; t < OUT_TOPIC_COUNT; t++)
			if (outputs_topic_enabled(d->out, (enum outputs_topic)t))
				metrics_histogram(o->m, METRICS_LAT_PRODUCE_TO_ACK, NULL,
						  METRICS_LABELS("topic", topic_label[t]), &o->ack[t]);
		outputs_set_ack_hists(d->out, o->ack);
	}
}

json_t *observe_metrics_json(struct observe *o)
{
	collect(o);
	return metrics_render_json(o->m);
}

static void part_closed(void *arg)
{
	struct observe *o = arg;
	if (--o->closing > 0)
		return;
	void (*cb)(void *) = o->closed_cb;
	void *cbarg = o->closed_arg;
	metrics_free(o->m);
	free(o);
	if (cb)
		cb(cbarg);
}

void observe_close(struct observe *o, void (*cb)(void *arg), void *arg)
{
	struct daemon *d = o->d;
	/* the modules are gone by now: drop their pointers into our registry */
	if (d->in)
		ingest_set_hist(d->in, NULL);
	if (d->ta)
		analytics_set_hists(d->ta, NULL, NULL);
	o->closed_cb = cb;
	o->closed_arg = arg;
	o->closing = 2;
	d->obs = NULL;
	http_server_close(o->http, part_closed, o);
	looplag_close(o->lag, part_closed, o);
}
