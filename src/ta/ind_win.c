/* ind_win.c - growable time-window ring with running sums (see ind_win.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ta/ind_win.h"

#define IND_WIN_MIN_CAP 4u

void ind_win_init(struct ind_win *w, uint32_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max ? max : 1;
}

void ind_win_fini(struct ind_win *w)
{
	free(w->e);
	w->e = NULL;
	w->cap = w->head = w->n = w->evicted = w->nz = 0;
	w->sa = w->sb = 0.0;
}

void ind_win_clear(struct ind_win *w)
{
	ind_win_fini(w);
}

const struct ind_win_ent *ind_win_at(const struct ind_win *w, uint32_t i)
{
	uint32_t k = w->head + i;
	if (k >= w->cap)
		k -= w->cap;
	return &w->e[k];
}

/* Moves the entries, oldest first, into a new array of ncap >= n entries. */
static int ind_win_resize(struct ind_win *w, uint32_t ncap)
{
	struct ind_win_ent *ne = malloc((size_t)ncap * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->n; i++)
		ne[i] = *ind_win_at(w, i);
	free(w->e);
	w->e = ne;
	w->cap = ncap;
	w->head = 0;
	return 0;
}

/* Exact re-summation in window order; the trigger depends only on saved state
 * (evicted, max), so a restored window rebuilds at the same moments. */
static void ind_win_rebuild(struct ind_win *w)
{
	double sa = 0.0, sb = 0.0;
	for (uint32_t i = 0; i < w->n; i++) {
		const struct ind_win_ent *x = ind_win_at(w, i);
		sa += x->a;
		sb += x->b;
	}
	w->sa = sa;
	w->sb = sb;
	w->evicted = 0;
}

static void ind_win_pop(struct ind_win *w)
{
	const struct ind_win_ent *x = &w->e[w->head];
	w->sa -= x->a;
	w->sb -= x->b;
	w->nz -= x->a != 0.0 || x->b != 0.0;
	if (++w->head == w->cap)
		w->head = 0;
	w->n--;
	w->evicted++;
}

/* After evictions: exact zeros when nothing non-zero is left, periodic
 * rebuild against drift. */
static void ind_win_settle(struct ind_win *w)
{
	if (w->nz == 0) {
		w->sa = w->sb = 0.0;
		w->evicted = 0;
	} else if (w->evicted >= w->max) {
		ind_win_rebuild(w);
	}
}

void ind_win_expire(struct ind_win *w, int64_t cut)
{
	uint32_t before = w->n;
	while (w->n > 0 && w->e[w->head].t <= cut)
		ind_win_pop(w);
	if (w->n != before)
		ind_win_settle(w);
}

int ind_win_reserve(struct ind_win *w)
{
	if (w->n < w->cap || w->cap >= w->max)
		return 0;
	uint32_t ncap = w->cap ? w->cap * 2 : IND_WIN_MIN_CAP;
	if (ncap > w->max)
		ncap = w->max;
	return ind_win_resize(w, ncap);
}

int ind_win_reserve_n(struct ind_win *w, uint32_t n)
{
	if (n <= w->cap)
		return 0;
	if (n < IND_WIN_MIN_CAP)
		n = IND_WIN_MIN_CAP;
	return ind_win_resize(w, n < w->max ? n : w->max);
}

void ind_win_push(struct ind_win *w, int64_t t, double a, double b)
{
	if (w->n == w->cap) { /* only at max (reserve grew otherwise) */
		ind_win_pop(w);
		ind_win_settle(w);
	}
	uint32_t k = w->head + w->n;
	if (k >= w->cap)
		k -= w->cap;
	w->e[k] = (struct ind_win_ent){ .t = t, .a = a, .b = b };
	w->n++;
	w->nz += a != 0.0 || b != 0.0;
	w->sa += a;
	w->sb += b;
}

void ind_win_trim(struct ind_win *w)
{
	if (w->n == 0 && w->cap > 0) {
		free(w->e);
		w->e = NULL;
		w->cap = w->head = 0;
		return;
	}
	if (w->cap > IND_WIN_MIN_CAP && w->n <= w->cap / 4)
		(void)ind_win_resize(w, w->cap / 2); /* on failure keep the larger array */
}
