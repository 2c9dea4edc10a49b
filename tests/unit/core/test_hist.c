/* Tests of hist: bucket geometry, percentile accuracy on known
 * distributions, exact Prometheus buckets at the fixed boundaries, and the
 * snapshot arithmetic. (Speed is measured by bench/bench_hist, not here.) */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/hist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 11;
}

static double unif(uint64_t *s)
{
	return ((double)rng(s) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static struct hist *hist_alloc(void)
{
	struct hist *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	return h;
}

static void test_geometry(void **state)
{
	(void)state;
	/* buckets tile 0..HIST_MAX_NS without gaps, each at most 1/32 wide */
	assert_int_equal(hist_bucket_lo(0), 0);
	for (unsigned i = 0; i + 1 < HIST_NBUCKETS; i++) {
		assert_true(hist_bucket_hi(i) >= hist_bucket_lo(i));
		assert_int_equal(hist_bucket_hi(i) + 1, hist_bucket_lo(i + 1));
		uint64_t width = hist_bucket_hi(i) - hist_bucket_lo(i) + 1;
		if (hist_bucket_lo(i) >= 64)
			assert_true(width * 32 <= hist_bucket_lo(i));
		else
			assert_int_equal(width, 1);
	}
	assert_int_equal(hist_bucket_hi(HIST_NBUCKETS - 1), HIST_MAX_NS);

	/* every value maps into a bucket that holds it */
	uint64_t s = 1;
	for (uint64_t v = 0; v < 20000; v++) {
		unsigned i = hist_index(v);
		assert_true(hist_bucket_lo(i) <= v && v <= hist_bucket_hi(i));
	}
	for (int n = 0; n < 200000; n++) {
		uint64_t v = rng(&s) >> (rng(&s) % 53);
		v %= HIST_MAX_NS + 1;
		unsigned i = hist_index(v);
		assert_true(i < HIST_NBUCKETS);
		assert_true(hist_bucket_lo(i) <= v && v <= hist_bucket_hi(i));
	}
	assert_int_equal(hist_index(UINT64_MAX), HIST_NBUCKETS - 1);
}

/* The compile-time split table agrees with the geometry: a bucket is marked
 * exactly when a boundary lies inside it but is not its last value. */
static void test_split_table(void **state)
{
	(void)state;
	int marked = 0;
	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		bool want = false;
		for (unsigned j = 0; j < HIST_PROM_NFINITE; j++) {
			uint64_t b = (uint64_t)hist_prom_bound_ns(j);
			if (hist_index(b) == i && hist_bucket_hi(i) != b)
				want = true;
		}
		bool got = (hist__split_map[i >> 6] >> (i & 63)) & 1;
		if (got != want)
			fail_msg("bucket %u: split table says %d, geometry %d", i, got, want);
		marked += got;
	}
	assert_true(marked > 10); /* 10^k x {1,2.5,5} ns are rarely bucket edges */
	assert_int_equal(hist_prom_bound_ns(0), 10000);
	assert_int_equal(hist_prom_bound_ns(HIST_PROM_NFINITE - 1), 10000000000LL);
	assert_int_equal(hist_prom_bound_ns(HIST_PROM_NFINITE), INT64_MAX);
	assert_string_equal(hist_prom_le(0), "0.00001");
	assert_string_equal(hist_prom_le(6), "0.001");
	assert_string_equal(hist_prom_le(15), "1");
	assert_string_equal(hist_prom_le(HIST_PROM_NFINITE), "+Inf");
	assert_null(hist_prom_le(HIST_PROM_NBUCKETS));
	/* the le text is the boundary */
	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++)
		assert_int_equal(llround(strtod(hist_prom_le(j), NULL) * 1e9), hist_prom_bound_ns(j));
}

static void test_empty(void **state)
{
	(void)state;
	struct hist *h = hist_alloc();
	uint64_t cum[HIST_PROM_NBUCKETS];
	assert_int_equal(hist_count(h), 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 1.0), 0);
	assert_int_equal(hist_min(h), 0);
	assert_int_equal(hist_mean(h), 0);
	hist_prom_buckets(h, cum);
	for (unsigned j = 0; j < HIST_PROM_NBUCKETS; j++)
		assert_int_equal(cum[j], 0);
	free(h);
}

/* Records `n` values and checks p50/p90/p99/p99.9/max against the exact
 * order statistics: within half a bucket, i.e. 1/64 of the value. */
static void check_accuracy(const char *what, int64_t *v, size_t n)
{
	struct hist *h = hist_alloc();
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		hist_record(h, v[i]);
		sum += (uint64_t)v[i];
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	assert_int_equal(hist_count(h), n);
	assert_int_equal(hist_sum(h), sum);
	assert_int_equal(hist_max(h), v[n - 1]);
	assert_int_equal(hist_mean(h), sum / n);
	assert_true(hist_min(h) <= (uint64_t)v[0] && (uint64_t)v[0] - hist_min(h) <= (uint64_t)v[0] / 32);

	const double qs[] = {0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999};
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t rank = (size_t)ceil(qs[k] * (double)n);
		double exact = (double)v[rank - 1];
		double got = (double)hist_quantile(h, qs[k]);
		double err = fabs(got - exact) / exact;
		if (err > 1.0 / 64 + 1e-12)
			fail_msg("%s: q%.4f = %.0f, exact %.0f (error %.4f)", what, qs[k], got, exact, err);
	}
	assert_int_equal(hist_quantile(h, 1.0), v[n - 1]);
	free(h);
}

static void test_accuracy_uniform(void **state)
{
	(void)state;
	size_t n = 100000;
	int64_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) /* 1 us .. 100 ms, evenly */
		v[i] = 1000 * (int64_t)(i + 1);
	check_accuracy("uniform", v, n);
	free(v);
}

static void test_accuracy_lognormal(void **state)
{
	(void)state;
	size_t n = 200000;
	uint64_t s = 7;
	int64_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) { /* median 200 us, heavy tail */
		double z = sqrt(-2 * log(unif(&s))) * cos(2 * M_PI * unif(&s));
		double x = exp(log(200e3) + 1.5 * z);
		v[i] = (int64_t)(x < 1000 ? 1000 : x > 90e9 ? 90e9 : x);
	}
	check_accuracy("lognormal", v, n);
	free(v);
}

static void test_accuracy_exponential_wide(void **state)
{
	(void)state;
	size_t n = 100000;
	uint64_t s = 11;
	int64_t *v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) { /* a fast mode plus rare seconds-long stalls */
		double x = -log(unif(&s)) * 50e3;
		if (rng(&s) % 1000 == 0)
			x = 1e9 + -log(unif(&s)) * 3e9;
		v[i] = (int64_t)x + 1;
	}
	check_accuracy("exponential", v, n);
	free(v);
}

static void test_small_exact_and_clamp(void **state)
{
	(void)state;
	struct hist *h = hist_alloc();
	for (int i = 0; i < 64; i++)
		hist_record(h, i);
	assert_int_equal(hist_quantile(h, 0.5), 31); /* exact below 64 ns */
	assert_int_equal(hist_min(h), 0);
	hist_reset(h);
	hist_record(h, -5);
	assert_int_equal(hist_max(h), 0);
	assert_int_equal(h->counts[0], 1);
	hist_record(h, INT64_MAX);
	assert_int_equal(hist_max(h), HIST_MAX_NS);
	assert_int_equal(hist_sum(h), HIST_MAX_NS);
	assert_int_equal(h->counts[HIST_NBUCKETS - 1], 1);
	hist_record_since(h, 1000, 3000);
	assert_int_equal(hist_count(h), 3);
	assert_int_equal(hist_quantile(h, 0.5), hist_bucket_lo(hist_index(2000)) +
						(hist_bucket_hi(hist_index(2000)) - hist_bucket_lo(hist_index(2000))) / 2);
	free(h);
}

/* cum[j] equals the exact number of values <= boundary j, including values
 * sitting exactly on, just below and just above each boundary. */
static void test_prom_buckets_exact(void **state)
{
	(void)state;
	struct hist *h = hist_alloc();
	uint64_t s = 3, cum[HIST_PROM_NBUCKETS];
	size_t n = 0, cap = 300000;
	int64_t *v = malloc(cap * sizeof(*v));
	assert_non_null(v);

	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++) {
		int64_t b = hist_prom_bound_ns(j);
		for (int64_t d = -3; d <= 3; d++)
			v[n++] = b + d;
		for (int k = 0; k < 1000; k++) /* a dense cloud within +-3 % */
			v[n++] = b + (int64_t)(rng(&s) % (uint64_t)(b / 16)) - b / 32;
	}
	while (n < cap) /* log-uniform 100 ns .. 100 s */
		v[n++] = (int64_t)exp(log(100.0) + unif(&s) * (log(100e9) - log(100.0)));
	for (size_t i = 0; i < n; i++)
		hist_record(h, v[i]);

	hist_prom_buckets(h, cum);
	for (unsigned j = 0; j < HIST_PROM_NFINITE; j++) {
		uint64_t want = 0;
		for (size_t i = 0; i < n; i++)
			want += v[i] <= hist_prom_bound_ns(j);
		if (cum[j] != want)
			fail_msg("le=%s: %llu, exact %llu", hist_prom_le(j), (unsigned long long)cum[j],
				 (unsigned long long)want);
		if (j > 0)
			assert_true(cum[j] >= cum[j - 1]);
	}
	assert_int_equal(cum[HIST_PROM_NFINITE], n);
	assert_true(cum[HIST_PROM_NFINITE] >= cum[HIST_PROM_NFINITE - 1]);
	free(v);
	free(h);
}

static void test_since_and_merge(void **state)
{
	(void)state;
	struct hist *h = hist_alloc(), *mark = hist_alloc(), *d = hist_alloc(), *b = hist_alloc(),
		    *m = hist_alloc();
	uint64_t s = 5, c1[HIST_PROM_NBUCKETS], c2[HIST_PROM_NBUCKETS];

	for (int i = 0; i < 5000; i++)
		hist_record(h, (int64_t)(rng(&s) % 50000000));
	hist_record(h, 2000000000); /* a 2 s stall before the mark */
	hist_since(h, mark, d);
	assert_int_equal(hist_count(d), 5001);
	assert_memory_equal(mark, h, sizeof(*h));

	for (int i = 0; i < 3000; i++) {
		int64_t x = (int64_t)(rng(&s) % 20000000);
		hist_record(h, x);
		hist_record(b, x);
	}
	hist_since(h, mark, d);
	assert_int_equal(hist_count(d), hist_count(b));
	assert_int_equal(hist_sum(d), hist_sum(b));
	assert_memory_equal(d->counts, b->counts, sizeof(b->counts));
	hist_prom_buckets(d, c1);
	hist_prom_buckets(b, c2);
	assert_memory_equal(c1, c2, sizeof(c1));
	/* the 2 s stall is not in this window: the max is bounded by the
	 * highest bucket, not the lifetime max */
	assert_true(hist_max(d) >= hist_max(b) && hist_max(d) <= hist_bucket_hi(hist_index(hist_max(b))));

	/* a new maximum inside the window is exact */
	hist_record(h, 3000000000);
	hist_since(h, mark, d);
	assert_int_equal(hist_count(d), 1);
	assert_int_equal(hist_max(d), 3000000000);
	hist_since(h, mark, d);
	assert_int_equal(hist_count(d), 0);
	assert_int_equal(hist_max(d), 0);

	hist_merge(m, b);
	hist_merge(m, b);
	assert_int_equal(hist_count(m), 2 * hist_count(b));
	assert_int_equal(hist_max(m), hist_max(b));
	assert_int_equal(hist_quantile(m, 0.5), hist_quantile(b, 0.5));
	free(h);
	free(mark);
	free(d);
	free(b);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_accuracy_uniform),
		cmocka_unit_test(test_accuracy_lognormal),
		cmocka_unit_test(test_accuracy_exponential_wide),
		cmocka_unit_test(test_small_exact_and_clamp),
		cmocka_unit_test(test_prom_buckets_exact),
		cmocka_unit_test(test_since_and_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
