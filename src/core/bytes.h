/* bytes.h - little-endian integer coding and a string hash, shared by the
 * snapshot codecs (watermark, seq) and the symbol tables (engine, micro-bars).
 * Snapshots are little-endian whatever the host, so they move between hosts. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A memcpy of the (on big-endian hosts byte-swapped) value: one unaligned
 * load or store, where byte loops are not merged at -O2 by every compiler. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTES_LE32(v) __builtin_bswap32(v)
#define BYTES_LE64(v) __builtin_bswap64(v)
#else
#define BYTES_LE32(v) (v)
#define BYTES_LE64(v) (v)
#endif

static inline void bytes_put_u32(uint8_t *p, uint32_t v)
{
	v = BYTES_LE32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void bytes_put_u64(uint8_t *p, uint64_t v)
{
	v = BYTES_LE64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t bytes_get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return BYTES_LE32(v);
}

static inline uint64_t bytes_get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return BYTES_LE64(v);
}

/* FNV-1a over n bytes (symbol tables). */
static inline uint32_t bytes_fnv1a32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}
