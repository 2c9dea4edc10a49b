/* microbar.h - 1-second micro-bars per symbol, closed by the watermark.
 *
 * Pure logic (no loop, no clock): the loop owner feeds accepted trades (after
 * source/dedup) and closes bars with the watermark it computes
 * (ta/watermark.h). Rules (shared/contracts/indicators.md, wire.md):
 *  - A trade counts only if microbar_trade_valid(): t > 0, p > 0, s > 0, all
 *    finite (p*s too). Others are rejected and counted, never stored.
 *  - A trade belongs to the second [s, s + 1 s) with s = t - t mod 1 s, so a
 *    trade exactly at a second start opens that second.
 *  - o = price of the trade with the smallest (t, arrival_seq), c = largest
 *    (t, arrival_seq): OHLC follows event time, ties by arrival. Equal
 *    arrival_seq values fall back to call order (o first, c last).
 *  - v = sum(s), vwap = sum(p*s)/sum(s), count = number of trades.
 *  - Several seconds of one symbol can be open at once (within the slack).
 *  - microbar_close_until(W) emits every open bar with end <= W, ordered by
 *    (end, symbol byte order), so per symbol in event-time order; it gives
 *    each bar the symbol's next seq (1, 2, ...; durable through save/load)
 *    and marks every second with end <= W closed for every symbol.
 *  - A trade for a closed second is late: counted, passed to the late
 *    callback, never changing an emitted bar. A second without accepted
 *    trades has no bar.
 *
 * Calling order on the loop, per trade: watermark_observe(); then
 * microbar_close_until(watermark_current(now)); then microbar_add_trade().
 * And on the close timer (armed at watermark_next_deadline(
 * microbar_earliest_end())): microbar_close_until(watermark_current(now)).
 *
 * Callbacks must not call functions that change the set (add_trade,
 * close_until, load); getters are fine.
 *
 * Trading-date reset: the caller (signal assembly) resets indicators; each
 * emitted bar carries the symbol's previous bar end (prev_end_ns) so the
 * caller compares New York dates without a lookup (microbar_symbol() gives
 * last_bar_end_ns too). seq is not reset by date: it is the record identity.
 *
 * Memory: a hash map of compact per-symbol state (64 B) plus a shared pool of
 * open buckets (~100 B each) and a heap of them; 10k symbols with a few open
 * seconds each take about 4.5 MiB. The pool grows by doubling and never
 * shrinks; no allocation per trade once warm. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "event.h"

#define MICROBAR_NS 1000000000LL /* the bar width: 1 s */
#define MICROBAR_T_MAX (INT64_MAX - 2 * MICROBAR_NS) /* largest accepted t */

/* An emitted bar: plain data, valid during the callback only. */
struct microbar_bar {
	char symbol[EVENT_SYMBOL_MAX]; /* NUL-terminated */
	int64_t start_ns, end_ns;      /* [start, end); end is the record's event_ts */
	int64_t prev_end_ns;           /* this symbol's previous bar end, 0 if none */
	double o, h, l, c, v;
	double vwap;                   /* sum(p*s)/sum(s); v > 0 always */
	int64_t count;
	int64_t seq;                   /* per symbol, from 1 */
};

enum microbar_result {
	MICROBAR_ACCEPTED = 0,
	MICROBAR_LATE = 1,
	MICROBAR_REJECTED = 2,
};

typedef void (*microbar_emit_fn)(void *arg, const struct microbar_bar *bar);
/* A late trade (its second already closed): for the late topic and metrics. */
typedef void (*microbar_late_fn)(void *arg, const char *symbol, int64_t t_ns, double price,
				 double size);

struct microbar;

/* late_cb may be NULL. Returns NULL on ENOMEM. */
struct microbar *microbar_new(microbar_late_fn late_cb, void *late_arg);
void microbar_free(struct microbar *m);

/* The validity hook: what the micro-bars accept (upstream may call it before
 * recording a trade id as seen). */
bool microbar_trade_valid(int64_t t_ns, double price, double size);

/* sym: NUL-terminated, 1..EVENT_SYMBOL_MAX-1 bytes (else rejected).
 * Returns an enum microbar_result, or -ENOMEM (nothing changed). */
int microbar_add_trade(struct microbar *m, const char *sym, int64_t t_ns, double price,
		       double size, uint64_t arrival_seq);

/* Emits (emit may be NULL: bars are dropped) every open bar with
 * end <= watermark_ns and closes every second with end <= watermark_ns.
 * Returns the number of bars emitted. A watermark lower than an earlier one
 * changes nothing. */
int microbar_close_until(struct microbar *m, int64_t watermark_ns, microbar_emit_fn emit,
			 void *arg);

/* The end of the earliest open bar, or INT64_MAX if none is open. */
int64_t microbar_earliest_end(const struct microbar *m);

/* The highest watermark closed so far, or INT64_MIN. */
int64_t microbar_closed_until(const struct microbar *m);

struct microbar_stats {
	uint64_t accepted, late, rejected, emitted; /* trades (bars for emitted) */
	uint32_t symbols, open_buckets;
	size_t mem_bytes; /* heap bytes held */
};
void microbar_stats(const struct microbar *m, struct microbar_stats *out);

struct microbar_symbol_info {
	const char *symbol;      /* borrowed: valid until the next add_trade/load */
	int64_t last_event_ns;   /* largest t of its accepted or late trades */
	int64_t last_bar_end_ns; /* end of its last emitted bar, 0 if none */
	int64_t seq;             /* seq of its last emitted bar, 0 if none */
	uint64_t late;           /* its late trades */
	uint32_t open_buckets;
};

/* 0, or -ENOENT for a symbol never seen. */
int microbar_symbol(const struct microbar *m, const char *sym, struct microbar_symbol_info *out);
/* Iteration in first-seen order: i in [0, microbar_symbol_count()). */
size_t microbar_symbol_count(const struct microbar *m);
int microbar_symbol_at(const struct microbar *m, size_t i, struct microbar_symbol_info *out);

/* Snapshot (little-endian, doubles bit-exact): symbols with seq, last event
 * and bar end, late count, open buckets; the closed-until mark; totals.
 * microbar_save: cap == 0 returns the bytes needed (O(1)); otherwise writes
 * and returns the bytes written, or -ENOSPC if cap is too small.
 * microbar_load replaces the whole state: 0, -EINVAL on malformed or
 * truncated input, -ENOMEM; m is unchanged on failure. */
ssize_t microbar_save(const struct microbar *m, void *buf, size_t cap);
int microbar_load(struct microbar *m, const void *buf, size_t len);

/* A save in steps (the TA engine nests it in its own), the contract of
 * ta_engine_save_begin/step: begin returns the size (microbar_save with cap
 * 0); each step writes the next whole items (the header, then one symbol
 * with its open buckets at a time) into buf, the same buffer of at least
 * that size on every call, until it has written at least `budget` bytes
 * (at least one item) or reached the end: 1 when complete, 0 when more
 * remains, or a negative code (-EIO: m changed since begin). m must not
 * change from begin to the last step. The bytes are exactly microbar_save's. */
struct microbar_saver { /* private */
	size_t size, off;
	uint32_t sym;   /* next symbol */
	bool head_done;
};
ssize_t microbar_save_begin(const struct microbar *m, struct microbar_saver *s);
int microbar_save_step(const struct microbar *m, struct microbar_saver *s, uint8_t *buf, size_t budget);
