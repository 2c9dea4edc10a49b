/* Tests of the dedup filter: identities per kind, the time window, the
 * capacity bound, checkpoint round trips and malformed checkpoints, and a
 * randomized comparison with a brute-force model. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source/dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL
#define T0 (1714570200LL * SEC) /* 2024-05-01T13:30:00Z */

static struct event trade(const char *sym, int64_t id, int64_t t)
{
	struct event e;
	memset(&e, 0, sizeof(e));
	e.kind = EVENT_TRADE;
	snprintf(e.symbol, sizeof(e.symbol), "%s", sym);
	e.symbol_len = (uint8_t)strlen(e.symbol);
	e.u.trade.id = id;
	e.t_ns = t;
	return e;
}

static struct event ev_t(enum event_kind k, const char *sym, int64_t t)
{
	struct event e = trade(sym, 0, t);
	e.kind = k;
	return e;
}

static void test_trades(void **state)
{
	struct dedup *d = dedup_new(60 * SEC, 1000);
	assert_non_null(d);
	struct event a = trade("AAPL", 52983525033527LL, T0);
	assert_int_equal(dedup_seen(d, &a), 0);
	assert_int_equal(dedup_seen(d, &a), 1);
	/* identity is (symbol, id): the time and price do not matter */
	struct event a2 = trade("AAPL", 52983525033527LL, T0 + 5 * SEC);
	a2.u.trade.price = 99;
	assert_int_equal(dedup_seen(d, &a2), 1);
	struct event b = trade("MSFT", 52983525033527LL, T0);
	assert_int_equal(dedup_seen(d, &b), 0);
	struct event c = trade("AAPL", 52983525033528LL, T0);
	assert_int_equal(dedup_seen(d, &c), 0);
	/* a prefix symbol is a different symbol */
	struct event e = trade("AAP", 52983525033527LL, T0);
	assert_int_equal(dedup_seen(d, &e), 0);
	const struct dedup_stats *st = dedup_stats(d);
	assert_int_equal(st->checked, 6);
	assert_int_equal(st->duplicates, 2);
	assert_int_equal(st->entries, 4);
	dedup_free(d);
	(void)state;
}

static void test_quotes_bars_by_time(void **state)
{
	struct dedup *d = dedup_new(60 * SEC, 1000);
	struct event q = ev_t(EVENT_QUOTE, "AAPL", T0 + 1);
	assert_int_equal(dedup_seen(d, &q), 0);
	assert_int_equal(dedup_seen(d, &q), 1);
	q.u.quote.bid_px = 5; /* same (channel, symbol, t): duplicate */
	assert_int_equal(dedup_seen(d, &q), 1);
	struct event q2 = ev_t(EVENT_QUOTE, "AAPL", T0 + 2);
	assert_int_equal(dedup_seen(d, &q2), 0);
	/* the channel is part of the identity */
	struct event b = ev_t(EVENT_BAR, "AAPL", T0 + 1);
	assert_int_equal(dedup_seen(d, &b), 0);
	assert_int_equal(dedup_seen(d, &b), 1);
	/* a trade whose id equals a quote's t is not that quote */
	struct event t = trade("AAPL", T0 + 1, T0 + 1);
	assert_int_equal(dedup_seen(d, &t), 0);

	/* updated and daily bars: same t with new content is new; a repeat is not */
	const char *r1 = "{\"T\":\"u\",\"S\":\"AAPL\",\"c\":1,\"v\":10,\"t\":\"2024-05-01T13:30:00Z\"}";
	const char *r2 = "{\"T\":\"u\",\"S\":\"AAPL\",\"c\":1,\"v\":12,\"t\":\"2024-05-01T13:30:00Z\"}";
	struct event u1 = ev_t(EVENT_UPDATED_BAR, "AAPL", T0);
	u1.raw.p = r1;
	u1.raw.n = (uint32_t)strlen(r1);
	struct event u2 = u1;
	u2.raw.p = r2;
	assert_int_equal(dedup_seen(d, &u1), 0);
	assert_int_equal(dedup_seen(d, &u2), 0);
	assert_int_equal(dedup_seen(d, &u1), 1);
	char copy[128];
	strcpy(copy, r2);
	u2.raw.p = copy; /* equal bytes elsewhere */
	assert_int_equal(dedup_seen(d, &u2), 1);
	struct event dl = u1;
	dl.kind = EVENT_DAILY_BAR;
	assert_int_equal(dedup_seen(d, &dl), 0);
	assert_int_equal(dedup_seen(d, &dl), 1);

	/* other kinds pass and are not remembered */
	enum event_kind others[] = {EVENT_TRADING_STATUS, EVENT_LULD, EVENT_CORRECTION,
				    EVENT_CANCEL_ERROR, EVENT_IMBALANCE, EVENT_CTL_SUCCESS,
				    EVENT_CTL_ERROR, EVENT_CTL_SUBSCRIPTION, EVENT_NONE};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct event o = ev_t(others[i], "AAPL", T0);
		assert_int_equal(dedup_seen(d, &o), 0);
		assert_int_equal(dedup_seen(d, &o), 0);
	}
	assert_int_equal(dedup_stats(d)->ignored, 18);
	dedup_free(d);
	(void)state;
}

static void test_window(void **state)
{
	struct dedup *d = dedup_new(10 * SEC, 1000);
	for (int i = 0; i < 10; i++) {
		struct event e = trade("A", i, T0 + i * SEC);
		assert_int_equal(dedup_seen(d, &e), 0);
	}
	/* still inside the window (t >= now - 10 s) */
	struct event e0 = trade("A", 0, T0 + 10 * SEC);
	assert_int_equal(dedup_seen(d, &e0), 1);
	assert_int_equal(dedup_stats(d)->evicted_window, 0);
	/* 12.5 s: ids 0, 1 and 2 (t < 2.5 s) age out */
	struct event now = trade("B", 0, T0 + 12 * SEC + SEC / 2);
	assert_int_equal(dedup_seen(d, &now), 0);
	assert_int_equal(dedup_stats(d)->evicted_window, 3);
	assert_int_equal(dedup_stats(d)->entries, 8);
	struct event again = trade("A", 3, T0);
	assert_int_equal(dedup_seen(d, &again), 1);
	again = trade("A", 1, T0);
	assert_int_equal(dedup_seen(d, &again), 0); /* forgotten: new again */

	/* an event far in the future of its receive time does not flush the filter */
	struct event bogus = trade("C", 1, T0 + 3600 * SEC);
	bogus.recv_real_ns = T0 + 13 * SEC;
	uint64_t before = dedup_stats(d)->evicted_window;
	assert_int_equal(dedup_seen(d, &bogus), 0);
	/* ages entries only up to recv + 60 s: all of them here */
	assert_true(dedup_stats(d)->evicted_window > before);
	dedup_free(d);

	d = dedup_new(120 * SEC, 1000);
	for (int i = 0; i < 10; i++) {
		struct event e = trade("A", i, T0 + i * SEC);
		dedup_seen(d, &e);
	}
	bogus.recv_real_ns = T0 + 10 * SEC;
	assert_int_equal(dedup_seen(d, &bogus), 0);
	assert_int_equal(dedup_stats(d)->evicted_window, 0); /* limit = T0+70-120 s */
	struct event e5 = trade("A", 5, T0 + 5 * SEC);
	assert_int_equal(dedup_seen(d, &e5), 1);
	/* out-of-order old events do not age newer ones */
	struct event old = trade("Z", 1, T0 - 3600 * SEC);
	assert_int_equal(dedup_seen(d, &old), 0);
	assert_int_equal(dedup_seen(d, &old), 1);
	assert_int_equal(dedup_seen(d, &e5), 1);
	dedup_free(d);
	(void)state;
}

static void test_capacity(void **state)
{
	struct dedup *d = dedup_new(3600 * SEC, 100);
	for (int i = 0; i < 250; i++) {
		struct event e = trade("A", i, T0 + i);
		assert_int_equal(dedup_seen(d, &e), 0);
	}
	const struct dedup_stats *st = dedup_stats(d);
	assert_int_equal(st->entries, 100);
	assert_int_equal(st->evicted_capacity, 150);
	assert_int_equal(st->evicted_window, 0);
	for (int i = 150; i < 250; i++) {
		struct event e = trade("A", i, T0 + i);
		assert_int_equal(dedup_seen(d, &e), 1);
	}
	struct event e = trade("A", 149, T0 + 149);
	assert_int_equal(dedup_seen(d, &e), 0); /* the oldest went first */
	dedup_free(d);

	/* capacity 1 */
	d = dedup_new(SEC, 1);
	struct event a = trade("A", 1, T0), b = trade("A", 2, T0);
	assert_int_equal(dedup_seen(d, &a), 0);
	assert_int_equal(dedup_seen(d, &a), 1);
	assert_int_equal(dedup_seen(d, &b), 0);
	assert_int_equal(dedup_seen(d, &a), 0);
	dedup_free(d);

	errno = 0;
	assert_null(dedup_new(0, 10));
	assert_int_equal(errno, EINVAL);
	assert_null(dedup_new(SEC, 0));
	assert_null(dedup_new(-1, 10));
	assert_null(dedup_new(SEC, DEDUP_MAX_ENTRIES + 1));
	dedup_free(NULL);
	(void)state;
}

/* ---- saves in steps ----------------------------------------------------- */

/* A save in steps of `budget` into two buffers, one pre-filled with 0x00 and
 * one with 0xff, in lockstep: after each step the bytes written so far are
 * where both agree, so ends[k] (the returned count of them) shows what each
 * step wrote. Every step returns 0 except the last (1), writes a prefix of
 * `whole` and makes progress; the last completes it. Returns the steps. */
static size_t run_steps(const struct dedup *d, const unsigned char *whole, size_t len, size_t budget,
			size_t *ends)
{
	uint8_t *x[2] = { malloc(len), malloc(len) };
	assert_true(x[0] && x[1]);
	struct dedup_saver sv[2];
	for (int i = 0; i < 2; i++) {
		memset(x[i], i ? 0xff : 0, len);
		assert_int_equal(dedup_save_begin(d, &sv[i]), (ssize_t)len);
	}
	size_t n = 0, at = 0;
	int rc;
	do {
		rc = dedup_save_step(d, &sv[0], x[0], budget);
		assert_int_equal(dedup_save_step(d, &sv[1], x[1], budget), rc);
		assert_true(rc == 0 || rc == 1);
		size_t prev = at;
		while (at < len && x[0][at] == x[1][at])
			at++;
		assert_true(at > prev && n <= len);
		assert_memory_equal(x[0] + prev, whole + prev, at - prev);
		ends[n++] = at;
	} while (rc == 0);
	assert_int_equal(at, len);
	free(x[0]);
	free(x[1]);
	return n;
}

/* Stepped saves equal the whole save; the steps of budget 1 are the items
 * (the header, then one entry each); with any budget a step writes whole
 * items and stops at the first item end at or past its budget. */
static void check_steps(const struct dedup *d, const unsigned char *whole, size_t len)
{
	size_t nitems = 1 + dedup_stats(d)->entries;
	size_t *items = malloc((len + 1) * sizeof(*items)), *ends = malloc((len + 1) * sizeof(*ends));
	assert_true(items && ends);
	assert_int_equal(run_steps(d, whole, len, 1, items), nitems);
	const size_t budgets[] = { 0, 2, 40, 333, len / 2, len, SIZE_MAX, items[0], items[nitems / 2] };
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		size_t n = run_steps(d, whole, len, budgets[b], ends), k = 0, start = 0;
		for (size_t i = 0; i < n; i++, k++) {
			while (k + 1 < nitems && items[k] - start < budgets[b])
				k++;
			assert_int_equal(ends[i], items[k]);
			start = ends[i];
		}
		assert_int_equal(k, nitems);
	}
	free(items);
	free(ends);
}

/* Brute-force model: a list in arrival order with the same eviction rules. */
struct model_ent {
	struct event e;
};

static bool same(const struct event *x, const struct event *y)
{
	if (x->kind != y->kind || strcmp(x->symbol, y->symbol) != 0)
		return false;
	return x->kind == EVENT_TRADE ? x->u.trade.id == y->u.trade.id : x->t_ns == y->t_ns;
}

static void test_random_vs_model(void **state)
{
	const int cap = 64;
	const int64_t win = 50;
	struct dedup *d = dedup_new(win, (uint32_t)cap);
	struct model_ent *m = calloc((size_t)cap, sizeof(*m));
	int mh = 0, mn = 0;
	uint64_t s = 12345;
	int64_t clock = 1000;
	static const char *syms[] = {"A", "B", "C", "DD", "EEE"};
	for (int k = 0; k < 200000; k++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t r = s >> 16;
		clock += (int64_t)(r % 3);
		struct event e;
		if (r & 0x10000)
			e = trade(syms[(r >> 3) % 5], (int64_t)((r >> 8) % 40), clock - (int64_t)((r >> 20) % 8));
		else
			e = ev_t((r >> 21) & 1 ? EVENT_QUOTE : EVENT_BAR, syms[(r >> 3) % 5],
				 clock - (int64_t)((r >> 8) % 60));
		/* model */
		int64_t limit = e.t_ns - win;
		while (mn && m[mh].e.t_ns < limit) {
			mh = (mh + 1) % cap;
			mn--;
		}
		int want = 0;
		for (int i = 0; i < mn; i++)
			if (same(&m[(mh + i) % cap].e, &e))
				want = 1;
		if (!want) {
			if (mn == cap) {
				mh = (mh + 1) % cap;
				mn--;
			}
			m[(mh + mn) % cap].e = e;
			mn++;
		}
		int got = dedup_seen(d, &e);
		if (got != want)
			fail_msg("step %d: got %d want %d", k, got, want);
		assert_int_equal(dedup_stats(d)->entries, mn);

		if (k % 1009 == 0) { /* a checkpoint round trip mid-stream */
			ssize_t need = dedup_save(d, NULL, 0);
			size_t want_size = 16; /* the running total agrees with the model */
			for (int i = 0; i < mn; i++) {
				const struct event *me = &m[(mh + i) % cap].e;
				want_size += 2 + strlen(me->symbol) + 8 + (me->kind == EVENT_TRADE ? 8 : 0);
			}
			assert_int_equal(need, want_size);
			unsigned char *buf = malloc((size_t)need);
			assert_int_equal(dedup_save(d, buf, (size_t)need), need);
			if (k % 10090 == 0)
				check_steps(d, buf, (size_t)need);
			struct dedup *d2 = dedup_new(win, (uint32_t)cap);
			assert_int_equal(dedup_load(d2, buf, (size_t)need), 0);
			dedup_free(d);
			d = d2;
			free(buf);
		}
	}
	free(m);
	dedup_free(d);
	(void)state;
}

static unsigned char *save(const struct dedup *d, size_t *n)
{
	ssize_t need = dedup_save(d, NULL, 0);
	assert_true(need > 0);
	unsigned char *buf = malloc((size_t)need);
	assert_int_equal(dedup_save(d, buf, (size_t)need), need);
	*n = (size_t)need;
	return buf;
}

static void test_save_load(void **state)
{
	struct dedup *d = dedup_new(3600 * SEC, 50);
	/* wrap the ring so the saved order is not the storage order */
	for (int i = 0; i < 80; i++) {
		struct event e = trade(i % 2 ? "AAPL" : "ABCDEFGHIJKLMNOPQRSTUVW", i, T0 + i);
		dedup_seen(d, &e);
	}
	struct event q = ev_t(EVENT_QUOTE, "MSFT", T0 + 100);
	dedup_seen(d, &q);
	const char *raw = "{\"T\":\"d\",\"S\":\"X\"}";
	struct event dl = ev_t(EVENT_DAILY_BAR, "X", T0 + 101);
	dl.raw.p = raw;
	dl.raw.n = (uint32_t)strlen(raw);
	dedup_seen(d, &dl);

	size_t n;
	unsigned char *buf = save(d, &n);
	/* 48 trades (24 of 2 + 4 + 16 bytes, 24 of 2 + 23 + 16), a quote
	 * (2 + 4 + 8), a daily bar (2 + 1 + 8 + 8) */
	assert_int_equal(n, 16 + 24 * 22 + 24 * 41 + 14 + 19);
	check_steps(d, buf, n);
	unsigned char small[8];
	assert_int_equal(dedup_save(d, small, sizeof(small)), -ENOSPC);
	assert_int_equal(dedup_save(d, buf, n - 1), -ENOSPC);

	struct dedup *e = dedup_new(3600 * SEC, 50);
	assert_int_equal(dedup_load(e, buf, n), 0);
	assert_int_equal(dedup_stats(e)->entries, 50);
	size_t n2;
	unsigned char *buf2 = save(e, &n2);
	assert_int_equal(n2, n);
	assert_memory_equal(buf, buf2, n); /* exact round trip, order included */
	free(buf2);
	/* and it behaves the same */
	for (int i = 32; i < 80; i++) {
		struct event t = trade(i % 2 ? "AAPL" : "ABCDEFGHIJKLMNOPQRSTUVW", i, T0 + 200);
		assert_int_equal(dedup_seen(e, &t), 1);
	}
	assert_int_equal(dedup_seen(e, &q), 1);
	assert_int_equal(dedup_seen(e, &dl), 1);
	struct event t31 = trade("AAPL", 31, T0 + 200);
	assert_int_equal(dedup_seen(e, &t31), 0); /* evicted for capacity before the save */

	/* loading into a smaller filter keeps the newest */
	struct dedup *s = dedup_new(3600 * SEC, 10);
	assert_int_equal(dedup_load(s, buf, n), 0);
	assert_int_equal(dedup_stats(s)->entries, 10);
	assert_int_equal(dedup_stats(s)->evicted_capacity, 40);
	assert_int_equal(dedup_seen(s, &dl), 1);
	struct event t79 = trade("AAPL", 79, T0);
	assert_int_equal(dedup_seen(s, &t79), 1);
	struct event t70 = trade("AAPL", 69, T0);
	assert_int_equal(dedup_seen(s, &t70), 0);
	dedup_free(s);

	/* an empty filter round-trips too */
	struct dedup *z = dedup_new(SEC, 5);
	size_t zn;
	unsigned char *zb = save(z, &zn);
	assert_int_equal(zn, 16);
	check_steps(z, zb, zn);
	assert_int_equal(dedup_load(d, zb, zn), 0);
	assert_int_equal(dedup_stats(d)->entries, 0);
	assert_int_equal(dedup_seen(d, &q), 0);
	free(zb);
	dedup_free(z);

	dedup_free(e);
	dedup_free(d);
	free(buf);
	(void)state;
}

static void test_load_rejects(void **state)
{
	struct dedup *d = dedup_new(3600 * SEC, 10);
	struct event a = trade("AAPL", 1, T0), b = trade("AAPL", 2, T0);
	struct event q = ev_t(EVENT_QUOTE, "AAPL", T0);
	dedup_seen(d, &a);
	dedup_seen(d, &b);
	dedup_seen(d, &q);
	size_t n;
	unsigned char *good = save(d, &n);
	assert_int_equal(n, 16 + 22 + 22 + 14);
	unsigned char *bad = malloc(n + 64);

	struct dedup *t = dedup_new(3600 * SEC, 10);
	struct event keep = trade("KEEP", 7, T0);
	dedup_seen(t, &keep);
	size_t keep_n;
	unsigned char *keep_buf = save(t, &keep_n);

	/* every truncation is rejected, t unchanged */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(dedup_load(t, good, k), -EINVAL);
	memcpy(bad, good, n);
	bad[n] = 0;
	assert_int_equal(dedup_load(t, bad, n + 1), -EINVAL);
	assert_int_equal(dedup_load(t, NULL, n), -EINVAL);

	/* Every single-bit flip: no checksum of its own (the snapshot container
	 * has one), so a flip inside a value may load; then the filter holds
	 * exactly what the bytes say (it saves back to them) and works. Flips
	 * in the header (magic, version, count, reserved) are always refused. */
	int accepted = 0, refused = 0;
	for (size_t k = 0; k < n; k++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, good, n);
			bad[k] ^= (unsigned char)(1u << bit);
			int rc = dedup_load(t, bad, n);
			if (k < 16 && rc != -EINVAL)
				fail_msg("header flip at %zu bit %d accepted", k, bit);
			if (rc == -EINVAL) {
				refused++;
				continue;
			}
			assert_int_equal(rc, 0);
			accepted++;
			size_t n2;
			unsigned char *again = save(t, &n2);
			assert_int_equal(n2, n);
			assert_memory_equal(again, bad, n);
			free(again);
			assert_int_equal(dedup_stats(t)->entries, 3);
			assert_int_equal(dedup_seen(t, &keep), 0);
			assert_int_equal(dedup_seen(t, &keep), 1);
			assert_int_equal(dedup_load(t, keep_buf, keep_n), 0); /* back to t's own state */
		}
	assert_true(accepted > 0 && refused > 0);

	/* inconsistent content */
	const size_t e0 = 16; /* first entry: kind, length, "AAPL", t, id */
	struct {
		size_t off;
		unsigned char val;
	} edits[] = {
		{4, 1},             /* version 1 (the old format) */
		{4, 3},             /* version from the future */
		{12, 1},            /* reserved */
		{e0, EVENT_LULD},   /* kind not deduplicated */
		{e0, 0},            /* EVENT_NONE */
		{e0, 200},          /* out of range */
		{e0 + 1, 24},       /* symbol too long */
		{e0 + 1, 3},        /* length shorter than the entry: the rest misparses */
		{e0 + 1, 5},        /* length longer than the entry */
		{e0 + 3, 0},        /* NUL inside the symbol */
		{e0 + 2 * 22, EVENT_TRADE}, /* the quote becomes a trade: 8 bytes short */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(bad, good, n);
		bad[edits[i].off] = edits[i].val;
		if (dedup_load(t, bad, n) != -EINVAL)
			fail_msg("edit %zu accepted", i);
	}
	/* duplicate entries: entry 1 copied over entry 0 */
	memcpy(bad, good, n);
	memcpy(bad + e0, bad + e0 + 22, 22);
	assert_int_equal(dedup_load(t, bad, n), -EINVAL);
	/* count that disagrees with the length, either way */
	memcpy(bad, good, n);
	bad[8] = 2;
	assert_int_equal(dedup_load(t, bad, n), -EINVAL);
	bad[8] = 4;
	assert_int_equal(dedup_load(t, bad, n), -EINVAL);
	/* an entry more after the count */
	memcpy(bad, good, n);
	memcpy(bad + n, good + e0 + 44, 14);
	bad[n + 6] ^= 1; /* another t: not a duplicate */
	assert_int_equal(dedup_load(t, bad, n + 14), -EINVAL);
	bad[8] = 4;
	assert_int_equal(dedup_load(t, bad, n + 14), 0); /* with the count right it loads */
	assert_int_equal(dedup_stats(t)->entries, 4);
	assert_int_equal(dedup_load(t, keep_buf, keep_n), 0);

	assert_int_equal(dedup_stats(t)->entries, 1);
	assert_int_equal(dedup_seen(t, &keep), 1);
	assert_int_equal(dedup_seen(t, &a), 0);

	free(keep_buf);
	free(bad);
	free(good);
	dedup_free(t);
	dedup_free(d);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trades),
		cmocka_unit_test(test_quotes_bars_by_time),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
