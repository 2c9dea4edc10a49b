/* test_engine.c - the TA engine: bar closing, signals, 1 m bars, heartbeat, snapshots. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ta/engine.h"
#include "ta/indicators.h"
#include "ta/microbar.h"

#define NS 1000000000LL
#define MS 1000000LL
#define SLACK (2 * NS)
#define MIN (60 * NS)
#define BASE 1771511400000000000LL  /* 2026-02-19T14:30:00Z = Thu 09:30 New York */
#define MIDNIGHT 1771563600000000000LL /* 2026-02-20T05:00:00Z = Fri 00:00 New York */
#define SEC(x) ((int64_t)((x) * 1e9 + ((x) >= 0 ? 0.5 : -0.5)))
#define T(x) (BASE + SEC(x))
#define MONO(x) (SEC(x) + 5000 * NS)
#define REAL 1771600000123456789LL /* the records' ingest_ts in most tests */

/* ---- collectors -------------------------------------------------------- */

struct late_rec {
	char sym[EVENT_SYMBOL_MAX];
	int64_t t;
	double p, s;
};

struct sink {
	struct ta_bar_rec *bars;
	size_t nbars, capbars;
	struct ta_signal_rec *sigs;
	size_t nsigs, capsigs;
	struct late_rec lates[64];
	size_t nlates;
	size_t nstatus;
	/* byte log of every record, for the snapshot comparisons */
	uint8_t *log;
	size_t nlog, caplog;
	int logging;
};

static void grow(void **p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 64;
	*p = realloc(*p, *cap * sz);
	assert_non_null(*p);
}

static void log_put(struct sink *k, const void *p, size_t n)
{
	while (k->nlog + n > k->caplog) {
		k->caplog = k->caplog ? k->caplog * 2 : 4096;
		k->log = realloc(k->log, k->caplog);
		assert_non_null(k->log);
	}
	memcpy(k->log + k->nlog, p, n);
	k->nlog += n;
}

static void log_i64(struct sink *k, int64_t v) { log_put(k, &v, sizeof(v)); }
static void log_f64(struct sink *k, double v) { log_put(k, &v, sizeof(v)); }
static void log_b(struct sink *k, bool v) { uint8_t b = v; log_put(k, &b, 1); }
static void log_s(struct sink *k, const char *s)
{
	log_b(k, s != NULL);
	if (s)
		log_put(k, s, strlen(s) + 1);
}

/* Field by field, in schema order: what an encoder would see. */
static void log_head(struct sink *k, const struct ta_rec_head *h)
{
	log_i64(k, h->ingest_ns);
	log_i64(k, h->event_ns);
	log_s(k, h->symbol);
	log_i64(k, h->seq);
	log_b(k, h->has_is_final);
	log_b(k, h->has_is_final && h->is_final);
	log_s(k, h->source);
	log_b(k, h->has_window);
	if (h->has_window) {
		log_s(k, h->window.size);
		log_s(k, h->window.step);
		log_b(k, h->window.has_start);
		log_i64(k, h->window.has_start ? h->window.start_ns : 0);
		log_b(k, h->window.has_end);
		log_i64(k, h->window.has_end ? h->window.end_ns : 0);
	}
}

static void log_bar(struct sink *k, const struct ta_bar_rec *r)
{
	log_put(k, "B", 1);
	log_head(k, &r->head);
	log_f64(k, r->o);
	log_f64(k, r->h);
	log_f64(k, r->l);
	log_f64(k, r->c);
	log_f64(k, r->v);
	log_b(k, r->has_vwap);
	log_f64(k, r->has_vwap ? r->vwap : 0);
	log_i64(k, r->count);
	log_b(k, r->has_version);
	log_i64(k, r->version);
}

static void log_sig(struct sink *k, const struct ta_signal_rec *r)
{
	log_put(k, "S", 1);
	log_head(k, &r->head);
	log_b(k, r->has_macd);
	if (r->has_macd) {
		log_f64(k, r->macd.macd);
		log_f64(k, r->macd.signal);
		log_f64(k, r->macd.hist);
	}
	log_b(k, r->has_ema);
	if (r->has_ema) {
		log_f64(k, r->ema.ema12);
		log_f64(k, r->ema.ema26);
	}
	log_b(k, r->has_rsi14);
	if (r->has_rsi14)
		log_f64(k, r->rsi14);
	log_b(k, r->has_boll);
	if (r->has_boll) {
		log_f64(k, r->boll.mid);
		log_f64(k, r->boll.upper);
		log_f64(k, r->boll.lower);
	}
	log_b(k, r->has_vwap);
	if (r->has_vwap) {
		log_f64(k, r->vwap.session);
		log_b(k, r->vwap.has_w5m);
		if (r->vwap.has_w5m)
			log_f64(k, r->vwap.w5m);
	}
	log_b(k, r->has_imbalance);
	if (r->has_imbalance) {
		log_f64(k, r->imbalance.spread);
		log_f64(k, r->imbalance.bid_px);
		log_f64(k, r->imbalance.ask_px);
		log_f64(k, r->imbalance.bid_sz);
		log_f64(k, r->imbalance.ask_sz);
	}
	log_b(k, r->has_vol_realized);
	if (r->has_vol_realized)
		log_f64(k, r->vol_realized.w60s);
	log_b(k, r->micro != NULL);
	log_b(k, r->has_version);
	log_i64(k, r->version);
}

static void log_status(struct sink *k, const struct ta_status_rec *r)
{
	log_put(k, "H", 1);
	log_head(k, &r->head);
#define OPT_I(f) do { log_b(k, r->has_##f); log_i64(k, r->has_##f ? r->f : 0); } while (0)
#define OPT_D(f) do { log_b(k, r->has_##f); log_f64(k, r->has_##f ? r->f : 0); } while (0)
	OPT_I(watermark_lag_ms);
	OPT_I(source_lag_ms);
	log_b(k, r->has_last_event_ts);
	log_i64(k, r->last_event_ns);
	log_b(k, r->has_last_input_event_ts);
	log_i64(k, r->last_input_event_ns);
	log_b(k, r->has_last_output_event_ts);
	log_i64(k, r->last_output_event_ns);
	OPT_I(input_event_count);
	OPT_I(output_event_count);
	OPT_I(current_input_event_count);
	OPT_I(current_output_event_count);
	OPT_I(current_record_count);
	OPT_D(input_rate_per_second);
	OPT_D(output_rate_per_second);
	OPT_I(microbar_event_count);
	OPT_I(signal_event_count);
	OPT_D(microbar_rate_per_second);
	OPT_D(signal_rate_per_second);
	log_b(k, r->has_clickhouse_sink_enabled);
	log_b(k, r->clickhouse_sink_enabled);
	log_b(k, r->has_per_symbol);
	log_i64(k, (int64_t)r->per_symbol_n);
	for (size_t i = 0; i < r->per_symbol_n; i++) {
		log_s(k, r->per_symbol[i].symbol);
		log_i64(k, r->per_symbol[i].ts_ns);
	}
	log_s(k, r->market_session_state);
	log_s(k, r->status_reason);
	log_s(k, r->status);
	log_b(k, r->has_heartbeat);
	log_b(k, r->heartbeat);
	log_b(k, r->has_version);
	log_i64(k, r->version);
#undef OPT_I
#undef OPT_D
}

static void cb_bar(void *arg, const struct ta_bar_rec *r)
{
	struct sink *k = arg;
	grow((void **)&k->bars, &k->capbars, k->nbars, sizeof(*r));
	k->bars[k->nbars++] = *r;
	if (k->logging)
		log_bar(k, r);
}

static void cb_signal(void *arg, const struct ta_signal_rec *r)
{
	struct sink *k = arg;
	grow((void **)&k->sigs, &k->capsigs, k->nsigs, sizeof(*r));
	k->sigs[k->nsigs++] = *r;
	if (k->logging)
		log_sig(k, r);
}

static void cb_late(void *arg, const char *sym, int64_t t, double p, double s)
{
	struct sink *k = arg;
	if (k->nlates < 64) {
		struct late_rec *l = &k->lates[k->nlates];
		snprintf(l->sym, sizeof(l->sym), "%s", sym);
		l->t = t;
		l->p = p;
		l->s = s;
	}
	k->nlates++;
	if (k->logging) {
		log_put(k, "L", 1);
		log_s(k, sym);
		log_i64(k, t);
		log_f64(k, p);
		log_f64(k, s);
	}
}

static void cb_status(void *arg, const struct ta_status_rec *r)
{
	struct sink *k = arg;
	k->nstatus++;
	if (k->logging)
		log_status(k, r);
}

static void sink_free(struct sink *k)
{
	free(k->bars);
	free(k->sigs);
	free(k->log);
	memset(k, 0, sizeof(*k));
}

static struct ta_engine *mk(struct sink *k)
{
	struct ta_engine_opts o;
	ta_engine_opts_default(&o);
	o.arg = k;
	o.on_bar = cb_bar;
	o.on_signal = cb_signal;
	o.on_late = cb_late;
	o.on_status = cb_status;
	struct ta_engine *e = ta_engine_new(&o);
	assert_non_null(e);
	return e;
}

/* ---- events ------------------------------------------------------------ */

static struct event ev_trade(const char *sym, int64_t t, double p, double s)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TRADE;
	snprintf(ev.symbol, sizeof(ev.symbol), "%s", sym);
	ev.symbol_len = (uint8_t)strlen(ev.symbol);
	ev.t_ns = t;
	ev.u.trade.price = p;
	ev.u.trade.size = s;
	return ev;
}

static struct event ev_quote(const char *sym, int64_t t, double bp, double ap, double bs, double as)
{
	struct event ev = ev_trade(sym, t, 0, 0);
	ev.kind = EVENT_QUOTE;
	ev.u.quote.bid_px = bp;
	ev.u.quote.ask_px = ap;
	ev.u.quote.bid_sz = bs;
	ev.u.quote.ask_sz = as;
	return ev;
}

static struct event ev_bar(enum event_kind kind, const char *sym, int64_t t, double c, double v,
			   double vw)
{
	struct event ev = ev_trade(sym, t, 0, 0);
	ev.kind = kind;
	ev.u.bar.o = c - 0.5;
	ev.u.bar.h = c + 1;
	ev.u.bar.l = c - 1;
	ev.u.bar.c = c;
	ev.u.bar.v = v;
	ev.u.bar.vw = vw;
	ev.u.bar.n = 7;
	return ev;
}

static void feed(struct ta_engine *e, struct event ev, int64_t mono)
{
	assert_int_equal(ta_engine_on_event(e, &ev, mono, REAL), 0);
}

/* A trade arriving at the wall time of its own event time. */
static void trade(struct ta_engine *e, const char *sym, double x, double p, double s)
{
	feed(e, ev_trade(sym, T(x), p, s), MONO(x));
}

static bool same_f64(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- bar closing ------------------------------------------------------- */

static void test_in_order(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	trade(e, "AAPL", 10.2, 10, 1);
	trade(e, "AAPL", 10.7, 11, 3);
	trade(e, "AAPL", 11.1, 9, 2);
	trade(e, "AAPL", 12.5, 12, 1); /* W = 10.5: the [10, 11) bar waits */
	assert_int_equal(k.nbars, 0);
	trade(e, "AAPL", 13.0, 12, 1); /* W = 11.0: it closes */
	assert_int_equal(k.nbars, 1);
	assert_int_equal(k.nsigs, 1);

	const struct ta_bar_rec *b = &k.bars[0];
	assert_int_equal(b->head.ingest_ns, REAL);
	assert_int_equal(b->head.event_ns, T(11));
	assert_string_equal(b->head.symbol, "AAPL");
	assert_int_equal(b->head.seq, 1);
	assert_true(b->head.has_is_final && b->head.is_final);
	assert_string_equal(b->head.source, "ta");
	assert_true(b->head.has_window);
	assert_string_equal(b->head.window.size, "PT1S");
	assert_string_equal(b->head.window.step, "PT1S");
	assert_true(b->head.window.has_start && b->head.window.has_end);
	assert_int_equal(b->head.window.start_ns, T(10));
	assert_int_equal(b->head.window.end_ns, T(11));
	assert_true(b->o == 10 && b->h == 11 && b->l == 10 && b->c == 11 && b->v == 4);
	assert_true(b->has_vwap);
	assert_true(same_f64(b->vwap, (10.0 * 1 + 11.0 * 3) / 4));
	assert_int_equal(b->count, 2);
	assert_true(b->has_version);
	assert_int_equal(b->version, 1);

	/* The signal copies the bar's head; one bar: only the VWAPs exist. */
	const struct ta_signal_rec *s = &k.sigs[0];
	assert_memory_equal(&s->head, &b->head, sizeof(s->head));
	assert_false(s->has_ema || s->has_macd || s->has_rsi14 || s->has_boll);
	assert_false(s->has_imbalance || s->has_vol_realized);
	assert_null(s->micro);
	assert_true(s->has_vwap && s->vwap.has_w5m);
	assert_true(same_f64(s->vwap.session, b->vwap) && same_f64(s->vwap.w5m, b->vwap));
	assert_true(s->has_version && s->version == 1);

	/* The second bar gets seq 2 and a realized-vol-free second return. */
	assert_int_equal(ta_engine_advance(e, MONO(100), REAL), 3);
	assert_int_equal(k.nbars, 4);
	assert_int_equal(k.bars[1].head.seq, 2);
	assert_int_equal(k.bars[1].head.event_ns, T(12));
	assert_true(k.bars[1].o == 9 && k.bars[1].count == 1);

	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.trades_in, 5);
	assert_int_equal(st.trades_accepted, 5);
	assert_int_equal(st.bars, 4);
	assert_int_equal(st.signals_1s, 4);
	assert_int_equal(st.symbols, 1);
	assert_int_equal(st.open_buckets, 0);
	ta_engine_free(e);
	sink_free(&k);
}

static void test_out_of_order_within_slack(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	trade(e, "MSFT", 10.5, 20, 1);
	trade(e, "MSFT", 11.9, 25, 1);                          /* W = 9.9 */
	feed(e, ev_trade("MSFT", T(10.2), 18, 2), MONO(12.0)); /* older, within slack */
	assert_int_equal(k.nbars, 0);
	assert_int_equal(k.nlates, 0);
	trade(e, "MSFT", 13.5, 30, 1); /* W = 11.5 */
	assert_int_equal(k.nbars, 1);
	const struct ta_bar_rec *b = &k.bars[0];
	assert_true(b->o == 18); /* the smallest t, though it arrived last */
	assert_true(b->c == 20);
	assert_true(b->l == 18 && b->h == 20 && b->v == 3 && b->count == 2);
	ta_engine_free(e);
	sink_free(&k);
}

static void test_late_beyond_slack(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	trade(e, "NVDA", 10.5, 100, 1);
	trade(e, "NVDA", 13.0, 101, 1); /* W = 11: [10, 11) closed */
	assert_int_equal(k.nbars, 1);
	struct ta_bar_rec before = k.bars[0];
	feed(e, ev_trade("NVDA", T(10.9), 500, 7), MONO(13.1));
	assert_int_equal(k.nlates, 1);
	assert_string_equal(k.lates[0].sym, "NVDA");
	assert_int_equal(k.lates[0].t, T(10.9));
	assert_true(k.lates[0].p == 500 && k.lates[0].s == 7);
	assert_int_equal(ta_engine_advance(e, MONO(100), REAL), 1);
	assert_int_equal(k.nbars, 2);
	assert_memory_equal(&k.bars[0], &before, sizeof(before));
	assert_int_equal(k.bars[1].head.event_ns, T(14)); /* no second [10, 11) bar */
	assert_true(k.bars[1].h == 101);
	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.trades_late, 1);
	assert_int_equal(st.trades_accepted, 2);

	/* Invalid trades are counted, never move the watermark. */
	feed(e, ev_trade("NVDA", T(1000), 0, 1), MONO(101));
	feed(e, ev_trade("NVDA", T(1000), NAN, 1), MONO(101));
	feed(e, ev_trade("", T(1000), 1, 1), MONO(101));
	ta_engine_stats(e, &st);
	assert_int_equal(st.trades_rejected, 3);
	assert_int_equal(st.trades_in, 6);
	/* Not late: had T(1000) moved the watermark, this would be. */
	trade(e, "NVDA", 120.5, 1, 1);
	ta_engine_stats(e, &st);
	assert_int_equal(st.trades_accepted, 3);
	ta_engine_free(e);
	sink_free(&k);
}

static void test_idle_advance(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	assert_true(ta_engine_next_deadline(e) == INT64_MAX);
	assert_int_equal(ta_engine_advance(e, MONO(50), REAL), 0);
	trade(e, "AMD", 10.3, 5, 1);
	/* The bar's end + slack, reached by the wall clock: 11 + 2 - 10.3 = 2.7 s later. */
	assert_true(ta_engine_next_deadline(e) == MONO(13.0));
	assert_int_equal(ta_engine_advance(e, MONO(13.0) - 1, REAL), 0);
	assert_int_equal(k.nbars, 0);
	assert_int_equal(ta_engine_advance(e, MONO(13.0), REAL + 5), 1);
	assert_int_equal(k.nbars, 1);
	assert_int_equal(k.bars[0].head.ingest_ns, REAL + 5);
	assert_int_equal(k.sigs[0].head.ingest_ns, REAL + 5);
	assert_true(ta_engine_next_deadline(e) == INT64_MAX);
	/* A quote also closes what is due before it is applied. */
	trade(e, "AMD", 20.3, 5, 1);
	feed(e, ev_quote("AMD", T(20.9), 1, 2, 3, 4), MONO(23.0));
	assert_int_equal(k.nbars, 2);
	ta_engine_free(e);
	sink_free(&k);
}

/* ---- indicators -------------------------------------------------------- */

static double price_at(int i)
{
	return 100 + 3 * sin(i * 0.7) + 0.1 * i;
}

static void check_signal(const struct ta_signal_rec *s, const struct indicators_out *o)
{
	const uint32_t ema = INDICATORS_EMA12 | INDICATORS_EMA26;
	assert_int_equal(s->has_ema, (o->valid & ema) == ema);
	if (s->has_ema)
		assert_true(same_f64(s->ema.ema12, o->ema.ema12) && same_f64(s->ema.ema26, o->ema.ema26));
	assert_int_equal(s->has_macd, !!(o->valid & INDICATORS_MACD));
	if (s->has_macd)
		assert_true(same_f64(s->macd.macd, o->macd.macd) &&
			    same_f64(s->macd.signal, o->macd.signal) && same_f64(s->macd.hist, o->macd.hist));
	assert_int_equal(s->has_rsi14, !!(o->valid & INDICATORS_RSI14));
	if (s->has_rsi14)
		assert_true(same_f64(s->rsi14, o->rsi14));
	assert_int_equal(s->has_boll, !!(o->valid & INDICATORS_BOLL));
	if (s->has_boll)
		assert_true(same_f64(s->boll.mid, o->boll.mid) && same_f64(s->boll.upper, o->boll.upper) &&
			    same_f64(s->boll.lower, o->boll.lower));
	assert_int_equal(s->has_vwap, !!(o->valid & INDICATORS_VWAP_SESSION));
	if (s->has_vwap) {
		assert_true(same_f64(s->vwap.session, o->vwap.session));
		assert_int_equal(s->vwap.has_w5m, !!(o->valid & INDICATORS_VWAP_W5M));
		if (s->vwap.has_w5m)
			assert_true(same_f64(s->vwap.w5m, o->vwap.w5m));
	}
	assert_int_equal(s->has_vol_realized, !!(o->valid & INDICATORS_RVOL_W60S));
	if (s->has_vol_realized)
		assert_true(same_f64(s->vol_realized.w60s, o->vol_realized.w60s));
	assert_int_equal(s->has_imbalance, !!(o->valid & INDICATORS_IMBALANCE));
	if (s->has_imbalance) {
		assert_true(same_f64(s->imbalance.spread, o->imbalance.spread));
		assert_true(same_f64(s->imbalance.bid_px, o->imbalance.bid_px));
		assert_true(same_f64(s->imbalance.ask_sz, o->imbalance.ask_sz));
	}
	assert_null(s->micro);
}

static void ref_bar(struct indicators *ref, const struct ta_bar_rec *b, struct indicators_out *o)
{
	struct indicators_bar in = { b->head.event_ns, b->o, b->h, b->l, b->c, b->v, b->vwap };
	assert_int_equal(indicators_on_bar(ref, &in, o), 0);
}

/* The 26th bar brings the ema record, the 34th macd; values are the
 * indicators module's for the same bars. */
static void test_warmup_ema_macd(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	for (int i = 0; i < 40; i++) {
		trade(e, "TSLA", 100 + i + 0.25, price_at(i), 1 + i % 5);
		trade(e, "TSLA", 100 + i + 0.75, price_at(i) + 0.05, 2);
	}
	ta_engine_advance(e, MONO(1000), REAL);
	assert_int_equal(k.nbars, 40);
	assert_int_equal(k.nsigs, 40);

	struct indicators_params p;
	indicators_params_default(&p, NS);
	struct indicators ref;
	assert_int_equal(indicators_init(&ref, &p), 0);
	for (int i = 0; i < 40; i++) {
		const struct ta_signal_rec *s = &k.sigs[i];
		assert_int_equal(s->head.seq, i + 1);
		assert_memory_equal(&s->head, &k.bars[i].head, sizeof(s->head));
		struct indicators_out o;
		ref_bar(&ref, &k.bars[i], &o);
		check_signal(s, &o);
		int n = i + 1;
		assert_int_equal(s->has_ema, n >= 26);
		assert_int_equal(s->has_macd, n >= 34);
		assert_int_equal(s->has_rsi14, n >= 15);
		assert_int_equal(s->has_boll, n >= 20);
		assert_int_equal(s->has_vol_realized, n >= 3);
		assert_true(s->has_vwap && s->vwap.has_w5m);
	}
	indicators_fini(&ref);
	ta_engine_free(e);
	sink_free(&k);
}

/* New York midnight (05:00Z in February) resets the 1 s indicators; the
 * date is that of the bar's window end. */
static void test_session_reset(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	int64_t mono = 9000 * NS;
	/* 27 bars ending 04:59:32 .. 04:59:58 (Thursday in New York). */
	for (int i = 0; i < 27; i++) {
		int64_t t = MIDNIGHT - 29 * NS + i * NS + NS / 2;
		feed(e, ev_trade("IBM", t, price_at(i), 1), mono + i * NS);
	}
	/* [04:59:58, 04:59:59) ends on Thursday, [04:59:59, 05:00:00) on Friday. */
	feed(e, ev_trade("IBM", MIDNIGHT - 2 * NS + 1, 150, 1), mono + 27 * NS);
	feed(e, ev_trade("IBM", MIDNIGHT - NS + 1, 200, 2), mono + 28 * NS);
	ta_engine_advance(e, mono + 1000 * NS, REAL);
	assert_int_equal(k.nbars, 29);
	const struct ta_signal_rec *thu = &k.sigs[27], *fri = &k.sigs[28];
	assert_int_equal(thu->head.event_ns, MIDNIGHT - NS);
	assert_true(thu->has_ema && thu->has_rsi14 && thu->has_boll && thu->has_vol_realized);
	assert_int_equal(fri->head.event_ns, MIDNIGHT);
	assert_int_equal(fri->head.seq, 29); /* seq is the record identity: never reset */
	assert_false(fri->has_ema || fri->has_rsi14 || fri->has_boll || fri->has_vol_realized);
	assert_true(fri->has_vwap && same_f64(fri->vwap.session, 200));
	assert_true(same_f64(fri->vwap.w5m, 200));

	/* 1 m series reset on their own: minutes ending 04:59 (Thu) and 05:00 (Fri). */
	feed(e, ev_bar(EVENT_BAR, "IBM", MIDNIGHT - 3 * MIN, 10, 100, 10), mono + 1001 * NS);
	feed(e, ev_bar(EVENT_BAR, "IBM", MIDNIGHT - 2 * MIN, 11, 100, 11), mono + 1002 * NS);
	feed(e, ev_bar(EVENT_BAR, "IBM", MIDNIGHT - MIN, 12, 100, 12), mono + 1003 * NS);
	assert_int_equal(k.nsigs, 32);
	assert_true(same_f64(k.sigs[30].vwap.session, (10.0 * 100 + 11.0 * 100) / 200));
	assert_true(same_f64(k.sigs[31].vwap.session, 12));
	assert_int_equal(k.sigs[31].head.seq, 3);
	assert_int_equal(k.nbars, 29); /* minute bars emit no TaBar1s */
	ta_engine_free(e);
	sink_free(&k);
}

/* Only final minute bars make 1 m signals: window PT1M, event_ts = minute
 * start, their own seq. */
static void test_minute_signals(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	int64_t t0 = BASE + 10 * MIN, mono = 100 * NS;
	feed(e, ev_bar(EVENT_UPDATED_BAR, "SPY", t0, 500, 10, 500), mono);
	assert_int_equal(k.nsigs, 0);
	struct indicators_params p;
	indicators_params_default(&p, MIN);
	struct indicators ref;
	assert_int_equal(indicators_init(&ref, &p), 0);
	for (int i = 0; i < 36; i++) {
		int64_t t = t0 + i * MIN;
		double c = price_at(i) * 5, vw = i % 7 ? c - 0.01 : NAN;
		feed(e, ev_bar(EVENT_UPDATED_BAR, "SPY", t, c + 1, 10, c), mono + i * NS);
		feed(e, ev_bar(EVENT_BAR, "SPY", t, c, 100 + i, vw), mono + i * NS);
		assert_int_equal(k.nsigs, (size_t)i + 1);
		const struct ta_signal_rec *s = &k.sigs[i];
		assert_int_equal(s->head.event_ns, t);
		assert_int_equal(s->head.seq, i + 1);
		assert_string_equal(s->head.symbol, "SPY");
		assert_string_equal(s->head.source, "ta");
		assert_true(s->head.has_is_final && s->head.is_final);
		assert_string_equal(s->head.window.size, "PT1M");
		assert_string_equal(s->head.window.step, "PT1M");
		assert_int_equal(s->head.window.start_ns, t);
		assert_int_equal(s->head.window.end_ns, t + MIN);
		assert_int_equal(s->head.ingest_ns, REAL);
		struct indicators_bar in = { t + MIN, c - 0.5, c + 1, c - 1, c, 100 + i, vw };
		struct indicators_out o;
		assert_int_equal(indicators_on_bar(&ref, &in, &o), 0);
		check_signal(s, &o);
		assert_int_equal(s->has_ema, i + 1 >= 26);
		assert_int_equal(s->has_macd, i + 1 >= 34);
	}
	/* A repeated, an older, an unaligned and a bad bar are rejected. */
	feed(e, ev_bar(EVENT_BAR, "SPY", t0 + 35 * MIN, 1, 1, 1), mono + 40 * NS);
	feed(e, ev_bar(EVENT_BAR, "SPY", t0, 1, 1, 1), mono + 40 * NS);
	feed(e, ev_bar(EVENT_BAR, "SPY", t0 + 40 * MIN + 1, 1, 1, 1), mono + 40 * NS);
	feed(e, ev_bar(EVENT_BAR, "SPY", t0 + 41 * MIN, 0, 1, 1), mono + 40 * NS);
	feed(e, ev_bar(EVENT_BAR, "SPY", t0 + 42 * MIN, 5, -1, 1), mono + 40 * NS);
	assert_int_equal(k.nsigs, 36);
	/* A gap is fine: the next minute continues the series and its seq. */
	feed(e, ev_bar(EVENT_BAR, "SPY", t0 + 50 * MIN, 600, 1, 600), mono + 41 * NS);
	assert_int_equal(k.nsigs, 37);
	assert_int_equal(k.sigs[36].head.seq, 37);
	assert_int_equal(k.nbars, 0);
	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.bars1m_in, 42);
	assert_int_equal(st.bars1m_rejected, 5);
	assert_int_equal(st.bars1m_ignored, 37);
	assert_int_equal(st.signals_1m, 37);
	assert_int_equal(st.signals_1s, 0);
	/* 1 s and 1 m seqs are independent. */
	trade(e, "SPY", 5.5, 1, 1);
	ta_engine_advance(e, MONO(100), REAL);
	assert_int_equal(k.nbars, 1);
	assert_int_equal(k.bars[0].head.seq, 1);
	indicators_fini(&ref);
	ta_engine_free(e);
	sink_free(&k);
}

static void test_imbalance(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	feed(e, ev_quote("QQQ", T(10.2), 9.9, 10.1, 100, 200), MONO(10.2));
	trade(e, "QQQ", 10.5, 10, 1);
	/* Newer than the bar end: must not hide the 10.2 quote. */
	feed(e, ev_quote("QQQ", T(11.4), 9.8, 10.3, 50, 60), MONO(11.4));
	trade(e, "QQQ", 13.5, 10, 1);
	assert_int_equal(k.nsigs, 1);
	const struct ta_signal_rec *s = &k.sigs[0];
	assert_true(s->has_imbalance);
	assert_true(same_f64(s->imbalance.spread, 10.1 - 9.9));
	assert_true(s->imbalance.bid_px == 9.9 && s->imbalance.ask_px == 10.1);
	assert_true(s->imbalance.bid_sz == 100 && s->imbalance.ask_sz == 200);
	/* [13, 14): the newest quote <= 14 is 2.6 s old, beyond stale-after 2 s. */
	ta_engine_advance(e, MONO(100), REAL);
	assert_int_equal(k.nsigs, 2);
	assert_false(k.sigs[1].has_imbalance);

	/* 1 m: the newest quote in the minute, not the one after it. */
	feed(e, ev_quote("QQQ", T(59.5), 1, 2, 3, 4), MONO(100));
	feed(e, ev_quote("QQQ", T(61), 5, 6, 7, 8), MONO(100));
	feed(e, ev_bar(EVENT_BAR, "QQQ", BASE, 10, 100, 10), MONO(100));
	assert_int_equal(k.nsigs, 3);
	assert_true(k.sigs[2].has_imbalance);
	assert_true(k.sigs[2].imbalance.bid_px == 1 && k.sigs[2].imbalance.ask_sz == 4);
	/* Bad quotes are counted and ignored. */
	feed(e, ev_quote("QQQ", T(62), NAN, 1, 1, 1), MONO(100));
	feed(e, ev_quote("QQQ", 0, 1, 1, 1, 1), MONO(100));
	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.quotes_in, 6);
	assert_int_equal(st.quotes_rejected, 2);
	ta_engine_free(e);
	sink_free(&k);
}

/* ---- heartbeat --------------------------------------------------------- */

static const struct ta_symbol_ts *find_sym(const struct ta_status_rec *r, const char *sym)
{
	for (size_t i = 0; i < r->per_symbol_n; i++)
		if (strcmp(r->per_symbol[i].symbol, sym) == 0)
			return &r->per_symbol[i];
	return NULL;
}

static void test_heartbeat(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	struct ta_status_rec r;
	/* Start-up, 09:30:04 New York on a Thursday, nothing seen. */
	ta_engine_status(e, MONO(4), T(4), &r);
	assert_int_equal(k.nstatus, 1);
	assert_string_equal(r.head.symbol, "ta");
	assert_int_equal(r.head.seq, 1);
	assert_int_equal(r.head.event_ns, T(4));
	assert_int_equal(r.head.ingest_ns, T(4));
	assert_string_equal(r.head.source, "ta");
	assert_false(r.head.has_window || r.head.has_is_final);
	assert_false(r.has_watermark_lag_ms || r.has_source_lag_ms || r.has_last_event_ts);
	assert_true(r.has_input_event_count && r.input_event_count == 0);
	assert_false(r.has_input_rate_per_second); /* no previous heartbeat */
	assert_true(r.has_per_symbol && r.per_symbol_n == 0);
	assert_string_equal(r.market_session_state, "regular");
	assert_string_equal(r.status, "degraded");
	assert_string_equal(r.status_reason, "source_lag_missing_during_regular_session");
	assert_true(r.has_heartbeat && r.heartbeat);
	assert_true(r.has_version && r.version == 1);
	assert_true(r.has_clickhouse_sink_enabled && !r.clickhouse_sink_enabled);

	trade(e, "AAPL", 10.2, 10, 1);
	trade(e, "BRK.B", 10.6, 400, 1);
	feed(e, ev_quote("AAPL", T(10.8), 9, 11, 1, 1), MONO(10.8));
	trade(e, "AAPL", 13.0, 10, 1); /* closes both [10, 11) bars */
	/* now_real runs 250 ms ahead of the event clock. */
	ta_engine_status(e, MONO(14), T(14) + 250 * MS, &r);
	assert_int_equal(r.head.seq, 2);
	/* W = E - slack = 11 (the feed is active: 1 s since E arrived). */
	assert_true(r.has_watermark_lag_ms);
	assert_int_equal(r.watermark_lag_ms, 3250);
	assert_true(r.has_source_lag_ms);
	assert_int_equal(r.source_lag_ms, 1250);
	assert_int_equal(r.last_input_event_ns, T(13));
	assert_int_equal(r.last_output_event_ns, T(11));
	assert_int_equal(r.last_event_ns, T(13));
	assert_int_equal(r.input_event_count, 4);
	assert_int_equal(r.output_event_count, 4);
	assert_int_equal(r.current_input_event_count, 4);
	assert_int_equal(r.current_output_event_count, 4);
	assert_int_equal(r.current_record_count, 8);
	assert_int_equal(r.microbar_event_count, 2);
	assert_int_equal(r.signal_event_count, 2);
	assert_true(r.has_input_rate_per_second && r.has_signal_rate_per_second);
	assert_true(r.input_rate_per_second == 0.4 && r.output_rate_per_second == 0.4);
	assert_true(r.microbar_rate_per_second == 0.2 && r.signal_rate_per_second == 0.2);
	assert_int_equal(r.per_symbol_n, 2);
	assert_int_equal(find_sym(&r, "AAPL")->ts_ns, T(13));
	assert_int_equal(find_sym(&r, "BRK.B")->ts_ns, T(10.6));
	assert_string_equal(r.status, "ok");
	assert_null(r.status_reason);

	/* A late trade degrades the next heartbeat, whatever the session. */
	feed(e, ev_trade("AAPL", T(10.1), 10, 1), MONO(14.5));
	ta_engine_status(e, MONO(15), T(15), &r);
	assert_string_equal(r.status_reason, "late_trades_since_last_heartbeat");
	assert_int_equal(r.current_input_event_count, 1);
	assert_int_equal(r.current_output_event_count, 0);
	assert_true(r.input_rate_per_second == 1.0);
	/* Nothing since: degraded during the regular session... */
	ta_engine_status(e, MONO(16), T(16), &r);
	assert_string_equal(r.status_reason, "zero_current_records_during_regular_session");
	assert_int_equal(r.current_record_count, 0);
	/* ...and with a stale source. */
	ta_engine_status(e, MONO(17), T(13) + 300 * NS + 1, &r);
	assert_string_equal(r.status_reason, "source_lag_stale_during_regular_session");
	/* Idle feed: W moves with the wall clock, the lag stays arrival delay + slack. */
	assert_int_equal(ta_engine_advance(e, MONO(100), T(100)), 1);
	ta_engine_status(e, MONO(100), T(100), &r);
	assert_int_equal(r.watermark_lag_ms, 2000);
	assert_int_equal(r.microbar_event_count, 3);
	/* After the close (17:00 New York): "post" and ok. */
	ta_engine_status(e, MONO(101), BASE + 7 * 3600 * NS + 30 * 60 * NS, &r);
	assert_string_equal(r.market_session_state, "post");
	assert_string_equal(r.status, "ok");
	assert_null(r.status_reason);
	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.heartbeats, 7);
	ta_engine_free(e);

	/* Saturday 10:00 New York: nothing seen is fine on a weekend. */
	e = mk(&k);
	int64_t sat = BASE + 2 * 86400 * NS + 30 * 60 * NS;
	ta_engine_status(e, MONO(0), sat, &r);
	assert_string_equal(r.market_session_state, "regular"); /* time of day, as marketSession */
	assert_string_equal(r.status, "ok");
	ta_engine_status(e, MONO(0), sat - 86400 * NS, &r); /* Friday */
	assert_string_equal(r.status, "degraded");
	ta_engine_free(e);
	sink_free(&k);
}

/* ---- snapshots --------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* ---- saves in steps ----------------------------------------------------- */

/* A module's stepped save behind one interface (engine or micro-bars). */
struct stepper {
	ssize_t (*begin)(const struct stepper *st, void *saver);
	int (*step)(const struct stepper *st, void *saver, uint8_t *buf, size_t budget);
	const struct ta_engine *e;
	const struct microbar *m;
	int64_t mono;
};

static ssize_t eng_begin(const struct stepper *st, void *s)
{
	return ta_engine_save_begin(st->e, st->mono, s);
}

static int eng_step(const struct stepper *st, void *s, uint8_t *buf, size_t budget)
{
	return ta_engine_save_step(st->e, s, buf, budget);
}

static ssize_t mb_begin(const struct stepper *st, void *s)
{
	return microbar_save_begin(st->m, s);
}

static int mb_step(const struct stepper *st, void *s, uint8_t *buf, size_t budget)
{
	return microbar_save_step(st->m, s, buf, budget);
}

union any_saver {
	struct ta_engine_saver e;
	struct microbar_saver m;
};

/* A save in steps of `budget` into two buffers, one pre-filled with 0x00 and
 * one with 0xff, in lockstep: after each step the bytes written so far are
 * where both agree, so ends[k] (the returned count of them) shows what each
 * step wrote. Every step returns 0 except the last (1), writes a prefix of
 * `whole` and makes progress; the last completes it. Returns the steps. */
static size_t run_steps(const struct stepper *st, const uint8_t *whole, size_t len, size_t budget,
			size_t *ends)
{
	uint8_t *x0 = malloc(len), *x1 = malloc(len);
	assert_true(x0 && x1);
	memset(x0, 0, len);
	memset(x1, 0xff, len);
	union any_saver s0, s1;
	assert_int_equal(st->begin(st, &s0), (ssize_t)len);
	assert_int_equal(st->begin(st, &s1), (ssize_t)len);
	size_t n = 0, at = 0;
	for (;;) {
		int rc = st->step(st, &s0, x0, budget);
		assert_int_equal(st->step(st, &s1, x1, budget), rc);
		size_t prev = at;
		while (at < len && x0[at] == x1[at])
			at++;
		assert_true(at > prev);
		assert_memory_equal(x0 + prev, whole + prev, at - prev);
		assert_true(n <= len);
		ends[n++] = at;
		if (rc == 1)
			break;
		assert_int_equal(rc, 0);
	}
	assert_int_equal(at, len);
	free(x0);
	free(x1);
	return n;
}

/* Stepped saves equal the whole save for several budgets, and each step
 * writes whole items and stops at the first item end at or past its budget.
 * The steps of budget 1 (one item each: there must be `nitems`) mark the
 * item ends. */
static void check_steps(const struct stepper *st, const uint8_t *whole, size_t len, size_t nitems)
{
	size_t *items = malloc((len + 1) * sizeof(*items)), *ends = malloc((len + 1) * sizeof(*ends));
	assert_true(items && ends);
	assert_int_equal(run_steps(st, whole, len, 1, items), nitems);
	/* ... and budgets that end exactly on an item end */
	const size_t budgets[] = { 0, 2, 64, 777, 4096, len / 3 + 1, len, SIZE_MAX, items[0],
				   items[nitems > 1 ? 1 : 0], items[nitems / 2] };
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		size_t n = run_steps(st, whole, len, budgets[b], ends);
		size_t k = 0, start = 0; /* items[k]: the first item end after start */
		for (size_t i = 0; i < n; i++) {
			while (k + 1 < nitems && items[k] - start < budgets[b])
				k++;
			if (items[k] != ends[i])
				fail_msg("budget %zu, step %zu: wrote [%zu, %zu), want [%zu, %zu)", budgets[b], i,
					 start, ends[i], start, items[k]);
			start = ends[i];
			k++;
		}
		assert_int_equal(k, nitems);
	}
	free(items);
	free(ends);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The engine's items: its header, the micro-bar header and symbols, the
 * symbol count, its symbols (counts read from the encoding). */
static void check_engine_steps(const struct ta_engine *e, int64_t mono, const uint8_t *whole, size_t len)
{
	size_t at = 4 + 4 + 17 * 8 + 2 * 8 + 4 + 8;
	at += 4 + le32(whole + at);    /* watermark blob */
	size_t mb_len = le32(whole + at);
	size_t mb_nsym = le32(whole + at + 4 + 48);
	size_t nsym = le32(whole + at + 4 + mb_len);
	struct stepper st = { eng_begin, eng_step, e, NULL, mono };
	check_steps(&st, whole, len, 1 + 1 + mb_nsym + 1 + nsym);
}

static uint8_t *save_all(struct ta_engine *e, int64_t mono, size_t *len)
{
	ssize_t n = ta_engine_save(e, mono, NULL, 0);
	assert_true(n > 0);
	struct ta_engine_saver sv;
	assert_int_equal(ta_engine_save_begin(e, mono, &sv), n);
	uint8_t *buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(ta_engine_save(e, mono, buf, (size_t)n - 1), -ENOSPC);
	assert_int_equal(ta_engine_save(e, mono, buf, (size_t)n), n);
	*len = (size_t)n;
	return buf;
}

#define NSYMS 6
static const char *const SYMS[NSYMS] = { "AAPL", "MSFT", "NVDA", "BRK.B", "TSLA", "BTC/USD" };

/* A random stream around New York midnight: trades (some out of order,
 * some late, some invalid), quotes, final and updated minute bars
 * (some repeated), wall-clock advances and heartbeats. With restart_p > 0
 * the engine is saved, destroyed, recreated and loaded at random steps. */
static void run_stream(uint64_t seed, int steps, double restart_p, struct sink *k, int *restarts)
{
	uint64_t rs = seed * 7919 + 1;
	struct ta_engine *e = mk(k);
	int64_t mono = 777 * NS, ft = MIDNIGHT - 150 * NS;
	double px[NSYMS];
	int64_t next_min = (ft / MIN + 1) * MIN;
	for (int i = 0; i < NSYMS; i++)
		px[i] = 50 + 20 * i;
	for (int step = 0; step < steps; step++) {
		int64_t dt = (int64_t)(rng_unit(&rs) * 300 * MS);
		if (rng_unit(&rs) < 0.01)
			dt += (int64_t)(rng_unit(&rs) * 5 * NS); /* an idle gap */
		mono += dt;
		ft += dt;
		int64_t real = REAL + step; /* fixed by the test, distinct per step */
		int si = (int)(rng_next(&rs) % NSYMS);
		double u = rng_unit(&rs);
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		if (u < 0.55) {
			px[si] *= 1 + (rng_unit(&rs) - 0.5) * 0.004;
			double lag = rng_unit(&rs) < 0.9 ? rng_unit(&rs) * 1.5 : rng_unit(&rs) * 4;
			double p = rng_unit(&rs) < 0.01 ? -1 : px[si];
			ev = ev_trade(SYMS[si], ft - SEC(lag), p, 1 + (double)(rng_next(&rs) % 300));
		} else if (u < 0.85) {
			double bp = px[si] - 0.01 * (1 + rng_next(&rs) % 5);
			ev = ev_quote(SYMS[si], ft - SEC(rng_unit(&rs) * 0.8), bp, px[si] + 0.02,
				      (double)(rng_next(&rs) % 900), (double)(rng_next(&rs) % 900));
		} else if (u < 0.9) {
			ev = ev_bar(EVENT_UPDATED_BAR, SYMS[si], next_min - MIN, px[si], 10, px[si]);
		} else if (u < 0.95) {
			assert_int_equal(ta_engine_advance(e, mono, real) >= 0, 1);
			ev.kind = EVENT_NONE;
		} else {
			ta_engine_status(e, mono, real, NULL);
			ev.kind = EVENT_NONE;
		}
		if (ev.kind != EVENT_NONE)
			assert_int_equal(ta_engine_on_event(e, &ev, mono, real), 0);
		if (ft >= next_min + 2 * NS) {
			/* Alpaca's final bars for the minute that ended (one repeated). */
			for (int i = 0; i < NSYMS; i++) {
				double vw = i == 2 ? NAN : px[i] * 0.999;
				struct event b = ev_bar(EVENT_BAR, SYMS[i], next_min - MIN, px[i], 500 + i, vw);
				assert_int_equal(ta_engine_on_event(e, &b, mono, real), 0);
			}
			struct event b = ev_bar(EVENT_BAR, SYMS[0], next_min - MIN, 1, 1, 1);
			assert_int_equal(ta_engine_on_event(e, &b, mono, real), 0);
			next_min += MIN;
		}
		double draw = rng_unit(&rs); /* drawn by both runs: the streams stay equal */
		if (restart_p > 0 && draw < restart_p) {
			size_t len;
			uint8_t *buf = save_all(e, mono, &len);
			if (*restarts % 4 == 0)
				check_engine_steps(e, mono, buf, len);
			ta_engine_free(e);
			e = mk(k);
			assert_int_equal(ta_engine_load(e, mono, buf, len), 0);
			/* A loaded engine saves to the same bytes. */
			size_t len2;
			uint8_t *buf2 = save_all(e, mono, &len2);
			assert_int_equal(len, len2);
			assert_memory_equal(buf, buf2, len);
			free(buf);
			free(buf2);
			(*restarts)++;
		}
	}
	ta_engine_advance(e, mono + 100 * NS, REAL + steps);
	ta_engine_status(e, mono + 100 * NS, REAL + steps, NULL);
	ta_engine_free(e);
}

static void test_snapshot_equivalence(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct sink a = { 0 }, b = { 0 };
		a.logging = b.logging = 1;
		int ra = 0, rb = 0;
		run_stream(seed, 4000, 0.0, &a, &ra);
		run_stream(seed, 4000, 0.004, &b, &rb);
		assert_true(rb > 3);
		assert_true(a.nbars > 1000 && a.nsigs > a.nbars && a.nlates > 0 && a.nstatus > 50);
		assert_int_equal(a.nbars, b.nbars);
		assert_int_equal(a.nsigs, b.nsigs);
		assert_int_equal(a.nlates, b.nlates);
		assert_int_equal(a.nlog, b.nlog);
		assert_memory_equal(a.log, b.log, a.nlog);
		sink_free(&a);
		sink_free(&b);
	}
}

/* Build a small but complete state. */
static struct ta_engine *populated(struct sink *k)
{
	struct ta_engine *e = mk(k);
	for (int i = 0; i < 30; i++) {
		trade(e, "AAPL", 10 + i + 0.3, price_at(i), 1);
		feed(e, ev_quote("AAPL", T(10 + i + 0.5), 1, 2, 3, 4), MONO(10 + i + 0.5));
	}
	trade(e, "MSFT", 39.9, 5, 1);
	feed(e, ev_bar(EVENT_BAR, "AAPL", BASE, 10, 100, 10), MONO(40));
	feed(e, ev_bar(EVENT_BAR, "AAPL", BASE + MIN, 11, 100, 11), MONO(40));
	ta_engine_status(e, MONO(40), T(40), NULL);
	return e;
}

static void test_load_malformed(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = populated(&k);
	size_t len;
	uint8_t *good = save_all(e, MONO(41), &len);
	uint8_t *bad = malloc(len);
	assert_non_null(bad);

	assert_int_equal(ta_engine_load(e, MONO(41), NULL, len), -EINVAL);
	for (size_t n = 0; n < len; n += 1 + n / 16)
		assert_int_equal(ta_engine_load(e, MONO(41), good, n), -EINVAL);
	/* The framing is checked: magic, version, the blob lengths, the symbol
	 * count (offsets from the layout in engine.c). */
	size_t wm_at = 4 + 4 + 17 * 8 + 2 * 8 + 4 + 8;
	size_t mb_at = wm_at + 4 + le32(good + wm_at);
	size_t nsym_at = mb_at + 4 + le32(good + mb_at);
	const size_t framing[] = { 0, 3, 4, wm_at, wm_at + 3, mb_at, mb_at + 2, nsym_at, nsym_at + 3,
				   nsym_at + 4 /* first name length */ };
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, good, len);
			bad[framing[i]] ^= (uint8_t)(1u << bit);
			if (ta_engine_load(e, MONO(41), bad, len) != -EINVAL)
				fail_msg("flip of bit %d at %zu accepted", bit, framing[i]);
		}
	}
	/* Random corruption: no checksum of its own (the snapshot container has
	 * one), so a flip inside a value may load; then the state is exactly
	 * what the bytes say (it saves back to them) and usable. */
	uint64_t seed = 4242;
	int accepted = 0, refused = 0;
	for (int i = 0; i < 4000; i++) {
		memcpy(bad, good, len);
		size_t at = rng_next(&seed) % len;
		bad[at] ^= (uint8_t)(1u + rng_next(&seed) % 255);
		int rc = ta_engine_load(e, MONO(41), bad, len);
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc < 0) {
			refused++;
			continue;
		}
		accepted++;
		size_t len2;
		uint8_t *again = save_all(e, MONO(41), &len2);
		assert_int_equal(len2, len);
		assert_memory_equal(again, bad, len);
		free(again);
		trade(e, "AAPL", 45.5, 7, 1);
		trade(e, "MSFT", 45.6, 8, 1);
		feed(e, ev_quote("AAPL", T(45.7), 1, 2, 3, 4), MONO(45.7));
		ta_engine_advance(e, MONO(60), T(60));
		ta_engine_status(e, MONO(60), T(60), NULL);
		assert_int_equal(ta_engine_load(e, MONO(41), good, len), 0);
	}
	assert_true(accepted > 0 && refused > 0);
	/* Failed loads left the state untouched. */
	size_t len2;
	uint8_t *again = save_all(e, MONO(41), &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(good, again, len);
	free(again);

	/* Loading at a later monotonic time rebases: downtime is not silence. */
	struct sink k2 = { 0 };
	struct ta_engine *f = mk(&k2);
	assert_int_equal(ta_engine_load(f, MONO(41) + 3600 * NS, good, len), 0);
	assert_int_equal(ta_engine_next_deadline(f) - 3600 * NS, ta_engine_next_deadline(e));
	struct ta_status_rec r;
	ta_engine_status(f, MONO(42) + 3600 * NS, T(42), &r);
	assert_int_equal(r.head.seq, 2);
	assert_true(r.has_input_rate_per_second); /* the interval survived */
	assert_int_equal(r.current_record_count, 0);
	ta_engine_free(f);
	sink_free(&k2);

	free(bad);
	free(good);
	ta_engine_free(e);
	sink_free(&k);
}

static void check_microbar_steps(const struct microbar *m)
{
	ssize_t n = microbar_save(m, NULL, 0);
	assert_true(n > 0);
	uint8_t *whole = malloc((size_t)n);
	assert_non_null(whole);
	assert_int_equal(microbar_save(m, whole, (size_t)n), n);
	struct stepper st = { mb_begin, mb_step, NULL, m, 0 };
	check_steps(&st, whole, (size_t)n, 1 + microbar_symbol_count(m));
	free(whole);
}

static void test_stepped_save(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = mk(&k);
	size_t len;
	uint8_t *buf = save_all(e, MONO(1), &len); /* empty: header, micro-bar header, count */
	check_engine_steps(e, MONO(1), buf, len);
	free(buf);
	ta_engine_free(e);
	e = populated(&k);
	buf = save_all(e, MONO(41), &len);
	check_engine_steps(e, MONO(41), buf, len);
	free(buf);
	ta_engine_free(e);
	sink_free(&k);

	/* Micro-bars on their own: random symbols, several open seconds each. */
	uint64_t seed = 77;
	for (int round = 0; round < 8; round++) {
		struct microbar *m = microbar_new(NULL, NULL);
		assert_non_null(m);
		if (round > 0) {
			int nsym = 1 + (int)(rng_next(&seed) % 40);
			for (int i = 0; i < 400; i++) {
				char sym[16];
				snprintf(sym, sizeof(sym), "S%d", (int)(rng_next(&seed) % (uint64_t)nsym));
				double x = 10 + rng_unit(&seed) * 8;
				assert_true(microbar_add_trade(m, sym, T(x), 1 + rng_unit(&seed), 1,
							       (uint64_t)i) >= 0);
			}
			microbar_close_until(m, T(10 + round), NULL, NULL);
		}
		check_microbar_steps(m);
		microbar_free(m);
	}
}

static void test_seq_durable(void **state)
{
	(void)state;
	struct sink k = { 0 };
	struct ta_engine *e = populated(&k);
	ta_engine_advance(e, MONO(100), REAL);
	size_t nb = k.nbars, ns = k.nsigs;
	int64_t last1s = 0;
	for (size_t i = 0; i < nb; i++)
		if (strcmp(k.bars[i].head.symbol, "AAPL") == 0)
			last1s = k.bars[i].head.seq;
	assert_int_equal(last1s, 30);
	size_t len;
	uint8_t *buf = save_all(e, MONO(100), &len);
	ta_engine_free(e);
	e = mk(&k);
	assert_int_equal(ta_engine_load(e, MONO(100), buf, len), 0);
	trade(e, "AAPL", 200.5, 1, 1);
	feed(e, ev_bar(EVENT_BAR, "AAPL", BASE + 2 * MIN, 12, 100, 12), MONO(201));
	ta_engine_advance(e, MONO(300), REAL);
	assert_int_equal(k.nbars, nb + 1);
	assert_int_equal(k.bars[nb].head.seq, last1s + 1);
	assert_int_equal(k.nsigs, ns + 2);
	assert_string_equal(k.sigs[ns].head.window.size, "PT1M");
	assert_int_equal(k.sigs[ns].head.seq, 3);
	struct ta_status_rec r;
	ta_engine_status(e, MONO(300), T(300), &r);
	assert_int_equal(r.head.seq, 2);
	free(buf);
	ta_engine_free(e);
	sink_free(&k);
}

/* ---- memory ------------------------------------------------------------ */

static void test_memory_10k(void **state)
{
	(void)state;
	struct ta_engine_opts o;
	ta_engine_opts_default(&o);
	struct ta_engine *e = ta_engine_new(&o);
	assert_non_null(e);
	char sym[16];
	for (int i = 0; i < 10000; i++) {
		snprintf(sym, sizeof(sym), "S%05d", i);
		for (int s = 0; s < 3; s++) {
			struct event q = ev_quote(sym, T(10 + s + 0.1), 1, 2, 3, 4);
			struct event t = ev_trade(sym, T(10 + s + 0.5), 10 + s, 1);
			assert_int_equal(ta_engine_on_event(e, &q, MONO(13), REAL), 0);
			assert_int_equal(ta_engine_on_event(e, &t, MONO(13), REAL), 0);
		}
		struct event b = ev_bar(EVENT_BAR, sym, BASE, 10, 100, 10);
		assert_int_equal(ta_engine_on_event(e, &b, MONO(13), REAL), 0);
	}
	struct ta_engine_stats st;
	ta_engine_stats(e, &st);
	assert_int_equal(st.symbols, 10000);
	assert_int_equal(st.open_buckets, 30000);
	size_t open = st.mem_bytes;
	assert_int_equal(ta_engine_advance(e, MONO(1000), REAL), 30000);
	ta_engine_stats(e, &st);
	assert_int_equal(st.signals_1s, 30000);
	assert_int_equal(st.signals_1m, 10000);
	print_message("ta_engine: 10k symbols: %zu bytes/symbol with 3 open seconds each, "
		      "%zu after closing\n", open / 10000, st.mem_bytes / 10000);
	assert_true(st.mem_bytes / 10000 < 4096);
	struct ta_status_rec r;
	ta_engine_status(e, MONO(1000), T(1000), &r);
	assert_int_equal(r.per_symbol_n, 10000);
	size_t len;
	uint8_t *buf = save_all(e, MONO(1000), &len);
	print_message("ta_engine: 10k symbols: snapshot %zu bytes/symbol\n", len / 10000);
	assert_int_equal(ta_engine_load(e, MONO(1000), buf, len), 0);
	free(buf);
	ta_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order_within_slack),
		cmocka_unit_test(test_late_beyond_slack),
		cmocka_unit_test(test_idle_advance),
		cmocka_unit_test(test_warmup_ema_macd),
		cmocka_unit_test(test_session_reset),
		cmocka_unit_test(test_minute_signals),
		cmocka_unit_test(test_imbalance),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_snapshot_equivalence),
		cmocka_unit_test(test_load_malformed),
		cmocka_unit_test(test_stepped_save),
		cmocka_unit_test(test_seq_durable),
		cmocka_unit_test(test_memory_10k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
