#include "config.h"

#include "core/hist.h"

#include <string.h>

/* The fixed Prometheus boundaries in ns. 10^k x {1, 2.5, 5}: never two in one
 * octave, so each straddles at most one log-linear bucket. */
#define B0 10000ull
#define B1 25000ull
#define B2 50000ull
#define B3 100000ull
#define B4 250000ull
#define B5 500000ull
#define B6 1000000ull
#define B7 2500000ull
#define B8 5000000ull
#define B9 10000000ull
#define B10 25000000ull
#define B11 50000000ull
#define B12 100000000ull
#define B13 250000000ull
#define B14 500000000ull
#define B15 1000000000ull
#define B16 2500000000ull
#define B17 5000000000ull
#define B18 10000000000ull

static const uint64_t prom_bound[HIST_PROM_NFINITE] = {B0,  B1,  B2,  B3,  B4,  B5,  B6,  B7,  B8, B9,
						       B10, B11, B12, B13, B14, B15, B16, B17, B18};
static const char *const prom_le[HIST_PROM_NBUCKETS] = {
	"0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001",
	"0.0025",  "0.005",    "0.01",    "0.025",  "0.05",    "0.1",    "0.25",
	"0.5",     "1",        "2.5",     "5",      "10",      "+Inf"};

/* Highest value of the bucket holding v; a boundary whose bucket ends
 * exactly at it needs no split count. */
#define LAST(v) (((((v) >> HIST__SHIFT(v)) + 1) << HIST__SHIFT(v)) - 1)
#define SPLITS(v) (LAST(v) != (v))
#define BIT(v, w) (SPLITS(v) && (HIST__INDEX(v) >> 6) == (w) ? 1ull << (HIST__INDEX(v) & 63) : 0)
#define WORD(w)                                                                                    \
	(BIT(B0, w) | BIT(B1, w) | BIT(B2, w) | BIT(B3, w) | BIT(B4, w) | BIT(B5, w) | BIT(B6, w) |  \
	 BIT(B7, w) | BIT(B8, w) | BIT(B9, w) | BIT(B10, w) | BIT(B11, w) | BIT(B12, w) |             \
	 BIT(B13, w) | BIT(B14, w) | BIT(B15, w) | BIT(B16, w) | BIT(B17, w) | BIT(B18, w))

const uint64_t hist__split_map[(HIST_NBUCKETS + 63) / 64] = {
	WORD(0),  WORD(1),  WORD(2),  WORD(3),  WORD(4),  WORD(5),  WORD(6),  WORD(7),  WORD(8),
	WORD(9),  WORD(10), WORD(11), WORD(12), WORD(13), WORD(14), WORD(15), WORD(16)};
_Static_assert((HIST_NBUCKETS + 63) / 64 == 17, "hist__split_map initializer has 17 words");

/* The boundary in each octave (bit length - 1 of the value), or -1: at most
 * one per octave, so the rare path needs no search. */
#define OJ(k)                                                                                      \
	(HIST__K(B0) == (k)    ? 0                                                                  \
	 : HIST__K(B1) == (k)  ? 1                                                                  \
	 : HIST__K(B2) == (k)  ? 2                                                                  \
	 : HIST__K(B3) == (k)  ? 3                                                                  \
	 : HIST__K(B4) == (k)  ? 4                                                                  \
	 : HIST__K(B5) == (k)  ? 5                                                                  \
	 : HIST__K(B6) == (k)  ? 6                                                                  \
	 : HIST__K(B7) == (k)  ? 7                                                                  \
	 : HIST__K(B8) == (k)  ? 8                                                                  \
	 : HIST__K(B9) == (k)  ? 9                                                                  \
	 : HIST__K(B10) == (k) ? 10                                                                 \
	 : HIST__K(B11) == (k) ? 11                                                                 \
	 : HIST__K(B12) == (k) ? 12                                                                 \
	 : HIST__K(B13) == (k) ? 13                                                                 \
	 : HIST__K(B14) == (k) ? 14                                                                 \
	 : HIST__K(B15) == (k) ? 15                                                                 \
	 : HIST__K(B16) == (k) ? 16                                                                 \
	 : HIST__K(B17) == (k) ? 17                                                                 \
	 : HIST__K(B18) == (k) ? 18                                                                 \
			       : -1)
static const int8_t octave_bound[HIST_TOP_BIT] = {
	OJ(0),  OJ(1),  OJ(2),  OJ(3),  OJ(4),  OJ(5),  OJ(6),  OJ(7),  OJ(8),  OJ(9),
	OJ(10), OJ(11), OJ(12), OJ(13), OJ(14), OJ(15), OJ(16), OJ(17), OJ(18), OJ(19),
	OJ(20), OJ(21), OJ(22), OJ(23), OJ(24), OJ(25), OJ(26), OJ(27), OJ(28), OJ(29),
	OJ(30), OJ(31), OJ(32), OJ(33), OJ(34), OJ(35), OJ(36)};
_Static_assert(HIST_TOP_BIT == 37, "octave_bound initializer has 37 entries");

/* Rare path: v fell into a bucket that straddles a boundary (so v is in
 * that boundary's octave). */
void hist__split(struct hist *h, uint64_t v)
{
	int j = octave_bound[HIST__K(v)];
	if (j >= 0 && v <= prom_bound[j])
		h->le_split[j]++;
}

uint64_t hist_bucket_lo(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned shift = (idx >> HIST_SUB_BITS) - 1;
	return (uint64_t)(idx - (shift << HIST_SUB_BITS)) << shift;
}

uint64_t hist_bucket_hi(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned shift = (idx >> HIST_SUB_BITS) - 1;
	return hist_bucket_lo(idx) + (1ull << shift) - 1;
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++)
		dst->le_split[j] += src->le_split[j];
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		dst->counts[i] += src->counts[i];
}

void hist_diff(struct hist *out, const struct hist *now, const struct hist *then)
{
	uint64_t now_max = now->max, then_max = then->max;
	int top = -1;

	out->count = now->count - then->count;
	out->sum = now->sum - then->sum;
	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++)
		out->le_split[j] = now->le_split[j] - then->le_split[j];
	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		out->counts[i] = now->counts[i] - then->counts[i];
		if (out->counts[i])
			top = (int)i;
	}
	if (top < 0)
		out->max = 0;
	else if (now_max > then_max)
		out->max = now_max;
	else
		out->max = hist_bucket_hi((unsigned)top) < now_max ? hist_bucket_hi((unsigned)top) : now_max;
}

void hist_since(const struct hist *h, struct hist *mark, struct hist *out)
{
	hist_diff(out, h, mark);
	memcpy(mark, h, sizeof(*mark));
}

uint64_t hist_min(const struct hist *h)
{
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		if (h->counts[i])
			return hist_bucket_lo(i);
	return 0;
}

uint64_t hist_mean(const struct hist *h)
{
	return h->count ? h->sum / h->count : 0;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (!(q < 1.0)) /* also NaN */
		return h->max;
	double r = q * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t lo = hist_bucket_lo(i), hi = hist_bucket_hi(i);
			uint64_t mid = lo + (hi - lo) / 2;
			return mid < h->max ? mid : h->max;
		}
	}
	return h->max;
}

void hist_prom_buckets(const struct hist *h, uint64_t cum[HIST_PROM_NBUCKETS])
{
	uint64_t below = 0; /* sum of buckets [0, i) */
	unsigned i = 0;

	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++) {
		unsigned bidx = HIST__INDEX(prom_bound[j]);
		for (; i < bidx; i++)
			below += h->counts[i];
		cum[j] = below + (SPLITS(prom_bound[j]) ? h->le_split[j] : h->counts[bidx]);
	}
	cum[HIST_PROM_NFINITE] = h->count;
}

const char *hist_prom_le(unsigned j)
{
	return j < HIST_PROM_NBUCKETS ? prom_le[j] : NULL;
}

int64_t hist_prom_bound_ns(unsigned j)
{
	if (j < HIST_PROM_NFINITE)
		return (int64_t)prom_bound[j];
	return INT64_MAX;
}
