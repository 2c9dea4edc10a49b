/* hist.h - log-linear latency histogram of int64 nanoseconds (HDR-like).
 *
 * Buckets: values below 64 ns are exact; above, every power-of-two octave is
 * split into 32 equal sub-buckets, so a bucket is at most 1/32 (3.1 %) of its
 * lower bound wide and percentiles (bucket midpoints) are within 1.6 %. The
 * range is 0 .. HIST_MAX_NS (~137 s); larger values are clamped to it,
 * negative ones to 0. 1056 buckets, ~8.6 KiB per histogram.
 *
 * hist_record() is a handful of integer operations and increments: no
 * floating point, no locks, no allocation. The struct is public only so that
 * it can be inlined and embedded; treat the fields as private. An all-zero
 * struct is an empty histogram (static or calloc'ed storage needs no init).
 *
 * Prometheus export uses FIXED boundaries (10 us .. 10 s, then +Inf) that are
 * exact, not approximated by the log-linear buckets: the few buckets that
 * straddle a boundary also count, on a rare path, the values at or below it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_TOP_BIT 37                       /* 2^37 ns ~ 137 s */
#define HIST_MAX_NS ((1ull << HIST_TOP_BIT) - 1)
#define HIST_NBUCKETS (((HIST_TOP_BIT - HIST_SUB_BITS) << HIST_SUB_BITS) + HIST_SUB)

/* Fixed Prometheus boundaries: 19 finite `le` values plus +Inf. */
#define HIST_PROM_NFINITE 19
#define HIST_PROM_NBUCKETS (HIST_PROM_NFINITE + 1)

struct hist {
	uint64_t count;
	uint64_t sum;  /* ns, of the clamped values */
	uint64_t max;  /* ns, exact */
	uint64_t le_split[HIST_PROM_NFINITE]; /* per boundary: values <= it in its straddling bucket */
	uint64_t counts[HIST_NBUCKETS];
};

/* Bucket index of a value (already clamped to 0..HIST_MAX_NS). Octave k of v
 * (its top bit); below 2^(SUB_BITS+1) the shift is 0 and the index is v. */
#define HIST__K(v) (63 - __builtin_clzll((unsigned long long)(v) | 1))
#define HIST__SHIFT(v) (HIST__K(v) > HIST_SUB_BITS ? HIST__K(v) - HIST_SUB_BITS : 0)
#define HIST__INDEX(v) ((unsigned)(HIST__SHIFT(v) << HIST_SUB_BITS) + (unsigned)((v) >> HIST__SHIFT(v)))

/* Bit i set: bucket i straddles one of the fixed Prometheus boundaries
 * (a compile-time table, see hist.c). */
extern const uint64_t hist__split_map[(HIST_NBUCKETS + 63) / 64];
void hist__split(struct hist *h, uint64_t v);

static inline void hist_record(struct hist *h, int64_t ns)
{
	uint64_t v = ns > 0 ? (uint64_t)ns : 0;
	v = v > HIST_MAX_NS ? HIST_MAX_NS : v;
	unsigned idx = HIST__INDEX(v);
	h->counts[idx]++;
	h->count++;
	h->sum += v;
	h->max = v > h->max ? v : h->max;
	if (__builtin_expect((hist__split_map[idx >> 6] >> (idx & 63)) & 1, 0))
		hist__split(h, v);
}

/* Records the time from `start_ns` to `end_ns` (both from one clock). */
static inline void hist_record_since(struct hist *h, int64_t start_ns, int64_t end_ns)
{
	hist_record(h, end_ns - start_ns);
}

void hist_reset(struct hist *h);
/* dst += src. */
void hist_merge(struct hist *dst, const struct hist *src);
/* out = now - then, where `then` is an earlier copy of the same histogram
 * (out may be `now`). The max of the difference is exact when it exceeds the
 * earlier max, otherwise the upper end of the highest non-empty bucket. */
void hist_diff(struct hist *out, const struct hist *now, const struct hist *then);
/* "Since the last read": out = h - *mark, then *mark = *h. */
void hist_since(const struct hist *h, struct hist *mark, struct hist *out);

static inline uint64_t hist_count(const struct hist *h) { return h->count; }
static inline uint64_t hist_sum(const struct hist *h) { return h->sum; }
static inline uint64_t hist_max(const struct hist *h) { return h->max; }
/* Smallest recorded value, to bucket precision (0 when empty). */
uint64_t hist_min(const struct hist *h);
uint64_t hist_mean(const struct hist *h);

/* Value at quantile q (0 < q <= 1, e.g. 0.5, 0.99, 0.999): the midpoint of
 * the bucket holding the ceil(q * count)-th smallest value, clamped to the
 * exact max; q >= 1 gives max. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Lowest and highest value mapped to bucket `idx` (< HIST_NBUCKETS). */
uint64_t hist_bucket_lo(unsigned idx);
uint64_t hist_bucket_hi(unsigned idx);
static inline unsigned hist_index(uint64_t v)
{
	v = v > HIST_MAX_NS ? HIST_MAX_NS : v;
	return HIST__INDEX(v);
}

/* Prometheus export: cum[j] = number of values <= boundary j (seconds:
 * hist_prom_le(j)), cumulative and monotonic; cum[HIST_PROM_NFINITE] is the
 * +Inf bucket, equal to the count. */
void hist_prom_buckets(const struct hist *h, uint64_t cum[HIST_PROM_NBUCKETS]);
/* The boundary as text for the `le` label ("0.00001" .. "10", "+Inf"), and
 * in nanoseconds (INT64_MAX for +Inf); j < HIST_PROM_NBUCKETS. */
const char *hist_prom_le(unsigned j);
int64_t hist_prom_bound_ns(unsigned j);
