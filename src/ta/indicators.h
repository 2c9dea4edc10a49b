/* indicators.h - per-symbol streaming indicators (docs: shared/contracts/indicators.md).
 *
 * One `struct indicators` per symbol and bar series (1 s micro-bars and 1 m
 * Alpaca bars use separate instances). Every bar costs O(1) work: recursive
 * accumulators that replay TA-Lib's own arithmetic (same operations in the
 * same order, so outputs match TA_EMA/TA_MACD/TA_RSI/TA_BBANDS to the last
 * bit, far inside the contract's 1e-9), plus time windows whose storage grows
 * on demand. The state is plain data with owned heap arrays; it can be saved
 * and restored exactly for checkpoints. Not thread-safe; no globals. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ta/ind_quote.h"
#include "ta/ind_win.h"

#define INDICATORS_STALE_AFTER_DEFAULT_NS (2LL * 1000000000LL) /* ta.quote.stale-after */
#define INDICATORS_QUOTE_MAX_DEFAULT 16
#define INDICATORS_CLOSES 20 /* longest close window: BBANDS(20) (also holds MACD's 12-close seed) */

struct indicators_params {
	int64_t bar_ns;         /* bar length; bar ends lie on multiples of it (1 s or 60 s) */
	int64_t stale_after_ns; /* a quote older than this at the bar end is not used */
	int64_t vwap_window_ns; /* vwap.w5m window (300 s) */
	int64_t rvol_window_ns; /* vol_realized.w60s window (60 s) */
	uint16_t quote_max;     /* quote history bound (buckets in flight ahead of the bar close) */
};

/* Contract defaults for bars of length bar_ns. */
void indicators_params_default(struct indicators_params *p, int64_t bar_ns);

/* Validity bits of struct indicators_out: a value is meaningful only with its
 * bit set (it is NaN otherwise), i.e. the Avro field is null without it. */
enum indicators_valid {
	INDICATORS_EMA12 = 1u << 0,        /* bar 12 on */
	INDICATORS_EMA26 = 1u << 1,        /* bar 26 on (the `ema` record needs both) */
	INDICATORS_MACD = 1u << 2,         /* bar 34 on */
	INDICATORS_RSI14 = 1u << 3,        /* bar 15 on */
	INDICATORS_BOLL = 1u << 4,         /* bar 20 on */
	INDICATORS_VWAP_SESSION = 1u << 5, /* session volume > 0 */
	INDICATORS_VWAP_W5M = 1u << 6,     /* window volume > 0 */
	INDICATORS_RVOL_W60S = 1u << 7,    /* >= 2 returns in the window */
	INDICATORS_IMBALANCE = 1u << 8,    /* a quote qualified */
};

struct indicators_bar {
	int64_t end_ns;       /* window end; strictly increasing within a series */
	double o, h, l, c, v; /* c > 0 and v >= 0, finite */
	double vwap;          /* NaN when unknown: the bar then adds nothing to the VWAPs */
};

struct indicators_out {
	uint32_t valid; /* enum indicators_valid bits */
	struct { double ema12, ema26; } ema;
	struct { double macd, signal, hist; } macd;
	double rsi14;
	struct { double mid, upper, lower; } boll;
	struct { double session, w5m; } vwap;
	struct { double w60s; } vol_realized;
	struct { double spread, bid_px, ask_px, bid_sz, ask_sz; } imbalance;
};

struct indicators {
	struct indicators_params p;
	uint64_t nbars;      /* bars since init/reset: drives every warm-up */
	int64_t last_end_ns; /* end of the previous bar (when nbars > 0) */
	double last_close;
	double ema12, ema26; /* sum of closes while warming up, then TA_EMA's value */
	double macd_fast;    /* TA_MACD's own fast EMA: seeded at bar 26, not bar 12 */
	double macd_sig;     /* sum of MACD values over bars 26..34, then the signal EMA */
	double rsi_gain, rsi_loss;    /* summed, then Wilder-smoothed gains and losses */
	double bb_sum, bb_sum2;       /* TA-Lib's running sums of closes and squared closes */
	double closes[INDICATORS_CLOSES]; /* ring: close of bar k at (k - 1) % INDICATORS_CLOSES */
	double sess_pv, sess_v;       /* session sums of vwap * v and v */
	struct ind_win vwap_w;        /* (end, vwap * v, v) of bars with volume */
	struct ind_win rvol_w;        /* (end, r, r^2), r = ln(c / previous c) */
	struct ind_quote quotes;      /* kept across resets: it is keyed by time, not by session */
};

/* 0 or -EINVAL (bar_ns, windows <= 0, stale_after < 0). Allocates nothing. */
int indicators_init(struct indicators *s, const struct indicators_params *p);
void indicators_fini(struct indicators *s);
/* Starts a new session (the caller detects the New York trading date change
 * and calls this before the first bar of the new date). Quotes are kept. */
void indicators_reset(struct indicators *s);
/* 0, -EINVAL (non-finite field) or -ENOMEM (quote dropped). */
int indicators_on_quote(struct indicators *s, int64_t t_ns, double bid_px, double ask_px, double bid_sz,
			double ask_sz);
/* Feeds one closed bar and fills *out. 0, -EINVAL (bad field, end not after
 * the previous end: state unchanged) or -ENOMEM (bar not applied). */
int indicators_on_bar(struct indicators *s, const struct indicators_bar *in, struct indicators_out *out);

/* Checkpoint encoding (fixed little-endian, doubles bit-exact; no checksum
 * of its own: the snapshot container checks every section).
 * indicators_save_size is the exact size of the encoding, in O(1).
 * save writes the whole encoding when cap >= that size and returns the size
 * (with cap 0, or a smaller cap, it writes nothing and returns the size: the
 * output is complete only if the result is <= cap), or a negative errno.
 * load replaces the state of an initialized s (its params must have the same
 * bar_ns) and returns 0, -EINVAL for malformed or truncated input, or
 * -ENOMEM; on error s is intact. */
size_t indicators_save_size(const struct indicators *s);
int indicators_save(const struct indicators *s, uint8_t *out, size_t cap);
int indicators_load(struct indicators *s, const uint8_t *in, size_t n);
