/* record.h - plain-data TA output records (TaBar1s, TaSignal, TaStatus).
 *
 * The TA code fills these; sink/avro encodes them field for field in the
 * order of schemas/ta-*.avsc. Conventions:
 *  - Every timestamp is int64 UTC nanoseconds since the epoch. The Avro
 *    schemas carry RFC 3339 strings; the encoder formats them at encode time
 *    (clock_format_rfc3339, CLOCK_FRAC_AUTO: 0, 3, 6 or 9 digits, the fewest
 *    that are exact), so TA state stays numeric and nothing formats a time
 *    that is never sent.
 *  - A nullable scalar or nested record has an explicit `has_X` flag; false
 *    encodes the Avro null branch and the value is ignored. A zeroed struct
 *    is therefore "all optionals null".
 *  - A nullable string is a `const char *`, NULL meaning null. Strings are
 *    NUL-terminated, UTF-8, borrowed: they must outlive the encode call.
 *  - `version` is `["int","null"]` (branch 0 is int, default 1): use
 *    ta_*_rec_init() so it starts as 1 rather than null.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "event.h"

#define TA_REC_VERSION 1
#define TA_WINDOW_DUR_MAX 16 /* ISO 8601 durations: "PT1S", "PT1M", "PT1H" */

/* WindowBar1s / WindowSignal / WindowStatus (identical shapes). */
struct ta_window {
	char size[TA_WINDOW_DUR_MAX]; /* required, e.g. "PT1S" */
	char step[TA_WINDOW_DUR_MAX]; /* "" encodes null */
	bool has_start, has_end;
	int64_t start_ns, end_ns;
};

/* The seven leading fields every TA schema shares, in schema order. */
struct ta_rec_head {
	int64_t ingest_ns;                /* ingest_ts: wall clock when built */
	int64_t event_ns;                 /* event_ts */
	char symbol[EVENT_SYMBOL_MAX];    /* NUL-terminated */
	int64_t seq;
	bool has_is_final, is_final;      /* is_final: ["null","boolean"] */
	const char *source;               /* ["null","string"]: "ta", "rest", NULL */
	bool has_window;
	struct ta_window window;
};

/* torghut.ta.TaBar1s */
struct ta_bar_rec {
	struct ta_rec_head head;
	double o, h, l, c, v;
	bool has_vwap;
	double vwap;
	int64_t count;
	bool has_version;
	int32_t version;
};

struct ta_macd { double macd, signal, hist; };
struct ta_ema { double ema12, ema26; };
struct ta_boll { double mid, upper, lower; };
struct ta_vwap { double session; bool has_w5m; double w5m; };
struct ta_imbalance { double spread, bid_px, ask_px, bid_sz, ask_sz; };
struct ta_vol_realized { double w60s; };

/* MicrostructureSignalV1: not produced yet (always null), but encodable.
 * All strings are required (non-NULL). */
struct ta_micro_signal {
	const char *schema_version, *symbol, *horizon;
	double p_up, p_flat, p_down; /* direction_probabilities {up, flat, down} */
	const char *uncertainty_band;
	double expected_spread_impact_bps, expected_slippage_bps;
	const char *feature_quality_status;
	const char *model_id, *feature_schema_version, *training_run_id; /* artifact */
};

/* torghut.ta.TaSignal */
struct ta_signal_rec {
	struct ta_rec_head head;
	bool has_macd;
	struct ta_macd macd;
	bool has_ema;
	struct ta_ema ema;
	bool has_rsi14;
	double rsi14;
	bool has_boll;
	struct ta_boll boll;
	bool has_vwap;
	struct ta_vwap vwap;
	bool has_imbalance;
	struct ta_imbalance imbalance;
	bool has_vol_realized;
	struct ta_vol_realized vol_realized;
	const struct ta_micro_signal *micro; /* microstructure_signal_v1; NULL = null */
	bool has_version;
	int32_t version;
};

/* One per_symbol_latest_event_ts entry; the array is owned by the caller. */
struct ta_symbol_ts {
	const char *symbol; /* map key, NUL-terminated */
	int64_t ts_ns;      /* value, encoded as RFC 3339 */
};

/* torghut.ta.TaStatus */
struct ta_status_rec {
	struct ta_rec_head head;
	bool has_watermark_lag_ms;
	int64_t watermark_lag_ms;
	bool has_source_lag_ms;
	int64_t source_lag_ms;
	bool has_last_event_ts, has_last_input_event_ts, has_last_output_event_ts;
	int64_t last_event_ns, last_input_event_ns, last_output_event_ns;
	bool has_input_event_count;
	int64_t input_event_count;
	bool has_output_event_count;
	int64_t output_event_count;
	bool has_current_input_event_count;
	int64_t current_input_event_count;
	bool has_current_output_event_count;
	int64_t current_output_event_count;
	bool has_current_record_count;
	int64_t current_record_count;
	bool has_input_rate_per_second;
	double input_rate_per_second;
	bool has_output_rate_per_second;
	double output_rate_per_second;
	bool has_microbar_event_count;
	int64_t microbar_event_count;
	bool has_signal_event_count;
	int64_t signal_event_count;
	bool has_microbar_rate_per_second;
	double microbar_rate_per_second;
	bool has_signal_rate_per_second;
	double signal_rate_per_second;
	bool has_clickhouse_sink_enabled, clickhouse_sink_enabled;
	/* per_symbol_latest_event_ts: has=false is null; has=true with n=0 is {} */
	bool has_per_symbol;
	const struct ta_symbol_ts *per_symbol;
	size_t per_symbol_n;
	const char *market_session_state; /* NULL = null */
	const char *status_reason;        /* NULL = null */
	const char *status;               /* required: "ok" or "degraded" */
	bool has_heartbeat, heartbeat;
	bool has_version;
	int32_t version;
};

static inline void ta_bar_rec_init(struct ta_bar_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->has_version = true;
	r->version = TA_REC_VERSION;
}

static inline void ta_signal_rec_init(struct ta_signal_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->has_version = true;
	r->version = TA_REC_VERSION;
}

static inline void ta_status_rec_init(struct ta_status_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->has_version = true;
	r->version = TA_REC_VERSION;
}
