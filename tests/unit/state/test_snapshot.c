/* test_snapshot.c - the checkpoint container: round trip, corruption, versions. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sink/seq.h"
#include "state/snapshot.h"

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: reproducible without global state. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void make_fixed(uint8_t **buf, size_t *len)
{
	struct snapshot_writer w;
	assert_int_equal(snapshot_writer_init(&w, 42, 1700000000123456789ll, "ingest",
					      "feed=iex;slack=2000;channels=trades,quotes"), 0);
	assert_int_equal(snapshot_writer_add(&w, SNAPSHOT_SEC_DEDUP, "abcdef", 6), 0);
	assert_int_equal(snapshot_writer_add(&w, SNAPSHOT_SEC_SEQ, NULL, 0), 0);
	assert_int_equal(snapshot_writer_add(&w, 999, "future", 6), 0);
	assert_int_equal(snapshot_writer_finish(&w, buf, len), 0);
}

static void test_crc32_vector(void **state)
{
	assert_int_equal(snapshot_crc32(0, "123456789", 9), 0xcbf43926u);
	/* Incremental equals one shot. */
	assert_int_equal(snapshot_crc32(snapshot_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void test_round_trip_random(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int iter = 0; iter < 300; iter++) {
		char profile[SNAPSHOT_PROFILE_MAX + 1], fp[200];
		size_t pl = rnd(&seed) % (SNAPSHOT_PROFILE_MAX + 1), fl = rnd(&seed) % sizeof(fp);
		for (size_t i = 0; i < pl; i++)
			profile[i] = (char)('a' + rnd(&seed) % 26);
		profile[pl] = '\0';
		for (size_t i = 0; i < fl; i++)
			fp[i] = (char)(' ' + rnd(&seed) % 95);
		fp[fl] = '\0';
		uint64_t id = rnd(&seed);
		int64_t created = (int64_t)rnd(&seed);
		unsigned nsec = (unsigned)(rnd(&seed) % 9);
		uint32_t types[8];
		size_t lens[8];
		uint8_t data[8][300];

		struct snapshot_writer w;
		assert_int_equal(snapshot_writer_init(&w, id, created, profile, fp), 0);
		for (unsigned k = 0; k < nsec; k++) {
			types[k] = k + 1 + (uint32_t)(rnd(&seed) % 3) * 100; /* some unknown types */
			lens[k] = rnd(&seed) % 300;
			for (size_t i = 0; i < lens[k]; i++)
				data[k][i] = (uint8_t)rnd(&seed);
			if (k % 2) {
				uint8_t *p = snapshot_writer_reserve(&w, types[k], lens[k]);
				assert_non_null(p);
				memcpy(p, data[k], lens[k]);
			} else {
				assert_int_equal(snapshot_writer_add(&w, types[k], data[k], lens[k]), 0);
			}
		}
		uint8_t *buf;
		size_t len;
		assert_int_equal(snapshot_writer_finish(&w, &buf, &len), 0);

		struct snapshot snap;
		char err[256];
		assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), 0);
		assert_int_equal(snap.version, SNAPSHOT_VERSION);
		assert_true(snap.id == id);
		assert_true(snap.created_ns == created);
		assert_string_equal(snap.profile, profile);
		assert_string_equal(snap.fingerprint, fp);
		assert_int_equal(snap.sections, nsec);
		assert_int_equal(snapshot_compatible(&snap, fp, err, sizeof(err)), 0);

		/* Re-serialize from what was read: byte-identical. */
		struct snapshot_writer w2;
		assert_int_equal(snapshot_writer_init(&w2, snap.id, snap.created_ns, snap.profile,
						      snap.fingerprint), 0);
		for (uint32_t k = 0; k < snap.sections; k++) {
			uint32_t t;
			const uint8_t *d;
			size_t l;
			assert_int_equal(snapshot_section_at(&snap, k, &t, &d, &l), 0);
			assert_int_equal(t, types[k]);
			assert_int_equal(l, lens[k]);
			if (l)
				assert_memory_equal(d, data[k], l);
			assert_int_equal(snapshot_section(&snap, t, &d, &l), 0);
			assert_int_equal(l, lens[k]);
			assert_int_equal(snapshot_writer_add(&w2, t, d, l), 0);
		}
		const uint8_t *d;
		size_t l;
		assert_int_equal(snapshot_section_at(&snap, snap.sections, NULL, &d, &l), -ERANGE);
		assert_int_equal(snapshot_section(&snap, 50, &d, &l), -ENOENT);
		uint8_t *buf2;
		size_t len2;
		assert_int_equal(snapshot_writer_finish(&w2, &buf2, &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);
		free(buf);
		free(buf2);
	}
}

static void test_every_truncation_refused(void **state)
{
	uint8_t *buf;
	size_t len;
	make_fixed(&buf, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
		memcpy(copy, buf, n);
		struct snapshot snap;
		char err[256];
		assert_int_equal(snapshot_read(copy, n, &snap, err, sizeof(err)), -EINVAL);
		if (!strstr(err, "truncated"))
			fail_msg("length %zu: '%s'", n, err);
		char want[64];
		snprintf(want, sizeof(want), "truncated at byte %zu", n);
		assert_non_null(strstr(err, want));
		free(copy);
	}
	free(buf);
}

static void test_every_byte_flip_refused(void **state)
{
	uint8_t *buf;
	size_t len;
	make_fixed(&buf, &len);
	static const uint8_t masks[] = { 0x01, 0x10, 0x80, 0xff };
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			buf[i] ^= masks[m];
			struct snapshot snap;
			char err[256] = "";
			if (snapshot_read(buf, len, &snap, err, sizeof(err)) != -EINVAL)
				fail_msg("flip %02x at byte %zu accepted", masks[m], i);
			assert_true(err[0] != '\0');
			buf[i] ^= masks[m];
		}
	}
	/* A flip inside section 0's bytes names the section. */
	buf[len - 20 - 6 - 16 - 16 - 6 + 2] ^= 1; /* dedup payload byte 2 */
	struct snapshot snap;
	char err[256];
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "section 0 (type 2"));
	assert_non_null(strstr(err, "CRC mismatch"));
	free(buf);
}

static void test_trailing_garbage(void **state)
{
	uint8_t *buf;
	size_t len;
	make_fixed(&buf, &len);
	uint8_t *big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	struct snapshot snap;
	char err[256];
	assert_int_equal(snapshot_read(big, len + 1, &snap, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "trailing"));
	free(big);
	free(buf);
}

static void test_magic_and_version(void **state)
{
	uint8_t *buf;
	size_t len;
	make_fixed(&buf, &len);
	struct snapshot snap;
	char err[256];

	buf[0] = 'X';
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad magic (not a torghut snapshot)");
	buf[0] = 'T';

	buf[6] = 3; /* version 3, little-endian */
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown format version 3 (this build reads 2..2)");
	buf[6] = 1; /* before the TA, indicator and dedup sections changed */
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown format version 1 (this build reads 2..2)");
	buf[6] = 0;
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown format version 0 (this build reads 2..2)");
	buf[6] = 2;
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), 0);
	assert_int_equal(snapshot_read(buf, len, &snap, NULL, 0), 0);

	/* Not a snapshot at all. */
	assert_int_equal(snapshot_read("{\"json\":1}", 10, &snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad magic (not a torghut snapshot)");
	free(buf);
}

static void test_fingerprint_mismatch(void **state)
{
	uint8_t *buf;
	size_t len;
	make_fixed(&buf, &len);
	struct snapshot snap;
	char err[512];
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), 0);
	assert_int_equal(snapshot_compatible(&snap, "feed=iex;slack=2000;channels=trades,quotes",
					     err, sizeof(err)), 0);
	assert_int_equal(snapshot_compatible(&snap, "feed=sip;slack=2000;channels=trades,quotes",
					     err, sizeof(err)), -EPROTO);
	assert_string_equal(err, "snapshot 42 was written for configuration "
			    "'feed=iex;slack=2000;channels=trades,quotes', this one is "
			    "'feed=sip;slack=2000;channels=trades,quotes'; its state does not apply");
	free(buf);
}

static void test_writer_errors(void **state)
{
	struct snapshot_writer w;
	char longp[SNAPSHOT_PROFILE_MAX + 2];
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(snapshot_writer_init(&w, 1, 0, longp, ""), -EINVAL);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(snapshot_writer_finish(&w, &buf, &len), -EINVAL);
	assert_null(buf);

	assert_int_equal(snapshot_writer_init(&w, 1, 0, "ta", "x"), 0);
	assert_int_equal(snapshot_writer_add(&w, 0, "x", 1), -EINVAL);  /* type 0 is invalid */
	assert_null(snapshot_writer_reserve(&w, 1, 4));                 /* sticky error */
	assert_int_equal(snapshot_writer_finish(&w, &buf, &len), -EINVAL);
	assert_null(buf);
	snapshot_writer_fini(&w);

	assert_int_equal(snapshot_writer_init(&w, 1, 0, "ta", "x"), 0);
	assert_int_equal(snapshot_writer_add(&w, 1, "x", 1), 0);
	snapshot_writer_fini(&w); /* unfinished: frees */
}

/* Composes with a real module codec: the seq counters survive a round trip. */
static void test_compose_seq_codec(void **state)
{
	struct seq_map *m = seq_map_new();
	assert_non_null(m);
	for (int i = 0; i < 5; i++)
		assert_true(seq_map_next(m, 1, "AAPL") > 0);
	assert_int_equal(seq_map_next(m, 2, "MSFT"), 1);

	struct snapshot_writer w;
	assert_int_equal(snapshot_writer_init(&w, 7, 1, "ingest", "feed=iex"), 0);
	int need = seq_map_save(m, NULL, 0);
	assert_true(need > 0);
	uint8_t *p = snapshot_writer_reserve(&w, SNAPSHOT_SEC_SEQ, (size_t)need);
	assert_non_null(p);
	assert_int_equal(seq_map_save(m, p, (size_t)need), need);
	uint8_t *buf;
	size_t len;
	assert_int_equal(snapshot_writer_finish(&w, &buf, &len), 0);
	seq_map_free(m);

	struct snapshot snap;
	char err[256];
	assert_int_equal(snapshot_read(buf, len, &snap, err, sizeof(err)), 0);
	const uint8_t *d;
	size_t l;
	assert_int_equal(snapshot_section(&snap, SNAPSHOT_SEC_SEQ, &d, &l), 0);
	struct seq_map *m2 = seq_map_new();
	assert_int_equal(seq_map_load(m2, d, l), 0);
	assert_int_equal(seq_map_peek(m2, 1, "AAPL"), 5);
	assert_int_equal(seq_map_next(m2, 2, "MSFT"), 2);
	seq_map_free(m2);
	free(buf);
}

struct kv_seen {
	int n;
	char keys[4][32];
	int64_t values[4];
};

static int kv_each(const char *key, size_t kl, int64_t v, void *arg)
{
	struct kv_seen *seen = arg;
	assert_true(seen->n < 4 && kl < 32);
	memcpy(seen->keys[seen->n], key, kl);
	seen->keys[seen->n][kl] = '\0';
	seen->values[seen->n++] = v;
	return 0;
}

static void test_kv_codec(void **state)
{
	const struct snapshot_kv kv[] = {
		{ "trades", 1700000000000000001ll },
		{ "torghut.trades.v1:3", 42 },
		{ "", -7 },
	};
	int64_t need = snapshot_kv_encode(kv, 3, NULL, 0);
	assert_int_equal(need, 4 + (2 + 6 + 8) + (2 + 19 + 8) + (2 + 0 + 8));
	uint8_t buf[128];
	assert_int_equal(snapshot_kv_encode(kv, 3, buf, (size_t)need - 1), -ENOSPC);
	assert_int_equal(snapshot_kv_encode(kv, 3, buf, sizeof(buf)), need);
	struct kv_seen seen = { 0 };
	assert_int_equal(snapshot_kv_decode(buf, (size_t)need, kv_each, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.keys[1], "torghut.trades.v1:3");
	assert_true(seen.values[0] == 1700000000000000001ll && seen.values[1] == 42 &&
		    seen.values[2] == -7);
	/* Every truncation and trailing bytes are refused before any callback. */
	for (size_t n = 0; n < (size_t)need; n++) {
		struct kv_seen none = { 0 };
		assert_int_equal(snapshot_kv_decode(buf, n, kv_each, &none), -EINVAL);
		assert_int_equal(none.n, 0);
	}
	struct kv_seen none = { 0 };
	assert_int_equal(snapshot_kv_decode(buf, (size_t)need + 1, kv_each, &none), -EINVAL);
	assert_int_equal(none.n, 0);
	assert_int_equal(snapshot_kv_decode(buf, 4, kv_each, &none), -EINVAL); /* count 3, no entries */
	assert_int_equal(snapshot_kv_encode(NULL, 0, buf, sizeof(buf)), 4);
	assert_int_equal(snapshot_kv_decode(buf, 4, kv_each, &none), 0);
	assert_int_equal(none.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_vector),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_every_byte_flip_refused),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_magic_and_version),
		cmocka_unit_test(test_fingerprint_mismatch),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_compose_seq_codec),
		cmocka_unit_test(test_kv_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
