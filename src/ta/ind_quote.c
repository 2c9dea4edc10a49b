/* ind_quote.c - bounded, bucketed quote history (see ind_quote.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ta/ind_quote.h"

#define IND_QUOTE_MIN_CAP 4u

void ind_quote_init(struct ind_quote *b, uint16_t max, int64_t grid_ns)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : 1;
	b->grid_ns = grid_ns > 0 ? grid_ns : 0;
}

void ind_quote_fini(struct ind_quote *b)
{
	free(b->q);
	b->q = NULL;
	b->n = b->cap = 0;
}

/* Bucket k holds quotes with t in ((k-1)g, kg]: k = ceil(t / g). */
static int64_t ind_quote_bucket(const struct ind_quote *b, int64_t t)
{
	if (!b->grid_ns)
		return t;
	int64_t k = t / b->grid_ns; /* truncates toward 0: already ceil for t < 0 */
	if (t % b->grid_ns > 0)
		k++;
	return k;
}

static int ind_quote_grow(struct ind_quote *b)
{
	if (b->n < b->cap)
		return 0;
	unsigned ncap = b->cap ? b->cap * 2u : IND_QUOTE_MIN_CAP;
	if (ncap > b->max)
		ncap = b->max;
	struct ind_quote_ent *nq = realloc(b->q, ncap * sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	b->q = nq;
	b->cap = (uint16_t)ncap;
	return 0;
}

static void ind_quote_remove_front(struct ind_quote *b, unsigned k)
{
	memmove(b->q, b->q + k, (b->n - k) * sizeof(*b->q));
	b->n = (uint16_t)(b->n - k);
}

int ind_quote_add(struct ind_quote *b, const struct ind_quote_ent *q)
{
	unsigned i = b->n;
	while (i > 0 && b->q[i - 1].t > q->t) /* usually in order: O(1) */
		i--;
	int64_t k = ind_quote_bucket(b, q->t);
	if (i > 0 && ind_quote_bucket(b, b->q[i - 1].t) == k) {
		b->q[i - 1] = *q; /* newer (or same t, later arrival) wins its bucket */
		return 0;
	}
	if (i < b->n && ind_quote_bucket(b, b->q[i].t) == k)
		return 0; /* its bucket already holds a newer quote */
	if (b->n == b->max) {
		if (i == 0)
			return 0; /* older than everything in a full book */
		ind_quote_remove_front(b, 1);
		i--;
	} else {
		int rc = ind_quote_grow(b);
		if (rc)
			return rc;
	}
	memmove(b->q + i + 1, b->q + i, (b->n - i) * sizeof(*b->q));
	b->q[i] = *q;
	b->n++;
	return 0;
}

int ind_quote_select(struct ind_quote *b, int64_t end_ns, int64_t stale_ns, struct ind_quote_ent *out)
{
	unsigned i = b->n;
	while (i > 0 && b->q[i - 1].t > end_ns)
		i--;
	if (i == 0)
		return 0;
	const struct ind_quote_ent *c = &b->q[i - 1];
	/* unsigned: t <= end, so the difference is exact even across the range */
	int ok = (uint64_t)end_ns - (uint64_t)c->t <= (uint64_t)stale_ns;
	if (ok)
		*out = *c;
	/* Later bars see the candidate or something newer; a stale one stays stale. */
	ind_quote_remove_front(b, ok ? i - 1 : i);
	return ok;
}

int ind_quote_restore(struct ind_quote *b, const struct ind_quote_ent *q)
{
	if (b->n >= b->max)
		return -EINVAL;
	if (b->n > 0) {
		const struct ind_quote_ent *last = &b->q[b->n - 1];
		if (last->t >= q->t || ind_quote_bucket(b, last->t) >= ind_quote_bucket(b, q->t))
			return -EINVAL;
	}
	int rc = ind_quote_grow(b);
	if (rc)
		return rc;
	b->q[b->n++] = *q;
	return 0;
}
