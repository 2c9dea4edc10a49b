/* generate.h - deterministic synthetic Alpaca sessions, written as a recording.
 *
 * generate_session writes a recording (recording.h: a meta line, then one
 * "msg" line per message, at_ns non-decreasing) of a stocks session on one
 * New York trading date. Same options and seed give byte-identical output
 * (own PRNG, prng.h; on one platform, since prices go through libm).
 *
 * Normal mode (symbol NVDA unless set; nsymbols > 1 adds synthetic symbols
 * "XAAAB", "XAAAC", ... after it, activity Zipf-distributed):
 * - Events (trades and quotes, quote_share of them quotes) arrive as a
 *   Poisson process whose rate is `rate` msgs/s in the regular session,
 *   multiplied by an opening burst 1 + 6 exp(-(t - 09:30)/60 s), by 0.08
 *   before 09:30 and by 0.1 after 16:00. With `messages` set the rate is
 *   chosen so that the expected trade+quote count is `messages`.
 * - Mid price: geometric random walk (vol ~0.025 %/sqrt(s), doubled at the
 *   open), tick 0.01. Quotes: spread 1-5 ticks (2-12 pre-market), sizes in
 *   round lots. Trades at the bid, the ask or inside; odd lots (1-99, with
 *   condition "I") and round lots; "T" pre-market; "F" sometimes.
 * - Trade ids increase per symbol in event-time order. About dup_rate of
 *   the trades are followed by an exact duplicate (same bytes) sent later.
 *   About ooo_rate of the trades are sent late, so their t is behind trades
 *   already sent; no trade's t is more than ooo_max_ns behind the largest t
 *   of that symbol sent before it (duplicates included).
 * - Event times t are strictly increasing (distinct per symbol, as dedup
 *   keys quotes on t) and formatted RFC 3339 with 9 fractional digits (or
 *   with trailing zeros trimmed, vary_digits, as Alpaca sometimes does).
 *   Sends follow event time plus 0.3-20 ms latency.
 * - At each minute end, every symbol that traded in the minute gets a "b"
 *   bar (t = minute start, no fractional digits): o/c the prices of the
 *   smallest/largest t, h, l, v, n over the minute's non-duplicate trades,
 *   vw = sum(p*s)/v. It is sent 0.3-0.8 s after the minute end, but never
 *   before the last trade of its minute, so it always covers all of them.
 *   With updated_bars the bar is not held back: trades sent after it are
 *   left out of it, and a "u" bar covering all of the minute's trades is sent
 *   just after the next half-minute mark (Alpaca's updatedBars rule).
 *
 * FAKEPACA mode (fakepaca): symbol FAKEPACA, a quote every 4.5-5.5 s and a
 * minute bar per minute, like Alpaca's /v2/test stream. There are no trades,
 * so these bars come from the quote midpoints (v and n are synthetic). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define GENERATE_MAX_SYMBOLS 100000u

struct generate_opts {
	uint64_t seed;
	const char *symbol;   /* first (or only) symbol; NULL = "NVDA" (FAKEPACA mode: ignored) */
	uint32_t nsymbols;    /* 0 or 1: one symbol; up to GENERATE_MAX_SYMBOLS */
	int32_t date;         /* New York trading date yyyymmdd (a weekday is not enforced) */
	int32_t start_sec;    /* NY seconds of day, multiple of 60, < end_sec */
	int32_t end_sec;      /* NY seconds of day, multiple of 60, <= 86400 */
	double rate;          /* baseline trades+quotes per second, all symbols */
	uint64_t messages;    /* > 0: aim for this many trades+quotes (overrides rate) */
	double quote_share;   /* fraction of events that are quotes, [0, 1] */
	double dup_rate;      /* fraction of trades duplicated, [0, 0.5] */
	double ooo_rate;      /* fraction of trades sent out of order, [0, 1] */
	int64_t ooo_max_ns;   /* bound on the disorder, >= 100 ms */
	double start_price;   /* first symbol's start price; 0 = 136.00 */
	bool updated_bars;    /* hold bars to nominal time and emit "u" for late trades */
	bool vary_digits;     /* trim trailing zeros of fractional seconds */
	bool fakepaca;
};

struct generate_stats {
	uint64_t messages; /* msg lines written */
	uint64_t trades;   /* trade messages, duplicates included */
	uint64_t duplicates;
	uint64_t out_of_order; /* trades generated to be sent late */
	uint64_t quotes;
	uint64_t bars;         /* "b" */
	uint64_t updated_bars; /* "u" */
	uint64_t late_trades;  /* trades sent after their minute's "b" (updated_bars only) */
	int64_t start_ns;      /* session start (UTC ns): at_ns is relative to it */
	int64_t end_ns;
	double rate;           /* the rate used */
};

/* Defaults: seed 1, NVDA, 2025-01-15 09:25-09:40 (5 min pre-market, 10 min
 * regular), rate 50, quote_share 0.6, dup_rate 0.001, ooo_rate 0.005,
 * ooo_max_ns 1.5 s, no updated bars, 9 digits. */
void generate_opts_default(struct generate_opts *o);

/* Writes the session to out (buffered stdio; the caller flushes/closes).
 * Returns 0, -EINVAL (bad options, with a reason in err if given), -ENOMEM,
 * or -EIO (a write failed). stats may be NULL. */
int generate_run(const struct generate_opts *o, FILE *out, struct generate_stats *stats, char *err,
		 size_t errcap);
int generate_session(const struct generate_opts *o, FILE *out);

/* UTC nanoseconds of New York local date yyyymmdd at sec_of_day (0..86400;
 * in the DST-change hours the later offset wins). -EINVAL on a bad date. */
int generate_ny_to_utc(int32_t date, int32_t sec_of_day, int64_t *ns_out);
