/* ind_quote.h - the bounded quote history behind the `imbalance` fields.
 *
 * A bar ending at E uses the newest quote with t <= E and E - t <= stale.
 * Quotes can arrive out of order and ahead of the bar that needs them (the
 * bar closes only when the watermark passes), so a single "last quote" slot is
 * not enough: a newer quote must never hide an older qualifying one.
 *
 * Bar ends lie on a grid (1 s micro-bars, 60 s minute bars). For every grid
 * point E the answer is the newest quote of the highest non-empty bucket
 * ((k-1)g, kg] with kg <= E, so keeping one quote (the newest) per bucket is
 * exact and needs only as many entries as buckets in flight. With grid 0
 * every quote is kept. The array is sorted by t, grows on demand up to `max`,
 * and a full book drops its oldest entry. After a bar ends at E, entries with
 * t <= E other than the newest of them are useless to later bars and pruned. */
#pragma once

#include <stdint.h>

struct ind_quote_ent {
	int64_t t;
	double bid_px, ask_px, bid_sz, ask_sz;
};

struct ind_quote {
	struct ind_quote_ent *q; /* sorted by t ascending; NULL while cap == 0 */
	uint16_t n, cap, max;
	int64_t grid_ns;         /* bucket width; 0 = keep every quote */
};

void ind_quote_init(struct ind_quote *b, uint16_t max, int64_t grid_ns);
void ind_quote_fini(struct ind_quote *b);
/* Adds a quote; 0 or -ENOMEM (book unchanged). */
int ind_quote_add(struct ind_quote *b, const struct ind_quote_ent *q);
/* Copies into *out the quote for a bar ending at end_ns and returns 1, or
 * returns 0 when none qualifies; then prunes what later bars (end > end_ns)
 * cannot use. */
int ind_quote_select(struct ind_quote *b, int64_t end_ns, int64_t stale_ns, struct ind_quote_ent *out);
/* Appends a restored entry (checkpoint load); -EINVAL if it breaks the order
 * or the bound, -ENOMEM. */
int ind_quote_restore(struct ind_quote *b, const struct ind_quote_ent *q);
