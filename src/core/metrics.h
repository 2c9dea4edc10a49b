/* metrics.h - the daemon's metric registry and its Prometheus/JSON renderers.
 *
 * The daemon owns one registry (no globals). A module registers a series
 * once (name, help, fixed label set) and gets back a pointer into stable
 * registry storage that it bumps directly: the hot path is `(*c)++` or
 * hist_record(h, ns), nothing else. Single-threaded like the rest of the
 * loop: no atomics.
 *
 * Names start with "torghut_"; counters end in "_total"; histograms record
 * nanoseconds (struct hist) and are exported in seconds, so they end in
 * "_seconds", with the fixed buckets of hist.h. The catalog below is the one
 * place where the daemon's names, help texts and label keys live: register
 * a catalog name with help == NULL and the catalog supplies the help text and
 * checks the label keys and the type.
 *
 * Registering the same name and label values again returns the same storage
 * (a module rebuilt on reconnect or reload keeps its counters monotonic);
 * the same name with another type or other label keys is -EINVAL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/hist.h"

/* ---- The catalog: metric names of torghutd ---------------------------- */

/* Alpaca session (source). error_class as in the /readyz body: alpaca_auth,
 * alpaca_406_second_connection, ..., unknown; channel: trades, quotes, bars,
 * updatedBars, dailyBars, statuses, ... */
#define METRICS_WS_CONNECTS "torghut_ws_connects_total"
#define METRICS_WS_RECONNECTS "torghut_ws_reconnects_total"
#define METRICS_WS_CONNECT_ERRORS "torghut_ws_connect_errors_total"        /* {error_class} */
#define METRICS_MESSAGES_IN "torghut_messages_in_total"                    /* {channel} */
#define METRICS_DEDUP_DROPS "torghut_dedup_drops_total"                    /* {channel} */
#define METRICS_PARSE_REJECTS "torghut_parse_rejects_total"                /* {reason} */
/* role=ta's input (daemon/tasource): records consumed from the raw topics,
 * by outcome: event, duplicate, rejected (malformed), skipped (a channel TA
 * does not use); partitions assigned to this instance */
#define METRICS_TA_INPUT_RECORDS "torghut_ta_input_records_total"           /* {outcome} */
#define METRICS_TA_INPUT_PARTITIONS "torghut_ta_input_partitions"           /* gauge */
/* TA */
#define METRICS_LATE_TRADES "torghut_late_trades_total"
/* Kafka (sink) */
#define METRICS_KAFKA_PRODUCED "torghut_kafka_produced_total"              /* {topic} */
#define METRICS_KAFKA_PRODUCE_FAILURES "torghut_kafka_produce_failures_total" /* {topic} */
#define METRICS_KAFKA_TXN_COMMITS "torghut_kafka_transaction_commits_total"
#define METRICS_KAFKA_TXN_ABORTS "torghut_kafka_transaction_aborts_total"
/* Schema registry gate (daemon/schemas): class as registry_err_class()
 * (schema_registry_unreachable, schema_incompatible, ...); state one-hot:
 * off (no registry configured), resolving, ready, failed */
#define METRICS_REGISTRY_ERRORS "torghut_schema_registry_errors_total"     /* {class} */
#define METRICS_REGISTRY_GATE "torghut_schema_registry_gate_state"         /* gauge {state} */
/* Checkpoints (state) */
#define METRICS_CHECKPOINTS "torghut_checkpoints_total"
#define METRICS_CHECKPOINT_FAILURES "torghut_checkpoint_failures_total"
#define METRICS_CHECKPOINT_DURATION "torghut_checkpoint_duration_seconds"  /* histogram */
#define METRICS_CHECKPOINT_AGE "torghut_checkpoint_age_seconds"            /* gauge */
#define METRICS_CHECKPOINT_ENCODE "torghut_checkpoint_encode_seconds"      /* gauge: loop work, last snapshot */
#define METRICS_CHECKPOINT_STEP_MAX "torghut_checkpoint_encode_step_max_seconds" /* gauge: its longest step */
/* Readiness (daemon), one-hot like upstream's readyz gauges */
#define METRICS_READY "torghut_readyz_status"                              /* gauge 0/1 */
#define METRICS_READY_GATE "torghut_readyz_gate_status"                    /* gauge {gate} */
/* The loop (looplag.h) */
#define METRICS_LOOP_LAG "torghut_loop_lag_seconds"                        /* histogram */
#define METRICS_LOOP_BUSY "torghut_loop_busy_seconds"                      /* histogram */
#define METRICS_LOOP_LAG_MAX "torghut_loop_lag_max_seconds"                /* gauge */
/* Latency along the data path (histograms) */
#define METRICS_LAT_FRAME_TO_EVENT "torghut_latency_frame_to_event_seconds"
#define METRICS_LAT_EVENT_TO_PRODUCE "torghut_latency_event_to_produce_seconds" /* {topic} */
#define METRICS_LAT_PRODUCE_TO_ACK "torghut_latency_produce_to_ack_seconds"     /* {topic} */
#define METRICS_LAT_BAR_TO_SIGNAL "torghut_latency_bar_close_to_signal_seconds"
#define METRICS_LAT_EVENT_TO_SIGNAL "torghut_latency_event_to_signal_seconds"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

#define METRICS_MAX_LABELS 4

struct metrics_def {
	const char *name;
	enum metrics_type type;
	const char *keys[METRICS_MAX_LABELS + 1]; /* label keys in order, NULL-terminated */
	const char *help;
};

/* The catalog table (constant); *n gets its length. */
const struct metrics_def *metrics_catalog(size_t *n);
const struct metrics_def *metrics_catalog_find(const char *name);

/* ---- Registry ------------------------------------------------------------ */

struct metrics;

/* A label set: key, value, key, value, ..., NULL. NULL means no labels. */
#define METRICS_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* Each returns 0 and the series' storage in *out (valid until
 * metrics_free), or -EINVAL (bad name, help, labels, type or label-key
 * mismatch) or -ENOMEM. help may be NULL for a catalog name. */
int metrics_counter(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    uint64_t **out);
int metrics_counter_f(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      double **out);
int metrics_gauge(struct metrics *m, const char *name, const char *help, const char *const *labels,
		  int64_t **out);
int metrics_gauge_f(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    double **out);
int metrics_histogram(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      struct hist **out);

/* A gauge computed when rendered (an age, a queue depth owned elsewhere).
 * Registering it again re-points it; fn == NULL hides the series (do that
 * before `arg` goes away). */
typedef double (*metrics_fn)(void *arg);
int metrics_gauge_fn(struct metrics *m, const char *name, const char *help, const char *const *labels,
		     metrics_fn fn, void *arg);

/* ---- Rendering ----------------------------------------------------------- */

/* A growable byte buffer (plain data; start zeroed, release with
 * metrics_buf_free). data is NUL-terminated after a successful render. */
struct metrics_buf {
	char *data;
	size_t len, cap;
};
void metrics_buf_free(struct metrics_buf *b);

#define METRICS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the Prometheus text exposition (format 0.0.4) of every family in
 * registration order: # HELP, # TYPE, then the samples; histograms as
 * _bucket{le=...} (cumulative), _sum (seconds) and _count. 0 or -ENOMEM. */
int metrics_render_prometheus(const struct metrics *m, struct metrics_buf *out);

/* { name: {"type", "help", "series": [{"labels": {...}, "value": v}]} };
 * histogram series carry count, sum, p50, p99, p999 and max in seconds
 * instead of value. NULL on allocation failure. */
json_t *metrics_render_json(const struct metrics *m);

/* ---- Readiness ------------------------------------------------------------ */

/* One /readyz gate, given in priority order: schema_registry (it holds the
 * source back), alpaca_ws, kafka, market_data_channels, checkpoint
 * (upstream §3.5). */
struct metrics_gate {
	const char *name;
	bool ok;
	const char *error_class; /* why not ok; NULL becomes "unknown" */
};

/* The /readyz body: {"status": "ready"|"not_ready", "ready": bool,
 * "error_class": <first failing gate's class>|null, "gates": {name: bool}}.
 * The caller may add fields before dumping it. *ready (may be NULL) says
 * whether every gate is ok, i.e. 200 rather than 503. NULL on ENOMEM. */
json_t *metrics_readyz_json(const struct metrics_gate *gates, size_t n, bool *ready);
