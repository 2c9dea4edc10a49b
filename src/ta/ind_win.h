/* ind_win.h - a time window of (t, a, b) samples with running sums of a and b.
 *
 * Backs the VWAP w5m and realized-volatility w60s windows. The ring starts
 * empty and doubles on demand up to `max` entries (most symbols trade rarely,
 * so a fixed 300-entry array per symbol would blow the memory budget), and
 * halves again when mostly empty. Sums are updated by add/subtract (O(1) per
 * sample) and rebuilt from the entries after every `cap` evictions, so
 * rounding drift stays bounded at amortized O(1) cost; a window that is empty
 * or holds only zeros has sums of exactly 0 (flat prices give a volatility of
 * exactly 0, not rounding residue). */
#pragma once

#include <stdint.h>

struct ind_win_ent {
	int64_t t; /* sample time (bar end), strictly increasing */
	double a, b;
};

struct ind_win {
	struct ind_win_ent *e; /* ring storage, NULL while cap == 0 */
	uint32_t cap;          /* allocated entries */
	uint32_t max;          /* growth limit; a push when full drops the oldest */
	uint32_t head;         /* index of the oldest entry */
	uint32_t n;            /* entries in the window */
	uint32_t evicted;      /* evictions since the sums were last rebuilt */
	uint32_t nz;           /* entries with a or b non-zero */
	double sa, sb;         /* running sums of a and b over the window */
};

void ind_win_init(struct ind_win *w, uint32_t max);
void ind_win_fini(struct ind_win *w);
/* Empties the window and frees its storage. */
void ind_win_clear(struct ind_win *w);
/* Drops the entries with t <= cut (the window is (cut, now]). */
void ind_win_expire(struct ind_win *w, int64_t cut);
/* Makes room for one push; 0 or -ENOMEM (window unchanged). */
int ind_win_reserve(struct ind_win *w);
/* Makes room for n entries at once (a checkpoint load), n <= max; 0 or
 * -ENOMEM (window unchanged). */
int ind_win_reserve_n(struct ind_win *w, uint32_t n);
/* Appends a sample; call ind_win_reserve first. When the window already holds
 * `max` entries the oldest is dropped, so memory stays bounded. */
void ind_win_push(struct ind_win *w, int64_t t, double a, double b);
/* Gives back memory when the window is mostly empty; never fails. */
void ind_win_trim(struct ind_win *w);
/* The i-th entry, oldest first (i < n). */
const struct ind_win_ent *ind_win_at(const struct ind_win *w, uint32_t i);
