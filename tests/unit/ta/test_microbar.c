/* test_microbar.c - 1 s micro-bars: event-time OHLC, closing, late trades, snapshots. */
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

#include "ta/microbar.h"
#include "ta/watermark.h"

#define NS 1000000000LL
#define MS 1000000LL
#define SLACK (2 * NS)
#define BASE 1771511400000000000LL /* 2026-02-19T14:30:00Z */
#define SEC(x) ((int64_t)((x) * 1e9 + ((x) >= 0 ? 0.5 : -0.5)))
#define T(x) (BASE + SEC(x))
#define MONO(x) (SEC(x) + 5000 * NS)

/* ---- collectors -------------------------------------------------------- */

struct bars {
	struct microbar_bar *v;
	size_t n, cap;
};

static void collect(void *arg, const struct microbar_bar *bar)
{
	struct bars *b = arg;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		assert_non_null(b->v);
	}
	b->v[b->n++] = *bar;
}

struct late_rec {
	char sym[EVENT_SYMBOL_MAX];
	int64_t t;
	double p, s;
};

struct lates {
	struct late_rec v[64];
	size_t n;
	uint64_t total;
};

static void on_late(void *arg, const char *sym, int64_t t_ns, double price, double size)
{
	struct lates *l = arg;
	l->total++;
	if (l->n < 64) {
		struct late_rec *r = &l->v[l->n++];
		snprintf(r->sym, sizeof(r->sym), "%s", sym);
		r->t = t_ns;
		r->p = price;
		r->s = size;
	}
}

static bool bar_equal(const struct microbar_bar *a, const struct microbar_bar *b)
{
	return strcmp(a->symbol, b->symbol) == 0 && a->start_ns == b->start_ns &&
	       a->end_ns == b->end_ns && a->prev_end_ns == b->prev_end_ns &&
	       memcmp(&a->o, &b->o, sizeof(double)) == 0 && memcmp(&a->h, &b->h, sizeof(double)) == 0 &&
	       memcmp(&a->l, &b->l, sizeof(double)) == 0 && memcmp(&a->c, &b->c, sizeof(double)) == 0 &&
	       memcmp(&a->v, &b->v, sizeof(double)) == 0 &&
	       memcmp(&a->vwap, &b->vwap, sizeof(double)) == 0 && a->count == b->count &&
	       a->seq == b->seq;
}

static int add(struct microbar *m, const char *sym, int64_t t, double p, double s)
{
	static uint64_t arrival;
	return microbar_add_trade(m, sym, t, p, s, ++arrival);
}

/* ---- basics ------------------------------------------------------------ */

static void test_in_order(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	assert_int_equal(microbar_earliest_end(m), INT64_MAX);
	assert_int_equal(add(m, "AAPL", T(10.1), 100.0, 10), MICROBAR_ACCEPTED);
	assert_int_equal(add(m, "AAPL", T(10.2), 101.5, 30), MICROBAR_ACCEPTED);
	assert_int_equal(add(m, "AAPL", T(10.7), 99.0, 20), MICROBAR_ACCEPTED);
	assert_int_equal(add(m, "AAPL", T(10.9), 100.5, 40), MICROBAR_ACCEPTED);
	assert_int_equal(microbar_earliest_end(m), T(11));
	/* Not closed until the watermark reaches the end. */
	assert_int_equal(microbar_close_until(m, T(11) - 1, collect, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(microbar_close_until(m, T(11), collect, &out), 1);
	assert_int_equal(out.n, 1);
	const struct microbar_bar *b = &out.v[0];
	assert_string_equal(b->symbol, "AAPL");
	assert_int_equal(b->start_ns, T(10));
	assert_int_equal(b->end_ns, T(11));
	assert_int_equal(b->prev_end_ns, 0);
	assert_true(b->o == 100.0 && b->h == 101.5 && b->l == 99.0 && b->c == 100.5);
	assert_true(b->v == 100.0);
	double vwap = (100.0 * 10 + 101.5 * 30 + 99.0 * 20 + 100.5 * 40) / 100.0;
	assert_true(fabs(b->vwap - vwap) < 1e-12);
	assert_int_equal(b->count, 4);
	assert_int_equal(b->seq, 1);
	assert_int_equal(microbar_earliest_end(m), INT64_MAX);
	/* The next second gets seq 2 and knows the previous end. */
	assert_int_equal(add(m, "AAPL", T(12.5), 100.0, 1), MICROBAR_ACCEPTED);
	assert_int_equal(microbar_close_until(m, T(14), collect, &out), 1);
	assert_int_equal(out.v[1].seq, 2);
	assert_int_equal(out.v[1].prev_end_ns, T(11));
	assert_int_equal(out.v[1].end_ns, T(13));
	assert_true(out.v[1].vwap == 100.0 && out.v[1].count == 1);
	struct microbar_symbol_info info;
	assert_int_equal(microbar_symbol(m, "AAPL", &info), 0);
	assert_int_equal(info.last_bar_end_ns, T(13));
	assert_int_equal(info.last_event_ns, T(12.5));
	assert_int_equal(info.seq, 2);
	assert_int_equal(info.open_buckets, 0);
	assert_int_equal(microbar_symbol(m, "MSFT", &info), -ENOENT);
	free(out.v);
	microbar_free(m);
}

/* OHLC follows event time, ties by arrival; several seconds open at once. */
static void test_out_of_order_within_slack(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	/* arrival order:  t       p */
	microbar_add_trade(m, "X", T(10.5), 5.0, 1, 1);
	microbar_add_trade(m, "X", T(11.2), 50.0, 1, 2); /* opens [11,12) */
	microbar_add_trade(m, "X", T(10.2), 2.0, 1, 3);  /* new smallest t: o */
	microbar_add_trade(m, "X", T(10.8), 8.0, 1, 4);  /* largest t */
	microbar_add_trade(m, "X", T(10.2), 3.0, 1, 5);  /* ties with o: later arrival, not o */
	microbar_add_trade(m, "X", T(10.8), 9.0, 1, 6);  /* ties with c: later arrival wins */
	microbar_add_trade(m, "X", T(10.6), 1.0, 1, 7);  /* low */
	microbar_add_trade(m, "X", T(11.0), 40.0, 2, 8); /* boundary: [11,12) */
	microbar_add_trade(m, "X", T(9.9), 7.0, 1, 9);   /* opens [9,10), older than both */
	struct microbar_symbol_info info;
	microbar_symbol(m, "X", &info);
	assert_int_equal(info.open_buckets, 3);
	assert_int_equal(microbar_earliest_end(m), T(10));
	assert_int_equal(microbar_close_until(m, T(12), collect, &out), 3);
	assert_int_equal(out.n, 3);
	/* Event-time order with consecutive seq. */
	assert_int_equal(out.v[0].start_ns, T(9));
	assert_int_equal(out.v[1].start_ns, T(10));
	assert_int_equal(out.v[2].start_ns, T(11));
	for (int i = 0; i < 3; i++)
		assert_int_equal(out.v[i].seq, i + 1);
	assert_int_equal(out.v[1].prev_end_ns, T(10));
	const struct microbar_bar *b = &out.v[1];
	assert_true(b->o == 2.0);
	assert_true(b->c == 9.0);
	assert_true(b->h == 9.0 && b->l == 1.0);
	assert_int_equal(b->count, 6);
	b = &out.v[2];
	assert_true(b->o == 40.0 && b->c == 50.0 && b->v == 3.0 && b->count == 2);
	assert_true(fabs(b->vwap - 130.0 / 3.0) < 1e-12);
	free(out.v);
	microbar_free(m);
}

/* Equal arrival_seq values: o is the first call, c the last. */
static void test_ties_same_arrival(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	for (int i = 1; i <= 4; i++)
		microbar_add_trade(m, "X", T(3.5), (double)i, 1, 0);
	microbar_close_until(m, T(4), collect, &out);
	assert_int_equal(out.n, 1);
	assert_true(out.v[0].o == 1.0 && out.v[0].c == 4.0);
	free(out.v);
	microbar_free(m);
}

static void test_late_beyond_slack(void **state)
{
	(void)state;
	struct lates lates = { 0 };
	struct microbar *m = microbar_new(on_late, &lates);
	struct bars out = { 0 };
	add(m, "X", T(10.5), 10.0, 1);
	add(m, "X", T(12.5), 12.0, 1);
	assert_int_equal(microbar_close_until(m, T(11.2), collect, &out), 1);
	struct microbar_bar emitted = out.v[0];
	/* Its second closed: late, counted, reported, the bar unchanged. */
	assert_int_equal(add(m, "X", T(10.9), 99.0, 7), MICROBAR_LATE);
	/* A closed second that never had a bar is late too. */
	assert_int_equal(add(m, "X", T(8.1), 98.0, 3), MICROBAR_LATE);
	assert_int_equal(add(m, "Y", T(11.0) - 1, 97.0, 2), MICROBAR_LATE);
	/* [11,12) is not closed yet at W = 11.2. */
	assert_int_equal(add(m, "Y", T(11.0), 96.0, 2), MICROBAR_ACCEPTED);
	assert_int_equal(lates.total, 3);
	assert_string_equal(lates.v[0].sym, "X");
	assert_int_equal(lates.v[0].t, T(10.9));
	assert_true(lates.v[0].p == 99.0 && lates.v[0].s == 7.0);
	assert_string_equal(lates.v[2].sym, "Y");
	assert_true(bar_equal(&out.v[0], &emitted));
	assert_int_equal(microbar_close_until(m, T(20), collect, &out), 2);
	assert_int_equal(out.n, 3);
	for (size_t i = 1; i < out.n; i++)
		assert_true(out.v[i].start_ns != T(10) && out.v[i].start_ns != T(8));
	assert_int_equal(out.v[1].end_ns, T(12));
	assert_string_equal(out.v[1].symbol, "Y");
	assert_int_equal(out.v[1].seq, 1);
	assert_int_equal(out.v[2].end_ns, T(13));
	assert_int_equal(out.v[2].seq, 2);
	struct microbar_stats st;
	microbar_stats(m, &st);
	assert_int_equal(st.late, 3);
	assert_int_equal(st.accepted, 3);
	assert_int_equal(st.emitted, 3);
	struct microbar_symbol_info info;
	microbar_symbol(m, "X", &info);
	assert_int_equal(info.late, 2);
	assert_int_equal(info.last_event_ns, T(12.5));
	microbar_symbol(m, "Y", &info);
	assert_int_equal(info.late, 1);
	/* A lower watermark afterwards changes nothing. */
	add(m, "X", T(30.5), 1.0, 1);
	assert_int_equal(microbar_close_until(m, T(5), collect, &out), 0);
	assert_int_equal(microbar_closed_until(m), T(20));
	free(out.v);
	microbar_free(m);
}

/* A trade exactly at a second start belongs to that second. */
static void test_exact_boundary(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	add(m, "X", T(10), 1.0, 1);
	add(m, "X", T(11) - 1, 2.0, 1);
	add(m, "X", T(11), 3.0, 1);
	microbar_close_until(m, T(11), collect, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.v[0].count, 2);
	assert_true(out.v[0].o == 1.0 && out.v[0].c == 2.0);
	/* W = 11 exactly: [10,11) closed, [11,12) open. */
	assert_int_equal(add(m, "X", T(11) - 1, 4.0, 1), MICROBAR_LATE);
	assert_int_equal(add(m, "X", T(11), 5.0, 1), MICROBAR_ACCEPTED);
	microbar_close_until(m, T(12), collect, &out);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.v[1].start_ns, T(11));
	assert_true(out.v[1].o == 3.0 && out.v[1].c == 5.0 && out.v[1].count == 2);
	free(out.v);
	microbar_free(m);
}

static void test_invalid_rejected(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	const double bad_p[] = { 0.0, -1.0, NAN, INFINITY, -INFINITY };
	int n = 0;
	for (size_t i = 0; i < sizeof(bad_p) / sizeof(bad_p[0]); i++) {
		assert_int_equal(add(m, "X", T(1), bad_p[i], 1), MICROBAR_REJECTED);
		assert_int_equal(add(m, "X", T(1), 1.0, bad_p[i]), MICROBAR_REJECTED);
		n += 2;
	}
	assert_int_equal(add(m, "X", 0, 1.0, 1), MICROBAR_REJECTED);
	assert_int_equal(add(m, "X", -T(1), 1.0, 1), MICROBAR_REJECTED);
	assert_int_equal(add(m, "X", INT64_MAX, 1.0, 1), MICROBAR_REJECTED);
	assert_int_equal(add(m, "X", T(1), 1e300, 1e300), MICROBAR_REJECTED); /* p*s overflows */
	assert_int_equal(add(m, "", T(1), 1.0, 1), MICROBAR_REJECTED);
	assert_int_equal(add(m, NULL, T(1), 1.0, 1), MICROBAR_REJECTED);
	assert_int_equal(add(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", T(1), 1.0, 1), MICROBAR_REJECTED);
	n += 7;
	assert_false(microbar_trade_valid(T(1), 0.0, 1));
	assert_true(microbar_trade_valid(T(1), 0.01, 1));
	assert_true(microbar_trade_valid(MICROBAR_T_MAX, 1, 1));
	assert_false(microbar_trade_valid(MICROBAR_T_MAX + 1, 1, 1));
	struct microbar_stats st;
	microbar_stats(m, &st);
	assert_int_equal(st.rejected, n);
	assert_int_equal(st.accepted, 0);
	assert_int_equal(st.symbols, 0); /* rejected trades leave no state */
	assert_int_equal(st.open_buckets, 0);
	/* The longest allowed symbol works. */
	assert_int_equal(add(m, "ABCDEFGHIJKLMNOPQRSTUVW", T(1), 1.0, 1), MICROBAR_ACCEPTED);
	assert_int_equal(add(m, "X", MICROBAR_T_MAX, 1.0, 1), MICROBAR_ACCEPTED);
	struct bars out = { 0 };
	assert_int_equal(microbar_close_until(m, INT64_MAX, collect, &out), 2);
	free(out.v);
	microbar_free(m);
}

/* Bars of different symbols come out by (end, symbol). */
static void test_cross_symbol_order(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	add(m, "MSFT", T(11.5), 1, 1);
	add(m, "AAPL", T(11.7), 1, 1);
	add(m, "MSFT", T(10.5), 1, 1);
	add(m, "NVDA", T(10.1), 1, 1);
	add(m, "AAPL", T(12.1), 1, 1);
	add(m, "AA", T(11.9), 1, 1);
	assert_int_equal(microbar_close_until(m, T(13), collect, &out), 6);
	const char *sym[] = { "MSFT", "NVDA", "AA", "AAPL", "MSFT", "AAPL" };
	const double end[] = { 11, 11, 12, 12, 12, 13 };
	for (int i = 0; i < 6; i++) {
		assert_string_equal(out.v[i].symbol, sym[i]);
		assert_int_equal(out.v[i].end_ns, T(end[i]));
	}
	assert_int_equal(out.v[4].seq, 2);
	assert_int_equal(out.v[5].seq, 2);
	free(out.v);
	microbar_free(m);
}

/* ---- with the watermark -------------------------------------------------- */

struct pipe {
	struct watermark *w;
	struct microbar *m;
	struct bars out;
	uint64_t arrival;
};

static int pipe_trade(struct pipe *p, const char *sym, int64_t t, double price, double size,
		      int64_t mono)
{
	watermark_observe(p->w, t, mono);
	microbar_close_until(p->m, watermark_current(p->w, mono), collect, &p->out);
	return microbar_add_trade(p->m, sym, t, price, size, ++p->arrival);
}

static void pipe_tick(struct pipe *p, int64_t mono)
{
	microbar_close_until(p->m, watermark_current(p->w, mono), collect, &p->out);
}

static void pipe_init(struct pipe *p)
{
	memset(p, 0, sizeof(*p));
	p->w = watermark_new(SLACK);
	p->m = microbar_new(NULL, NULL);
}

static void pipe_fini(struct pipe *p)
{
	watermark_free(p->w);
	microbar_free(p->m);
	free(p->out.v);
}

/* No later trade: the wall clock closes the bar `slack` after its end, at
 * the deadline the loop timer would use, and not a nanosecond earlier. */
static void test_wall_clock_closes(void **state)
{
	(void)state;
	struct pipe p;
	pipe_init(&p);
	pipe_trade(&p, "X", T(10.3), 1.0, 1, MONO(0.05));
	int64_t dl = watermark_next_deadline(p.w, microbar_earliest_end(p.m));
	assert_int_equal(dl, MONO(2.75));
	pipe_tick(&p, dl - 1);
	assert_int_equal(p.out.n, 0);
	pipe_tick(&p, dl);
	assert_int_equal(p.out.n, 1);
	assert_int_equal(p.out.v[0].end_ns, T(11));
	assert_int_equal(microbar_earliest_end(p.m), INT64_MAX);
	pipe_fini(&p);
}

/* The wall-clock advance does not make a trade within slack of the newest
 * event late while it arrives within slack of it; afterwards it is late. */
static void test_advance_keeps_out_of_order(void **state)
{
	(void)state;
	struct pipe p;
	pipe_init(&p);
	assert_int_equal(pipe_trade(&p, "A", T(10.5), 1.0, 1, MONO(0)), MICROBAR_ACCEPTED);
	assert_int_equal(pipe_trade(&p, "B", T(8.6), 2.0, 1, MONO(1.9)), MICROBAR_ACCEPTED);
	assert_int_equal(pipe_trade(&p, "A", T(8.5), 3.0, 1, MONO(1.95)), MICROBAR_ACCEPTED);
	assert_int_equal(p.out.n, 0);
	/* At slack after E arrived the older seconds close; then it is late. */
	assert_int_equal(pipe_trade(&p, "B", T(8.7), 4.0, 1, MONO(2.0)), MICROBAR_LATE);
	assert_int_equal(p.out.n, 2);
	assert_string_equal(p.out.v[0].symbol, "A");
	assert_int_equal(p.out.v[0].end_ns, T(9));
	assert_string_equal(p.out.v[1].symbol, "B");
	assert_true(p.out.v[1].count == 1 && p.out.v[1].o == 2.0);
	/* [10,11) (holding E) closes 2 s after its end: at mono 2.5. */
	pipe_tick(&p, MONO(2.5) - 1);
	assert_int_equal(p.out.n, 2);
	pipe_tick(&p, MONO(2.5));
	assert_int_equal(p.out.n, 3);
	assert_int_equal(p.out.v[2].end_ns, T(11));
	pipe_fini(&p);
}

/* A symbol that falls silent neither holds others back nor is held back. */
static void test_idle_symbol(void **state)
{
	(void)state;
	struct pipe p;
	pipe_init(&p);
	for (int i = 0; i <= 60; i++) { /* BUSY trades every 100 ms, in real time */
		assert_int_equal(pipe_trade(&p, "BUSY", T(10 + i * 0.1), 1.0 + i, 1, MONO(i * 0.1)),
				 MICROBAR_ACCEPTED);
		if (i == 2) /* SLOW trades once, then falls silent */
			assert_int_equal(pipe_trade(&p, "SLOW", T(10.2), 5.0, 1, MONO(0.2)),
					 MICROBAR_ACCEPTED);
	}
	/* By t = 16.0 the watermark is 14: bars ending 11..14 are out. */
	assert_int_equal(p.out.n, 5);
	assert_string_equal(p.out.v[0].symbol, "BUSY");
	assert_int_equal(p.out.v[0].end_ns, T(11));
	assert_string_equal(p.out.v[1].symbol, "SLOW");
	assert_int_equal(p.out.v[1].end_ns, T(11));
	for (int i = 2; i < 5; i++) {
		assert_string_equal(p.out.v[i].symbol, "BUSY");
		assert_int_equal(p.out.v[i].end_ns, T(10 + i));
		assert_int_equal(p.out.v[i].seq, i);
	}
	/* The SLOW bar closed when BUSY's t reached 13.0 (mono 3.0). */
	pipe_fini(&p);
	pipe_init(&p);
	for (int i = 0; i < 30; i++) {
		pipe_trade(&p, "BUSY", T(10 + i * 0.1), 1.0, 1, MONO(i * 0.1));
		if (i == 2)
			pipe_trade(&p, "SLOW", T(10.2), 5.0, 1, MONO(0.2));
	}
	assert_int_equal(p.out.n, 0);
	pipe_trade(&p, "BUSY", T(13.0), 1.0, 1, MONO(3.0));
	assert_int_equal(p.out.n, 2);
	assert_string_equal(p.out.v[1].symbol, "SLOW");
	pipe_fini(&p);
}

/* ---- snapshots ----------------------------------------------------------- */

static uint8_t *save_all(const struct microbar *m, size_t *len)
{
	ssize_t n = microbar_save(m, NULL, 0);
	assert_true(n > 0);
	uint8_t *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	if (n > 1)
		assert_int_equal(microbar_save(m, buf, (size_t)n - 1), -ENOSPC);
	assert_int_equal(microbar_save(m, buf, (size_t)n), n);
	*len = (size_t)n;
	return buf;
}

static void test_seq_across_restore(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	struct bars out = { 0 };
	for (int i = 0; i < 3; i++)
		add(m, "X", T(10 + i + 0.5), 1.0, 1);
	add(m, "X", T(13.5), 7.0, 2); /* stays open */
	add(m, "X", T(14.25), 8.0, 3);
	microbar_close_until(m, T(13), collect, &out);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.v[2].seq, 3);
	size_t len;
	uint8_t *buf = save_all(m, &len);
	microbar_free(m);

	struct lates lates = { 0 };
	m = microbar_new(on_late, &lates);
	add(m, "JUNK", T(50), 1, 1); /* replaced by the load */
	assert_int_equal(microbar_load(m, buf, len), 0);
	struct microbar_symbol_info info;
	assert_int_equal(microbar_symbol(m, "JUNK", &info), -ENOENT);
	assert_int_equal(microbar_symbol(m, "X", &info), 0);
	assert_int_equal(info.seq, 3);
	assert_int_equal(info.open_buckets, 2);
	assert_int_equal(info.last_bar_end_ns, T(13));
	assert_int_equal(microbar_closed_until(m), T(13));
	assert_int_equal(microbar_earliest_end(m), T(14));
	/* Late detection and the callback survive the load. */
	assert_int_equal(add(m, "X", T(12.5), 1.0, 1), MICROBAR_LATE);
	assert_int_equal(lates.total, 1);
	add(m, "X", T(13.75), 9.0, 1);
	microbar_close_until(m, T(20), collect, &out);
	assert_int_equal(out.n, 5);
	assert_int_equal(out.v[3].seq, 4);
	assert_int_equal(out.v[3].prev_end_ns, T(13));
	assert_true(out.v[3].o == 7.0 && out.v[3].c == 9.0 && out.v[3].count == 2);
	assert_int_equal(out.v[4].seq, 5);
	assert_int_equal(out.v[4].end_ns, T(15));
	free(buf);
	free(out.v);
	microbar_free(m);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

struct op {
	bool tick;
	char sym[8];
	int64_t t, mono;
	double p, s;
};

/* A live-like stream: real-time pace with jitter up to beyond the slack,
 * stalls, bursts with equal t, invalid trades, several symbols. */
static struct op *gen_ops(uint64_t seed, size_t n)
{
	struct op *ops = calloc(n, sizeof(*ops));
	assert_non_null(ops);
	int64_t mono = MONO(0);
	int nsym = 2 + (int)(rng_next(&seed) % 12);
	double px = 100.0;
	for (size_t i = 0; i < n; i++) {
		struct op *o = &ops[i];
		mono += (int64_t)(rng_next(&seed) % 120) * MS;
		if (rng_next(&seed) % 100 == 0)
			mono += (int64_t)(rng_next(&seed) % 6000) * MS; /* stall */
		o->mono = mono;
		if (rng_next(&seed) % 5 == 0) {
			o->tick = true;
			continue;
		}
		snprintf(o->sym, sizeof(o->sym), "S%02d", (int)(rng_next(&seed) % (uint64_t)nsym));
		int64_t delay = (int64_t)(rng_next(&seed) % 100) * MS;
		if (rng_next(&seed) % 10 == 0)
			delay += (int64_t)(rng_next(&seed) % 3500) * MS; /* some beyond slack */
		o->t = BASE + (mono - MONO(0)) - delay;
		if (i > 0 && !ops[i - 1].tick && rng_next(&seed) % 8 == 0)
			o->t = ops[i - 1].t; /* equal event times */
		px += ((double)(rng_next(&seed) % 201) - 100.0) / 100.0;
		if (px < 1)
			px = 1;
		o->p = px;
		o->s = (double)(1 + rng_next(&seed) % 500);
		if (rng_next(&seed) % 50 == 0)
			o->p = -o->p;
		if (rng_next(&seed) % 70 == 0)
			o->s = NAN;
	}
	return ops;
}

struct run {
	struct pipe p;
	struct lates lates;
	int results[4];
};

static void run_op(struct run *r, const struct op *o)
{
	if (o->tick) {
		pipe_tick(&r->p, o->mono);
		return;
	}
	int rc = pipe_trade(&r->p, o->sym, o->t, o->p, o->s, o->mono);
	assert_true(rc >= 0 && rc <= 2);
	r->results[rc]++;
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->p.w = watermark_new(SLACK);
	r->p.m = microbar_new(on_late, &r->lates);
}

/* Save both, tear down, restore into new objects at the same monotonic now. */
static void run_restart(struct run *r, int64_t mono)
{
	uint8_t wbuf[64];
	ssize_t wn = watermark_save(r->p.w, mono, wbuf, sizeof(wbuf));
	assert_true(wn > 0);
	size_t mlen;
	uint8_t *mbuf = save_all(r->p.m, &mlen);
	watermark_free(r->p.w);
	microbar_free(r->p.m);
	r->p.w = watermark_new(SLACK);
	r->p.m = microbar_new(on_late, &r->lates);
	assert_int_equal(watermark_load(r->p.w, mono, wbuf, (size_t)wn), 0);
	assert_int_equal(microbar_load(r->p.m, mbuf, mlen), 0);
	/* Saving again gives the same bytes. */
	size_t mlen2;
	uint8_t *mbuf2 = save_all(r->p.m, &mlen2);
	assert_int_equal(mlen2, mlen);
	assert_memory_equal(mbuf2, mbuf, mlen);
	free(mbuf);
	free(mbuf2);
}

static void test_random_restore_equivalence(void **state)
{
	(void)state;
	uint64_t seed = 0x1234567887654321ull;
	uint64_t late_seen = 0, multi_open = 0, stall_restarts = 0;
	for (int iter = 0; iter < 40; iter++) {
		size_t n = 500 + rng_next(&seed) % 2500;
		struct op *ops = gen_ops(rng_next(&seed), n);
		struct run a, b;
		run_init(&a);
		run_init(&b);
		/* Restart points: anywhere, and inside stalls where the feed is
		 * idle and the wall-clock advance is in force. The restart happens
		 * at a time between two operations. */
		size_t split[4];
		for (int k = 0; k < 4; k++) {
			split[k] = rng_next(&seed) % (n - 1);
			for (size_t tries = 0; k >= 2 && tries < n; tries++) {
				size_t i = (split[k] + tries) % (n - 1);
				if (ops[i + 1].mono - ops[i].mono > 3 * NS) {
					split[k] = i;
					stall_restarts++;
					break;
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			run_op(&a, &ops[i]);
			run_op(&b, &ops[i]);
			for (int k = 0; k < 4; k++) {
				if (split[k] != i)
					continue;
				int64_t gap = ops[i + 1].mono - ops[i].mono;
				run_restart(&b, ops[i].mono + (int64_t)(rng_next(&seed) % (uint64_t)(gap + 1)));
			}
			struct microbar_stats st;
			microbar_stats(a.p.m, &st);
			if (st.open_buckets > st.symbols)
				multi_open++;
		}
		pipe_tick(&a.p, ops[n - 1].mono + 10 * NS);
		pipe_tick(&b.p, ops[n - 1].mono + 10 * NS);
		assert_int_equal(a.p.out.n, b.p.out.n);
		for (size_t i = 0; i < a.p.out.n; i++)
			assert_true(bar_equal(&a.p.out.v[i], &b.p.out.v[i]));
		assert_memory_equal(a.results, b.results, sizeof(a.results));
		assert_int_equal(a.lates.total, b.lates.total);
		struct microbar_stats sa, sb;
		microbar_stats(a.p.m, &sa);
		microbar_stats(b.p.m, &sb);
		assert_int_equal(sa.accepted, sb.accepted);
		assert_int_equal(sa.late, sb.late);
		assert_int_equal(sa.rejected, sb.rejected);
		assert_int_equal(sa.emitted, sb.emitted);
		assert_int_equal(sa.open_buckets, 0);
		assert_int_equal(sa.emitted, a.p.out.n);
		/* Per symbol: seq 1..k, ends strictly increasing. */
		for (size_t i = 0; i < microbar_symbol_count(a.p.m); i++) {
			struct microbar_symbol_info ia, ib;
			assert_int_equal(microbar_symbol_at(a.p.m, i, &ia), 0);
			assert_int_equal(microbar_symbol_at(b.p.m, i, &ib), 0);
			assert_string_equal(ia.symbol, ib.symbol);
			assert_true(ia.seq == ib.seq && ia.late == ib.late &&
				    ia.last_event_ns == ib.last_event_ns);
			int64_t seq = 0, end = 0;
			for (size_t j = 0; j < a.p.out.n; j++) {
				const struct microbar_bar *bar = &a.p.out.v[j];
				if (strcmp(bar->symbol, ia.symbol) != 0)
					continue;
				assert_int_equal(bar->seq, ++seq);
				assert_true(bar->end_ns > end);
				assert_int_equal(bar->prev_end_ns, end);
				assert_true(bar->l <= bar->o && bar->l <= bar->c && bar->h >= bar->o &&
					    bar->h >= bar->c);
				end = bar->end_ns;
			}
			assert_int_equal(seq, ia.seq);
		}
		late_seen += sa.late;
		free(ops);
		pipe_fini(&a.p);
		pipe_fini(&b.p);
	}
	/* The stream exercised what it is meant to. */
	assert_true(late_seen > 0);
	assert_true(multi_open > 0);
	assert_true(stall_restarts > 20);
}

static void test_load_malformed(void **state)
{
	(void)state;
	struct microbar *src = microbar_new(NULL, NULL);
	add(src, "AAPL", T(10.5), 10.0, 1);
	add(src, "AAPL", T(11.5), 11.0, 1);
	add(src, "MSFT", T(9.5), 20.0, 2);
	microbar_close_until(src, T(10), NULL, NULL);
	add(src, "AAPL", T(10.7), 12.0, 3);
	size_t len;
	uint8_t *good = save_all(src, &len);

	struct microbar *m = microbar_new(NULL, NULL);
	add(m, "KEEP", T(100.5), 1.0, 1);
	size_t keep_len;
	uint8_t *keep = save_all(m, &keep_len);
	uint8_t *bad = malloc(len + 16);
	assert_non_null(bad);

	/* Every truncation fails and leaves m as it was. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(microbar_load(m, good, l), -EINVAL);
	assert_int_equal(microbar_load(m, NULL, len), -EINVAL);
	memcpy(bad, good, len);
	bad[len] = 0;
	assert_int_equal(microbar_load(m, bad, len + 1), -EINVAL); /* trailing byte */

	/* Hand-made corruptions at known offsets (see microbar.c layout). */
	struct { size_t off; uint8_t val; } cases[] = {
		{ 0, 'X' },         /* magic */
		{ 4, 2 },           /* version */
		{ 48, 0xff },       /* nsym huge */
		{ 52, 0x7f },       /* nbucket wrong */
		{ 56, 0 },          /* first name length 0 */
		{ 56, 30 },         /* name too long */
		{ 57, 0 },          /* NUL inside the name */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, good, len);
		bad[cases[i].off] = cases[i].val;
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
	}
	/* Duplicate symbol: rename MSFT to AAPL (same length). */
	memcpy(bad, good, len);
	uint8_t *ms = memmem(bad, len, "MSFT", 4);
	assert_non_null(ms);
	memcpy(ms, "AAPL", 4);
	assert_int_equal(microbar_load(m, bad, len), -EINVAL);
	/* Bucket fields: first AAPL bucket follows its 4-byte name, 36 bytes of
	 * symbol fields. */
	size_t b0 = 56 + 1 + 4 + 36;
	int64_t start;
	memcpy(&start, good + b0, 8); /* little-endian host in CI; checked below */
	if (start == T(10)) {
		memcpy(bad, good, len);
		bad[b0] ^= 1; /* start not second-aligned */
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
		memcpy(bad, good, len);
		int64_t closed = T(11); /* closed-until past the open [10,11) */
		memcpy(bad + 8, &closed, 8);
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
		memcpy(bad, good, len);
		memcpy(bad + b0 + 8, &closed, 8); /* o_t outside its second */
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
		memcpy(bad, good, len);
		double nan = NAN;
		memcpy(bad + b0 + 40, &nan, 8); /* o */
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
		memcpy(bad, good, len);
		memset(bad + b0 + 88, 0, 8); /* count 0 */
		assert_int_equal(microbar_load(m, bad, len), -EINVAL);
	} else {
		fail_msg("unexpected snapshot layout");
	}
	size_t now_len;
	uint8_t *now = save_all(m, &now_len);
	assert_int_equal(now_len, keep_len);
	assert_memory_equal(now, keep, keep_len);
	free(now);

	/* Random corruption never crashes; what loads is consistent and usable. */
	uint64_t seed = 99;
	int loaded = 0;
	for (int i = 0; i < 20000; i++) {
		memcpy(bad, good, len);
		int flips = 1 + (int)(rng_next(&seed) % 3);
		for (int f = 0; f < flips; f++)
			bad[rng_next(&seed) % len] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
		int rc = microbar_load(m, bad, len);
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			loaded++;
			add(m, "AAPL", T(12.5), 1.0, 1);
			microbar_close_until(m, INT64_MAX, NULL, NULL);
			struct microbar_stats st;
			microbar_stats(m, &st);
			assert_int_equal(st.open_buckets, 0);
		}
	}
	(void)loaded;
	assert_int_equal(microbar_load(m, good, len), 0);
	free(bad);
	free(keep);
	free(good);
	microbar_free(m);
	microbar_free(src);
}

/* 10k symbols with a few open seconds each stay small. */
static void test_memory_10k(void **state)
{
	(void)state;
	struct microbar *m = microbar_new(NULL, NULL);
	char sym[16];
	for (int i = 0; i < 10000; i++) {
		snprintf(sym, sizeof(sym), "SYM%05d", i);
		for (int k = 0; k < 3; k++)
			assert_int_equal(add(m, sym, T(10 + k + 0.5), 1.0 + k, 1), MICROBAR_ACCEPTED);
	}
	struct microbar_stats st;
	microbar_stats(m, &st);
	assert_int_equal(st.symbols, 10000);
	assert_int_equal(st.open_buckets, 30000);
	assert_true(st.mem_bytes < 8u * 1024 * 1024);
	struct microbar_symbol_info info;
	assert_int_equal(microbar_symbol(m, "SYM04242", &info), 0);
	assert_int_equal(info.open_buckets, 3);
	struct bars out = { 0 };
	assert_int_equal(microbar_close_until(m, T(11), collect, &out), 10000);
	for (size_t i = 1; i < out.n; i++)
		assert_true(strcmp(out.v[i - 1].symbol, out.v[i].symbol) < 0);
	assert_int_equal(microbar_close_until(m, T(13), collect, &out), 20000);
	microbar_stats(m, &st);
	assert_int_equal(st.open_buckets, 0);
	free(out.v);
	microbar_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order_within_slack),
		cmocka_unit_test(test_ties_same_arrival),
		cmocka_unit_test(test_late_beyond_slack),
		cmocka_unit_test(test_exact_boundary),
		cmocka_unit_test(test_invalid_rejected),
		cmocka_unit_test(test_cross_symbol_order),
		cmocka_unit_test(test_wall_clock_closes),
		cmocka_unit_test(test_advance_keeps_out_of_order),
		cmocka_unit_test(test_idle_symbol),
		cmocka_unit_test(test_seq_across_restore),
		cmocka_unit_test(test_random_restore_equivalence),
		cmocka_unit_test(test_load_malformed),
		cmocka_unit_test(test_memory_10k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
