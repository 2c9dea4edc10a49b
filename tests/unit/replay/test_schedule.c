/* test_schedule.c - replay pacing math for each mode, batching and linger,
 * driven by a fake clock. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "replay/schedule.h"

#define MS 1000000LL
#define NS 1000000000LL
#define T0 1000000000000LL /* an arbitrary monotonic start */

static struct schedule mk(enum schedule_mode mode, double speed, double rate, uint32_t batch,
			  int64_t linger, int64_t origin)
{
	struct schedule s;
	struct schedule_opts o = {.mode = mode, .speed = speed, .rate = rate, .batch = batch,
				  .linger_ns = linger};
	assert_int_equal(schedule_init(&s, &o, T0, origin), 0);
	return s;
}

static void test_due_recorded(void **state)
{
	struct schedule s = mk(SCHEDULE_RECORDED, 1.0, 0, 1, 0, 5 * NS);
	assert_int_equal(schedule_due(&s, 0, 5 * NS), T0);
	assert_int_equal(schedule_due(&s, 7, 5 * NS + 1), T0 + 1);
	assert_int_equal(schedule_due(&s, 0, 65 * NS + 123), T0 + 60 * NS + 123);
	assert_int_equal(schedule_due(&s, 0, 1 * NS), T0); /* before the origin: at once */
	s = mk(SCHEDULE_RECORDED, 2.0, 0, 1, 0, 0);
	assert_int_equal(schedule_due(&s, 0, 10 * NS), T0 + 5 * NS);
	assert_int_equal(schedule_due(&s, 0, 3), T0 + 1);
	s = mk(SCHEDULE_RECORDED, 0.5, 0, 1, 0, 0);
	assert_int_equal(schedule_due(&s, 0, 10 * NS), T0 + 20 * NS);
	s = mk(SCHEDULE_RECORDED, 0.0, 0, 1, 0, 0); /* speed 0: as fast as possible */
	assert_int_equal(schedule_due(&s, 99, 10 * NS), T0);
	/* Saturates instead of overflowing. */
	s = mk(SCHEDULE_RECORDED, 1e-9, 0, 1, 0, 0);
	assert_int_equal(schedule_due(&s, 0, INT64_MAX), INT64_MAX);
	s = mk(SCHEDULE_RECORDED, 1.0, 0, 1, 0, INT64_MIN);
	assert_int_equal(schedule_due(&s, 0, INT64_MAX), INT64_MAX);
}

static void test_due_rate_and_max(void **state)
{
	struct schedule s = mk(SCHEDULE_RATE, 0, 1000.0, 1, 0, 0);
	assert_int_equal(schedule_due(&s, 0, 777), T0);
	assert_int_equal(schedule_due(&s, 1, 0), T0 + 1 * MS);
	assert_int_equal(schedule_due(&s, 2500, 0), T0 + 2500 * MS);
	s = mk(SCHEDULE_RATE, 0, 3.0, 1, 0, 0);
	assert_true(llabs(schedule_due(&s, 1, 0) - (T0 + 333333333)) <= 1);
	assert_int_equal(schedule_due(&s, 3000000, 0), T0 + 1000000 * NS);
	s = mk(SCHEDULE_MAX, 0, 0, 1, 0, 0);
	assert_int_equal(schedule_due(&s, 12345, 99 * NS), T0);
}

static void test_invalid(void **state)
{
	struct schedule s;
	struct schedule_opts o = {.mode = SCHEDULE_RECORDED, .speed = 1, .batch = 1};
	assert_int_equal(schedule_init(&s, &o, 0, 0), 0);
	o.batch = 0;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.batch = 1;
	o.speed = -1;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.speed = NAN;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.speed = 1;
	o.linger_ns = -1;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.linger_ns = 0;
	o.mode = SCHEDULE_RATE;
	o.rate = 0;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.rate = INFINITY;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	o.mode = (enum schedule_mode)7;
	assert_int_equal(schedule_init(&s, &o, 0, 0), -EINVAL);
	assert_int_equal(schedule_init(NULL, &o, 0, 0), -EINVAL);
}

static void test_next_recorded_batch1(void **state)
{
	const int64_t at[] = {0, 10 * MS, 20 * MS, 20 * MS, 35 * MS};
	struct schedule s = mk(SCHEDULE_RECORDED, 1.0, 0, 1, 0, 0);
	int64_t wake;
	assert_int_equal(schedule_next(&s, at, 5, T0, &wake), 1);
	assert_int_equal(wake, T0);
	schedule_commit(&s, 1);
	assert_int_equal(schedule_next(&s, at + 1, 4, T0 + 5 * MS, &wake), 0);
	assert_int_equal(wake, T0 + 10 * MS);
	assert_int_equal(schedule_next(&s, at + 1, 4, T0 + 10 * MS, &wake), 1);
	schedule_commit(&s, 1);
	/* Late: still one per frame with batch 1. */
	assert_int_equal(schedule_next(&s, at + 2, 3, T0 + 40 * MS, &wake), 1);
	schedule_commit(&s, 1);
	assert_int_equal(s.sent, 3);
	assert_int_equal(s.frames, 3);
	assert_int_equal(schedule_lag(&s, at[3], T0 + 40 * MS), 20 * MS);
	assert_int_equal(schedule_lag(&s, at[4], T0 + 30 * MS), 0);
	/* Nothing pending. */
	assert_int_equal(schedule_next(&s, at, 0, T0, &wake), 0);
	assert_int_equal(wake, INT64_MAX);
}

static void test_next_batching(void **state)
{
	int64_t at[10] = {0};
	int64_t wake;
	/* MAX, batch 3, 10 units: frames of 3, 3, 3, 1. */
	struct schedule s = mk(SCHEDULE_MAX, 0, 0, 3, 0, 0);
	size_t sizes[8], nf = 0, left = 10;
	while (left > 0) {
		size_t c = schedule_next(&s, at + (10 - left), left, T0, &wake);
		assert_true(c > 0);
		schedule_commit(&s, c);
		sizes[nf++] = c;
		left -= c;
	}
	assert_int_equal(nf, 4);
	assert_int_equal(sizes[0], 3);
	assert_int_equal(sizes[1], 3);
	assert_int_equal(sizes[2], 3);
	assert_int_equal(sizes[3], 1);

	/* Recorded, batch 4, no linger: what is due goes out now, up to 4. */
	const int64_t rec[] = {0, 1 * MS, 2 * MS, 3 * MS, 4 * MS, 5 * MS, 100 * MS};
	s = mk(SCHEDULE_RECORDED, 1.0, 0, 4, 0, 0);
	assert_int_equal(schedule_next(&s, rec, 7, T0 + 1 * MS, &wake), 2);
	schedule_commit(&s, 2);
	/* Behind: a full batch even though more are due. */
	assert_int_equal(schedule_next(&s, rec + 2, 5, T0 + 50 * MS, &wake), 4);
	schedule_commit(&s, 4);
	assert_int_equal(schedule_next(&s, rec + 6, 1, T0 + 50 * MS, &wake), 0);
	assert_int_equal(wake, T0 + 100 * MS);

	/* Units go in input order: an offset that went backwards waits for the
	 * unit before it, then goes with it. */
	const int64_t back[] = {0, 50 * MS, 10 * MS, 60 * MS};
	s = mk(SCHEDULE_RECORDED, 1.0, 0, 8, 0, 0);
	assert_int_equal(schedule_next(&s, back, 4, T0 + 20 * MS, &wake), 1);
	schedule_commit(&s, 1);
	assert_int_equal(schedule_next(&s, back + 1, 3, T0 + 20 * MS, &wake), 0);
	assert_int_equal(wake, T0 + 50 * MS);
	assert_int_equal(schedule_next(&s, back + 1, 3, T0 + 50 * MS, &wake), 2);
}

static void test_next_rate_linger(void **state)
{
	int64_t at[16] = {0};
	int64_t wake;
	/* 1000 units/s, batch 4. Without linger: whatever is due. */
	struct schedule s = mk(SCHEDULE_RATE, 0, 1000.0, 4, 0, 0);
	assert_int_equal(schedule_next(&s, at, 16, T0 + 2 * MS + MS / 2, &wake), 3);
	/* With 3 ms linger: wait for the 2nd, 3rd, 4th unit; then a full frame. */
	s = mk(SCHEDULE_RATE, 0, 1000.0, 4, 3 * MS, 0);
	assert_int_equal(schedule_next(&s, at, 16, T0, &wake), 0);
	assert_int_equal(wake, T0 + 1 * MS);
	assert_int_equal(schedule_next(&s, at, 16, T0 + 1 * MS, &wake), 0);
	assert_int_equal(wake, T0 + 2 * MS);
	assert_int_equal(schedule_next(&s, at, 16, T0 + 3 * MS, &wake), 4);
	schedule_commit(&s, 4);
	/* Linger shorter than the gap: the frame goes out with what it has. */
	s = mk(SCHEDULE_RATE, 0, 10.0, 4, 50 * MS, 0); /* a unit every 100 ms */
	assert_int_equal(schedule_next(&s, at, 16, T0, &wake), 1);
	/* Linger deadline passed: send the partial frame. */
	s = mk(SCHEDULE_RATE, 0, 1000.0, 4, 1 * MS, 0);
	assert_int_equal(schedule_next(&s, at, 16, T0 + 1 * MS + 1, &wake), 2);
	/* End of input (n < batch) and everything due: no waiting. */
	s = mk(SCHEDULE_MAX, 0, 0, 4, 10 * MS, 0);
	assert_int_equal(schedule_next(&s, at, 2, T0, &wake), 2);
}

/* Drive a whole replay with a fake clock that jumps to each wake time:
 * every unit leaves at or after its due time, and with a punctual sender
 * exactly at it (no drift over many units). */
static void test_simulated_replay(void **state)
{
	enum { N = 5000 };
	int64_t *at = malloc(N * sizeof(*at));
	assert_non_null(at);
	uint64_t x = 12345;
	int64_t t = 3 * NS;
	for (size_t k = 0; k < N; k++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		t += (int64_t)(x >> 44); /* 0..1 ms steps */
		at[k] = t;
	}
	static const struct {
		enum schedule_mode mode;
		double speed, rate;
		uint32_t batch;
		int64_t linger;
	} cfg[] = {
		{SCHEDULE_RECORDED, 1.0, 0, 1, 0},
		{SCHEDULE_RECORDED, 10.0, 0, 8, 0},
		{SCHEDULE_RECORDED, 0.25, 0, 16, 2 * MS},
		{SCHEDULE_RATE, 0, 20000.0, 1, 0},
		{SCHEDULE_RATE, 0, 20000.0, 10, 1 * MS},
		{SCHEDULE_MAX, 0, 0, 100, 0},
	};
	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		struct schedule s = mk(cfg[c].mode, cfg[c].speed, cfg[c].rate, cfg[c].batch,
				       cfg[c].linger, at[0]);
		int64_t now = T0;
		size_t done = 0, frames = 0, exact = 0;
		while (done < N) {
			int64_t wake;
			size_t n = N - done;
			size_t cnt = schedule_next(&s, at + done, n, now, &wake);
			if (cnt == 0) {
				assert_true(wake > now);
				now = wake;
				continue;
			}
			assert_true(cnt <= cfg[c].batch);
			for (size_t k = 0; k < cnt; k++) {
				int64_t due = schedule_due(&s, done + k, at[done + k]);
				assert_true(due <= now);
				/* Lingering never holds a unit longer than linger. */
				assert_true(now - due <= cfg[c].linger);
			}
			exact += schedule_due(&s, done, at[done]) == now;
			schedule_commit(&s, cnt);
			done += cnt;
			frames++;
		}
		assert_int_equal(s.sent, N);
		assert_int_equal(s.frames, frames);
		if (cfg[c].batch == 1)
			assert_int_equal(exact, N); /* every unit exactly on time */
		if (cfg[c].mode == SCHEDULE_MAX)
			assert_int_equal(frames, N / cfg[c].batch);
		if (cfg[c].mode == SCHEDULE_RECORDED) {
			int64_t span = (int64_t)((double)(at[N - 1] - at[0]) / cfg[c].speed);
			assert_true(llabs(now - T0 - span) <= 1 + cfg[c].linger);
		}
		if (cfg[c].mode == SCHEDULE_RATE)
			assert_true(llabs(now - (T0 + (int64_t)((N - 1) * 1e9 / cfg[c].rate))) <=
				    1 + cfg[c].linger);
	}
	free(at);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_recorded),       cmocka_unit_test(test_due_rate_and_max),
		cmocka_unit_test(test_invalid),            cmocka_unit_test(test_next_recorded_batch1),
		cmocka_unit_test(test_next_batching),      cmocka_unit_test(test_next_rate_linger),
		cmocka_unit_test(test_simulated_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
