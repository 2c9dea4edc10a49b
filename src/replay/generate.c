/* generate.c - deterministic synthetic sessions (see generate.h).
 *
 * Events are generated in event-time order; each message gets its send time
 * when it is created, and every send time is >= the generation time at
 * which it was created. Messages wait in a min-heap on (send time, creation
 * order) and are written once the generation time has passed them, so the
 * output is sorted by at_ns and memory holds only the messages of the last
 * ~1.5 s (plus updated bars waiting for their half-minute mark). */
#include "config.h"

#include "replay/generate.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "replay/prng.h"

#define NS CLOCK_NS_PER_SEC
#define MS 1000000LL
#define US 1000LL
#define OPEN_SEC (9 * 3600 + 30 * 60)
#define CLOSE_SEC (16 * 3600)
#define BURST_AMP 6.0
#define BURST_TAU_S 60.0
#define PRE_ACTIVITY 0.08
#define POST_ACTIVITY 0.1
#define VOL_PER_SQRT_S 0.00025
#define LAT_MIN_NS (300 * US)
#define LAT_MAX_NS (20 * MS + LAT_MIN_NS)
#define BAR_SPACING_NS (2 * US) /* between symbols' bars of one minute */

/* Trade condition bits. */
#define C_ODD 1u
#define C_PRE 2u
#define C_ISO 4u

/* Aggregate of one symbol's trades of one minute; prices in cents. */
struct agg {
	int64_t n, v, pv;
	int64_t t_first, t_last, p_first, p_last, hi, lo;
	int64_t max_at;
};

struct gsym {
	char name[16];
	char tape;
	double logmid; /* log of the mid price in cents */
	int64_t last_t;
	int64_t next_id;
	struct agg on, late; /* current minute: sent before / after its nominal bar */
};

enum gkind { GK_TRADE, GK_QUOTE, GK_BAR, GK_UBAR };

struct gitem {
	int64_t at;
	uint64_t seq;
	int64_t t;
	uint32_t sym;
	uint8_t kind;
	union {
		struct {
			int64_t id, px, size;
			char x;
			uint8_t cond;
		} tr;
		struct {
			int64_t bp, ap;
			int32_t bs, as;
			char bx, ax;
		} q;
		struct {
			int64_t o, h, l, c, v, n, pv;
		} bar;
	} u;
};

struct heap {
	struct gitem *v;
	size_t n, cap;
};

struct gen {
	const struct generate_opts *o;
	FILE *out;
	struct prng r;
	struct gsym *syms;
	uint32_t nsym;
	double *cum; /* cumulative symbol weights */
	struct heap h;
	uint64_t seq;
	int64_t start_ns, end_ns, open_ns, close_ns;
	int64_t prev_normal_at;
	int64_t bar_base; /* nominal send time of symbol 0's bar for the current minute */
	double dup_countdown;
	double rate;
	int err;
	struct generate_stats st;
	char line[1024];
};

/* ---- small helpers ---------------------------------------------------- */

static void errf(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int generate_ny_to_utc(int32_t date, int32_t sec_of_day, int64_t *ns_out)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int32_t y = date / 10000;
	unsigned m = (unsigned)(date / 100 % 100), d = (unsigned)(date % 100);
	if (!ns_out || y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    sec_of_day < 0 || sec_of_day > 86400)
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return -EINVAL;
	int64_t local = days_from_civil(y, m, d) * 86400 + sec_of_day;
	int64_t edt = (local + 14400) * NS; /* UTC-4 */
	struct clock_ny ny;
	clock_ny(edt, &ny);
	*ns_out = ny.utc_offset == -14400 ? edt : (local + 18000) * NS;
	return 0;
}

/* 13610 -> "136.1", 13600 -> "136", 5 -> "0.05". */
static void fmt_cents(char *buf, size_t cap, int64_t c)
{
	int64_t whole = c / 100, frac = c % 100;
	if (frac == 0)
		snprintf(buf, cap, "%" PRId64, whole);
	else if (frac % 10 == 0)
		snprintf(buf, cap, "%" PRId64 ".%" PRId64, whole, frac / 10);
	else
		snprintf(buf, cap, "%" PRId64 ".%02" PRId64, whole, frac);
}

/* A double with 10 decimals, trailing zeros trimmed. */
static void fmt_dec(char *buf, size_t cap, double v)
{
	int n = snprintf(buf, cap, "%.10f", v);
	if (n <= 0 || (size_t)n >= cap)
		return;
	char *dot = strchr(buf, '.');
	if (!dot)
		return;
	char *e = buf + n - 1;
	while (e > dot && *e == '0')
		*e-- = '\0';
	if (e == dot)
		*e = '\0';
}

static void fmt_time(const struct gen *g, char *buf, size_t cap, int64_t t, int digits)
{
	int n = clock_format_rfc3339(t, digits, buf, cap);
	if (n <= 0 || !g->o->vary_digits || digits == 0)
		return;
	char *dot = strchr(buf, '.');
	if (!dot)
		return;
	char *z = buf + n - 1; /* 'Z' */
	char *e = z - 1;
	while (e > dot && *e == '0')
		e--;
	if (e == dot)
		e--; /* all zeros: drop the dot too */
	e[1] = 'Z';
	e[2] = '\0';
}

/* ---- heap ------------------------------------------------------------- */

static bool item_less(const struct gitem *a, const struct gitem *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int heap_push(struct gen *g, struct gitem *it)
{
	struct heap *h = &g->h;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct gitem *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	it->seq = g->seq++;
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!item_less(it, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = *it;
	return 0;
}

static void heap_pop(struct heap *h, struct gitem *out)
{
	*out = h->v[0];
	struct gitem last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && item_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!item_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
}

/* ---- output ----------------------------------------------------------- */

static void emit(struct gen *g, const struct gitem *it)
{
	const struct gsym *s = &g->syms[it->sym];
	char ts[CLOCK_RFC3339_MAX], a[32], b[32], c[32], d[32], e[40];
	int64_t at = it->at - g->start_ns;
	int n = 0;
	switch (it->kind) {
	case GK_TRADE: {
		char cond[32] = "\"@\"";
		if (it->u.tr.cond & C_ISO)
			strcat(cond, ",\"F\"");
		if (it->u.tr.cond & C_PRE)
			strcat(cond, ",\"T\"");
		if (it->u.tr.cond & C_ODD)
			strcat(cond, ",\"I\"");
		fmt_time(g, ts, sizeof(ts), it->t, 9);
		fmt_cents(a, sizeof(a), it->u.tr.px);
		n = snprintf(g->line, sizeof(g->line),
			     "{\"at_ns\":%" PRId64 ",\"msg\":{\"T\":\"t\",\"S\":\"%s\",\"i\":%" PRId64
			     ",\"x\":\"%c\",\"p\":%s,\"s\":%" PRId64 ",\"c\":[%s],\"t\":\"%s\",\"z\":\"%c\"}}\n",
			     at, s->name, it->u.tr.id, it->u.tr.x, a, it->u.tr.size, cond, ts, s->tape);
		g->st.trades++;
		break;
	}
	case GK_QUOTE:
		fmt_time(g, ts, sizeof(ts), it->t, 9);
		fmt_cents(a, sizeof(a), it->u.q.bp);
		fmt_cents(b, sizeof(b), it->u.q.ap);
		n = snprintf(g->line, sizeof(g->line),
			     "{\"at_ns\":%" PRId64 ",\"msg\":{\"T\":\"q\",\"S\":\"%s\",\"bx\":\"%c\",\"bp\":%s,"
			     "\"bs\":%d,\"ax\":\"%c\",\"ap\":%s,\"as\":%d,\"c\":[\"R\"],\"z\":\"%c\","
			     "\"t\":\"%s\"}}\n",
			     at, s->name, it->u.q.bx, a, it->u.q.bs, it->u.q.ax, b, it->u.q.as, s->tape, ts);
		g->st.quotes++;
		break;
	default:
		fmt_time(g, ts, sizeof(ts), it->t, 0);
		fmt_cents(a, sizeof(a), it->u.bar.o);
		fmt_cents(b, sizeof(b), it->u.bar.h);
		fmt_cents(c, sizeof(c), it->u.bar.l);
		fmt_cents(d, sizeof(d), it->u.bar.c);
		fmt_dec(e, sizeof(e), (double)it->u.bar.pv / ((double)it->u.bar.v * 100.0));
		n = snprintf(g->line, sizeof(g->line),
			     "{\"at_ns\":%" PRId64 ",\"msg\":{\"T\":\"%c\",\"S\":\"%s\",\"o\":%s,\"h\":%s,"
			     "\"l\":%s,\"c\":%s,\"v\":%" PRId64 ",\"t\":\"%s\",\"n\":%" PRId64
			     ",\"vw\":%s}}\n",
			     at, it->kind == GK_BAR ? 'b' : 'u', s->name, a, b, c, d, it->u.bar.v, ts,
			     it->u.bar.n, e);
		if (it->kind == GK_BAR)
			g->st.bars++;
		else
			g->st.updated_bars++;
		break;
	}
	if (n <= 0 || (size_t)n >= sizeof(g->line) || fwrite(g->line, 1, (size_t)n, g->out) != (size_t)n)
		g->err = -EIO;
	g->st.messages++;
}

/* Writes every waiting message sent before `now`. */
static void flush_before(struct gen *g, int64_t now)
{
	struct gitem it;
	while (g->h.n > 0 && g->h.v[0].at < now) {
		heap_pop(&g->h, &it);
		emit(g, &it);
	}
}

/* ---- the market model ------------------------------------------------- */

static double activity(const struct gen *g, int64_t t)
{
	if (t < g->open_ns)
		return PRE_ACTIVITY;
	if (t >= g->close_ns)
		return POST_ACTIVITY;
	return 1.0 + BURST_AMP * exp(-(double)(t - g->open_ns) / NS / BURST_TAU_S);
}

static double volatility(const struct gen *g, int64_t t)
{
	if (t < g->open_ns || t >= g->close_ns)
		return VOL_PER_SQRT_S;
	return VOL_PER_SQRT_S * (1.0 + exp(-(double)(t - g->open_ns) / NS / BURST_TAU_S));
}

static int64_t next_event_time(struct gen *g, int64_t t)
{
	if (g->o->fakepaca)
		return t + prng_range(&g->r, 4500 * MS, 5500 * MS);
	double lambda = g->rate * activity(g, t); /* events per second */
	double dt = prng_exp(&g->r) * (double)NS / lambda;
	if (dt > 3600.0 * NS)
		dt = 3600.0 * NS;
	return t + (dt < 1.0 ? 1 : (int64_t)dt);
}

static int64_t latency(struct gen *g)
{
	double l = prng_exp(&g->r) * 1.5 * MS;
	if (l > 20.0 * MS)
		l = 20.0 * MS;
	return LAT_MIN_NS + (int64_t)l;
}

/* Send time of an in-order message: event time plus latency, never before
 * the previous in-order message, so in-order messages keep event order. */
static int64_t normal_at(struct gen *g, int64_t t)
{
	int64_t at = t + latency(g);
	if (at < g->prev_normal_at)
		at = g->prev_normal_at;
	g->prev_normal_at = at;
	return at;
}

static char pick_char(struct gen *g, const char *set, const unsigned *w, size_t n)
{
	unsigned tot = 0;
	for (size_t k = 0; k < n; k++)
		tot += w[k];
	unsigned x = (unsigned)prng_below(&g->r, tot);
	for (size_t k = 0; k < n; k++) {
		if (x < w[k])
			return set[k];
		x -= w[k];
	}
	return set[0];
}

static char trade_venue(struct gen *g, bool pre)
{
	static const char reg[] = "DQKPZVUXJYBNAH";
	static const unsigned regw[] = {35, 18, 8, 7, 7, 4, 5, 3, 3, 3, 2, 3, 1, 1};
	static const char prev[] = "DQPKZ";
	static const unsigned prew[] = {40, 25, 15, 12, 8};
	return pre ? pick_char(g, prev, prew, 5) : pick_char(g, reg, regw, 14);
}

static char quote_venue(struct gen *g)
{
	static const char set[] = "QPKZVUJYXBNH";
	static const unsigned w[] = {20, 14, 12, 12, 8, 8, 5, 5, 4, 4, 4, 4};
	return pick_char(g, set, w, 12);
}

/* Current bid/ask in cents from the symbol's mid. */
static void book(struct gen *g, const struct gsym *s, bool pre, int64_t *bid, int64_t *ask)
{
	int64_t spread;
	if (g->o->fakepaca) {
		spread = prng_range(&g->r, 5, 250);
	} else if (pre) {
		spread = prng_range(&g->r, 2, 12);
	} else {
		double u = prng_unit(&g->r);
		spread = u < 0.70 ? 1 : u < 0.90 ? 2 : prng_range(&g->r, 3, 5);
	}
	double mid = exp(s->logmid);
	int64_t b = (int64_t)floor(mid - (double)spread / 2.0);
	if (b < 1)
		b = 1;
	*bid = b;
	*ask = b + spread;
}

static void walk(struct gen *g, struct gsym *s, int64_t t)
{
	if (s->last_t != 0 && t > s->last_t) {
		double dt = (double)(t - s->last_t) / NS;
		s->logmid += volatility(g, t) * sqrt(dt) * prng_normal(&g->r);
		if (s->logmid < log(100.0)) /* keep above $1 */
			s->logmid = log(100.0) + (log(100.0) - s->logmid);
	}
	s->last_t = t;
}

static void agg_add(struct agg *a, int64_t t, int64_t px, int64_t size, int64_t at)
{
	if (a->n == 0 || t < a->t_first) {
		a->t_first = t;
		a->p_first = px;
	}
	if (a->n == 0 || t > a->t_last) {
		a->t_last = t;
		a->p_last = px;
	}
	if (a->n == 0 || px > a->hi)
		a->hi = px;
	if (a->n == 0 || px < a->lo)
		a->lo = px;
	if (a->n == 0 || at > a->max_at)
		a->max_at = at;
	a->n++;
	a->v += size;
	a->pv += px * size;
}

static struct agg agg_merge(const struct agg *a, const struct agg *b)
{
	if (a->n == 0)
		return *b;
	if (b->n == 0)
		return *a;
	struct agg m = *a;
	if (b->t_first < m.t_first) {
		m.t_first = b->t_first;
		m.p_first = b->p_first;
	}
	if (b->t_last > m.t_last) {
		m.t_last = b->t_last;
		m.p_last = b->p_last;
	}
	if (b->hi > m.hi)
		m.hi = b->hi;
	if (b->lo < m.lo)
		m.lo = b->lo;
	if (b->max_at > m.max_at)
		m.max_at = b->max_at;
	m.n += b->n;
	m.v += b->v;
	m.pv += b->pv;
	return m;
}

static int push_bar(struct gen *g, uint32_t k, enum gkind kind, int64_t minute, int64_t at,
		    const struct agg *a)
{
	struct gitem it = {.at = at, .t = minute, .sym = k, .kind = (uint8_t)kind};
	it.u.bar.o = a->p_first;
	it.u.bar.h = a->hi;
	it.u.bar.l = a->lo;
	it.u.bar.c = a->p_last;
	it.u.bar.v = a->v;
	it.u.bar.n = a->n;
	it.u.bar.pv = a->pv;
	return heap_push(g, &it);
}

static int64_t nominal_bar_at(const struct gen *g, uint32_t k)
{
	return g->bar_base + (int64_t)k * BAR_SPACING_NS;
}

/* The minute [mend - 60 s, mend) is over: queue its bars. */
static int close_minute(struct gen *g, int64_t mend)
{
	int64_t minute = mend - 60 * NS;
	for (uint32_t k = 0; k < g->nsym; k++) {
		struct gsym *s = &g->syms[k];
		if (s->on.n + s->late.n == 0)
			continue;
		int64_t nominal = nominal_bar_at(g, k);
		int rc;
		if (g->o->fakepaca) {
			/* No trades on the test stream: bar from quote midpoints. */
			struct agg a = s->on;
			a.n = prng_range(&g->r, 1, 60);
			a.v = a.n * prng_range(&g->r, 10, 400);
			a.pv = ((a.hi + a.lo + a.p_last) / 3) * a.v;
			rc = push_bar(g, k, GK_BAR, minute, nominal, &a);
		} else if (!g->o->updated_bars || s->on.n == 0) {
			struct agg all = agg_merge(&s->on, &s->late);
			int64_t at = nominal;
			if (all.max_at + US > at)
				at = all.max_at + US; /* cover every trade of the minute */
			rc = push_bar(g, k, GK_BAR, minute, at, &all);
		} else {
			rc = push_bar(g, k, GK_BAR, minute, nominal, &s->on);
			if (rc == 0 && s->late.n > 0) {
				struct agg all = agg_merge(&s->on, &s->late);
				int64_t half = 30 * NS;
				int64_t mark = (s->late.max_at / half + 1) * half;
				int64_t at = mark + prng_range(&g->r, 100 * MS, 400 * MS);
				g->st.late_trades += (uint64_t)s->late.n;
				rc = push_bar(g, k, GK_UBAR, minute, at, &all);
			}
		}
		if (rc < 0)
			return rc;
		memset(&s->on, 0, sizeof(s->on));
		memset(&s->late, 0, sizeof(s->late));
	}
	g->bar_base = mend + 60 * NS + prng_range(&g->r, 300 * MS, 800 * MS);
	return 0;
}

static uint32_t pick_symbol(struct gen *g)
{
	if (g->nsym == 1)
		return 0;
	double x = prng_unit(&g->r) * g->cum[g->nsym - 1];
	uint32_t lo = 0, hi = g->nsym - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->cum[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int64_t trade_size(struct gen *g, bool pre, uint8_t *cond)
{
	double odd_share = pre ? 0.7 : 0.55;
	if (prng_chance(&g->r, odd_share)) {
		*cond |= C_ODD;
		int64_t sz = 1 + (int64_t)(prng_exp(&g->r) * 15.0);
		return sz > 99 ? 99 : sz;
	}
	static const int64_t lots[] = {1, 2, 3, 4, 5, 10, 20, 50};
	static const unsigned w[] = {50, 20, 8, 5, 7, 6, 3, 1};
	unsigned x = (unsigned)prng_below(&g->r, 100);
	for (size_t k = 0; k < 8; k++) {
		if (x < w[k])
			return lots[k] * 100;
		x -= w[k];
	}
	return 100;
}

static int gen_event(struct gen *g, int64_t t)
{
	uint32_t k = pick_symbol(g);
	struct gsym *s = &g->syms[k];
	bool pre = t < g->open_ns || t >= g->close_ns;
	walk(g, s, t);
	int64_t bid, ask;
	book(g, s, pre, &bid, &ask);

	if (g->o->fakepaca || prng_chance(&g->r, g->o->quote_share)) {
		struct gitem it = {.t = t, .sym = k, .kind = GK_QUOTE};
		it.u.q.bp = bid;
		it.u.q.ap = ask;
		it.u.q.bs = (int32_t)(prng_chance(&g->r, 0.9) ? prng_range(&g->r, 1, 8)
							      : prng_range(&g->r, 9, 40));
		it.u.q.as = (int32_t)(prng_chance(&g->r, 0.9) ? prng_range(&g->r, 1, 8)
							      : prng_range(&g->r, 9, 40));
		it.u.q.bx = quote_venue(g);
		it.u.q.ax = quote_venue(g);
		it.at = normal_at(g, t);
		if (g->o->fakepaca) /* bars of the test stream come from quote mids */
			agg_add(&s->on, t, (bid + ask) / 2, 1, it.at);
		return heap_push(g, &it);
	}

	struct gitem it = {.t = t, .sym = k, .kind = GK_TRADE};
	double u = prng_unit(&g->r);
	if (u < 0.45 || ask - bid < 2)
		it.u.tr.px = u < 0.45 ? bid : ask;
	else if (u < 0.90)
		it.u.tr.px = ask;
	else
		it.u.tr.px = prng_range(&g->r, bid + 1, ask - 1);
	it.u.tr.cond = pre ? C_PRE : 0;
	if (!pre && prng_chance(&g->r, 0.04))
		it.u.tr.cond |= C_ISO;
	it.u.tr.size = trade_size(g, pre, &it.u.tr.cond);
	it.u.tr.x = trade_venue(g, pre);
	it.u.tr.id = s->next_id;
	s->next_id += prng_range(&g->r, 1, 4);

	if (prng_chance(&g->r, g->o->ooo_rate)) {
		/* Reported late: the whole disorder (latency + delay) stays
		 * within ooo_max_ns. */
		int64_t lat = latency(g);
		it.at = t + lat + prng_range(&g->r, 50 * MS, g->o->ooo_max_ns - lat);
		g->st.out_of_order++;
	} else {
		it.at = normal_at(g, t);
	}
	if (it.at > nominal_bar_at(g, k))
		agg_add(&s->late, t, it.u.tr.px, it.u.tr.size, it.at);
	else
		agg_add(&s->on, t, it.u.tr.px, it.u.tr.size, it.at);
	int rc = heap_push(g, &it);
	if (rc < 0)
		return rc;

	if (g->o->dup_rate > 0 && --g->dup_countdown <= 0) {
		/* An exact duplicate, sent late enough to look like a resend but
		 * never further than ooo_max_ns behind its own t. */
		struct gitem dup = it;
		int64_t room = g->o->ooo_max_ns - (it.at - t);
		dup.at = it.at + (room > 0 ? prng_range(&g->r, 0, room) : 0);
		g->st.duplicates++;
		g->dup_countdown = (0.5 + prng_unit(&g->r)) / g->o->dup_rate;
		return heap_push(g, &dup);
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

void generate_opts_default(struct generate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->symbol = "NVDA";
	o->nsymbols = 1;
	o->date = 20250115;
	o->start_sec = OPEN_SEC - 5 * 60;
	o->end_sec = OPEN_SEC + 10 * 60;
	o->rate = 50.0;
	o->quote_share = 0.6;
	o->dup_rate = 0.001;
	o->ooo_rate = 0.005;
	o->ooo_max_ns = 1500 * MS;
}

static bool symbol_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 11)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '.' ||
		      s[k] == '/'))
			return false;
	return true;
}

static int check_opts(const struct generate_opts *o, char *err, size_t cap)
{
	if (o->symbol && !symbol_ok(o->symbol)) {
		errf(err, cap, "symbol must be 1-11 characters of A-Z 0-9 . /");
		return -EINVAL;
	}
	if (o->nsymbols > GENERATE_MAX_SYMBOLS) {
		errf(err, cap, "at most %u symbols", GENERATE_MAX_SYMBOLS);
		return -EINVAL;
	}
	if (o->start_sec < 0 || o->end_sec > 86400 || o->start_sec >= o->end_sec ||
	    o->start_sec % 60 || o->end_sec % 60) {
		errf(err, cap, "start/end must be whole minutes with start < end within the day");
		return -EINVAL;
	}
	if (!(o->messages > 0 || (o->rate > 0 && o->rate <= 1e7))) {
		errf(err, cap, "rate must be in (0, 1e7] messages/s");
		return -EINVAL;
	}
	if (!(o->quote_share >= 0 && o->quote_share <= 1) || !(o->dup_rate >= 0 && o->dup_rate <= 0.5) ||
	    !(o->ooo_rate >= 0 && o->ooo_rate <= 1)) {
		errf(err, cap, "quote_share, ooo_rate must be in [0, 1] and dup_rate in [0, 0.5]");
		return -EINVAL;
	}
	if (o->ooo_max_ns < 100 * MS) {
		errf(err, cap, "ooo_max_ns must be >= 100 ms");
		return -EINVAL;
	}
	if (!(o->start_price == 0 || (o->start_price >= 1 && o->start_price <= 1e6))) {
		errf(err, cap, "start price must be in [1, 1e6]");
		return -EINVAL;
	}
	return 0;
}

static void synth_name(char *buf, uint32_t k)
{
	buf[0] = 'X';
	for (int d = 4; d >= 1; d--) {
		buf[d] = (char)('A' + k % 26);
		k /= 26;
	}
	buf[5] = '\0';
}

static int setup(struct gen *g, const struct generate_opts *o, FILE *out, char *err, size_t cap)
{
	g->o = o;
	g->out = out;
	prng_seed(&g->r, o->seed);
	if (generate_ny_to_utc(o->date, o->start_sec, &g->start_ns) < 0 ||
	    generate_ny_to_utc(o->date, o->end_sec, &g->end_ns) < 0 ||
	    generate_ny_to_utc(o->date, OPEN_SEC, &g->open_ns) < 0 ||
	    generate_ny_to_utc(o->date, CLOSE_SEC, &g->close_ns) < 0) {
		errf(err, cap, "bad date %08d", (int)o->date);
		return -EINVAL;
	}
	g->nsym = o->fakepaca || o->nsymbols < 1 ? 1 : o->nsymbols;
	g->syms = calloc(g->nsym, sizeof(*g->syms));
	g->cum = calloc(g->nsym, sizeof(*g->cum));
	if (!g->syms || !g->cum)
		return -ENOMEM;
	double tot = 0;
	for (uint32_t k = 0; k < g->nsym; k++) {
		struct gsym *s = &g->syms[k];
		double price;
		if (o->fakepaca) {
			strcpy(s->name, "FAKEPACA");
			s->tape = 'A';
			price = 135.0;
		} else if (k == 0) {
			snprintf(s->name, sizeof(s->name), "%s", o->symbol ? o->symbol : "NVDA");
			s->tape = 'C';
			price = o->start_price > 0 ? o->start_price : 136.0;
		} else {
			synth_name(s->name, k);
			s->tape = "ABC"[k % 3];
			price = exp(log(5.0) + prng_unit(&g->r) * log(100.0));
		}
		s->logmid = log(price * 100.0);
		s->next_id = prng_range(&g->r, 10000000000000LL, 89999999999999LL);
		tot += 1.0 / pow((double)k + 1.0, 0.8); /* Zipf-like activity */
		g->cum[k] = tot;
	}
	if (o->messages > 0) {
		double integral = 0; /* expected events per unit rate */
		for (int64_t t = g->start_ns; t < g->end_ns; t += NS)
			integral += activity(g, t + NS / 2);
		g->rate = (double)o->messages / integral;
	} else {
		g->rate = o->rate;
	}
	g->st.rate = g->rate;
	g->st.start_ns = g->start_ns;
	g->st.end_ns = g->end_ns;
	g->dup_countdown = o->dup_rate > 0 ? (0.5 + prng_unit(&g->r)) / o->dup_rate : 0;
	g->bar_base = g->start_ns + 60 * NS + prng_range(&g->r, 300 * MS, 800 * MS);
	return 0;
}

static void write_meta(struct gen *g)
{
	const struct generate_opts *o = g->o;
	char a[CLOCK_RFC3339_MAX], b[CLOCK_RFC3339_MAX];
	clock_format_rfc3339(g->start_ns, 0, a, sizeof(a));
	clock_format_rfc3339(g->end_ns, 0, b, sizeof(b));
	if (fprintf(g->out,
		    "{\"meta\":{\"format\":\"torghut-recording\",\"version\":1,"
		    "\"generator\":\"torghut-replay generate\",\"mode\":\"%s\",\"seed\":%" PRIu64
		    ",\"symbols\":%" PRIu32 ",\"first_symbol\":\"%s\",\"date\":\"%04d-%02d-%02d\","
		    "\"start\":\"%s\",\"end\":\"%s\",\"start_ns\":%" PRId64 ",\"rate\":%.6f,"
		    "\"dup_rate\":%g,\"ooo_rate\":%g,\"ooo_max_ns\":%" PRId64 ",\"updated_bars\":%s}}\n",
		    o->fakepaca ? "fakepaca" : "session", o->seed, g->nsym, g->syms[0].name,
		    (int)(o->date / 10000), (int)(o->date / 100 % 100), (int)(o->date % 100), a, b,
		    g->start_ns, g->rate, o->dup_rate, o->ooo_rate, o->ooo_max_ns,
		    o->updated_bars ? "true" : "false") < 0)
		g->err = -EIO;
}

int generate_run(const struct generate_opts *o, FILE *out, struct generate_stats *stats, char *err,
		 size_t errcap)
{
	if (err && errcap)
		err[0] = '\0';
	if (!o || !out) {
		errf(err, errcap, "no options or output");
		return -EINVAL;
	}
	int rc = check_opts(o, err, errcap);
	if (rc < 0)
		return rc;
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	rc = setup(g, o, out, err, errcap);
	if (rc < 0)
		goto done;
	write_meta(g);

	int64_t te = next_event_time(g, g->start_ns);
	int64_t next_min = g->start_ns + 60 * NS;
	while (g->err == 0) {
		bool ev = te < g->end_ns && te < next_min;
		if (!ev && next_min > g->end_ns)
			break;
		int64_t now = ev ? te : next_min;
		flush_before(g, now); /* nothing created from now on is sent before now */
		if (ev) {
			rc = gen_event(g, te);
			te = next_event_time(g, te);
		} else {
			rc = close_minute(g, next_min);
			next_min += 60 * NS;
		}
		if (rc < 0)
			goto done;
	}
	flush_before(g, INT64_MAX);
	if (g->err == 0 && ferror(out))
		g->err = -EIO;
	rc = g->err;
	if (rc < 0)
		errf(err, errcap, "write error");
done:
	if (stats)
		*stats = g->st;
	if (rc == -ENOMEM)
		errf(err, errcap, "out of memory");
	free(g->syms);
	free(g->cum);
	free(g->h.v);
	free(g);
	return rc;
}

int generate_session(const struct generate_opts *o, FILE *out)
{
	return generate_run(o, out, NULL, NULL, 0);
}
