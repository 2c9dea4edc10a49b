/* Tests of the durable seq counters. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sink/seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_counts_per_channel_and_symbol(void **state)
{
	struct seq_map *m = seq_map_new();
	assert_int_equal(seq_map_next(m, 1, "NVDA"), 1);
	assert_int_equal(seq_map_next(m, 1, "NVDA"), 2);
	assert_int_equal(seq_map_next(m, 2, "NVDA"), 1); /* another channel */
	assert_int_equal(seq_map_next(m, 1, "AAPL"), 1); /* another symbol */
	assert_int_equal(seq_map_peek(m, 1, "NVDA"), 2);
	assert_int_equal(seq_map_peek(m, 3, "NVDA"), 0);
	assert_int_equal(seq_map_next(m, 1, "A-SYMBOL-FAR-TOO-LONG-XYZ"), -ENOMEM);
	seq_map_free(m);
}

static void test_many_symbols_and_round_trip(void **state)
{
	struct seq_map *m = seq_map_new(), *r = seq_map_new();
	char sym[16];
	for (int i = 0; i < 10000; i++) {
		snprintf(sym, sizeof(sym), "S%d", i);
		for (int k = 0; k <= i % 5; k++)
			seq_map_next(m, (unsigned)(i % 3), sym);
	}
	assert_int_equal(seq_map_count(m), 10000);
	int need = seq_map_save(m, NULL, 0);
	assert_true(need > 0);
	uint8_t *buf = malloc((size_t)need);
	assert_int_equal(seq_map_save(m, buf, (size_t)need - 1), -ENOSPC);
	assert_int_equal(seq_map_save(m, buf, (size_t)need), need);
	assert_int_equal(seq_map_load(r, buf, (size_t)need), 0);
	for (int i = 0; i < 10000; i++) {
		snprintf(sym, sizeof(sym), "S%d", i);
		assert_int_equal(seq_map_peek(r, (unsigned)(i % 3), sym), i % 5 + 1);
	}
	/* a restored map continues, it does not restart at 1 */
	assert_int_equal(seq_map_next(r, 0, "S0"), 2);
	/* byte-identical re-serialization after load */
	struct seq_map *r2 = seq_map_new();
	assert_int_equal(seq_map_load(r2, buf, (size_t)need), 0);
	uint8_t *buf2 = malloc((size_t)need);
	assert_int_equal(seq_map_save(r2, buf2, (size_t)need), need);
	assert_memory_equal(buf, buf2, (size_t)need);
	free(buf2);
	seq_map_free(r2);
	free(buf);
	seq_map_free(m);
	seq_map_free(r);
}

static void test_malformed_input(void **state)
{
	struct seq_map *m = seq_map_new(), *r = seq_map_new();
	seq_map_next(m, 1, "NVDA");
	seq_map_next(m, 2, "AAPL");
	int n = seq_map_save(m, NULL, 0);
	uint8_t *buf = malloc((size_t)n);
	seq_map_save(m, buf, (size_t)n);
	seq_map_next(r, 7, "KEEP");
	for (int len = 0; len < n; len++) /* every truncation */
		assert_int_equal(seq_map_load(r, buf, (size_t)len), -EINVAL);
	for (int i = 0; i < n; i++) { /* every single-byte corruption: refused or sane */
		uint8_t *c = malloc((size_t)n);
		memcpy(c, buf, (size_t)n);
		c[i] ^= 0xff;
		struct seq_map *x = seq_map_new();
		int rc = seq_map_load(x, c, (size_t)n);
		assert_true(rc == 0 || rc == -EINVAL);
		seq_map_free(x);
		free(c);
	}
	assert_int_equal(seq_map_peek(r, 7, "KEEP"), 1); /* unchanged by failures */
	free(buf);
	seq_map_free(m);
	seq_map_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_per_channel_and_symbol),
		cmocka_unit_test(test_many_symbols_and_round_trip),
		cmocka_unit_test(test_malformed_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
