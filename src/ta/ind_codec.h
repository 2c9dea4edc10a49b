/* ind_codec.h - fixed little-endian encoding for the TA checkpoints
 * (indicators, micro-bars, engine).
 *
 * The writer counts every byte but stores only what fits; the codecs size
 * their output up front, so in practice every put takes the fast path: one
 * bounds check and one whole-word store (core/bytes.h, which GCC merges into
 * a single store). The byte path is only for a write that straddles cap.
 * The raw puts write into a region already known to fit (ind_codec_take):
 * ind_codec_raw_words copies structs made only of 8-byte fields (int64_t,
 * uint64_t, double, no padding) word by word, a plain memcpy on
 * little-endian hosts.
 * The reader is bounds-checked and sticky: after the first short read every
 * get returns 0 and `err` stays set, so the decoder checks once at the end
 * instead of after every field. Doubles travel as their IEEE-754 bit
 * pattern, so a restore is bit-exact. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"

struct ind_codec_w {
	uint8_t *p;
	size_t cap, len;
};

struct ind_codec_r {
	const uint8_t *p;
	size_t n, off;
	int err;
};

/* The byte path: the n low bytes of v, as many as fit. */
static inline void ind_codec_put_part(struct ind_codec_w *w, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n && w->len + i < w->cap; i++)
		w->p[w->len + i] = (uint8_t)(v >> (8 * i));
}

static inline void ind_codec_put_u64(struct ind_codec_w *w, uint64_t v)
{
	if (w->len + 8 <= w->cap)
		bytes_put_u64(w->p + w->len, v);
	else
		ind_codec_put_part(w, v, 8);
	w->len += 8;
}

static inline void ind_codec_put_u32(struct ind_codec_w *w, uint32_t v)
{
	if (w->len + 4 <= w->cap)
		bytes_put_u32(w->p + w->len, v);
	else
		ind_codec_put_part(w, v, 4);
	w->len += 4;
}

static inline void ind_codec_put_u8(struct ind_codec_w *w, uint8_t v)
{
	if (w->len < w->cap)
		w->p[w->len] = v;
	w->len++;
}

/* n raw bytes (symbol names): all or nothing. */
static inline void ind_codec_put_bytes(struct ind_codec_w *w, const void *p, size_t n)
{
	if (w->len + n <= w->cap)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

/* Counts n bytes and returns where they go, or NULL if they do not fit. */
static inline uint8_t *ind_codec_take(struct ind_codec_w *w, size_t n)
{
	uint8_t *at = w->len + n <= w->cap ? w->p + w->len : NULL;
	w->len += n;
	return at;
}

static inline uint8_t *ind_codec_raw_u32(uint8_t *p, uint32_t v)
{
	bytes_put_u32(p, v);
	return p + 4;
}

static inline uint8_t *ind_codec_raw_u64(uint8_t *p, uint64_t v)
{
	bytes_put_u64(p, v);
	return p + 8;
}

static inline uint8_t *ind_codec_raw_f64(uint8_t *p, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return ind_codec_raw_u64(p, u);
}

/* n 8-byte words from src (an array of structs of 8-byte fields). */
static inline uint8_t *ind_codec_raw_words(uint8_t *p, const void *src, size_t n)
{
	if (n == 0)
		return p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	const uint8_t *q = src;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, q + 8 * i, sizeof(v));
		bytes_put_u64(p + 8 * i, v);
	}
#else
	memcpy(p, src, n * 8);
#endif
	return p + n * 8;
}

/* A symbol name: u8 length, the bytes (no NUL). */
static inline void ind_codec_put_name(struct ind_codec_w *w, const char *name)
{
	size_t n = strlen(name);
	ind_codec_put_u8(w, (uint8_t)n);
	ind_codec_put_bytes(w, name, n);
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
	uint64_t v = bytes_get_u64(r->p + r->off);
	r->off += 8;
	return v;
}

static inline uint32_t ind_codec_get_u32(struct ind_codec_r *r)
{
	if (r->err || r->n - r->off < 4) {
		r->err = 1;
		return 0;
	}
	uint32_t v = bytes_get_u32(r->p + r->off);
	r->off += 4;
	return v;
}

static inline uint8_t ind_codec_get_u8(struct ind_codec_r *r)
{
	if (r->err || r->off >= r->n) {
		r->err = 1;
		return 0;
	}
	return r->p[r->off++];
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
