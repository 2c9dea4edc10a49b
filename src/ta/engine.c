/* engine.c - watermark + micro-bars + per-symbol indicators -> TA records. */
#include "config.h"

#include "core/bytes.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ta/engine.h"
#include "ta/ind_codec.h"
#include "ta/indicators.h"
#include "ta/microbar.h"
#include "ta/watermark.h"

#define NS_PER_MS 1000000LL
#define MINUTE_NS (60LL * CLOCK_NS_PER_SEC)
#define SYM_MAX_N (UINT32_MAX / 4) /* keeps slot counts in uint32 */

/* Snapshot bytes of a symbol before its name and series: name length,
 * last_event, last_1m_end, seq_1m, flags (see the snapshot section). */
#define TE_SYM_FIXED (1 + 3 * 8 + 1)
#define TE_SYM_MIN (TE_SYM_FIXED + 1)

enum { SER_1S = 0, SER_1M = 1 };

/* 64 bytes: the indicator states hang off it, created on demand. */
struct te_sym {
	char name[EVENT_SYMBOL_MAX];
	int64_t last_event;  /* newest t of a valid input event, 0 = none */
	int64_t last_1m_end; /* end of the last accepted final minute bar, 0 = none */
	int64_t seq_1m;      /* last 1 m signal seq */
	struct indicators *ind[2];
};

struct te_tab {
	struct te_sym *v;
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	uint32_t nslot;  /* power of two, >= 2 n */
	size_t enc;      /* snapshot bytes of the symbols: kept as they change, so sizing is O(1) */
};

/* Everything durable besides the modules' own state. */
struct te_count {
	uint64_t arrival; /* trade arrival order for microbar ties */
	uint64_t trades_in, quotes_in, quotes_rejected;
	uint64_t bars1m_in, bars1m_rejected, bars1m_ignored;
	uint64_t bars, signals_1s, signals_1m, heartbeats, errors;
	int64_t last_input, last_output; /* 0 = none */
	/* totals at the previous heartbeat */
	uint64_t hb_in, hb_out, hb_late, hb_bars, hb_sig;
};

struct ta_engine {
	struct ta_engine_opts o;
	struct indicators_params par[2];
	struct watermark *wm;
	struct microbar *mb;
	struct te_tab tab;
	struct te_count c;
	bool has_hb;
	int64_t hb_mono;  /* monotonic time of the previous heartbeat */
	int64_t cur_real; /* now_real of the call in progress: the records' ingest_ts */
	struct ta_symbol_ts *ps; /* the heartbeat's per-symbol array */
	size_t pscap;
};

static const char *const SOURCE_TA = "ta";

/* ---- small helpers ------------------------------------------------------ */

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int32_t ny_date(int64_t ns)
{
	struct clock_ny ny;
	clock_ny(ns, &ny);
	return ny.date;
}

/* New York's offsets are whole hours, so its date only changes where a UTC
 * hour starts: two times in the same UTC hour (the common case, from bar to
 * bar) share the date without a calendar lookup. */
static bool same_ny_date(int64_t a, int64_t b)
{
	const int64_t hour = 3600 * CLOCK_NS_PER_SEC;
	return floor_div(a, hour) == floor_div(b, hour) || ny_date(a) == ny_date(b);
}

/* Monday-Friday 09:30-16:00 New York (core/clock knows no holidays). */
static bool ny_regular_day(int64_t ns)
{
	if (clock_ny_session(ns) != CLOCK_SESSION_REGULAR)
		return false;
	struct clock_ny ny;
	clock_ny(ns, &ny);
	int64_t days = floor_div(floor_div(ns, CLOCK_NS_PER_SEC) + ny.utc_offset, 86400);
	int64_t wd = ((days + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
	return wd != 0 && wd != 6;
}

static size_t sym_len(const char *s)
{
	size_t n = strnlen(s, EVENT_SYMBOL_MAX);
	return n < EVENT_SYMBOL_MAX ? n : 0;
}

/* ---- symbol table ------------------------------------------------------- */

static uint32_t *tab_slot(const struct te_tab *t, const char *name, size_t n)
{
	uint32_t mask = t->nslot - 1;
	for (uint32_t i = bytes_fnv1a32(name, n) & mask;; i = (i + 1) & mask) {
		uint32_t v = t->slots[i];
		if (v == 0)
			return &t->slots[i];
		const char *k = t->v[v - 1].name;
		if (memcmp(k, name, n) == 0 && k[n] == '\0')
			return &t->slots[i];
	}
}

static int tab_init(struct te_tab *t)
{
	memset(t, 0, sizeof(*t));
	t->nslot = 64;
	t->slots = calloc(t->nslot, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

static void tab_fini(struct te_tab *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		for (int k = 0; k < 2; k++) {
			if (t->v[i].ind[k]) {
				indicators_fini(t->v[i].ind[k]);
				free(t->v[i].ind[k]);
			}
		}
	}
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int64_t tab_find(const struct te_tab *t, const char *name, size_t n)
{
	uint32_t v = *tab_slot(t, name, n);
	return v ? (int64_t)v - 1 : -ENOENT;
}

/* Index of the symbol, created if new; -ENOMEM (nothing changed). */
static int64_t tab_get(struct te_tab *t, const char *name, size_t n)
{
	uint32_t *slot = tab_slot(t, name, n);
	if (*slot)
		return (int64_t)*slot - 1;
	if (t->n >= SYM_MAX_N)
		return -ENOMEM;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 64;
		struct te_sym *v = realloc(t->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	if ((uint64_t)(t->n + 1) * 2 > t->nslot) {
		uint32_t nslot = t->nslot * 2;
		uint32_t *slots = calloc(nslot, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		free(t->slots);
		t->slots = slots;
		t->nslot = nslot;
		for (uint32_t i = 0; i < t->n; i++)
			*tab_slot(t, t->v[i].name, strlen(t->v[i].name)) = i + 1;
		slot = tab_slot(t, name, n);
	}
	struct te_sym *s = &t->v[t->n];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, n);
	*slot = t->n + 1;
	t->enc += TE_SYM_FIXED + n;
	return t->n++;
}

static struct indicators *ind_new(const struct indicators_params *p)
{
	struct indicators *x = malloc(sizeof(*x));
	if (x && indicators_init(x, p) < 0) {
		free(x);
		return NULL;
	}
	return x;
}

/* Snapshot bytes of a present series: its length and its blob. */
static size_t ind_enc(const struct indicators *x)
{
	return 4 + indicators_save_size(x);
}

/* The symbol's state of series k, created if missing; NULL on ENOMEM. */
static struct indicators *sym_ind(struct ta_engine *e, uint32_t si, int k)
{
	struct te_sym *s = &e->tab.v[si];
	if (!s->ind[k] && (s->ind[k] = ind_new(&e->par[k])))
		e->tab.enc += ind_enc(s->ind[k]);
	return s->ind[k];
}

/* After a change of ind whose ind_enc was `was` (the modular sum is exact). */
static void ind_changed(struct ta_engine *e, const struct indicators *ind, size_t was)
{
	e->tab.enc += ind_enc(ind) - was;
}

static void note_input(struct ta_engine *e, uint32_t si, int64_t t)
{
	struct te_sym *s = &e->tab.v[si];
	if (t > s->last_event)
		s->last_event = t;
	if (t > e->c.last_input)
		e->c.last_input = t;
}

static void note_output(struct ta_engine *e, int64_t t)
{
	if (t > e->c.last_output)
		e->c.last_output = t;
}

/* ---- records ------------------------------------------------------------ */

/* snprintf(dst, cap, "%s", src) without the format machinery (per record). */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void head_fill(struct ta_rec_head *h, int64_t ingest, int64_t event, const char *sym,
		      int64_t seq, const char *dur, int64_t start, int64_t end)
{
	h->ingest_ns = ingest;
	h->event_ns = event;
	copy_str(h->symbol, sizeof(h->symbol), sym);
	h->seq = seq;
	h->has_is_final = true;
	h->is_final = true;
	h->source = SOURCE_TA;
	h->has_window = true;
	copy_str(h->window.size, sizeof(h->window.size), dur);
	copy_str(h->window.step, sizeof(h->window.step), dur);
	h->window.has_start = h->window.has_end = true;
	h->window.start_ns = start;
	h->window.end_ns = end;
}

/* Indicator fields: set or null per their validity bits. */
static void signal_fill(struct ta_signal_rec *r, const struct indicators_out *o)
{
	const uint32_t ema = INDICATORS_EMA12 | INDICATORS_EMA26;
	if ((o->valid & ema) == ema) {
		r->has_ema = true;
		r->ema.ema12 = o->ema.ema12;
		r->ema.ema26 = o->ema.ema26;
	}
	if (o->valid & INDICATORS_MACD) {
		r->has_macd = true;
		r->macd.macd = o->macd.macd;
		r->macd.signal = o->macd.signal;
		r->macd.hist = o->macd.hist;
	}
	if (o->valid & INDICATORS_RSI14) {
		r->has_rsi14 = true;
		r->rsi14 = o->rsi14;
	}
	if (o->valid & INDICATORS_BOLL) {
		r->has_boll = true;
		r->boll.mid = o->boll.mid;
		r->boll.upper = o->boll.upper;
		r->boll.lower = o->boll.lower;
	}
	if (o->valid & INDICATORS_VWAP_SESSION) {
		r->has_vwap = true;
		r->vwap.session = o->vwap.session;
		if (o->valid & INDICATORS_VWAP_W5M) {
			r->vwap.has_w5m = true;
			r->vwap.w5m = o->vwap.w5m;
		}
	}
	if (o->valid & INDICATORS_IMBALANCE) {
		r->has_imbalance = true;
		r->imbalance.spread = o->imbalance.spread;
		r->imbalance.bid_px = o->imbalance.bid_px;
		r->imbalance.ask_px = o->imbalance.ask_px;
		r->imbalance.bid_sz = o->imbalance.bid_sz;
		r->imbalance.ask_sz = o->imbalance.ask_sz;
	}
	if (o->valid & INDICATORS_RVOL_W60S) {
		r->has_vol_realized = true;
		r->vol_realized.w60s = o->vol_realized.w60s;
	}
	r->micro = NULL; /* microstructure_signal_v1: not produced */
}

/* microbar's emit callback: TaBar1s, then the 1 s TaSignal. */
static void on_closed(void *arg, const struct microbar_bar *b)
{
	struct ta_engine *e = arg;
	struct ta_bar_rec r;
	ta_bar_rec_init(&r);
	head_fill(&r.head, e->cur_real, b->end_ns, b->symbol, b->seq, "PT1S", b->start_ns, b->end_ns);
	r.o = b->o;
	r.h = b->h;
	r.l = b->l;
	r.c = b->c;
	r.v = b->v;
	r.has_vwap = b->v > 0;
	r.vwap = r.has_vwap ? b->vwap : 0.0;
	r.count = b->count;
	e->c.bars++;
	note_output(e, b->end_ns);
	if (e->o.on_bar)
		e->o.on_bar(e->o.arg, &r);

	/* The state exists since the bar's first trade; the fallbacks only
	 * cover a snapshot whose tables disagree. */
	size_t n = strlen(b->symbol);
	int64_t si = tab_find(&e->tab, b->symbol, n);
	if (si < 0)
		si = tab_get(&e->tab, b->symbol, n);
	struct indicators *ind = si >= 0 ? sym_ind(e, (uint32_t)si, SER_1S) : NULL;
	if (!ind) {
		e->c.errors++;
		return;
	}
	size_t was = ind_enc(ind);
	if (b->prev_end_ns != 0 && !same_ny_date(b->prev_end_ns, b->end_ns))
		indicators_reset(ind);
	struct indicators_bar in = { b->end_ns, b->o, b->h, b->l, b->c, b->v, b->vwap };
	struct indicators_out out;
	int rc = indicators_on_bar(ind, &in, &out);
	ind_changed(e, ind, was);
	if (rc < 0) {
		e->c.errors++;
		return;
	}
	struct ta_signal_rec sr;
	ta_signal_rec_init(&sr);
	sr.head = r.head;
	signal_fill(&sr, &out);
	e->c.signals_1s++;
	if (e->o.on_signal)
		e->o.on_signal(e->o.arg, &sr);
}

static void on_late_trade(void *arg, const char *sym, int64_t t_ns, double price, double size)
{
	struct ta_engine *e = arg;
	if (e->o.on_late)
		e->o.on_late(e->o.arg, sym, t_ns, price, size);
}

/* Closes what the watermark allows at now_mono. */
static int close_due(struct ta_engine *e, int64_t now_mono)
{
	int64_t w = watermark_current(e->wm, now_mono);
	if (w == WATERMARK_NONE)
		return 0;
	return microbar_close_until(e->mb, w, on_closed, e);
}

/* ---- lifecycle ---------------------------------------------------------- */

void ta_engine_opts_default(struct ta_engine_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->slack_ns = 2 * CLOCK_NS_PER_SEC;
	o->quote_stale_after_ns = INDICATORS_STALE_AFTER_DEFAULT_NS;
	o->source_lag_degraded_ns = 300 * CLOCK_NS_PER_SEC;
}

struct ta_engine *ta_engine_new(const struct ta_engine_opts *o)
{
	if (!o || o->slack_ns < 0 || o->quote_stale_after_ns < 0 || o->source_lag_degraded_ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	struct ta_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->o = *o;
	indicators_params_default(&e->par[SER_1S], MICROBAR_NS);
	indicators_params_default(&e->par[SER_1M], MINUTE_NS);
	for (int k = 0; k < 2; k++)
		e->par[k].stale_after_ns = o->quote_stale_after_ns;
	e->wm = watermark_new(o->slack_ns);
	e->mb = microbar_new(on_late_trade, e);
	if (!e->wm || !e->mb || tab_init(&e->tab) < 0) {
		ta_engine_free(e);
		errno = ENOMEM;
		return NULL;
	}
	return e;
}

void ta_engine_free(struct ta_engine *e)
{
	if (!e)
		return;
	watermark_free(e->wm);
	microbar_free(e->mb);
	tab_fini(&e->tab);
	free(e->ps);
	free(e);
}

/* ---- inputs ------------------------------------------------------------- */

static int on_trade(struct ta_engine *e, const struct event *ev, int64_t now_mono)
{
	const struct event_trade *tr = &ev->u.trade;
	e->c.trades_in++;
	size_t n = sym_len(ev->symbol);
	if (n == 0 || !microbar_trade_valid(ev->t_ns, tr->price, tr->size)) {
		close_due(e, now_mono);
		/* microbar counts the rejection */
		microbar_add_trade(e->mb, n ? ev->symbol : "", ev->t_ns, tr->price, tr->size, 0);
		return 0;
	}
	/* Allocate first so the watermark moves only for a trade we can take. */
	int64_t si = tab_get(&e->tab, ev->symbol, n);
	if (si < 0 || !sym_ind(e, (uint32_t)si, SER_1S))
		return -ENOMEM;
	watermark_observe(e->wm, ev->t_ns, now_mono);
	close_due(e, now_mono);
	int rc = microbar_add_trade(e->mb, ev->symbol, ev->t_ns, tr->price, tr->size, ++e->c.arrival);
	if (rc < 0)
		return rc;
	note_input(e, (uint32_t)si, ev->t_ns); /* accepted or late: both real trades */
	return 0;
}

static int on_quote(struct ta_engine *e, const struct event *ev, int64_t now_mono)
{
	const struct event_quote *q = &ev->u.quote;
	e->c.quotes_in++;
	close_due(e, now_mono);
	size_t n = sym_len(ev->symbol);
	if (n == 0 || ev->t_ns <= 0 || !isfinite(q->bid_px) || !isfinite(q->ask_px) ||
	    !isfinite(q->bid_sz) || !isfinite(q->ask_sz)) {
		e->c.quotes_rejected++;
		return 0;
	}
	int64_t si = tab_get(&e->tab, ev->symbol, n);
	if (si < 0)
		return -ENOMEM;
	for (int k = 0; k < 2; k++) {
		struct indicators *ind = sym_ind(e, (uint32_t)si, k);
		if (!ind)
			return -ENOMEM;
		size_t was = ind_enc(ind);
		int rc = indicators_on_quote(ind, ev->t_ns, q->bid_px, q->ask_px, q->bid_sz, q->ask_sz);
		ind_changed(e, ind, was);
		if (rc < 0)
			return rc;
	}
	note_input(e, (uint32_t)si, ev->t_ns);
	return 0;
}

static int on_minute_bar(struct ta_engine *e, const struct event *ev, int64_t now_mono)
{
	const struct event_bar *b = &ev->u.bar;
	e->c.bars1m_in++;
	close_due(e, now_mono);
	size_t n = sym_len(ev->symbol);
	int64_t t = ev->t_ns;
	if (n == 0 || t <= 0 || t % MINUTE_NS != 0 || t > INT64_MAX - MINUTE_NS || !isfinite(b->c) ||
	    b->c <= 0 || !isfinite(b->v) || b->v < 0) {
		e->c.bars1m_rejected++;
		return 0;
	}
	int64_t end = t + MINUTE_NS;
	int64_t si = tab_find(&e->tab, ev->symbol, n);
	/* A repeated or older minute: the series only moves forward. */
	if (si >= 0 && e->tab.v[si].last_1m_end != 0 && end <= e->tab.v[si].last_1m_end) {
		e->c.bars1m_rejected++;
		return 0;
	}
	if (si < 0 && (si = tab_get(&e->tab, ev->symbol, n)) < 0)
		return -ENOMEM;
	struct indicators *ind = sym_ind(e, (uint32_t)si, SER_1M);
	if (!ind)
		return -ENOMEM;
	struct te_sym *s = &e->tab.v[si];
	size_t was = ind_enc(ind);
	if (s->last_1m_end != 0 && !same_ny_date(s->last_1m_end, end))
		indicators_reset(ind);
	struct indicators_bar in = { end, b->o, b->h, b->l, b->c, b->v, b->vw };
	struct indicators_out out;
	int rc = indicators_on_bar(ind, &in, &out);
	ind_changed(e, ind, was);
	if (rc == -EINVAL) {
		e->c.bars1m_rejected++;
		return 0;
	}
	if (rc < 0)
		return rc;
	s->last_1m_end = end;
	s->seq_1m++;
	note_input(e, (uint32_t)si, t);

	struct ta_signal_rec sr;
	ta_signal_rec_init(&sr);
	head_fill(&sr.head, e->cur_real, t, s->name, s->seq_1m, "PT1M", t, end);
	signal_fill(&sr, &out);
	e->c.signals_1m++;
	note_output(e, t);
	if (e->o.on_signal)
		e->o.on_signal(e->o.arg, &sr);
	return 0;
}

int ta_engine_on_event(struct ta_engine *e, const struct event *ev, int64_t now_mono,
		       int64_t now_real)
{
	e->cur_real = now_real;
	switch (ev->kind) {
	case EVENT_TRADE:
		return on_trade(e, ev, now_mono);
	case EVENT_QUOTE:
		return on_quote(e, ev, now_mono);
	case EVENT_BAR:
		return on_minute_bar(e, ev, now_mono);
	case EVENT_UPDATED_BAR:
		e->c.bars1m_ignored++; /* indicators.md: only final bars */
		close_due(e, now_mono);
		return 0;
	default:
		close_due(e, now_mono);
		return 0;
	}
}

int ta_engine_advance(struct ta_engine *e, int64_t now_mono, int64_t now_real)
{
	e->cur_real = now_real;
	return close_due(e, now_mono);
}

int64_t ta_engine_next_deadline(const struct ta_engine *e)
{
	return watermark_next_deadline(e->wm, microbar_earliest_end(e->mb));
}

/* ---- heartbeat ---------------------------------------------------------- */

static uint64_t in_total(const struct ta_engine *e)
{
	return e->c.trades_in + e->c.quotes_in + e->c.bars1m_in;
}

static uint64_t out_total(const struct ta_engine *e)
{
	return e->c.bars + e->c.signals_1s + e->c.signals_1m;
}

static int64_t to_ms(int64_t ns)
{
	return floor_div(ns, NS_PER_MS);
}

static int64_t clamp_i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The per-symbol map of the heartbeat: false on ENOMEM (the field is null). */
static bool status_symbols(struct ta_engine *e, struct ta_status_rec *r)
{
	if (e->pscap < e->tab.n) {
		size_t cap = e->tab.cap;
		struct ta_symbol_ts *ps = realloc(e->ps, cap * sizeof(*ps));
		if (!ps)
			return false;
		e->ps = ps;
		e->pscap = cap;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < e->tab.n; i++) {
		const struct te_sym *s = &e->tab.v[i];
		if (s->last_event > 0) {
			e->ps[k].symbol = s->name;
			e->ps[k].ts_ns = s->last_event;
			k++;
		}
	}
	r->has_per_symbol = true;
	r->per_symbol = e->ps;
	r->per_symbol_n = k;
	return true;
}

void ta_engine_status(struct ta_engine *e, int64_t now_mono, int64_t now_real,
		      struct ta_status_rec *out)
{
	struct ta_status_rec r;
	ta_status_rec_init(&r);
	e->cur_real = now_real;
	struct microbar_stats ms;
	microbar_stats(e->mb, &ms);

	e->c.heartbeats++;
	r.head.ingest_ns = r.head.event_ns = now_real;
	snprintf(r.head.symbol, sizeof(r.head.symbol), "%s", "ta");
	r.head.seq = clamp_i64(e->c.heartbeats);
	r.head.source = SOURCE_TA;

	int64_t w = watermark_current(e->wm, now_mono);
	if (w != WATERMARK_NONE) {
		r.has_watermark_lag_ms = true;
		r.watermark_lag_ms = to_ms(sat_sub(now_real, w));
	}
	int64_t li = e->c.last_input, lo = e->c.last_output;
	if (li > 0) {
		r.has_source_lag_ms = true;
		r.source_lag_ms = to_ms(sat_sub(now_real, li));
		r.has_last_input_event_ts = true;
		r.last_input_event_ns = li;
	}
	if (lo > 0) {
		r.has_last_output_event_ts = true;
		r.last_output_event_ns = lo;
	}
	if (li > 0 || lo > 0) {
		r.has_last_event_ts = true;
		r.last_event_ns = li > lo ? li : lo;
	}

	uint64_t in = in_total(e), outn = out_total(e);
	uint64_t sig = e->c.signals_1s + e->c.signals_1m;
	uint64_t cur_in = in - e->c.hb_in, cur_out = outn - e->c.hb_out;
	uint64_t cur_bars = e->c.bars - e->c.hb_bars, cur_sig = sig - e->c.hb_sig;
	uint64_t cur_late = ms.late - e->c.hb_late;
	r.has_input_event_count = r.has_output_event_count = true;
	r.input_event_count = clamp_i64(in);
	r.output_event_count = clamp_i64(outn);
	r.has_current_input_event_count = r.has_current_output_event_count = true;
	r.current_input_event_count = clamp_i64(cur_in);
	r.current_output_event_count = clamp_i64(cur_out);
	r.has_current_record_count = true;
	r.current_record_count = clamp_i64(cur_in + cur_out);
	r.has_microbar_event_count = r.has_signal_event_count = true;
	r.microbar_event_count = clamp_i64(e->c.bars);
	r.signal_event_count = clamp_i64(sig);
	if (e->has_hb && now_mono > e->hb_mono) {
		double gap = (double)(now_mono - e->hb_mono) / (double)CLOCK_NS_PER_SEC;
		r.has_input_rate_per_second = r.has_output_rate_per_second = true;
		r.input_rate_per_second = (double)cur_in / gap;
		r.output_rate_per_second = (double)cur_out / gap;
		r.has_microbar_rate_per_second = r.has_signal_rate_per_second = true;
		r.microbar_rate_per_second = (double)cur_bars / gap;
		r.signal_rate_per_second = (double)cur_sig / gap;
	}
	r.has_clickhouse_sink_enabled = true;
	r.clickhouse_sink_enabled = false;
	status_symbols(e, &r);
	r.market_session_state = clock_session_name(clock_ny_session(now_real));

	const char *reason = NULL;
	if (ny_regular_day(now_real)) {
		if (li <= 0)
			reason = "source_lag_missing_during_regular_session";
		else if (sat_sub(now_real, li) > e->o.source_lag_degraded_ns)
			reason = "source_lag_stale_during_regular_session";
		else if (e->has_hb && cur_in == 0)
			reason = "zero_current_records_during_regular_session";
	}
	if (!reason && cur_late > 0)
		reason = "late_trades_since_last_heartbeat";
	r.status = reason ? "degraded" : "ok";
	r.status_reason = reason;
	r.has_heartbeat = r.heartbeat = true;

	e->c.hb_in = in;
	e->c.hb_out = outn;
	e->c.hb_bars = e->c.bars;
	e->c.hb_sig = sig;
	e->c.hb_late = ms.late;
	e->has_hb = true;
	e->hb_mono = now_mono;

	if (out)
		*out = r;
	if (e->o.on_status)
		e->o.on_status(e->o.arg, &r);
}

/* ---- stats -------------------------------------------------------------- */

static size_t ind_bytes(const struct indicators *x)
{
	if (!x)
		return 0;
	return sizeof(*x) + (size_t)(x->vwap_w.cap + x->rvol_w.cap) * sizeof(struct ind_win_ent) +
	       (size_t)x->quotes.cap * sizeof(struct ind_quote_ent);
}

void ta_engine_stats(const struct ta_engine *e, struct ta_engine_stats *out)
{
	struct microbar_stats ms;
	microbar_stats(e->mb, &ms);
	memset(out, 0, sizeof(*out));
	out->trades_in = e->c.trades_in;
	out->trades_accepted = ms.accepted;
	out->trades_rejected = ms.rejected;
	out->trades_late = ms.late;
	out->quotes_in = e->c.quotes_in;
	out->quotes_rejected = e->c.quotes_rejected;
	out->bars1m_in = e->c.bars1m_in;
	out->bars1m_rejected = e->c.bars1m_rejected;
	out->bars1m_ignored = e->c.bars1m_ignored;
	out->bars = e->c.bars;
	out->signals_1s = e->c.signals_1s;
	out->signals_1m = e->c.signals_1m;
	out->heartbeats = e->c.heartbeats;
	out->errors = e->c.errors;
	out->symbols = e->tab.n;
	out->open_buckets = ms.open_buckets;
	size_t m = sizeof(*e) + ms.mem_bytes + (size_t)e->tab.cap * sizeof(*e->tab.v) +
		   (size_t)e->tab.nslot * sizeof(*e->tab.slots) + e->pscap * sizeof(*e->ps);
	for (uint32_t i = 0; i < e->tab.n; i++)
		m += ind_bytes(e->tab.v[i].ind[SER_1S]) + ind_bytes(e->tab.v[i].ind[SER_1M]);
	out->mem_bytes = m;
}

/* ---- snapshot ------------------------------------------------------------
 * "TGTE" u32 version; counters (u64) and last input/output (i64); heartbeat
 * (u32 has, i64 age); watermark and microbar blobs (u32 length + bytes);
 * u32 nsym, per symbol: u8 name length, name, last_event, last_1m_end,
 * seq_1m (i64), u8 flags (bit k: series k present), per present series a
 * u32-length indicators blob. No checksum of its own: the snapshot container
 * checks every section. */

#define TE_MAGIC 0x45544754u /* "TGTE" little-endian */
#define TE_VERSION 2u        /* 2: no trailing FNV-1a */
#define TE_NCOUNT 17         /* u64 counters */
#define TE_HEAD_LEN (4 + 4 + TE_NCOUNT * 8 + 2 * 8 + 4 + 8)

enum { TE_PH_HEAD, TE_PH_MB, TE_PH_NSYM, TE_PH_SYMS, TE_PH_DONE };

ssize_t ta_engine_save_begin(const struct ta_engine *e, int64_t now_mono, struct ta_engine_saver *s)
{
	memset(s, 0, sizeof(*s));
	s->now_mono = now_mono;
	ssize_t wm = watermark_save(e->wm, now_mono, NULL, 0);
	ssize_t mb = microbar_save_begin(e->mb, &s->mb);
	if (wm < 0 || mb < 0)
		return wm < 0 ? wm : mb;
	if ((size_t)wm > UINT32_MAX || (size_t)mb > UINT32_MAX)
		return -EOVERFLOW;
	size_t n = TE_HEAD_LEN + 4 + (size_t)wm + 4 + (size_t)mb + 4 + e->tab.enc;
	if (n > (size_t)SSIZE_MAX)
		return -EOVERFLOW;
	s->size = n;
	s->phase = TE_PH_HEAD;
	return (ssize_t)n;
}

/* Counters, heartbeat, the watermark blob and the micro-bar blob's length. */
static int te_put_head(const struct ta_engine *e, const struct ta_engine_saver *s, struct ind_codec_w *w)
{
	const struct te_count *c = &e->c;
	ind_codec_put_u32(w, TE_MAGIC);
	ind_codec_put_u32(w, TE_VERSION);
	const uint64_t cnt[TE_NCOUNT] = { c->arrival, c->trades_in, c->quotes_in, c->quotes_rejected,
					  c->bars1m_in, c->bars1m_rejected, c->bars1m_ignored, c->bars,
					  c->signals_1s, c->signals_1m, c->heartbeats, c->errors,
					  c->hb_in, c->hb_out, c->hb_late, c->hb_bars, c->hb_sig };
	for (size_t i = 0; i < TE_NCOUNT; i++)
		ind_codec_put_u64(w, cnt[i]);
	ind_codec_put_i64(w, c->last_input);
	ind_codec_put_i64(w, c->last_output);
	ind_codec_put_u32(w, e->has_hb);
	int64_t age = e->has_hb ? sat_sub(s->now_mono, e->hb_mono) : 0;
	ind_codec_put_i64(w, age > 0 ? age : 0);

	ssize_t n = watermark_save(e->wm, s->now_mono, NULL, 0);
	if (n < 0)
		return (int)n;
	ind_codec_put_u32(w, (uint32_t)n);
	if (w->len + (size_t)n > w->cap ||
	    watermark_save(e->wm, s->now_mono, w->p + w->len, (size_t)n) != n)
		return -EIO; /* the state changed since begin */
	w->len += (size_t)n;
	ind_codec_put_u32(w, (uint32_t)s->mb.size);
	return 0;
}

static int te_put_sym(const struct te_sym *s, struct ind_codec_w *w)
{
	ind_codec_put_name(w, s->name);
	ind_codec_put_i64(w, s->last_event);
	ind_codec_put_i64(w, s->last_1m_end);
	ind_codec_put_i64(w, s->seq_1m);
	ind_codec_put_u8(w, (uint8_t)((s->ind[0] ? 1u : 0u) | (s->ind[1] ? 2u : 0u)));
	for (int k = 0; k < 2; k++) {
		if (!s->ind[k])
			continue;
		size_t m = indicators_save_size(s->ind[k]);
		ind_codec_put_u32(w, (uint32_t)m);
		if (w->len + m > w->cap || indicators_save(s->ind[k], w->p + w->len, m) != (int)m)
			return -EIO;
		w->len += m;
	}
	return 0;
}

int ta_engine_save_step(const struct ta_engine *e, struct ta_engine_saver *s, uint8_t *buf, size_t budget)
{
	struct ind_codec_w w = { buf, s->size, s->off };
	int rc = 0;
	/* At least one item per step, then items until the budget is spent. */
	while (s->phase != TE_PH_DONE && (w.len == s->off || w.len - s->off < budget) && rc >= 0) {
		switch (s->phase) {
		case TE_PH_HEAD:
			rc = te_put_head(e, s, &w);
			s->mb_at = w.len;
			s->phase = TE_PH_MB;
			break;
		case TE_PH_MB:
			if (s->mb_at + s->mb.size > s->size)
				return -EIO;
			rc = microbar_save_step(e->mb, &s->mb, buf + s->mb_at, budget - (w.len - s->off));
			w.len = s->mb_at + s->mb.off;
			if (rc == 1)
				s->phase = TE_PH_NSYM;
			break;
		case TE_PH_NSYM:
			ind_codec_put_u32(&w, e->tab.n);
			s->phase = e->tab.n ? TE_PH_SYMS : TE_PH_DONE;
			break;
		default:
			if (s->sym >= e->tab.n)
				return -EIO;
			rc = te_put_sym(&e->tab.v[s->sym++], &w);
			if (s->sym == e->tab.n)
				s->phase = TE_PH_DONE;
			break;
		}
	}
	if (rc < 0)
		return rc;
	if (w.len > s->size)
		return -EIO; /* the state changed since begin */
	s->off = w.len;
	if (s->phase != TE_PH_DONE)
		return 0;
	return s->off == s->size ? 1 : -EIO;
}

ssize_t ta_engine_save(const struct ta_engine *e, int64_t now_mono, void *buf, size_t cap)
{
	struct ta_engine_saver s;
	ssize_t need = ta_engine_save_begin(e, now_mono, &s);
	if (need < 0 || cap == 0)
		return need;
	if (!buf || cap < (size_t)need)
		return -ENOSPC;
	int rc = ta_engine_save_step(e, &s, buf, SIZE_MAX);
	return rc == 1 ? need : rc < 0 ? rc : -EIO;
}

/* The next u32-length blob: its bytes, or NULL (r->err set). */
static const uint8_t *get_blob(struct ind_codec_r *r, size_t *n)
{
	uint32_t len = ind_codec_get_u32(r);
	if (r->err || len > r->n - r->off) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += len;
	*n = len;
	return p;
}

static int load_symbols(struct ta_engine *e, struct ind_codec_r *r, struct te_tab *tab)
{
	uint32_t nsym = ind_codec_get_u32(r);
	if (r->err || nsym > (r->n - r->off) / TE_SYM_MIN)
		return -EINVAL;
	for (uint32_t i = 0; i < nsym; i++) {
		if (r->off >= r->n)
			return -EINVAL;
		uint8_t nl = r->p[r->off++];
		if (nl == 0 || nl >= EVENT_SYMBOL_MAX || nl > r->n - r->off)
			return -EINVAL;
		const char *name = (const char *)r->p + r->off;
		if (memchr(name, '\0', nl) || tab_find(tab, name, nl) >= 0)
			return -EINVAL;
		int64_t si = tab_get(tab, name, nl);
		if (si < 0)
			return -ENOMEM;
		r->off += nl;
		struct te_sym *s = &tab->v[si];
		s->last_event = ind_codec_get_i64(r);
		s->last_1m_end = ind_codec_get_i64(r);
		s->seq_1m = ind_codec_get_i64(r);
		if (r->err || r->off >= r->n)
			return -EINVAL;
		uint8_t flags = r->p[r->off++];
		if (s->last_event < 0 || s->last_1m_end < 0 || s->last_1m_end % MINUTE_NS != 0 ||
		    s->seq_1m < 0 || (s->seq_1m > 0) != (s->last_1m_end > 0) || (flags & ~3u) ||
		    (s->seq_1m > 0 && !(flags & 2u)))
			return -EINVAL;
		for (int k = 0; k < 2; k++) {
			if (!(flags & (1u << k)))
				continue;
			size_t n;
			const uint8_t *p = get_blob(r, &n);
			if (!p)
				return -EINVAL;
			if (!(s->ind[k] = ind_new(&e->par[k])))
				return -ENOMEM;
			int rc = indicators_load(s->ind[k], p, n);
			if (rc < 0)
				return rc;
			tab->enc += ind_enc(s->ind[k]);
		}
	}
	return 0;
}

int ta_engine_load(struct ta_engine *e, int64_t now_mono, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (!p || len < TE_HEAD_LEN)
		return -EINVAL;
	struct ind_codec_r r = { p, len, 0, 0 };
	if (ind_codec_get_u32(&r) != TE_MAGIC || ind_codec_get_u32(&r) != TE_VERSION)
		return -EINVAL;

	struct te_count c;
	memset(&c, 0, sizeof(c));
	uint64_t *cnt[] = { &c.arrival, &c.trades_in, &c.quotes_in, &c.quotes_rejected,
			    &c.bars1m_in, &c.bars1m_rejected, &c.bars1m_ignored, &c.bars,
			    &c.signals_1s, &c.signals_1m, &c.heartbeats, &c.errors,
			    &c.hb_in, &c.hb_out, &c.hb_late, &c.hb_bars, &c.hb_sig };
	for (size_t i = 0; i < sizeof(cnt) / sizeof(cnt[0]); i++)
		*cnt[i] = ind_codec_get_u64(&r);
	c.last_input = ind_codec_get_i64(&r);
	c.last_output = ind_codec_get_i64(&r);
	uint32_t has_hb = ind_codec_get_u32(&r);
	int64_t age = ind_codec_get_i64(&r);
	if (r.err || c.last_input < 0 || c.last_output < 0 || has_hb > 1 || age < 0 ||
	    (!has_hb && age != 0))
		return -EINVAL;
	uint64_t sig = c.signals_1s + c.signals_1m;
	if (c.hb_in > c.trades_in + c.quotes_in + c.bars1m_in || c.hb_bars > c.bars ||
	    c.hb_sig > sig || c.hb_out > c.bars + sig || c.quotes_rejected > c.quotes_in ||
	    c.bars1m_rejected > c.bars1m_in)
		return -EINVAL;

	struct watermark *wm = watermark_new(e->o.slack_ns);
	struct microbar *mb = microbar_new(on_late_trade, e);
	struct te_tab tab;
	int rc = tab_init(&tab);
	if (!wm || !mb || rc < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = -EINVAL;
	size_t n;
	const uint8_t *blob = get_blob(&r, &n);
	if (!blob || watermark_load(wm, now_mono, blob, n) < 0)
		goto fail;
	blob = get_blob(&r, &n);
	if (!blob || (rc = microbar_load(mb, blob, n)) < 0)
		goto fail;
	rc = load_symbols(e, &r, &tab);
	if (rc < 0)
		goto fail;
	struct microbar_stats ms;
	microbar_stats(mb, &ms);
	rc = -EINVAL;
	if (r.err || r.off != r.n || c.hb_late > ms.late || c.arrival < ms.accepted ||
	    c.trades_in < ms.accepted + ms.late + ms.rejected)
		goto fail;

	watermark_free(e->wm);
	microbar_free(e->mb);
	tab_fini(&e->tab);
	e->wm = wm;
	e->mb = mb;
	e->tab = tab;
	e->c = c;
	e->has_hb = has_hb != 0;
	e->hb_mono = has_hb ? sat_sub(now_mono, age) : 0;
	return 0;
fail:
	watermark_free(wm);
	microbar_free(mb);
	tab_fini(&tab);
	return rc;
}
