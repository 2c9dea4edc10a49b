/* test_watermark.c - the event-time watermark and its delayed wall-clock advance. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "ta/watermark.h"

#define NS 1000000000LL
#define MS 1000000LL
#define SLACK (2 * NS)

/* Event times in a realistic range (2026-02-19T14:30:00Z) so nothing
 * depends on small numbers; T(x) is that instant + x seconds. */
#define BASE 1771511400000000000LL
#define SEC(x) ((int64_t)((x) * 1e9 + ((x) >= 0 ? 0.5 : -0.5))) /* rounded */
#define T(x) (BASE + SEC(x))
#define MONO(x) (SEC(x) + 5000 * NS)

static void test_empty(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(SLACK);
	assert_non_null(w);
	assert_int_equal(watermark_current(w, MONO(0)), WATERMARK_NONE);
	assert_int_equal(watermark_current(w, MONO(1000)), WATERMARK_NONE);
	assert_int_equal(watermark_max_event(w), WATERMARK_NONE);
	assert_int_equal(watermark_next_deadline(w, T(1)), INT64_MAX);
	assert_int_equal(watermark_observe(w, 0, MONO(0)), -EINVAL);
	assert_int_equal(watermark_observe(w, -5, MONO(0)), -EINVAL);
	assert_int_equal(watermark_current(w, MONO(0)), WATERMARK_NONE);
	watermark_free(w);
	assert_null(watermark_new(-1));
}

static void test_event_time_part(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(SLACK);
	assert_int_equal(watermark_observe(w, T(10.5), MONO(0)), 1);
	assert_int_equal(watermark_current(w, MONO(0)), T(8.5));
	/* Out of order: no change, returns 0. */
	assert_int_equal(watermark_observe(w, T(9.0), MONO(0.1)), 0);
	assert_int_equal(watermark_observe(w, T(10.5), MONO(0.1)), 0);
	assert_int_equal(watermark_max_event(w), T(10.5));
	assert_int_equal(watermark_current(w, MONO(0.1)), T(8.5));
	/* A newer event moves it by event time. */
	assert_int_equal(watermark_observe(w, T(11.25), MONO(0.2)), 1);
	assert_int_equal(watermark_current(w, MONO(0.2)), T(9.25));
	watermark_free(w);
}

/* The advance starts only once the feed was silent for `slack`: until then
 * trades within slack of the newest event stay on time. */
static void test_advance_waits_for_slack(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(SLACK);
	watermark_observe(w, T(10.5), MONO(0));
	assert_int_equal(watermark_current(w, MONO(0.6)), T(8.5));
	assert_int_equal(watermark_current(w, MONO(1.9)), T(8.5));
	assert_int_equal(watermark_current(w, MONO(2) - 1), T(8.5));
	/* The naive E - slack + x would be 10.1 at 0.6 s: second [8,9) closed and
	 * an out-of-order trade at 8.6 (1.9 s older than E) late. */
	assert_true(watermark_current(w, MONO(0.6)) < T(9));
	/* At x = slack it jumps to E, then follows the wall clock. */
	assert_int_equal(watermark_current(w, MONO(2)), T(10.5));
	assert_int_equal(watermark_current(w, MONO(2.5)), T(11));
	assert_int_equal(watermark_current(w, MONO(3.2)), T(11.7));
	/* A clock that runs backwards does not move it back below E - slack. */
	assert_int_equal(watermark_current(w, MONO(-3)), T(8.5));
	watermark_free(w);
}

/* The bar holding the newest event closes exactly `slack` after its end. */
static void test_deadline_exact(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(SLACK);
	watermark_observe(w, T(10.3), MONO(100));
	/* Bar [10,11): end 11 - E 10.3 = 0.7 s, + slack. */
	int64_t dl = watermark_next_deadline(w, T(11));
	assert_int_equal(dl, MONO(102.7));
	assert_true(watermark_current(w, dl - 1) < T(11));
	assert_int_equal(watermark_current(w, dl), T(11));
	/* An older bar [9,10) (end <= E): at the latest slack after E arrived. */
	dl = watermark_next_deadline(w, T(10));
	assert_int_equal(dl, MONO(102));
	assert_true(watermark_current(w, dl - 1) < T(10));
	assert_true(watermark_current(w, dl) >= T(10));
	/* Already passed by event time: due since E arrived. */
	assert_int_equal(watermark_next_deadline(w, T(8)), MONO(100));
	assert_int_equal(watermark_next_deadline(w, T(8.3)), MONO(100));
	assert_int_equal(watermark_next_deadline(w, INT64_MAX), INT64_MAX);
	/* A newer event moves the deadline. */
	watermark_observe(w, T(10.9), MONO(100.5));
	assert_int_equal(watermark_next_deadline(w, T(11)), MONO(102.6));
	watermark_observe(w, T(13.0), MONO(101));
	assert_int_equal(watermark_next_deadline(w, T(11)), MONO(101));
	watermark_free(w);
}

/* After an idle period the feed resumes behind the wall-clock estimate: the
 * watermark keeps what it reached (monotone) and re-anchors on the new
 * newest event, so it slows to the feed's real pace. */
static void test_floor_after_stall(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(SLACK);
	watermark_observe(w, T(10), MONO(0));
	assert_int_equal(watermark_current(w, MONO(5)), T(13));
	assert_int_equal(watermark_observe(w, T(10.5), MONO(5)), 1);
	assert_int_equal(watermark_current(w, MONO(5)), T(13));
	assert_int_equal(watermark_current(w, MONO(7)), T(13));   /* 10.5 - 2 + 2 = 10.5 < 13 */
	assert_int_equal(watermark_current(w, MONO(9.5)), T(13)); /* 8.5 + 4.5 */
	assert_int_equal(watermark_current(w, MONO(10)), T(13.5));
	int64_t dl = watermark_next_deadline(w, T(14));
	assert_int_equal(dl, MONO(10.5));
	assert_int_equal(watermark_current(w, dl), T(14));
	assert_int_equal(watermark_next_deadline(w, T(12.5)), MONO(5)); /* under the floor */
	watermark_free(w);
}

static void test_zero_slack(void **state)
{
	(void)state;
	struct watermark *w = watermark_new(0);
	watermark_observe(w, T(10.25), MONO(0));
	assert_int_equal(watermark_current(w, MONO(0)), T(10.25));
	assert_int_equal(watermark_current(w, MONO(0.75)), T(11));
	assert_int_equal(watermark_next_deadline(w, T(11)), MONO(0.75));
	watermark_free(w);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Properties on random feeds with jitter and stalls: W never decreases for
 * nondecreasing now; within `slack` of the newest event's arrival W stays at
 * max(floor, E - slack) (guarantee 1 of watermark.h); the deadline is the
 * first instant W reaches the end. */
static void test_random_properties(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int run = 0; run < 50; run++) {
		int64_t slack = (int64_t)(rng_next(&seed) % 3000) * MS;
		struct watermark *w = watermark_new(slack);
		int64_t mono = MONO(0), evt = T(0), prev = WATERMARK_NONE;
		int64_t anchor_e = 0, anchor_m = 0, anchor_f = WATERMARK_NONE;
		int checked = 0;
		for (int i = 0; i < 2000; i++) {
			mono += (int64_t)(rng_next(&seed) % 700) * MS;
			if (rng_next(&seed) % 40 == 0)
				mono += (int64_t)(rng_next(&seed) % 8000) * MS; /* stall */
			evt += (int64_t)(rng_next(&seed) % 600) * MS;
			int64_t t = evt - (int64_t)(rng_next(&seed) % 2500) * MS;
			int64_t before = watermark_current(w, mono);
			assert_true(before >= prev);
			if (anchor_e && mono - anchor_m < slack) {
				int64_t cap = anchor_e - slack > anchor_f ? anchor_e - slack : anchor_f;
				assert_int_equal(before, cap);
				checked++;
			}
			if (watermark_observe(w, t, mono) == 1) {
				anchor_e = t;
				anchor_m = mono;
				anchor_f = before;
			}
			int64_t after = watermark_current(w, mono);
			assert_true(after >= before);
			prev = after;
			int64_t end = t + (int64_t)(rng_next(&seed) % 5000) * MS - 2 * NS;
			int64_t dl = watermark_next_deadline(w, end);
			if (dl > mono) {
				assert_true(watermark_current(w, dl - 1) < end);
				assert_true(watermark_current(w, dl) >= end);
			} else {
				assert_true(watermark_current(w, mono) >= end);
			}
		}
		if (slack > 700 * MS)
			assert_true(checked > 0);
		watermark_free(w);
	}
}

static void test_save_load(void **state)
{
	(void)state;
	struct watermark *a = watermark_new(SLACK), *b = watermark_new(SLACK);
	uint8_t buf[128];
	/* Empty state round-trips. */
	ssize_t n = watermark_save(a, MONO(0), NULL, 0);
	assert_true(n > 0 && (size_t)n <= sizeof(buf));
	assert_int_equal(watermark_save(a, MONO(0), buf, (size_t)n - 1), -ENOSPC);
	assert_int_equal(watermark_save(a, MONO(0), buf, sizeof(buf)), n);
	assert_int_equal(watermark_load(b, MONO(0), buf, (size_t)n), 0);
	assert_int_equal(watermark_current(b, MONO(9)), WATERMARK_NONE);

	watermark_observe(a, T(10), MONO(0));
	watermark_observe(a, T(10.4), MONO(5)); /* floor 13 */
	assert_int_equal(watermark_save(a, MONO(6.5), buf, sizeof(buf)), n);
	/* Restored at another monotonic origin: the elapsed time is rebased. */
	assert_int_equal(watermark_load(b, MONO(1000), buf, (size_t)n), 0);
	for (double d = 0; d < 10; d += 0.125) {
		assert_int_equal(watermark_current(b, MONO(1000 + d)),
				 watermark_current(a, MONO(6.5 + d)));
		assert_int_equal(watermark_next_deadline(b, T(12 + d)) - MONO(1000),
				 watermark_next_deadline(a, T(12 + d)) - MONO(6.5));
	}
	assert_int_equal(watermark_max_event(b), T(10.4));
	/* Continuing after a restore equals never stopping. */
	watermark_observe(a, T(16), MONO(8));
	watermark_observe(b, T(16), MONO(1001.5));
	assert_int_equal(watermark_current(b, MONO(1004)), watermark_current(a, MONO(9.5 + 1)));
	watermark_free(a);
	watermark_free(b);
}

static void test_load_malformed(void **state)
{
	(void)state;
	struct watermark *a = watermark_new(SLACK), *b = watermark_new(SLACK);
	watermark_observe(a, T(10), MONO(0));
	watermark_observe(b, T(20), MONO(0));
	uint8_t buf[64], bad[64];
	ssize_t n = watermark_save(a, MONO(1), buf, sizeof(buf));
	assert_true(n > 0);
	/* Every truncation fails and leaves b as it was. */
	for (ssize_t len = 0; len < n; len++)
		assert_int_equal(watermark_load(b, MONO(0), buf, (size_t)len), -EINVAL);
	assert_int_equal(watermark_load(b, MONO(0), NULL, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n + 1), -EINVAL); /* trailing */
	memcpy(bad, buf, (size_t)n);
	bad[0] ^= 1; /* magic */
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[4] = 9; /* version */
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[8] = 2; /* have flag */
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[35] = 0x80; /* negative elapsed */
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	memset(bad + 12, 0, 8); /* event time 0 */
	assert_int_equal(watermark_load(b, MONO(0), bad, (size_t)n), -EINVAL);
	assert_int_equal(watermark_max_event(b), T(20));
	/* Random corruption never crashes; whatever loads is usable. */
	uint64_t seed = 77;
	for (int i = 0; i < 5000; i++) {
		memcpy(bad, buf, (size_t)n);
		int flips = 1 + (int)(rng_next(&seed) % 4);
		for (int f = 0; f < flips; f++)
			bad[rng_next(&seed) % (uint64_t)n] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
		int rc = watermark_load(b, MONO(0), bad, (size_t)n);
		assert_true(rc == 0 || rc == -EINVAL);
		(void)watermark_current(b, MONO(3));
		(void)watermark_next_deadline(b, T(30));
	}
	watermark_free(a);
	watermark_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_event_time_part),
		cmocka_unit_test(test_advance_waits_for_slack),
		cmocka_unit_test(test_deadline_exact),
		cmocka_unit_test(test_floor_after_stall),
		cmocka_unit_test(test_zero_slack),
		cmocka_unit_test(test_random_properties),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
