/* indicators.c - streaming EMA/MACD/RSI/BBANDS/VWAP/realized vol/imbalance.
 *
 * The TA-Lib indicators replay the loops of TA-Lib 0.6 (ta_EMA.c, ta_MACD.c,
 * ta_RSI.c, ta_BBANDS.c + ta_SMA.c/ta_STDDEV.c) as called once over the whole
 * session series from startIdx 0, default settings: same operations, same
 * order, so the values are bit-identical to a batch call. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ta/ind_codec.h"
#include "ta/indicators.h"

/* TA-Lib's PER_TO_K(per) = 2.0 / (per + 1) and TA_EPSILON (ta_utility.h). */
#define K12 (2.0 / (double)(12 + 1))
#define K26 (2.0 / (double)(26 + 1))
#define K9 (2.0 / (double)(9 + 1))
#define TA_EPSILON 0.00000000000001

#define IND_MAGIC 0x4e494754u /* "TGIN" little-endian */
#define IND_VERSION 2u /* 2: no trailing checksum (the snapshot container has a CRC) */
#define IND_WIN_MAX_CAP 65535u

void indicators_params_default(struct indicators_params *p, int64_t bar_ns)
{
	p->bar_ns = bar_ns;
	p->stale_after_ns = INDICATORS_STALE_AFTER_DEFAULT_NS;
	p->vwap_window_ns = 300LL * 1000000000LL;
	p->rvol_window_ns = 60LL * 1000000000LL;
	p->quote_max = INDICATORS_QUOTE_MAX_DEFAULT;
}

/* Bars are at least bar_ns apart, so a (end - w, end] window holds at most
 * ceil(w / bar_ns) of them: the ring never needs more. */
static uint32_t indicators_win_max(int64_t window_ns, int64_t bar_ns)
{
	int64_t m = window_ns / bar_ns + (window_ns % bar_ns != 0);
	return m > (int64_t)IND_WIN_MAX_CAP ? IND_WIN_MAX_CAP : (uint32_t)m;
}

int indicators_init(struct indicators *s, const struct indicators_params *p)
{
	if (p->bar_ns <= 0 || p->vwap_window_ns <= 0 || p->rvol_window_ns <= 0 || p->stale_after_ns < 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->p = *p;
	if (!s->p.quote_max)
		s->p.quote_max = INDICATORS_QUOTE_MAX_DEFAULT;
	ind_win_init(&s->vwap_w, indicators_win_max(p->vwap_window_ns, p->bar_ns));
	ind_win_init(&s->rvol_w, indicators_win_max(p->rvol_window_ns, p->bar_ns));
	ind_quote_init(&s->quotes, s->p.quote_max, p->bar_ns);
	return 0;
}

void indicators_fini(struct indicators *s)
{
	ind_win_fini(&s->vwap_w);
	ind_win_fini(&s->rvol_w);
	ind_quote_fini(&s->quotes);
}

void indicators_reset(struct indicators *s)
{
	struct ind_quote q = s->quotes;
	struct indicators_params p = s->p;
	ind_win_fini(&s->vwap_w); /* frees the rings: a quiet symbol gives its memory back */
	ind_win_fini(&s->rvol_w);
	(void)indicators_init(s, &p); /* params were validated by the first init */
	s->quotes = q;                /* init allocated nothing in its place */
}

int indicators_on_quote(struct indicators *s, int64_t t_ns, double bid_px, double ask_px, double bid_sz,
			double ask_sz)
{
	if (!isfinite(bid_px) || !isfinite(ask_px) || !isfinite(bid_sz) || !isfinite(ask_sz))
		return -EINVAL;
	struct ind_quote_ent q = { t_ns, bid_px, ask_px, bid_sz, ask_sz };
	return ind_quote_add(&s->quotes, &q);
}

/* end - w without signed overflow (the window start of very early ends). */
static int64_t indicators_cut(int64_t end, int64_t w)
{
	return end < INT64_MIN + w ? INT64_MIN : end - w;
}

/* EMA(12), EMA(26) (TA_EMA: SMA seed of the first N closes) and TA_MACD.
 * TA_MACD from startIdx 0 computes both EMAs starting at index 25 (its
 * lookback minus the signal's): the slow one is then TA_EMA(26), but the fast
 * one is seeded with the SMA of closes 15..26 (not 1..12), so it is tracked
 * separately. Its MACD line seeds the signal with the SMA of bars 26..34. */
static void indicators_ema_macd(struct indicators *s, uint64_t n, double c, struct indicators_out *o)
{
	if (n <= 12) {
		s->ema12 += c;
		if (n == 12)
			s->ema12 /= 12;
	} else {
		s->ema12 = ((c - s->ema12) * K12) + s->ema12;
	}
	if (n <= 26) {
		s->ema26 += c;
		if (n == 26)
			s->ema26 /= 26;
	} else {
		s->ema26 = ((c - s->ema26) * K26) + s->ema26;
	}
	if (n >= 12) {
		o->ema.ema12 = s->ema12;
		o->valid |= INDICATORS_EMA12;
	}
	if (n < 26)
		return;
	o->ema.ema26 = s->ema26;
	o->valid |= INDICATORS_EMA26;

	if (n == 26) {
		double sum = 0.0;
		for (uint64_t k = n - 11; k <= n; k++) /* closes 15..26, oldest first */
			sum += s->closes[(k - 1) % INDICATORS_CLOSES];
		s->macd_fast = sum / 12;
	} else {
		s->macd_fast = ((c - s->macd_fast) * K12) + s->macd_fast;
	}
	double m = s->macd_fast - s->ema26;
	if (n <= 34) {
		s->macd_sig += m;
		if (n == 34)
			s->macd_sig /= 9;
	} else {
		s->macd_sig = ((m - s->macd_sig) * K9) + s->macd_sig;
	}
	if (n >= 34) {
		o->macd.macd = m;
		o->macd.signal = s->macd_sig;
		o->macd.hist = m - s->macd_sig;
		o->valid |= INDICATORS_MACD;
	}
}

/* TA_RSI(14), classic Wilder: raw sums of the first 14 moves, then
 * avg = (avg * 13 + move) / 14; 0 when gain + loss is within TA_EPSILON. */
static void indicators_rsi(struct indicators *s, uint64_t n, double c, struct indicators_out *o)
{
	if (n < 2)
		return;
	double d = c - s->last_close;
	if (n > 15) {
		s->rsi_loss *= 13;
		s->rsi_gain *= 13;
	}
	if (d < 0)
		s->rsi_loss -= d;
	else
		s->rsi_gain += d;
	if (n < 15)
		return;
	s->rsi_loss /= 14;
	s->rsi_gain /= 14;
	double t = s->rsi_gain + s->rsi_loss;
	o->rsi14 = (-TA_EPSILON < t && t < TA_EPSILON) ? 0.0 : 100.0 * (s->rsi_gain / t);
	o->valid |= INDICATORS_RSI14;
}

/* TA_BBANDS(20, 2, 2, SMA): TA-Lib keeps running sums of closes and squares,
 * adds the new close, takes the mean, then subtracts the close leaving the
 * window; variance = E[x^2] - mean^2, clamped to 0 below TA_EPSILON. */
static void indicators_boll(struct indicators *s, uint64_t n, double c, struct indicators_out *o)
{
	double c2 = c * c;
	s->bb_sum += c;
	s->bb_sum2 += c2;
	if (n < INDICATORS_CLOSES)
		return;
	double old = s->closes[n % INDICATORS_CLOSES]; /* close of bar n - 19 */
	double mid = s->bb_sum / INDICATORS_CLOSES;
	s->bb_sum -= old;
	double mv2 = s->bb_sum2 / INDICATORS_CLOSES;
	s->bb_sum2 -= old * old;
	mv2 -= mid * mid;
	double sd = mv2 < TA_EPSILON ? 0.0 : sqrt(mv2);
	double t = sd * 2.0;
	o->boll.mid = mid;
	o->boll.upper = mid + t;
	o->boll.lower = mid - t;
	o->valid |= INDICATORS_BOLL;
}

/* All values NaN, padding zeroed: outputs compare and hash deterministically. */
static void indicators_out_clear(struct indicators_out *o)
{
	double *v[] = { &o->ema.ema12, &o->ema.ema26, &o->macd.macd, &o->macd.signal, &o->macd.hist,
			&o->rsi14, &o->boll.mid, &o->boll.upper, &o->boll.lower, &o->vwap.session,
			&o->vwap.w5m, &o->vol_realized.w60s, &o->imbalance.spread, &o->imbalance.bid_px,
			&o->imbalance.ask_px, &o->imbalance.bid_sz, &o->imbalance.ask_sz };
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		*v[i] = NAN;
}

int indicators_on_bar(struct indicators *s, const struct indicators_bar *in, struct indicators_out *o)
{
	indicators_out_clear(o);
	double c = in->c, v = in->v;
	if (!isfinite(c) || c <= 0 || !isfinite(v) || v < 0 || (s->nbars > 0 && in->end_ns <= s->last_end_ns))
		return -EINVAL;
	int pv_ok = v > 0 && isfinite(in->vwap) && isfinite(in->vwap * v);
	int has_ret = s->nbars > 0;

	/* Windows first: expiring is idempotent for later bars, so an -ENOMEM
	 * from reserving below leaves an equivalent state. */
	ind_win_expire(&s->vwap_w, indicators_cut(in->end_ns, s->p.vwap_window_ns));
	ind_win_expire(&s->rvol_w, indicators_cut(in->end_ns, s->p.rvol_window_ns));
	if ((pv_ok && ind_win_reserve(&s->vwap_w)) || (has_ret && ind_win_reserve(&s->rvol_w)))
		return -ENOMEM;

	uint64_t n = ++s->nbars;
	s->closes[(n - 1) % INDICATORS_CLOSES] = c;
	indicators_ema_macd(s, n, c, o);
	indicators_rsi(s, n, c, o);
	indicators_boll(s, n, c, o);

	if (pv_ok) {
		double pv = in->vwap * v;
		s->sess_pv += pv;
		s->sess_v += v;
		ind_win_push(&s->vwap_w, in->end_ns, pv, v);
	}
	if (s->sess_v > 0) {
		o->vwap.session = s->sess_pv / s->sess_v;
		o->valid |= INDICATORS_VWAP_SESSION;
	}
	if (s->vwap_w.n > 0 && s->vwap_w.sb > 0) {
		o->vwap.w5m = s->vwap_w.sa / s->vwap_w.sb;
		o->valid |= INDICATORS_VWAP_W5M;
	}

	if (has_ret) {
		/* Log returns have a mean near 0, so var = E[r^2] - E[r]^2 from
		 * running sums loses little to cancellation. */
		double r = log(c / s->last_close);
		ind_win_push(&s->rvol_w, in->end_ns, r, r * r);
	}
	if (s->rvol_w.n >= 2) {
		double m = s->rvol_w.n;
		double var = (s->rvol_w.sb - s->rvol_w.sa * s->rvol_w.sa / m) / m;
		o->vol_realized.w60s = var > 0 ? sqrt(var) : 0.0;
		o->valid |= INDICATORS_RVOL_W60S;
	}

	struct ind_quote_ent q;
	if (ind_quote_select(&s->quotes, in->end_ns, s->p.stale_after_ns, &q)) {
		o->imbalance.spread = q.ask_px - q.bid_px;
		o->imbalance.bid_px = q.bid_px;
		o->imbalance.ask_px = q.ask_px;
		o->imbalance.bid_sz = q.bid_sz;
		o->imbalance.ask_sz = q.ask_sz;
		o->valid |= INDICATORS_IMBALANCE;
	}

	s->last_close = c;
	s->last_end_ns = in->end_ns;
	ind_win_trim(&s->vwap_w);
	ind_win_trim(&s->rvol_w);
	return 0;
}

/* ---- checkpoints ---------------------------------------------------------
 * magic u32, version u32, bar_ns i64, nbars u64, last_end i64, 9 f64 scalars,
 * closes[20] f64, 2 f64 session sums, 2 windows (n u32, evicted u32, sa, sb,
 * n x (t, a, b)), quotes (n u32, n x (t, bp, ap, bs, as)). No checksum of its
 * own: the snapshot container checks every section. */

#define IND_FIXED_LEN (4 + 4 + 3 * 8 + 9 * 8 + INDICATORS_CLOSES * 8 + 2 * 8)
#define IND_WIN_HEAD_LEN (4 + 4 + 2 * 8)
#define IND_WIN_ENT_LEN (3 * 8)
#define IND_QUOTE_LEN (5 * 8)

size_t indicators_save_size(const struct indicators *s)
{
	return IND_FIXED_LEN + 2 * IND_WIN_HEAD_LEN + 4 +
	       (size_t)(s->vwap_w.n + s->rvol_w.n) * IND_WIN_ENT_LEN + (size_t)s->quotes.n * IND_QUOTE_LEN;
}

/* The entries travel as raw words: (t, a, b) and (t, bp, ap, bs, as). */
_Static_assert(sizeof(struct ind_win_ent) == IND_WIN_ENT_LEN && offsetof(struct ind_win_ent, a) == 8 &&
		       offsetof(struct ind_win_ent, b) == 16,
	       "ind_win_ent is (t, a, b), 8 bytes each");
_Static_assert(sizeof(struct ind_quote_ent) == IND_QUOTE_LEN && offsetof(struct ind_quote_ent, bid_px) == 8 &&
		       offsetof(struct ind_quote_ent, ask_px) == 16 && offsetof(struct ind_quote_ent, bid_sz) == 24 &&
		       offsetof(struct ind_quote_ent, ask_sz) == 32,
	       "ind_quote_ent is (t, bp, ap, bs, as), 8 bytes each");

static uint8_t *indicators_put_win(uint8_t *p, const struct ind_win *x)
{
	p = ind_codec_raw_u32(p, x->n);
	p = ind_codec_raw_u32(p, x->evicted);
	p = ind_codec_raw_f64(p, x->sa);
	p = ind_codec_raw_f64(p, x->sb);
	if (x->n == 0)
		return p;
	/* The ring holds the window in at most two runs. */
	uint32_t first = x->cap - x->head < x->n ? x->cap - x->head : x->n;
	p = ind_codec_raw_words(p, x->e + x->head, (size_t)first * 3);
	return ind_codec_raw_words(p, x->e, (size_t)(x->n - first) * 3);
}

int indicators_save(const struct indicators *s, uint8_t *out, size_t cap)
{
	size_t need = indicators_save_size(s);
	if (need > INT32_MAX)
		return -EOVERFLOW;
	if (!out || cap < need)
		return (int)need; /* sizing only: nothing written */
	uint8_t *p = out;
	p = ind_codec_raw_u32(p, IND_MAGIC);
	p = ind_codec_raw_u32(p, IND_VERSION);
	p = ind_codec_raw_u64(p, (uint64_t)s->p.bar_ns);
	p = ind_codec_raw_u64(p, s->nbars);
	p = ind_codec_raw_u64(p, (uint64_t)s->last_end_ns);
	const double sc[] = { s->last_close, s->ema12, s->ema26, s->macd_fast, s->macd_sig, s->rsi_gain,
			      s->rsi_loss,   s->bb_sum, s->bb_sum2, s->sess_pv, s->sess_v };
	p = ind_codec_raw_words(p, sc, 9);
	p = ind_codec_raw_words(p, s->closes, INDICATORS_CLOSES);
	p = ind_codec_raw_words(p, sc + 9, 2);
	p = indicators_put_win(p, &s->vwap_w);
	p = indicators_put_win(p, &s->rvol_w);
	p = ind_codec_raw_u32(p, s->quotes.n);
	if (s->quotes.n)
		p = ind_codec_raw_words(p, s->quotes.q, (size_t)s->quotes.n * 5);
	return (size_t)(p - out) == need ? (int)need : -EIO; /* -EIO: size and encoder disagree (a bug) */
}

/* Rebuilds a window entry by entry; the saved sums replace the recomputed
 * ones so the restored state is bit-identical. */
static int indicators_get_win(struct ind_codec_r *r, struct ind_win *x, const struct indicators *s)
{
	uint32_t n = ind_codec_get_u32(r), evicted = ind_codec_get_u32(r);
	double sa = ind_codec_get_f64(r), sb = ind_codec_get_f64(r);
	if (r->err || n > x->max || evicted >= x->max || (n > 0 && s->nbars == 0) ||
	    n > (r->n - r->off) / IND_WIN_ENT_LEN)
		return -EINVAL;
	int rc = ind_win_reserve_n(x, n); /* one allocation, not a doubling series */
	if (rc)
		return rc;
	int64_t prev = INT64_MIN;
	for (uint32_t i = 0; i < n; i++) {
		int64_t t = ind_codec_get_i64(r);
		double a = ind_codec_get_f64(r), b = ind_codec_get_f64(r);
		if (r->err || (i > 0 && t <= prev) || t > s->last_end_ns)
			return -EINVAL;
		ind_win_push(x, t, a, b);
		prev = t;
	}
	x->sa = sa;
	x->sb = sb;
	x->evicted = evicted;
	return 0;
}

static int indicators_decode(struct indicators *t, const uint8_t *in, size_t n)
{
	struct ind_codec_r r = { in, n, 0, 0 };
	if (ind_codec_get_u32(&r) != IND_MAGIC || ind_codec_get_u32(&r) != IND_VERSION ||
	    ind_codec_get_i64(&r) != t->p.bar_ns)
		return -EINVAL;
	t->nbars = ind_codec_get_u64(&r);
	t->last_end_ns = ind_codec_get_i64(&r);
	double *sc[] = { &t->last_close, &t->ema12, &t->ema26, &t->macd_fast, &t->macd_sig,
			 &t->rsi_gain, &t->rsi_loss, &t->bb_sum, &t->bb_sum2 };
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
		*sc[i] = ind_codec_get_f64(&r);
	for (int i = 0; i < INDICATORS_CLOSES; i++)
		t->closes[i] = ind_codec_get_f64(&r);
	t->sess_pv = ind_codec_get_f64(&r);
	t->sess_v = ind_codec_get_f64(&r);
	if (r.err)
		return -EINVAL;
	int rc = indicators_get_win(&r, &t->vwap_w, t);
	if (!rc)
		rc = indicators_get_win(&r, &t->rvol_w, t);
	if (rc)
		return rc;
	uint32_t nq = ind_codec_get_u32(&r);
	if (r.err || nq > t->quotes.max)
		return -EINVAL;
	for (uint32_t i = 0; i < nq; i++) {
		struct ind_quote_ent q;
		q.t = ind_codec_get_i64(&r);
		q.bid_px = ind_codec_get_f64(&r);
		q.ask_px = ind_codec_get_f64(&r);
		q.bid_sz = ind_codec_get_f64(&r);
		q.ask_sz = ind_codec_get_f64(&r);
		if (r.err)
			return -EINVAL;
		if ((rc = ind_quote_restore(&t->quotes, &q)))
			return rc;
	}
	return r.off == n ? 0 : -EINVAL; /* nothing may follow */
}

int indicators_load(struct indicators *s, const uint8_t *in, size_t n)
{
	if (!in || n < IND_FIXED_LEN)
		return -EINVAL;
	struct indicators t;
	int rc = indicators_init(&t, &s->p);
	if (rc)
		return rc;
	rc = indicators_decode(&t, in, n);
	if (rc) {
		indicators_fini(&t);
		return rc;
	}
	indicators_fini(s);
	*s = t;
	return 0;
}
