/* prng.h - xoshiro256** seeded through splitmix64, for reproducible data.
 *
 * The generator and any deterministic test source use this instead of
 * rand(): the state is an explicit value (no global state), the integer
 * sequence is the same on every platform, and one 64-bit seed selects it
 * (the floating helpers go through libm's log/cos/sqrt, so their last bits
 * can differ between libm versions). Not for secrets (use net/rng). */
#pragma once

#include <math.h>
#include <stdint.h>

struct prng {
	uint64_t s[4];
};

static inline uint64_t prng_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Any seed, 0 included, gives a valid (non-zero) state. */
static inline void prng_seed(struct prng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = prng_splitmix64(&seed);
}

static inline uint64_t prng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t prng_next(struct prng *r)
{
	uint64_t *s = r->s;
	uint64_t out = prng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = prng_rotl(s[3], 45);
	return out;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double prng_unit(struct prng *r)
{
	return (double)(prng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1]: safe to take the log of. */
static inline double prng_unit_pos(struct prng *r)
{
	return ((double)(prng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift with rejection,
 * so there is no modulo bias). */
static inline uint64_t prng_below(struct prng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)prng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t thresh = -n % n;
		while (lo < thresh) {
			m = (unsigned __int128)prng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* Uniform in [lo, hi] (inclusive), lo <= hi. */
static inline int64_t prng_range(struct prng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)prng_below(r, (uint64_t)(hi - lo) + 1);
}

/* True with probability p. */
static inline int prng_chance(struct prng *r, double p)
{
	return prng_unit(r) < p;
}

/* Exponential with mean 1. */
static inline double prng_exp(struct prng *r)
{
	return -log(prng_unit_pos(r));
}

/* Standard normal (Box-Muller; one variate per call keeps the state
 * plain, and speed does not matter here). */
static inline double prng_normal(struct prng *r)
{
	double u1 = prng_unit_pos(r), u2 = prng_unit(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
