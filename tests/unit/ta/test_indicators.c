/* Tests of the indicator layer: TA-Lib golden equality, warm-up boundaries,
 * VWAP/realized-vol windows, quote selection, reset, checkpoints. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ta/indicators.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL
#define T0 (1717767000LL * SEC) /* an arbitrary whole second */

/* ---- helpers ------------------------------------------------------------- */

static void init1s(struct indicators *s)
{
	struct indicators_params p;
	indicators_params_default(&p, SEC);
	assert_int_equal(indicators_init(s, &p), 0);
}

static void bar(struct indicators *s, int64_t end, double c, double v, double vwap, struct indicators_out *o)
{
	struct indicators_bar b = { .end_ns = end, .o = c, .h = c, .l = c, .c = c, .v = v, .vwap = vwap };
	assert_int_equal(indicators_on_bar(s, &b, o), 0);
}

/* |a - b| <= 1e-9 * max(|a|, |b|): the contract's relative equality (exact for 0). */
static int rel_eq(double a, double b)
{
	double m = fmax(fabs(a), fabs(b));
	return fabs(a - b) <= 1e-9 * m;
}

static void assert_rel(double got, double want)
{
	if (!rel_eq(got, want))
		fail_msg("got %.17g want %.17g", got, want);
}

/* ---- golden: TA-Lib's own output (tests/golden/talib.csv) ---------------- */

enum { G_CLOSE, G_EMA12, G_EMA26, G_MACD, G_SIG, G_HIST, G_RSI, G_BBU, G_BBM, G_BBL, G_NCOL };
#define G_MAXROWS 2000

struct golden {
	int n;
	double v[G_MAXROWS][G_NCOL];
	int has[G_MAXROWS][G_NCOL];
};

static void golden_read(struct golden *g)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/golden/talib.csv", top ? top : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (top_srcdir not exported?)", path);
	char line[1024];
	int header = 0;
	g->n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!header) { /* idx,close,ema12,... */
			const char *h = "idx,close,ema12,ema26,macd,macd_signal,macd_hist,rsi14,bb_upper,bb_mid,bb_lower\n";
			assert_string_equal(line, h);
			header = 1;
			continue;
		}
		assert_true(g->n < G_MAXROWS);
		char *p = line, *end;
		long idx = strtol(p, &end, 10);
		assert_int_equal(idx, g->n);
		assert_true(*end == ',');
		p = end + 1;
		for (int c = 0; c < G_NCOL; c++) {
			if (*p == ',' || *p == '\n' || *p == '\0') {
				g->has[g->n][c] = 0;
			} else {
				g->v[g->n][c] = strtod(p, &end);
				assert_true(end != p);
				g->has[g->n][c] = 1;
				p = end;
			}
			if (c + 1 < G_NCOL) {
				assert_true(*p == ',');
				p++;
			}
		}
		assert_true(g->has[g->n][G_CLOSE]);
		g->n++;
	}
	fclose(f);
	assert_true(g->n >= 400);
}

/* Feeds the golden closes as 1 s bars and compares every value and null. */
static void test_golden(void **state)
{
	struct golden *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	golden_read(g);
	struct indicators s;
	init1s(&s);
	int first[G_NCOL], gfirst[G_NCOL], exact = 0, total = 0;
	for (int c = 0; c < G_NCOL; c++)
		first[c] = gfirst[c] = -1;
	for (int i = 0; i < g->n; i++) {
		struct indicators_out o;
		double c = g->v[i][G_CLOSE];
		bar(&s, T0 + (i + 1) * SEC, c, 1, c, &o);
		const struct {
			int col;
			uint32_t bit;
			double got;
		} m[] = {
			{ G_EMA12, INDICATORS_EMA12, o.ema.ema12 },  { G_EMA26, INDICATORS_EMA26, o.ema.ema26 },
			{ G_MACD, INDICATORS_MACD, o.macd.macd },    { G_SIG, INDICATORS_MACD, o.macd.signal },
			{ G_HIST, INDICATORS_MACD, o.macd.hist },    { G_RSI, INDICATORS_RSI14, o.rsi14 },
			{ G_BBU, INDICATORS_BOLL, o.boll.upper },    { G_BBM, INDICATORS_BOLL, o.boll.mid },
			{ G_BBL, INDICATORS_BOLL, o.boll.lower },
		};
		for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
			int col = m[k].col, valid = !!(o.valid & m[k].bit);
			if (valid && first[col] < 0)
				first[col] = i;
			if (g->has[i][col] && gfirst[col] < 0)
				gfirst[col] = i;
			if (valid != g->has[i][col])
				fail_msg("row %d col %d: valid %d, TA-Lib has %d", i, col, valid, g->has[i][col]);
			if (!valid)
				continue;
			if (!rel_eq(m[k].got, g->v[i][col]))
				fail_msg("row %d col %d: got %.17g TA-Lib %.17g", i, col, m[k].got, g->v[i][col]);
			total++;
			exact += m[k].got == g->v[i][col];
		}
	}
	/* TA-Lib's first outputs sit at the contract's bar numbers (idx = bar - 1). */
	const int want[G_NCOL] = { [G_EMA12] = 11, [G_EMA26] = 25, [G_MACD] = 33, [G_SIG] = 33, [G_HIST] = 33,
				   [G_RSI] = 14, [G_BBU] = 19, [G_BBM] = 19, [G_BBL] = 19 };
	for (int c = G_EMA12; c < G_NCOL; c++) {
		assert_int_equal(gfirst[c], want[c]);
		assert_int_equal(first[c], want[c]);
	}
	print_message("golden: %d values, %d bit-identical to TA-Lib\n", total, exact);
	indicators_fini(&s);
	free(g);
}

/* ---- warm-up ------------------------------------------------------------- */

static void check_warmup(struct indicators *s, int64_t t0)
{
	for (int n = 1; n <= 40; n++) {
		struct indicators_out o;
		bar(s, t0 + n * SEC, 100 + (n % 7) - (n % 3) * 0.5, 1, 100, &o);
		assert_int_equal(!!(o.valid & INDICATORS_EMA12), n >= 12);
		assert_int_equal(!!(o.valid & INDICATORS_EMA26), n >= 26);
		assert_int_equal(!!(o.valid & INDICATORS_MACD), n >= 34);
		assert_int_equal(!!(o.valid & INDICATORS_RSI14), n >= 15);
		assert_int_equal(!!(o.valid & INDICATORS_BOLL), n >= 20);
		if (!(o.valid & INDICATORS_MACD))
			assert_true(isnan(o.macd.macd) && isnan(o.macd.signal) && isnan(o.macd.hist));
		if (!(o.valid & INDICATORS_RSI14))
			assert_true(isnan(o.rsi14));
	}
}

static void test_warmup_and_reset(void **state)
{
	struct indicators s;
	init1s(&s);
	check_warmup(&s, T0);
	/* A new trading date: everything warms up again from bar 1. */
	indicators_reset(&s);
	assert_int_equal(s.nbars, 0);
	check_warmup(&s, T0 + 86400 * SEC);
	indicators_fini(&s);
}

/* ---- VWAP ---------------------------------------------------------------- */

static void test_vwap(void **state)
{
	struct indicators s;
	struct indicators_out o;
	init1s(&s);
	bar(&s, T0 + 1 * SEC, 10, 100, 10.0, &o);     /* pv 1000 */
	assert_true(o.valid & INDICATORS_VWAP_SESSION);
	assert_rel(o.vwap.session, 10.0);
	assert_rel(o.vwap.w5m, 10.0);
	bar(&s, T0 + 100 * SEC, 11, 300, 11.0, &o);   /* pv 3300 */
	assert_rel(o.vwap.session, 4300.0 / 400);
	assert_rel(o.vwap.w5m, 4300.0 / 400);
	/* end - 300 s == first bar's end: the bar exactly at the cutoff is out. */
	bar(&s, T0 + 301 * SEC, 12, 100, 12.5, &o);   /* pv 1250 */
	assert_rel(o.vwap.session, 5550.0 / 500);
	assert_rel(o.vwap.w5m, 4550.0 / 400);
	/* One ns earlier the first bar would still count. */
	struct indicators s2;
	init1s(&s2);
	bar(&s2, T0 + 1 * SEC, 10, 100, 10.0, &o);
	bar(&s2, T0 + 301 * SEC - 1, 12, 100, 12.5, &o);
	assert_rel(o.vwap.w5m, 2250.0 / 200);
	indicators_fini(&s2);
	/* A bar without volume (or without vwap) adds nothing. */
	bar(&s, T0 + 302 * SEC, 13, 0, NAN, &o);
	assert_rel(o.vwap.session, 5550.0 / 500);
	bar(&s, T0 + 303 * SEC, 13, 50, NAN, &o);
	assert_rel(o.vwap.session, 5550.0 / 500);
	/* More than 300 s after the last volume: w5m is null, session is not. */
	bar(&s, T0 + 700 * SEC, 13, 0, NAN, &o);
	assert_false(o.valid & INDICATORS_VWAP_W5M);
	assert_true(isnan(o.vwap.w5m));
	assert_true(o.valid & INDICATORS_VWAP_SESSION);
	assert_rel(o.vwap.session, 5550.0 / 500);
	/* Reset: a new session. */
	indicators_reset(&s);
	bar(&s, T0 + 90000 * SEC, 20, 10, 20.0, &o);
	assert_rel(o.vwap.session, 20.0);
	assert_rel(o.vwap.w5m, 20.0);
	indicators_fini(&s);
}

/* Sliding w5m over many 1 s bars against a direct sum, and its memory bound. */
static void test_vwap_sliding(void **state)
{
	struct indicators s;
	struct indicators_out o;
	init1s(&s);
	enum { N = 1500 };
	double pv[N + 1], vol[N + 1];
	int64_t end[N + 1];
	unsigned x = 12345;
	int64_t t = T0;
	for (int i = 1; i <= N; i++) {
		x = x * 1103515245u + 12345u;
		t += (x >> 16) % 4 == 0 ? 3 * SEC : SEC; /* some seconds without trades */
		end[i] = t;
		vol[i] = 1 + (x >> 8) % 500;
		double vw = 100 + ((x >> 4) % 1000) / 100.0;
		pv[i] = vw * vol[i];
		bar(&s, t, vw, vol[i], vw, &o);
		double spv = 0, sv = 0;
		for (int k = i; k >= 1 && end[k] > t - 300 * SEC; k--) {
			spv += pv[k];
			sv += vol[k];
		}
		assert_rel(o.vwap.w5m, spv / sv);
		assert_true(s.vwap_w.cap <= 300);
	}
	indicators_fini(&s);

	/* A quiet symbol keeps a tiny ring. */
	init1s(&s);
	for (int i = 1; i <= 50; i++)
		bar(&s, T0 + i * 100 * SEC, 10, 1, 10, &o);
	assert_true(s.vwap_w.n <= 3 && s.vwap_w.cap <= 4);
	assert_true(s.rvol_w.n <= 1 && s.rvol_w.cap <= 4);
	indicators_fini(&s);
}

/* ---- realized volatility ------------------------------------------------- */

static double pop_sd(const double *r, int n)
{
	double m = 0, v = 0;
	for (int i = 0; i < n; i++)
		m += r[i];
	m /= n;
	for (int i = 0; i < n; i++)
		v += (r[i] - m) * (r[i] - m);
	return sqrt(v / n);
}

static void test_rvol(void **state)
{
	struct indicators s;
	struct indicators_out o;
	init1s(&s);
	bar(&s, T0 + 1 * SEC, 100, 1, 100, &o); /* no return yet */
	assert_false(o.valid & INDICATORS_RVOL_W60S);
	assert_true(isnan(o.vol_realized.w60s));
	bar(&s, T0 + 2 * SEC, 101, 1, 101, &o); /* one return: still null */
	assert_false(o.valid & INDICATORS_RVOL_W60S);
	bar(&s, T0 + 3 * SEC, 99, 1, 99, &o);   /* two returns */
	assert_true(o.valid & INDICATORS_RVOL_W60S);
	double r[4] = { log(101.0 / 100), log(99.0 / 101) };
	assert_rel(o.vol_realized.w60s, fabs(r[0] - r[1]) / 2); /* pop. sd of two values */
	assert_rel(o.vol_realized.w60s, pop_sd(r, 2));
	bar(&s, T0 + 20 * SEC, 102, 1, 102, &o);
	r[2] = log(102.0 / 99);
	assert_rel(o.vol_realized.w60s, pop_sd(r, 3));
	/* end 62 s: window (2 s, 62 s] drops the return of the bar ending at 2 s
	 * (exactly at the cutoff); the return of the 3 s bar still uses the 2 s close. */
	bar(&s, T0 + 62 * SEC, 101.5, 1, 101.5, &o);
	r[3] = log(101.5 / 102);
	assert_rel(o.vol_realized.w60s, pop_sd(r + 1, 3));
	/* end 121 s: only the 62 s and 121 s returns remain. */
	bar(&s, T0 + 121 * SEC, 103, 1, 103, &o);
	double r2[2] = { r[3], log(103 / 101.5) };
	assert_rel(o.vol_realized.w60s, pop_sd(r2, 2));
	/* a gap: one return in the window -> null again */
	bar(&s, T0 + 500 * SEC, 104, 1, 104, &o);
	assert_false(o.valid & INDICATORS_RVOL_W60S);
	/* volatile 1 s bars, then flat ones sliding through without the window
	 * ever emptying: once only zero returns remain the result is exactly 0,
	 * not the residue of the running sums */
	double c = 104;
	for (int i = 1; i <= 40; i++) {
		c *= 1 + ((i * 7919) % 61 - 30) / 1000.0;
		bar(&s, T0 + (600 + i) * SEC, c, 1, c, &o);
	}
	for (int i = 41; i <= 100; i++) {
		bar(&s, T0 + (600 + i) * SEC, c, 1, c, &o);
		assert_true(o.valid & INDICATORS_RVOL_W60S);
		if (i == 99)
			assert_true(o.vol_realized.w60s > 0); /* bar 640's return is still in (639, 699] */
	}
	assert_true(o.vol_realized.w60s == 0.0);
	assert_true(s.rvol_w.sa == 0.0 && s.rvol_w.sb == 0.0); /* no residue left to grow */
	indicators_fini(&s);
}

/* ---- imbalance ----------------------------------------------------------- */

static void quote(struct indicators *s, int64_t t, double bp, double ap)
{
	assert_int_equal(indicators_on_quote(s, t, bp, ap, 3, 4), 0);
}

static void test_imbalance(void **state)
{
	struct indicators s;
	struct indicators_out o;
	init1s(&s);
	int64_t e = T0 + 10 * SEC;

	/* none yet */
	bar(&s, e, 10, 1, 10, &o);
	assert_false(o.valid & INDICATORS_IMBALANCE);
	assert_true(isnan(o.imbalance.spread));

	/* exactly stale_after old qualifies; 1 ns older does not */
	e += SEC;
	quote(&s, e - 2 * SEC - 1, 9.0, 9.5);
	bar(&s, e, 10, 1, 10, &o);
	assert_false(o.valid & INDICATORS_IMBALANCE);
	e += SEC;
	quote(&s, e - 2 * SEC, 9.8, 10.1);
	bar(&s, e, 10, 1, 10, &o);
	assert_true(o.valid & INDICATORS_IMBALANCE);
	assert_rel(o.imbalance.bid_px, 9.8);
	assert_rel(o.imbalance.ask_px, 10.1);
	assert_rel(o.imbalance.spread, 10.1 - 9.8);
	assert_rel(o.imbalance.bid_sz, 3);
	assert_rel(o.imbalance.ask_sz, 4);

	/* a quote newer than the bar end does not suppress an older qualifying one,
	 * and is used by the next bar */
	e += SEC;
	quote(&s, e - SEC / 2, 9.9, 10.0);
	quote(&s, e + SEC / 2, 7.0, 8.0);
	bar(&s, e, 10, 1, 10, &o);
	assert_true(o.valid & INDICATORS_IMBALANCE);
	assert_rel(o.imbalance.bid_px, 9.9);
	e += SEC;
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 7.0);

	/* a quote exactly at the bar end counts */
	e += SEC;
	quote(&s, e, 6.0, 6.5);
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 6.0);

	/* out of order arrival: the newest by t wins, whatever the order */
	e += SEC;
	quote(&s, e - SEC / 5, 5.0, 5.5);
	quote(&s, e - 7 * SEC / 10, 4.0, 4.5);
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 5.0);
	e += SEC;
	quote(&s, e - 7 * SEC / 10, 4.0, 4.5);
	quote(&s, e - SEC / 5, 5.1, 5.5);
	quote(&s, e - 3 * SEC / 10, 4.1, 4.5);
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 5.1);
	/* a late quote (older than the previous bar end) still serves the next bar */
	quote(&s, e - SEC / 10, 5.2, 5.5);
	e += SEC;
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 5.2);

	/* many quotes ahead of the close: bounded history, the needed one survives */
	e += SEC;
	quote(&s, e - SEC / 3, 3.0, 3.5);
	for (int i = 0; i < 1000; i++)
		quote(&s, e + 1 + i * (SEC / 100), 1.0, 2.0); /* 10 buckets ahead */
	assert_true(s.quotes.n <= 12); /* one per second bucket */
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 3.0);
	assert_int_equal(indicators_on_quote(&s, e, NAN, 1, 1, 1), -EINVAL);
	/* far more buckets than the bound: memory stays capped, newest kept */
	for (int i = 1; i <= 100; i++)
		quote(&s, e + i * SEC, 100.0 + i, 200.0);
	assert_int_equal(s.quotes.n, INDICATORS_QUOTE_MAX_DEFAULT);
	assert_true(s.quotes.cap <= INDICATORS_QUOTE_MAX_DEFAULT);
	e += 100 * SEC;
	bar(&s, e, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 200.0);
	assert_int_equal(s.quotes.n, 1);

	/* quotes survive a session reset (they are keyed by time) */
	quote(&s, e + 50 * SEC, 2.0, 2.5);
	indicators_reset(&s);
	bar(&s, e + 51 * SEC, 10, 1, 10, &o);
	assert_rel(o.imbalance.bid_px, 2.0);
	indicators_fini(&s);
}

/* ---- 1 m Alpaca bars: same struct, 60 s grid -------------------------- */

static void test_minute_bars(void **state)
{
	struct indicators s;
	struct indicators_out o;
	struct indicators_params p;
	indicators_params_default(&p, 60 * SEC);
	assert_int_equal(indicators_init(&s, &p), 0);
	int64_t m0 = T0 - T0 % (60 * SEC);
	for (int k = 1; k <= 8; k++) {
		/* two quotes in the minute (the newer wins), one in the next minute */
		quote(&s, m0 + k * 60 * SEC - 30 * SEC, 1.0, 2.0);
		quote(&s, m0 + k * 60 * SEC - 1 * SEC, 10.0 + k, 20.0);
		quote(&s, m0 + k * 60 * SEC + 10 * SEC, 99.0, 100.0);
		bar(&s, m0 + k * 60 * SEC, 10 + k, k, 10 + k, &o);
		assert_true(o.valid & INDICATORS_IMBALANCE);
		assert_rel(o.imbalance.bid_px, 10.0 + k);
		/* w5m: the last 5 minute bars (the one ending 300 s ago is out) */
		double spv = 0, sv = 0;
		for (int j = k; j >= 1 && j > k - 5; j--) {
			spv += (10.0 + j) * j;
			sv += j;
		}
		assert_rel(o.vwap.w5m, spv / sv);
		/* one return per 60 s window: never 2, so always null */
		assert_false(o.valid & INDICATORS_RVOL_W60S);
	}
	assert_true(s.vwap_w.cap <= 5 && s.rvol_w.cap <= 1);
	assert_true(s.quotes.n <= 2);
	indicators_fini(&s);
}

/* ---- input validation ---------------------------------------------------- */

static void test_bad_input(void **state)
{
	struct indicators s;
	struct indicators_out o;
	struct indicators_params p;
	indicators_params_default(&p, 0);
	assert_int_equal(indicators_init(&s, &p), -EINVAL);
	init1s(&s);
	bar(&s, T0 + SEC, 10, 1, 10, &o);
	struct indicators_bar b = { .end_ns = T0 + SEC, .c = 11, .v = 1, .vwap = 11 };
	assert_int_equal(indicators_on_bar(&s, &b, &o), -EINVAL); /* not after the last end */
	b.end_ns += SEC;
	b.c = 0;
	assert_int_equal(indicators_on_bar(&s, &b, &o), -EINVAL);
	b.c = NAN;
	assert_int_equal(indicators_on_bar(&s, &b, &o), -EINVAL);
	b.c = 11;
	b.v = -1;
	assert_int_equal(indicators_on_bar(&s, &b, &o), -EINVAL);
	assert_int_equal(s.nbars, 1);
	indicators_fini(&s);
}

/* ---- checkpoints --------------------------------------------------------- */

/* A deterministic mixed workload: golden-like closes, gaps, quotes. */
struct feed {
	unsigned x;
	int64_t t;
	double c;
};

static unsigned feed_rand(struct feed *f)
{
	f->x = f->x * 1664525u + 1013904223u;
	return f->x >> 8;
}

static void feed_step(struct feed *f, struct indicators *s, struct indicators_out *o, int i)
{
	unsigned r = feed_rand(f);
	f->t += (r % 5 == 0) ? (int64_t)(2 + r % 40) * SEC : SEC;
	f->c *= 1 + ((int)(r % 201) - 100) / 20000.0;
	for (int q = 0; q < (int)(r % 4); q++) {
		unsigned u = feed_rand(f);
		assert_int_equal(indicators_on_quote(s, f->t - (int64_t)(u % 3000) * (SEC / 1000),
						     f->c - 0.01, f->c + 0.01 * (1 + u % 3), u % 9, u % 7), 0);
	}
	if (i % 700 == 699)
		indicators_reset(s);
	bar(s, f->t, f->c, 1 + r % 1000, f->c * (1 + ((int)(r % 11) - 5) / 10000.0), o);
}

static uint8_t *save_all(const struct indicators *s, int *len)
{
	int n = indicators_save(s, NULL, 0);
	assert_true(n > 0);
	assert_int_equal(indicators_save_size(s), n);
	uint8_t *b = malloc(n + 1);
	assert_non_null(b);
	b[n] = 0xa5;
	assert_int_equal(indicators_save(s, b, n - 1), n); /* too small: sizes only */
	assert_int_equal(indicators_save(s, b, n + 1), n);
	assert_int_equal(b[n], 0xa5); /* exactly n bytes written */
	*len = n;
	return b;
}

static void test_checkpoint_continuation(void **state)
{
	const int splits[] = { 0, 1, 11, 25, 33, 34, 200, 777, 1400 };
	for (size_t k = 0; k < sizeof(splits) / sizeof(splits[0]); k++) {
		struct indicators a, b;
		struct feed fa = { 7, T0, 100 }, fb;
		init1s(&a);
		init1s(&b);
		struct indicators_out oa, ob;
		int i = 0;
		for (; i < splits[k]; i++)
			feed_step(&fa, &a, &oa, i);
		int len;
		uint8_t *blob = save_all(&a, &len);
		assert_int_equal(indicators_load(&b, blob, len), 0);
		/* re-encoding the restored state gives the same bytes */
		int len2;
		uint8_t *blob2 = save_all(&b, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(blob, blob2, len);
		free(blob);
		free(blob2);
		fb = fa;
		for (; i < 1600; i++) {
			feed_step(&fa, &a, &oa, i);
			feed_step(&fb, &b, &ob, i);
			assert_memory_equal(&oa, &ob, sizeof(oa)); /* bit-identical, NaNs included */
		}
		indicators_fini(&a);
		indicators_fini(&b);
	}
}

static void test_checkpoint_bad(void **state)
{
	struct indicators s, t;
	struct feed f = { 99, T0, 50 };
	struct indicators_out o;
	init1s(&s);
	for (int i = 0; i < 400; i++)
		feed_step(&f, &s, &o, i);
	int len;
	uint8_t *blob = save_all(&s, &len);
	init1s(&t);
	for (int i = 0; i < 40; i++) /* t has state of its own that must survive */
		feed_step(&f, &t, &o, i);
	int tlen;
	uint8_t *tblob = save_all(&t, &tlen);

	/* truncated at every length */
	for (int n = 0; n < len; n++)
		assert_int_equal(indicators_load(&t, blob, n), -EINVAL);
	/* One flipped bit anywhere: the blob has no checksum of its own (the
	 * snapshot container has one), so a flip inside a value may load; then
	 * the state is exactly what the bytes say (it saves back to them) and
	 * usable. Flips in the framing (magic, version, bar length, window and
	 * quote counts) are always refused. */
	const size_t off_win0 = 4 + 4 + 8 + 8 + 8 + 9 * 8 + INDICATORS_CLOSES * 8 + 2 * 8;
	const size_t off_win1 = off_win0 + 24 + (size_t)s.vwap_w.n * 24;
	const size_t off_q = off_win1 + 24 + (size_t)s.rvol_w.n * 24;
	assert_int_equal(off_q + 4 + (size_t)s.quotes.n * 40, (size_t)len);
	uint8_t *bad = malloc(len + 1);
	assert_non_null(bad);
	int accepted = 0, refused = 0;
	for (int i = 0; i < len; i++) {
		memcpy(bad, blob, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		int rc = indicators_load(&t, bad, len);
		size_t at = (size_t)i;
		int framing = at < 16 || (at >= off_win0 && at < off_win0 + 4) ||
			      (at >= off_win1 && at < off_win1 + 4) || (at >= off_q && at < off_q + 4);
		if (framing && rc != -EINVAL)
			fail_msg("flip at %d (framing) gave %d", i, rc);
		if (rc == -EINVAL) {
			refused++;
			continue;
		}
		assert_int_equal(rc, 0);
		accepted++;
		int n2;
		uint8_t *again = save_all(&t, &n2);
		assert_int_equal(n2, len);
		assert_memory_equal(again, bad, len);
		free(again);
		struct feed g = f;
		for (int k = 0; k < 30; k++) {
			struct indicators_bar nb = { g.t + (k + 1) * SEC, 10, 10, 10, 10, 1, 10 };
			rc = indicators_on_bar(&t, &nb, &o);
			assert_true(rc == 0 || rc == -EINVAL);
		}
		assert_int_equal(indicators_load(&t, tblob, tlen), 0); /* back to t's own state */
	}
	assert_true(accepted > 0 && refused > 0);
	/* trailing garbage */
	memcpy(bad, blob, len);
	bad[len] = 0;
	assert_int_equal(indicators_load(&t, bad, len + 1), -EINVAL);
	assert_int_equal(indicators_load(&t, NULL, 0), -EINVAL);
	/* t is unchanged by all of that */
	int tlen2;
	uint8_t *tblob2 = save_all(&t, &tlen2);
	assert_int_equal(tlen, tlen2);
	assert_memory_equal(tblob, tblob2, tlen);

	/* a minute-bar instance refuses a 1 s checkpoint */
	struct indicators m;
	struct indicators_params p;
	indicators_params_default(&p, 60 * SEC);
	assert_int_equal(indicators_init(&m, &p), 0);
	assert_int_equal(indicators_load(&m, blob, len), -EINVAL);
	indicators_fini(&m);

	/* structurally wrong counts are rejected */
	const uint32_t counts[] = { 0xffffffffu, 301, s.vwap_w.n + 1, s.vwap_w.n - 1 };
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		memcpy(bad, blob, len);
		for (int i = 0; i < 4; i++)
			bad[off_win0 + i] = (uint8_t)(counts[k] >> (8 * i));
		assert_int_equal(indicators_load(&t, bad, len), -EINVAL);
	}
	/* the first window's entries out of order */
	assert_true(s.vwap_w.n >= 2);
	memcpy(bad, blob, len);
	memcpy(bad + off_win0 + 24, blob + off_win0 + 24 + 24, 8);
	assert_int_equal(indicators_load(&t, bad, len), -EINVAL);
	/* and the unmodified blob loads */
	assert_int_equal(indicators_load(&t, blob, len), 0);
	free(bad);
	free(blob);
	free(tblob);
	free(tblob2);
	indicators_fini(&s);
	indicators_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_warmup_and_reset),
		cmocka_unit_test(test_vwap),
		cmocka_unit_test(test_vwap_sliding),
		cmocka_unit_test(test_rvol),
		cmocka_unit_test(test_imbalance),
		cmocka_unit_test(test_minute_bars),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_checkpoint_continuation),
		cmocka_unit_test(test_checkpoint_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
