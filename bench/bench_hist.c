/* bench_hist - cost of hist_record (ns per record) on latency-shaped values,
 * and of the clock reads that usually surround it.
 *
 *   bench/bench_hist [seconds-per-case]   (default 0.5)
 *
 * Budget context: the hot path is ~670 ns/msg in total, so recording a few
 * latencies per message must stay in the low nanoseconds. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/hist.h"

#define NVALS 4096 /* power of two */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 17;
}

/* Log-uniform 1 us .. 100 ms, so every octave and the rare boundary-split
 * path are exercised. */
static void fill(int64_t *v, uint64_t seed)
{
	for (int i = 0; i < NVALS; i++) {
		int oct = 10 + (int)(rng(&seed) % 17);
		v[i] = (int64_t)((1ull << oct) + rng(&seed) % (1ull << oct));
	}
}

static double run_record(struct hist *h, const int64_t *v, double secs, uint64_t *sink)
{
	uint64_t n = 0, t0 = now_ns(), deadline = t0 + (uint64_t)(secs * 1e9), t;
	do {
		for (int r = 0; r < 64; r++)
			for (int i = 0; i < NVALS; i++)
				hist_record(h, v[i]);
		n += 64 * NVALS;
	} while ((t = now_ns()) < deadline);
	*sink += hist_count(h);
	return (double)(t - t0) / (double)n;
}

static double run_clock(double secs, uint64_t *sink)
{
	uint64_t n = 0, acc = 0, t0 = now_ns(), deadline = t0 + (uint64_t)(secs * 1e9), t;
	do {
		for (int i = 0; i < 4096; i++)
			acc += now_ns();
		n += 4096;
	} while ((t = now_ns()) < deadline);
	*sink += acc;
	return (double)(t - t0) / (double)n;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	int64_t *v = malloc(NVALS * sizeof(*v));
	struct hist *h = calloc(1, sizeof(*h));
	uint64_t sink = 0;

	if (!v || !h || !(secs > 0)) {
		fprintf(stderr, "usage: bench_hist [seconds-per-case > 0]\n");
		return 2;
	}
	fill(v, 42);
	run_record(h, v, secs / 5, &sink); /* warm up */
	hist_reset(h);
	printf("hist_record           %6.2f ns/record\n", run_record(h, v, secs, &sink));
	for (int i = 0; i < NVALS; i++)
		v[i] = 1000000; /* 1 ms exactly: a boundary-split bucket every time */
	printf("hist_record (split)   %6.2f ns/record\n", run_record(h, v, secs, &sink));
	printf("clock_gettime(MONO)   %6.2f ns/call\n", run_clock(secs, &sink));
	printf("p50 %llu ns, p99 %llu ns, max %llu ns over %llu records (sink %llu)\n",
	       (unsigned long long)hist_quantile(h, 0.5), (unsigned long long)hist_quantile(h, 0.99),
	       (unsigned long long)hist_max(h), (unsigned long long)hist_count(h),
	       (unsigned long long)(sink & 1));
	free(h);
	free(v);
	return 0;
}
