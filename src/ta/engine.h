/* engine.h - the TA engine: trades, quotes and minute bars in; TA records out.
 *
 * Pure logic (no loop, no clock reads): the daemon's loop passes
 * CLOCK_MONOTONIC (now_mono) and CLOCK_REALTIME (now_real) times in, arms one
 * timer at ta_engine_next_deadline() and calls ta_engine_advance() from it.
 * It composes ta/watermark (event time), ta/microbar (1 s bars) and one
 * ta/indicators state per symbol and series (1 s micro-bars, 1 m Alpaca bars).
 *
 * Inputs (ta_engine_on_event), after closing whatever the watermark already
 * allows at now_mono:
 *  - EVENT_TRADE (already deduplicated upstream): a valid trade
 *    (microbar_trade_valid, symbol 1..23 bytes) moves the watermark, closes the
 *    bars it passed, then joins its second; a trade for a closed second is
 *    late (on_late, counted, no bar changes); an invalid one is counted only.
 *  - EVENT_QUOTE: into the symbol's 1 s and 1 m quote histories (imbalance).
 *  - EVENT_BAR (final minute bar, t = minute start): the symbol's 1 m
 *    indicators (window [t, t + 60 s)) and one 1 m TaSignal. EVENT_UPDATED_BAR
 *    never feeds indicators (counted as ignored); other kinds are ignored.
 *
 * Outputs (callbacks, records valid during the call only):
 *  - every closed 1 s micro-bar: one TaBar1s (event_ts = window end, seq =
 *    microbar's durable per-symbol seq), then one TaSignal from the symbol's
 *    1 s indicators with the same event_ts, seq, window and is_final;
 *  - every accepted final minute bar: one TaSignal, window {PT1M, PT1M, t,
 *    t + 60 s}, event_ts = t (the input bar's event_ts: wire.md "copies the
 *    bar's event_ts", bars' eventTs is the minute start, as upstream), seq =
 *    the symbol's own 1 m signal counter (1, 2, ...; durable in the snapshot,
 *    never reset by date; 1 s and 1 m signals may share seq values and are
 *    told apart by window.size, as upstream).
 *  - source is always "ta": struct event has no REST-backfill marker.
 *  - indicators reset per symbol and series when the New York trading date
 *    (clock_ny) of a bar's window end differs from that of the series'
 *    previous bar, before the bar is applied.
 *
 * Callbacks must not call back into the engine (except ta_engine_stats).
 *
 * Status heartbeat (ta_engine_status), upstream §4.8 plus our late-trade rule:
 *  - watermark_lag_ms = now_real - W(now_mono), floored to ms; null before the
 *    first trade. W is an event time, so this is how far the bar-closing
 *    frontier trails the wall clock: source lag + slack while the feed is
 *    active; once idle (W advances with the wall clock) it stays at the
 *    newest trade's arrival delay + slack, so it measures feed latency, not
 *    silence (source_lag_ms does that).
 *  - source_lag_ms = now_real - (newest t of any valid input event: trade,
 *    late trade, quote, final bar's minute start); null before the first.
 *  - last_input_event_ts is that newest t; last_output_event_ts the newest
 *    event_ts emitted (bars and signals); last_event_ts the larger of both.
 *  - input = trade + quote + final-bar events handed in (valid or not);
 *    output = TaBar1s + TaSignal records; current_* = since the previous
 *    heartbeat; current_record_count = current input + current output;
 *    rates = current counts / monotonic seconds since the previous heartbeat
 *    (null on the first heartbeat after new/load without one).
 *    microbar_event_count / signal_event_count are totals (bars, all signals).
 *  - per_symbol_latest_event_ts: every symbol's newest input t, first-seen
 *    order; the array is the engine's, valid until the next engine call.
 *  - market_session_state = clock_session_name(clock_ny_session(now_real))
 *    ("overnight", "pre", "regular", "post": wire.md's marketSession names).
 *  - status "degraded" with the first matching status_reason, else "ok":
 *      regular session = Monday-Friday 09:30-16:00 New York (no holiday list
 *      in core/clock: a holiday counts as a regular day):
 *      1 source_lag_missing_during_regular_session   no valid input yet
 *      2 source_lag_stale_during_regular_session     source lag > source_lag_degraded_ns
 *      3 zero_current_records_during_regular_session no input since the previous heartbeat
 *      any session:
 *      4 late_trades_since_last_heartbeat            late trades since the previous one
 *    No "watermark stalled" rule: W advances with the wall clock once the feed
 *    idles, so it cannot stall while the loop runs; a dead feed is rule 2.
 *  - head: symbol "ta" (also the Kafka key), seq = heartbeat counter (1, 2,
 *    ...; durable), event_ts = ingest_ts = now_real, source "ta", is_final and
 *    window null; heartbeat true; clickhouse_sink_enabled false.
 *
 * Memory: per symbol a 64-byte entry and 2-4 index slots of 4 bytes, plus
 * the indicator states (424 B each, plus their window rings and quote
 * books) created on demand (1 s: first valid trade or quote; 1 m: first
 * quote or final bar), plus microbar's own per-symbol state: about 2 KiB per
 * symbol with both series warm (test_engine prints it). The engine itself
 * allocates only for a new symbol (the modules' rings grow on demand). */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "event.h"
#include "ta/microbar.h"
#include "ta/record.h"

struct ta_engine_opts {
	int64_t slack_ns;               /* watermark.max-out-of-orderness (default 2 s) */
	int64_t quote_stale_after_ns;   /* ta.quote.stale-after (default 2 s) */
	int64_t source_lag_degraded_ns; /* status rule 2 (default 300 s) */
	void *arg;                      /* passed to every callback */
	/* Each may be NULL. */
	void (*on_bar)(void *arg, const struct ta_bar_rec *rec);
	void (*on_signal)(void *arg, const struct ta_signal_rec *rec);
	/* A late trade: for topic.ta.late and metrics. */
	void (*on_late)(void *arg, const char *symbol, int64_t t_ns, double price, double size);
	/* Called by ta_engine_status with the record it built. */
	void (*on_status)(void *arg, const struct ta_status_rec *rec);
};

void ta_engine_opts_default(struct ta_engine_opts *o);

struct ta_engine;

/* NULL on ENOMEM or EINVAL (negative slack or stale-after), errno set. */
struct ta_engine *ta_engine_new(const struct ta_engine_opts *o);
void ta_engine_free(struct ta_engine *e);

/* 0, or -ENOMEM (the event is not applied; bars closed before that stay
 * emitted). Invalid and ignored events return 0 and are counted. */
int ta_engine_on_event(struct ta_engine *e, const struct event *ev, int64_t now_mono,
		       int64_t now_real);

/* Closes the bars the watermark passed by now_mono (idle feed advance).
 * Returns the number of 1 s bars emitted. */
int ta_engine_advance(struct ta_engine *e, int64_t now_mono, int64_t now_real);

/* The monotonic time at which the earliest open bar closes if nothing else
 * arrives (<= now means due); INT64_MAX if no bar is open. */
int64_t ta_engine_next_deadline(const struct ta_engine *e);

/* Builds the heartbeat into *out (may be NULL), calls on_status, and starts a
 * new "since the previous heartbeat" interval. Pointers in the record (the
 * per-symbol array and its names) stay valid until the next engine call. */
void ta_engine_status(struct ta_engine *e, int64_t now_mono, int64_t now_real,
		      struct ta_status_rec *out);

struct ta_engine_stats {
	uint64_t trades_in, trades_accepted, trades_rejected, trades_late;
	uint64_t quotes_in, quotes_rejected;
	uint64_t bars1m_in, bars1m_rejected, bars1m_ignored; /* ignored: updatedBars */
	uint64_t bars;                    /* TaBar1s emitted */
	uint64_t signals_1s, signals_1m;  /* TaSignal emitted */
	uint64_t heartbeats;
	uint64_t errors;                  /* bars whose signal was lost to ENOMEM */
	uint32_t symbols, open_buckets;
	size_t mem_bytes;                 /* heap bytes held, microbar included */
};
void ta_engine_stats(const struct ta_engine *e, struct ta_engine_stats *out);

/* Snapshot (little-endian; no checksum of its own: the snapshot container
 * checks every section): watermark, micro-bars, every symbol's 1 s and 1 m
 * indicators, 1 m seq and last 1 m bar end, counters, heartbeat baseline.
 * Options are configuration, not state. now_mono rebases the watermark's
 * idle time and the heartbeat interval (downtime counts as neither), so save
 * and load at the same now_mono equal never stopping.
 * ta_engine_save: cap == 0 returns the size (a sum over the symbols, no
 * encoding); else writes it and returns it, or -ENOSPC if cap is too small.
 * ta_engine_load replaces the whole state: 0, -EINVAL on malformed or
 * truncated input, -ENOMEM; e is unchanged on failure. */
ssize_t ta_engine_save(const struct ta_engine *e, int64_t now_mono, void *buf, size_t cap);
int ta_engine_load(struct ta_engine *e, int64_t now_mono, const void *buf, size_t len);

/* Cursor of a save in steps; fields private. */
struct ta_engine_saver {
	int64_t now_mono;
	size_t size, off; /* the whole encoding; bytes written so far */
	size_t mb_at;     /* where the nested micro-bar blob starts */
	uint32_t phase, sym;
	struct microbar_saver mb;
};

/* A save in steps, for a state too large to encode in one loop pause.
 * ta_engine_save_begin fixes now_mono and returns the size (what
 * ta_engine_save with cap 0 returns) or a negative code. Each
 * ta_engine_save_step writes the next whole items (header, micro-bar
 * symbols, TA symbols) into buf, the same buffer of at least that size on
 * every call, until it has written at least `budget` bytes or reached the
 * end (always at least one item): 1 when the save is complete, 0 when more
 * remains, or a negative code (-EIO: the engine changed since begin).
 * The engine must not change from begin to the last step. The bytes are
 * exactly ta_engine_save's. */
ssize_t ta_engine_save_begin(const struct ta_engine *e, int64_t now_mono, struct ta_engine_saver *s);
int ta_engine_save_step(const struct ta_engine *e, struct ta_engine_saver *s, uint8_t *buf, size_t budget);
