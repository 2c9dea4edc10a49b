/* ind_codec.h - fixed little-endian encoding for indicator checkpoints.
 *
 * The writer counts every byte but stores only what fits, so one pass both
 * sizes (cap 0) and fills a buffer. The reader is bounds-checked and sticky:
 * after the first short read every get returns 0 and `err` stays set, so the
 * decoder checks once at the end instead of after every field. Doubles travel
 * as their IEEE-754 bit pattern, so a restore is bit-exact. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ind_codec_w {
	uint8_t *p;
	size_t cap, len;
};

struct ind_codec_r {
	const uint8_t *p;
	size_t n, off;
	int err;
};

static inline void ind_codec_put_u64(struct ind_codec_w *w, uint64_t v)
{
	for (int i = 0; i < 8; i++, w->len++)
		if (w->len < w->cap)
			w->p[w->len] = (uint8_t)(v >> (8 * i));
}

static inline void ind_codec_put_u32(struct ind_codec_w *w, uint32_t v)
{
	for (int i = 0; i < 4; i++, w->len++)
		if (w->len < w->cap)
			w->p[w->len] = (uint8_t)(v >> (8 * i));
}

static inline void ind_codec_put_i64(struct ind_codec_w *w, int64_t v)
{
	ind_codec_put_u64(w, (uint64_t)v);
}

static inline void ind_codec_put_f64(struct ind_codec_w *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	ind_codec_put_u64(w, u);
}

static inline uint64_t ind_codec_get_u64(struct ind_codec_r *r)
{
	if (r->err || r->n - r->off < 8) {
		r->err = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += 8;
	return v;
}

static inline uint32_t ind_codec_get_u32(struct ind_codec_r *r)
{
	if (r->err || r->n - r->off < 4) {
		r->err = 1;
		return 0;
	}
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)r->p[r->off + i] << (8 * i);
	r->off += 4;
	return v;
}

static inline int64_t ind_codec_get_i64(struct ind_codec_r *r)
{
	return (int64_t)ind_codec_get_u64(r);
}

static inline double ind_codec_get_f64(struct ind_codec_r *r)
{
	uint64_t u = ind_codec_get_u64(r);
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

/* FNV-1a 64: any single changed byte changes the result (each step is a
 * bijection), enough to reject a corrupted checkpoint before using it. */
static inline uint64_t ind_codec_fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
