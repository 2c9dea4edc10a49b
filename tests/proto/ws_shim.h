/* ws_shim.h - memory transport for socket-free WebSocket tests: an
 * accumulator for what the session writes, a deterministic rng, and frame
 * encode/decode helpers to script the peer and read the session's output. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

struct shim {
	uint8_t *out; /* everything the session wrote */
	size_t out_len, out_cap;
	size_t pos;      /* decoder position in out */
	int fail_write;  /* non-zero: write returns it */
	unsigned seed;   /* rng state */
};

static inline int shim_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct shim *s = ctx;
	if (s->fail_write)
		return s->fail_write;
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 1024;
		while (cap < s->out_len + len)
			cap *= 2;
		s->out = realloc(s->out, cap);
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, buf, len);
	s->out_len += len;
	return 0;
}

static inline void shim_fini(struct shim *s)
{
	free(s->out);
	memset(s, 0, sizeof(*s));
}

/* Deterministic: the tests must not depend on the system entropy source. */
static inline int shim_rng(void *p, unsigned char *buf, size_t len)
{
	struct shim *s = p;
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(s->seed++ * 37u + 11u);
	return 0;
}

/* Encodes one frame into dst (room for len + 14); returns its size. */
static inline size_t shim_frame(uint8_t *dst, bool fin, uint8_t opcode, const void *payload,
                                size_t len, bool masked)
{
	static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
	size_t n = 0;
	dst[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	uint8_t m = masked ? 0x80 : 0;
	if (len < 126) {
		dst[n++] = (uint8_t)(m | len);
	} else if (len < 65536) {
		dst[n++] = m | 126;
		dst[n++] = (uint8_t)(len >> 8);
		dst[n++] = (uint8_t)len;
	} else {
		dst[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			dst[n++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (masked) {
		memcpy(dst + n, key, 4);
		n += 4;
	}
	const uint8_t *p = payload;
	for (size_t i = 0; i < len; i++)
		dst[n + i] = masked ? (uint8_t)(p[i] ^ key[i % 4]) : p[i];
	return n + len;
}

struct shim_frame {
	bool fin;
	bool masked;
	uint8_t opcode;
	const uint8_t *payload; /* unmasked in place, inside shim.out */
	size_t len;
};

/* Decodes the next complete frame the session wrote. Returns 1, or 0 if
 * there is none (yet). */
static inline int shim_next_frame(struct shim *s, struct shim_frame *f)
{
	memset(f, 0, sizeof(*f));
	uint8_t *p = s->out + s->pos;
	size_t avail = s->out_len - s->pos;
	if (avail < 2)
		return 0;
	size_t n = 2;
	uint64_t len = p[1] & 0x7f;
	if (len == 126) {
		if (avail < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		n = 4;
	} else if (len == 127) {
		if (avail < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		n = 10;
	}
	f->masked = p[1] & 0x80;
	uint8_t key[4] = {0};
	if (f->masked) {
		if (avail < n + 4)
			return 0;
		memcpy(key, p + n, 4);
		n += 4;
	}
	if (avail < n + len)
		return 0;
	f->fin = p[0] & 0x80;
	f->opcode = p[0] & 0x0f;
	for (size_t i = 0; f->masked && i < len; i++)
		p[n + i] ^= key[i % 4];
	f->payload = p + n;
	f->len = (size_t)len;
	s->pos += n + (size_t)len;
	return 1;
}

/* Takes the HTTP head the session wrote (NUL-terminated copy in buf);
 * returns its length or 0 if incomplete. */
static inline size_t shim_take_head(struct shim *s, char *buf, size_t cap)
{
	for (size_t i = s->pos; i + 4 <= s->out_len; i++) {
		if (memcmp(s->out + i, "\r\n\r\n", 4) == 0) {
			size_t n = i + 4 - s->pos;
			if (n >= cap)
				return 0;
			memcpy(buf, s->out + s->pos, n);
			buf[n] = '\0';
			s->pos += n;
			return n;
		}
	}
	return 0;
}
