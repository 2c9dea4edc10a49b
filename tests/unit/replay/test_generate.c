/* test_generate.c - the synthetic session generator: determinism, message
 * shapes (parsed with jansson), trade ids and duplicates, out-of-order
 * bounds, minute bars recomputed from the trades, updated bars, the
 * many-symbol and FAKEPACA modes, and the CLI entry point. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "core/clock.h"
#include "replay/generate.h"
#include "replay/recording.h"
#include "replay/replay_generate.h"

#define NS CLOCK_NS_PER_SEC
#define MINUTE (60 * NS)

/* ---- generating into memory -------------------------------------------- */

struct blob {
	char *p;
	size_t n;
};

static struct blob gen(const struct generate_opts *o, struct generate_stats *st)
{
	struct blob b = {0};
	FILE *f = open_memstream(&b.p, &b.n);
	assert_non_null(f);
	char err[128];
	int rc = generate_run(o, f, st, err, sizeof(err));
	if (rc != 0)
		fail_msg("generate_run = %d (%s)", rc, err);
	assert_int_equal(fclose(f), 0);
	return b;
}

/* ---- a parsed session ---------------------------------------------------- */

struct trade {
	int64_t at, t, id, size;
	double p;
	uint32_t sym;
	uint64_t hash; /* of the message bytes */
	size_t order;  /* position in the output */
	int dup;       /* set by check_ids */
	int pre;       /* has condition "T" */
	int odd;       /* has condition "I" */
};

struct bar {
	int64_t at, t, v, n;
	double o, h, l, c, vw;
	uint32_t sym;
	char type;
};

struct quote {
	int64_t at, t;
	double bp, ap;
	uint32_t sym;
};

struct session {
	struct trade *tr;
	size_t ntr, captr;
	struct bar *bar;
	size_t nbar, capbar;
	struct quote *q;
	size_t nq, capq;
	char (*syms)[16];
	size_t nsyms, capsyms;
	size_t messages;
	int64_t start_ns;
	int short_frac; /* timestamps with fewer than 9 fractional digits */
};

#define PUSH(arr, n, cap)                                                           \
	do {                                                                        \
		if ((n) == (cap)) {                                                 \
			(cap) = (cap) ? (cap) * 2 : 1024;                           \
			(arr) = realloc((arr), (cap) * sizeof(*(arr)));             \
			assert_non_null(arr);                                       \
		}                                                                   \
	} while (0)

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t k = 0; k < n; k++)
		h = (h ^ (unsigned char)p[k]) * 1099511628211ULL;
	return h;
}

static uint32_t sym_index(struct session *s, const char *name)
{
	/* Linear scan from the end: fine for the symbol counts used here. */
	for (size_t k = s->nsyms; k-- > 0;)
		if (!strcmp(s->syms[k], name))
			return (uint32_t)k;
	PUSH(s->syms, s->nsyms, s->capsyms);
	assert_true(strlen(name) < 16);
	strcpy(s->syms[s->nsyms], name);
	return (uint32_t)s->nsyms++;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		fail_msg("member %s is not a string", k);
	return json_string_value(v);
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		fail_msg("member %s is not a number", k);
	return json_number_value(v);
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		fail_msg("member %s is not an integer", k);
	return (int64_t)json_integer_value(v);
}

/* Checks the RFC 3339 shape: 9 fractional digits (or, with vary, 0-9 with
 * no trailing zero) and returns the time. */
static int64_t check_time(struct session *s, const char *ts, int vary)
{
	size_t n = strlen(ts);
	assert_true(n >= 20);
	assert_int_equal(ts[4], '-');
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[n - 1], 'Z');
	if (!vary) {
		assert_int_equal(n, 30); /* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ */
		assert_int_equal(ts[19], '.');
		for (int k = 20; k < 29; k++)
			assert_true(ts[k] >= '0' && ts[k] <= '9');
	} else if (n > 20) {
		assert_int_equal(ts[19], '.');
		assert_true(n >= 22 && n <= 30);
		assert_true(ts[n - 2] != '0');
		if (n < 30)
			s->short_frac++;
	}
	int64_t t;
	assert_int_equal(clock_parse_rfc3339(ts, n, &t), 0);
	return t;
}

static int has_cond(json_t *c, const char *code)
{
	size_t k;
	json_t *v;
	json_array_foreach(c, k, v)
	{
		assert_true(json_is_string(v));
		if (!strcmp(json_string_value(v), code))
			return 1;
	}
	return 0;
}

/* jansson allocates per node, and under ASan that dominates these tests:
 * parse_session gives jansson a bump arena, reset after each message. */
static _Alignas(16) char arena[1 << 16];
static size_t arena_used;

static void *arena_malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(arena) - arena_used)
		return NULL;
	void *p = arena + arena_used;
	arena_used += n;
	return p;
}

static void arena_free(void *p)
{
	(void)p;
}

static void parse_session(const struct blob *b, struct session *s, int vary)
{
	memset(s, 0, sizeof(*s));
	arena_used = 0;
	json_set_alloc_funcs(arena_malloc, arena_free);
	FILE *f = fmemopen(b->p, b->n, "r");
	assert_non_null(f);
	struct recording_reader *r;
	assert_int_equal(recording_reader_new(f, 0, &r), 0);
	struct recording_item it;
	char err[160];
	int rc;
	int64_t prev_at = 0;
	size_t lines = 0;
	while ((rc = recording_read(r, &it, err, sizeof(err), NULL)) != 0) {
		if (rc < 0)
			fail_msg("generated line rejected: %s", err);
		lines++;
		if (it.kind == RECORDING_META) {
			assert_int_equal(it.lineno, 1);
			json_t *m = json_loadb(it.line + it.payload.off, it.payload.len, 0, NULL);
			assert_non_null(m);
			assert_string_equal(jstr(m, "format"), "torghut-recording");
			s->start_ns = jint(m, "start_ns");
			json_decref(m);
			arena_used = 0;
			continue;
		}
		assert_int_equal(it.kind, RECORDING_MSG);
		assert_int_equal(it.nmsgs, 1);
		assert_true(it.at_ns >= prev_at); /* sorted by send offset */
		prev_at = it.at_ns;
		const struct recording_msg *rm = &it.msgs[0];
		json_error_t jerr;
		json_t *m = json_loadb(it.line + rm->obj.off, rm->obj.len, 0, &jerr);
		if (!m)
			fail_msg("jansson: %s", jerr.text);
		const char *T = jstr(m, "T");
		uint32_t sym = sym_index(s, jstr(m, "S"));
		int64_t at = s->start_ns + it.at_ns;
		if (!strcmp(T, "t")) {
			assert_int_equal(json_object_size(m), 9);
			PUSH(s->tr, s->ntr, s->captr);
			struct trade *t = &s->tr[s->ntr];
			memset(t, 0, sizeof(*t));
			t->at = at;
			t->sym = sym;
			t->id = jint(m, "i");
			assert_true(t->id > (1LL << 32));
			assert_int_equal(strlen(jstr(m, "x")), 1);
			t->p = jnum(m, "p");
			assert_true(t->p >= 1.0);
			assert_true(fabs(t->p * 100 - round(t->p * 100)) < 1e-6); /* tick 0.01 */
			t->size = jint(m, "s");
			assert_true(t->size > 0);
			json_t *c = json_object_get(m, "c");
			assert_true(json_is_array(c) && json_array_size(c) >= 1);
			assert_true(has_cond(c, "@"));
			t->pre = has_cond(c, "T");
			t->odd = has_cond(c, "I");
			assert_int_equal(t->odd, t->size % 100 != 0); /* odd-lot flag matches */
			assert_int_equal(strlen(jstr(m, "z")), 1);
			t->t = check_time(s, jstr(m, "t"), vary);
			assert_true(t->t <= at);
			t->hash = fnv(it.line + rm->obj.off, rm->obj.len);
			t->order = s->messages;
			s->ntr++;
		} else if (!strcmp(T, "q")) {
			assert_int_equal(json_object_size(m), 11);
			PUSH(s->q, s->nq, s->capq);
			struct quote *q = &s->q[s->nq++];
			q->at = at;
			q->sym = sym;
			q->bp = jnum(m, "bp");
			q->ap = jnum(m, "ap");
			assert_true(q->bp > 0 && q->ap > q->bp);
			assert_true(jint(m, "bs") >= 1 && jint(m, "as") >= 1);
			assert_int_equal(strlen(jstr(m, "bx")), 1);
			assert_int_equal(strlen(jstr(m, "ax")), 1);
			assert_true(json_is_array(json_object_get(m, "c")));
			assert_int_equal(strlen(jstr(m, "z")), 1);
			q->t = check_time(s, jstr(m, "t"), vary);
			assert_true(q->t <= at);
		} else if (!strcmp(T, "b") || !strcmp(T, "u")) {
			assert_int_equal(json_object_size(m), 10);
			PUSH(s->bar, s->nbar, s->capbar);
			struct bar *br = &s->bar[s->nbar++];
			br->type = T[0];
			br->at = at;
			br->sym = sym;
			br->o = jnum(m, "o");
			br->h = jnum(m, "h");
			br->l = jnum(m, "l");
			br->c = jnum(m, "c");
			br->v = jint(m, "v");
			br->n = jint(m, "n");
			br->vw = jnum(m, "vw");
			const char *ts = jstr(m, "t");
			assert_int_equal(strlen(ts), 20); /* bars: no fractional seconds */
			assert_int_equal(clock_parse_rfc3339(ts, 20, &br->t), 0);
			assert_int_equal(br->t % MINUTE, 0);
			assert_true(br->at >= br->t + MINUTE); /* after the minute ends */
			assert_true(br->h >= br->o && br->h >= br->c && br->l <= br->o && br->l <= br->c);
			assert_true(br->vw >= br->l - 1e-9 && br->vw <= br->h + 1e-9);
		} else {
			fail_msg("unexpected T %s", T);
		}
		json_decref(m);
		arena_used = 0;
		s->messages++;
	}
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(recording_reader_stats(r)->malformed, 0);
	assert_int_equal(lines, s->messages + 1);
	recording_reader_free(r);
	fclose(f);
}

static void free_session(struct session *s)
{
	free(s->tr);
	free(s->bar);
	free(s->q);
	free(s->syms);
}

static int cmp_trade_key(const void *a, const void *b)
{
	const struct trade *x = *(const struct trade *const *)a, *y = *(const struct trade *const *)b;
	if (x->sym != y->sym)
		return x->sym < y->sym ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Marks duplicates (a later trade with the same symbol and id) and checks
 * they are byte-identical to the first. Returns the duplicate count. */
static size_t check_ids(struct session *s)
{
	struct trade **v = malloc(s->ntr * sizeof(*v));
	assert_non_null(v);
	for (size_t k = 0; k < s->ntr; k++)
		v[k] = &s->tr[k];
	qsort(v, s->ntr, sizeof(*v), cmp_trade_key);
	size_t dups = 0;
	for (size_t k = 1; k < s->ntr; k++) {
		if (v[k]->sym == v[k - 1]->sym && v[k]->id == v[k - 1]->id) {
			assert_int_equal(v[k]->hash, v[k - 1]->hash); /* exact duplicate */
			assert_true(v[k]->at >= v[k - 1]->at);
			v[k]->dup = 1;
			dups++;
		}
	}
	/* Ids increase with event time per symbol (duplicates aside): in id
	 * order, the times increase too. */
	for (size_t k = 1; k < s->ntr; k++)
		if (v[k]->sym == v[k - 1]->sym && !v[k]->dup)
			assert_true(v[k]->t > v[k - 1]->t);
	free(v);
	return dups;
}

/* Largest amount by which a trade's t is behind the largest t of the same
 * symbol sent before it; *inversions counts trades that are behind at all. */
static int64_t max_disorder(const struct session *s, size_t *inversions)
{
	int64_t *maxt = calloc(s->nsyms, sizeof(*maxt));
	assert_non_null(maxt);
	int64_t worst = 0;
	*inversions = 0;
	for (size_t k = 0; k < s->ntr; k++) {
		const struct trade *t = &s->tr[k];
		if (maxt[t->sym] > t->t) {
			(*inversions)++;
			if (maxt[t->sym] - t->t > worst)
				worst = maxt[t->sym] - t->t;
		} else {
			maxt[t->sym] = t->t;
		}
	}
	free(maxt);
	return worst;
}

struct recompute {
	int64_t n, v, t_first, t_last;
	double o, h, l, c, pv;
};

/* Recomputes a bar from the non-duplicate trades of its symbol and minute;
 * with before_at > 0 only from those sent at or before before_at. */
static struct recompute recompute(const struct session *s, uint32_t sym, int64_t minute,
				  int64_t before_at)
{
	struct recompute r = {0};
	for (size_t k = 0; k < s->ntr; k++) {
		const struct trade *t = &s->tr[k];
		if (t->sym != sym || t->dup || t->t < minute || t->t >= minute + MINUTE)
			continue;
		if (before_at > 0 && t->at > before_at)
			continue;
		if (r.n == 0 || t->t < r.t_first) {
			r.t_first = t->t;
			r.o = t->p;
		}
		if (r.n == 0 || t->t > r.t_last) {
			r.t_last = t->t;
			r.c = t->p;
		}
		if (r.n == 0 || t->p > r.h)
			r.h = t->p;
		if (r.n == 0 || t->p < r.l)
			r.l = t->p;
		r.n++;
		r.v += t->size;
		r.pv += t->p * (double)t->size;
	}
	return r;
}

static void assert_bar_equals(const struct bar *b, const struct recompute *r)
{
	assert_true(r->n > 0);
	assert_int_equal(b->n, r->n);
	assert_int_equal(b->v, r->v);
	assert_true(b->o == r->o && b->h == r->h && b->l == r->l && b->c == r->c);
	double vw = r->pv / (double)r->v;
	if (fabs(b->vw - vw) > 1e-9 * vw)
		fail_msg("vw %.12f != recomputed %.12f", b->vw, vw);
}

/* ---- tests ------------------------------------------------------------ */

static void test_determinism(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 42;
	o.end_sec = 9 * 3600 + 33 * 60;
	struct blob a = gen(&o, NULL), b = gen(&o, NULL);
	assert_true(a.n > 10000);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.p, b.p, a.n);
	o.seed = 43;
	struct blob c = gen(&o, NULL);
	assert_true(c.n != a.n || memcmp(a.p, c.p, a.n) != 0);
	free(a.p);
	free(b.p);
	free(c.p);

	/* The other modes are reproducible too. */
	struct generate_opts m;
	generate_opts_default(&m);
	m.nsymbols = 50;
	m.start_sec = 9 * 3600 + 30 * 60;
	m.end_sec = m.start_sec + 120;
	m.updated_bars = true;
	m.vary_digits = true;
	a = gen(&m, NULL);
	b = gen(&m, NULL);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.p, b.p, a.n);
	free(a.p);
	free(b.p);
	m.fakepaca = true;
	a = gen(&m, NULL);
	b = gen(&m, NULL);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.p, b.p, a.n);
	free(a.p);
	free(b.p);
}

/* The default session: NVDA, 09:25-09:40, the shapes and the statistics. */
static void test_default_session(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	assert_int_equal(s.nsyms, 1);
	assert_string_equal(s.syms[0], "NVDA");
	assert_int_equal(s.messages, st.messages);
	assert_int_equal(s.ntr, st.trades);
	assert_int_equal(s.nq, st.quotes);
	assert_int_equal(s.nbar, st.bars);
	assert_int_equal(st.updated_bars, 0);

	int64_t open;
	assert_int_equal(generate_ny_to_utc(20250115, 9 * 3600 + 30 * 60, &open), 0);
	assert_int_equal(s.start_ns, open - 5 * MINUTE);
	assert_int_equal(st.start_ns, s.start_ns);
	assert_int_equal(st.end_ns, open + 10 * MINUTE);

	size_t odd = 0, pre_ok = 0, burst = 0, late_reg = 0;
	double pmin = 1e9, pmax = 0;
	for (size_t k = 0; k < s.ntr; k++) {
		const struct trade *t = &s.tr[k];
		assert_true(t->t >= st.start_ns && t->t < st.end_ns);
		odd += t->odd;
		pre_ok += t->pre == (t->t < open); /* "T" exactly on pre-market trades */
		if (t->t >= open && t->t < open + MINUTE)
			burst++;
		if (t->t >= open + 9 * MINUTE)
			late_reg++;
		pmin = fmin(pmin, t->p);
		pmax = fmax(pmax, t->p);
	}
	assert_int_equal(pre_ok, s.ntr);
	/* Odd and round lots both common. */
	assert_true(odd > s.ntr / 4 && odd < s.ntr * 3 / 4);
	/* Opening burst: the first regular minute is far busier than the last. */
	assert_true(burst > 3 * late_reg);
	/* NVDA-like level, a plausible intraday range. */
	assert_true(pmin > 120 && pmax < 152);
	assert_true(pmax - pmin > 0.05);
	/* Spreads of a liquid stock in the regular session: mostly one tick. */
	size_t one_tick = 0, reg = 0;
	for (size_t k = 0; k < s.nq; k++) {
		assert_true(s.q[k].t >= st.start_ns && s.q[k].t < st.end_ns);
		if (s.q[k].t >= open) {
			reg++;
			one_tick += fabs(s.q[k].ap - s.q[k].bp - 0.01) < 1e-6;
		}
	}
	assert_true(one_tick > reg / 2);
	/* About 60 % quotes. */
	double qs = (double)s.nq / (double)(s.nq + s.ntr);
	assert_true(qs > 0.55 && qs < 0.65);
	/* One bar per minute (NVDA trades every minute at this rate). */
	assert_int_equal(s.nbar, 15);
	free_session(&s);
	free(b.p);
}

static void test_ids_and_duplicates(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 7;
	o.messages = 100000;
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	size_t dups = check_ids(&s);
	assert_int_equal(dups, st.duplicates);
	double rate = (double)dups / (double)(s.ntr - dups);
	if (rate < 0.0007 || rate > 0.0013)
		fail_msg("duplicate rate %.5f (dups %zu of %zu trades)", rate, dups, s.ntr);
	/* --messages aims at the expected count. */
	double got = (double)(s.ntr + s.nq);
	assert_true(got > 0.95 * 100000 && got < 1.05 * 100000);
	free_session(&s);
	free(b.p);
}

static void test_out_of_order_bound(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 11;
	o.ooo_rate = 0.02; /* more of them, to probe the bound */
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	check_ids(&s);
	size_t inv;
	int64_t worst = max_disorder(&s, &inv);
	assert_true(worst <= 1500000000LL);
	assert_true(worst > 1000000000LL); /* the bound is actually approached */
	assert_true(inv > st.out_of_order / 2);
	free_session(&s);
	free(b.p);

	/* Defaults: a few, still bounded. */
	generate_opts_default(&o);
	b = gen(&o, &st);
	parse_session(&b, &s, 0);
	check_ids(&s);
	worst = max_disorder(&s, &inv);
	assert_true(worst <= 1500000000LL);
	assert_true(inv > 20);
	/* ~0.5 % of trades generated late, with duplicates also behind. */
	assert_true(st.out_of_order > s.ntr / 400 && st.out_of_order < s.ntr / 100);
	free_session(&s);
	free(b.p);
}

static void test_bars_match_trades(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 5;
	o.ooo_rate = 0.03; /* late trades near minute ends must still be in the bar */
	struct blob b = gen(&o, NULL);
	struct session s;
	parse_session(&b, &s, 0);
	check_ids(&s);
	size_t minutes_with_trades = 0;
	for (int64_t m = s.start_ns; m < s.start_ns + 15 * MINUTE; m += MINUTE)
		if (recompute(&s, 0, m, 0).n > 0)
			minutes_with_trades++;
	assert_int_equal(s.nbar, minutes_with_trades);
	for (size_t k = 0; k < s.nbar; k++) {
		const struct bar *br = &s.bar[k];
		assert_int_equal(br->type, 'b');
		struct recompute r = recompute(&s, br->sym, br->t, 0);
		assert_bar_equals(br, &r);
		/* Sent after every trade of its minute (so a client can check). */
		struct recompute sent = recompute(&s, br->sym, br->t, br->at);
		assert_int_equal(sent.n, r.n);
		assert_true(br->at < br->t + MINUTE + 2 * NS);
	}
	free_session(&s);
	free(b.p);
}

static void test_updated_bars(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 9;
	o.ooo_rate = 0.05;
	o.updated_bars = true;
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	check_ids(&s);
	assert_true(st.updated_bars > 0);
	assert_true(st.late_trades >= st.updated_bars);
	size_t nu = 0;
	for (size_t k = 0; k < s.nbar; k++) {
		const struct bar *br = &s.bar[k];
		if (br->type == 'b') {
			/* The bar covers what was sent before it. */
			struct recompute r = recompute(&s, br->sym, br->t, br->at);
			assert_bar_equals(br, &r);
			assert_true(br->at <= br->t + MINUTE + NS);
		} else {
			/* The updated bar covers every trade of the minute, and comes
			 * only when a trade arrived after the bar. */
			nu++;
			struct recompute all = recompute(&s, br->sym, br->t, 0);
			assert_bar_equals(br, &all);
			int found = 0;
			for (size_t j = 0; j < k; j++)
				if (s.bar[j].type == 'b' && s.bar[j].t == br->t && s.bar[j].sym == br->sym) {
					found = 1;
					struct recompute before = recompute(&s, br->sym, br->t, s.bar[j].at);
					assert_true(before.n < all.n);
				}
			assert_true(found);
			/* Just after the half-minute mark following the minute. */
			assert_true(br->at >= br->t + MINUTE + 30 * NS);
			assert_true(br->at < br->t + MINUTE + 31 * NS);
		}
	}
	assert_int_equal(nu, st.updated_bars);
	free_session(&s);
	free(b.p);
}

static void test_many_symbols(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.nsymbols = 500;
	o.start_sec = 9 * 3600 + 30 * 60;
	o.end_sec = o.start_sec + 120;
	o.rate = 100;
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	assert_true(s.nsyms > 300 && s.nsyms <= 500);
	size_t nvda = 0;
	for (size_t k = 0; k < s.ntr; k++)
		nvda += !strcmp(s.syms[s.tr[k].sym], "NVDA");
	assert_true(nvda > s.ntr / 50); /* the first symbol is the busiest */
	for (size_t k = 0; k < s.nsyms; k++) {
		size_t n = strlen(s.syms[k]);
		assert_true(n >= 1 && n <= 11);
		if (strcmp(s.syms[k], "NVDA") != 0) {
			assert_int_equal(n, 5);
			assert_int_equal(s.syms[k][0], 'X');
		}
	}
	check_ids(&s);
	size_t inv;
	assert_true(max_disorder(&s, &inv) <= 1500000000LL);
	/* Bars per symbol and minute still match. */
	size_t checked = 0;
	for (size_t k = 0; k < s.nbar; k++) {
		struct recompute r = recompute(&s, s.bar[k].sym, s.bar[k].t, 0);
		assert_bar_equals(&s.bar[k], &r);
		checked++;
	}
	assert_true(checked > 300);
	free_session(&s);
	free(b.p);
}

static void test_fakepaca(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.fakepaca = true;
	o.start_sec = 9 * 3600 + 30 * 60;
	o.end_sec = o.start_sec + 5 * 60;
	struct generate_stats st;
	struct blob b = gen(&o, &st);
	struct session s;
	parse_session(&b, &s, 0);
	assert_int_equal(s.nsyms, 1);
	assert_string_equal(s.syms[0], "FAKEPACA");
	assert_int_equal(s.ntr, 0);
	assert_int_equal(s.nbar, 5);
	assert_true(s.nq >= 5 * 60 / 6 && s.nq <= 5 * 60 / 4);
	for (size_t k = 1; k < s.nq; k++) {
		int64_t gap = s.q[k].t - s.q[k - 1].t;
		assert_true(gap >= 4500000000LL && gap <= 5500000000LL);
	}
	for (size_t k = 0; k < s.nbar; k++) {
		assert_int_equal(s.bar[k].type, 'b');
		assert_int_equal(s.bar[k].t, s.start_ns + (int64_t)k * MINUTE);
		assert_true(s.bar[k].v > 0 && s.bar[k].n > 0);
	}
	free_session(&s);
	free(b.p);
}

static void test_vary_digits(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.vary_digits = true;
	struct blob b = gen(&o, NULL);
	struct session s;
	parse_session(&b, &s, 1);
	/* About a tenth of random nanosecond times end in a zero. */
	size_t all = s.ntr + s.nq;
	assert_true(s.short_frac > all / 20 && s.short_frac < all / 5);
	free_session(&s);
	free(b.p);
}

static void test_ny_to_utc(void **state)
{
	int64_t ns;
	char buf[CLOCK_RFC3339_MAX];
	assert_int_equal(generate_ny_to_utc(20250115, 9 * 3600 + 30 * 60, &ns), 0);
	clock_format_rfc3339(ns, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2025-01-15T14:30:00Z"); /* EST */
	assert_int_equal(generate_ny_to_utc(20250715, 9 * 3600 + 30 * 60, &ns), 0);
	clock_format_rfc3339(ns, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2025-07-15T13:30:00Z"); /* EDT */
	assert_int_equal(generate_ny_to_utc(20240229, 0, &ns), 0);
	assert_int_equal(generate_ny_to_utc(20250229, 0, &ns), -EINVAL);
	assert_int_equal(generate_ny_to_utc(20251301, 0, &ns), -EINVAL);
	assert_int_equal(generate_ny_to_utc(20250101, 86401, &ns), -EINVAL);
}

static void test_bad_options(void **state)
{
	struct generate_opts o;
	char err[128];
	FILE *f = fopen("/dev/null", "w");
	assert_non_null(f);
	generate_opts_default(&o);
	o.symbol = "nvda";
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "symbol"));
	generate_opts_default(&o);
	o.symbol = "A\"B";
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.start_sec = o.end_sec;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.start_sec += 30;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.rate = 0;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.dup_rate = 0.9;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.ooo_max_ns = 1000;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.nsymbols = GENERATE_MAX_SYMBOLS + 1;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	generate_opts_default(&o);
	o.date = 20250230;
	assert_int_equal(generate_run(&o, f, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(generate_session(NULL, f), -EINVAL);
	generate_opts_default(&o);
	assert_int_equal(generate_session(&o, NULL), -EINVAL);
	fclose(f);
}

static void test_no_dups_no_ooo(void **state)
{
	struct generate_opts o;
	generate_opts_default(&o);
	o.dup_rate = 0;
	o.ooo_rate = 0;
	struct blob b = gen(&o, NULL);
	struct session s;
	parse_session(&b, &s, 0);
	assert_int_equal(check_ids(&s), 0);
	size_t inv;
	assert_int_equal(max_disorder(&s, &inv), 0);
	assert_int_equal(inv, 0);
	free_session(&s);
	free(b.p);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *p = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		if (cap - *n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		size_t got = fread(p + *n, 1, cap - *n, f);
		*n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	p[*n] = '\0'; /* strstr below must stop at the end of the file */
	return p;
}

static void test_cli(void **state)
{
	char dir[] = "/tmp/test_generate.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/s.jsonl", dir);
	char *argv[] = {"generate", "--seed",  "3",    "--symbol", "AMD",     "--date",   "2025-07-15",
			"--minutes", "2",   "--premarket", "1", "--rate",  "20", "--out", path,
			"--quiet", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	assert_int_equal(replay_generate_main(argc, argv), 0);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */

	struct generate_opts o;
	generate_opts_default(&o);
	o.seed = 3;
	o.symbol = "AMD";
	o.date = 20250715;
	o.start_sec = 9 * 3600 + 29 * 60;
	o.end_sec = 9 * 3600 + 32 * 60;
	o.rate = 20;
	struct blob b = gen(&o, NULL);
	size_t n;
	char *file = slurp(path, &n);
	assert_int_equal(n, b.n);
	assert_memory_equal(file, b.p, n);
	assert_non_null(strstr(file, "\"S\":\"AMD\""));
	assert_non_null(strstr(file, "\"start\":\"2025-07-15T13:29:00Z\""));
	free(file);
	free(b.p);

	/* --opt=value, --start/--end, --fakepaca. */
	char *argv2[] = {"generate", "--seed=3", "--start=09:30", "--end=09:32", "--fakepaca",
			 "--out", path, "--quiet", NULL};
	assert_int_equal(replay_generate_main(8, argv2), 0);
	file = slurp(path, &n);
	assert_non_null(strstr(file, "FAKEPACA"));
	assert_null(strstr(file, "\"T\":\"t\""));
	free(file);

	/* Usage errors: exit 2, nothing left behind. */
	unlink(path);
	char *bad1[] = {"generate", "--seed", "x", "--out", path, NULL};
	assert_int_equal(replay_generate_main(5, bad1), 2);
	char *bad2[] = {"generate", "--bogus", NULL};
	assert_int_equal(replay_generate_main(2, bad2), 2);
	char *bad3[] = {"generate", "--date", "2025-02-30", "--out", path, NULL};
	assert_int_equal(replay_generate_main(5, bad3), 2);
	char *bad4[] = {"generate", "--seed", NULL};
	assert_int_equal(replay_generate_main(2, bad4), 2);
	char *bad5[] = {"generate", "--fakepaca=1", NULL};
	assert_int_equal(replay_generate_main(2, bad5), 2);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
	char *help[] = {"generate", "--help", NULL};
	assert_int_equal(replay_generate_main(2, help), 0);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_default_session),
		cmocka_unit_test(test_ids_and_duplicates),
		cmocka_unit_test(test_out_of_order_bound),
		cmocka_unit_test(test_bars_match_trades),
		cmocka_unit_test(test_updated_bars),
		cmocka_unit_test(test_many_symbols),
		cmocka_unit_test(test_fakepaca),
		cmocka_unit_test(test_vary_digits),
		cmocka_unit_test(test_ny_to_utc),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_no_dups_no_ooo),
		cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
