/* snapshot.c - the checkpoint container (format in snapshot.h). */
#include "config.h"

#include "state/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define MAGIC_LEN 6
#define SEC_HDR SNAPSHOT_SECTION_HDR /* u32 type, u64 length, u32 crc */
#define END_LEN SNAPSHOT_END_LEN     /* magic, u16 0, u32 header crc, u64 total length */

/* zlib's CRC-32 (the same polynomial and conventions; several bytes per
 * step, which matters for snapshots of many megabytes encoded on the loop). */
uint32_t snapshot_crc32(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		uInt chunk = n > (1u << 30) ? 1u << 30 : (uInt)n;
		crc = (uint32_t)crc32(crc, p, chunk);
		p += chunk;
		n -= chunk;
	}
	return crc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Capacity for n more bytes; 0 or -ENOMEM (sticky). */
static int wroom(struct snapshot_writer *w, size_t n)
{
	if (w->err)
		return w->err;
	if (n > SIZE_MAX - w->len - END_LEN)
		return w->err = -ENOMEM;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b)
			return w->err = -ENOMEM;
		w->buf = b;
		w->cap = cap;
	}
	return 0;
}

/* Grows the contents by n bytes and returns where they start. */
static uint8_t *wgrow(struct snapshot_writer *w, size_t n)
{
	if (wroom(w, n) < 0)
		return NULL;
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

int snapshot_writer_expect(struct snapshot_writer *w, size_t more)
{
	if (more > SIZE_MAX - END_LEN)
		return w->err = w->err ? w->err : -ENOMEM;
	return wroom(w, more + END_LEN);
}

int snapshot_writer_init(struct snapshot_writer *w, uint64_t id, int64_t created_ns,
			 const char *profile, const char *fingerprint)
{
	return snapshot_writer_init_in(w, NULL, 0, id, created_ns, profile, fingerprint);
}

int snapshot_writer_init_in(struct snapshot_writer *w, uint8_t *buf, size_t cap, uint64_t id,
			    int64_t created_ns, const char *profile, const char *fingerprint)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = buf ? cap : 0;
	if (!profile || !fingerprint)
		return w->err = -EINVAL;
	size_t pl = strlen(profile), fl = strlen(fingerprint);
	if (pl > SNAPSHOT_PROFILE_MAX || fl > SNAPSHOT_FINGERPRINT_MAX)
		return w->err = -EINVAL;
	uint8_t *p = wgrow(w, MAGIC_LEN + 2 + 8 + 8 + 2 + pl + 2 + fl + 4);
	if (!p)
		return w->err;
	memcpy(p, SNAPSHOT_MAGIC, MAGIC_LEN);
	p += MAGIC_LEN;
	put16(p, SNAPSHOT_VERSION);
	p += 2;
	put64(p, (uint64_t)created_ns);
	p += 8;
	put64(p, id);
	p += 8;
	put16(p, (uint16_t)pl);
	p += 2;
	memcpy(p, profile, pl);
	p += pl;
	put16(p, (uint16_t)fl);
	p += 2;
	memcpy(p, fingerprint, fl);
	p += fl;
	put32(p, 0); /* section count, set by finish */
	w->header_len = w->len;
	return 0;
}

int64_t snapshot_writer_reserve_off(struct snapshot_writer *w, uint32_t type, size_t len)
{
	uint8_t *p = snapshot_writer_reserve(w, type, len);
	return p ? (int64_t)(p - w->buf) : (int64_t)w->err;
}

uint8_t *snapshot_writer_at(struct snapshot_writer *w, size_t off)
{
	return w->buf + off;
}

uint8_t *snapshot_writer_reserve(struct snapshot_writer *w, uint32_t type, size_t len)
{
	if (!w->err && type == 0)
		w->err = -EINVAL;
	if (!w->err && w->sections == UINT32_MAX)
		w->err = -ERANGE;
	uint8_t *p = wgrow(w, SEC_HDR + len);
	if (!p)
		return NULL;
	put32(p, type);
	put64(p + 4, (uint64_t)len);
	put32(p + 12, 0); /* crc, set by finish */
	w->sections++;
	return p + SEC_HDR;
}

int snapshot_writer_add(struct snapshot_writer *w, uint32_t type, const void *data, size_t len)
{
	uint8_t *p = snapshot_writer_reserve(w, type, len);
	if (!p)
		return w->err;
	if (len)
		memcpy(p, data, len);
	return 0;
}

int snapshot_writer_finish(struct snapshot_writer *w, uint8_t **buf, size_t *len)
{
	if (!w->err && !w->buf)
		w->err = -EINVAL;
	uint8_t *end = wgrow(w, END_LEN);
	if (!end) {
		int err = w->err;
		snapshot_writer_fini(w);
		return err;
	}
	put32(w->buf + w->header_len - 4, w->sections);
	/* Section CRCs cover their type and length too, so a flipped type is caught. */
	size_t off = w->header_len;
	for (uint32_t k = 0; k < w->sections; k++) {
		uint8_t *s = w->buf + off;
		size_t sl = (size_t)get64(s + 4);
		uint32_t c = snapshot_crc32(0, s, 12);
		c = snapshot_crc32(c, s + SEC_HDR, sl);
		put32(s + 12, c);
		off += SEC_HDR + sl;
	}
	memcpy(end, SNAPSHOT_END_MAGIC, MAGIC_LEN);
	put16(end + 6, 0);
	put32(end + 8, snapshot_crc32(0, w->buf, w->header_len));
	put64(end + 12, (uint64_t)w->len);
	*buf = w->buf;
	*len = w->len;
	memset(w, 0, sizeof(*w));
	return 0;
}

void snapshot_writer_fini(struct snapshot_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int snapshot_read(const void *vbuf, size_t n, struct snapshot *snap, char *err, size_t errlen)
{
	const uint8_t *b = vbuf;
	size_t pos = 0;
	if (err && errlen)
		err[0] = '\0';
	memset(snap, 0, sizeof(*snap));
#define NEED(k, what) do { \
		if (n - pos < (size_t)(k)) \
			return fail(err, errlen, "truncated at byte %zu (file ends inside %s)", n, what); \
	} while (0)
	if (!b)
		n = 0;
	if (n == 0)
		return fail(err, errlen, "truncated at byte 0 (empty file)");
	if (n < MAGIC_LEN && memcmp(b, SNAPSHOT_MAGIC, n) == 0)
		NEED(MAGIC_LEN, "the magic");
	if (n < MAGIC_LEN || memcmp(b, SNAPSHOT_MAGIC, MAGIC_LEN) != 0)
		return fail(err, errlen, "bad magic (not a torghut snapshot)");
	pos = MAGIC_LEN;
	NEED(2, "the format version");
	unsigned version = get16(b + pos);
	if (version < SNAPSHOT_VERSION_MIN || version > SNAPSHOT_VERSION)
		return fail(err, errlen, "unknown format version %u (this build reads %d..%d)",
			    version, SNAPSHOT_VERSION_MIN, SNAPSHOT_VERSION);
	pos += 2;
	NEED(8 + 8 + 2, "the header");
	int64_t created = (int64_t)get64(b + pos);
	uint64_t id = get64(b + pos + 8);
	size_t pl = get16(b + pos + 16);
	pos += 18;
	if (pl > SNAPSHOT_PROFILE_MAX)
		return fail(err, errlen, "profile length %zu over %d", pl, SNAPSHOT_PROFILE_MAX);
	NEED(pl + 2, "the profile");
	memcpy(snap->profile, b + pos, pl);
	snap->profile[pl] = '\0';
	pos += pl;
	size_t fl = get16(b + pos);
	pos += 2;
	if (fl > SNAPSHOT_FINGERPRINT_MAX)
		return fail(err, errlen, "fingerprint length %zu over %d", fl, SNAPSHOT_FINGERPRINT_MAX);
	NEED(fl + 4, "the fingerprint");
	memcpy(snap->fingerprint, b + pos, fl);
	snap->fingerprint[fl] = '\0';
	pos += fl;
	uint32_t count = get32(b + pos);
	pos += 4;
	size_t header_len = pos;
	if (memchr(snap->profile, '\0', pl) || memchr(snap->fingerprint, '\0', fl))
		return fail(err, errlen, "NUL byte inside the profile or fingerprint");

	for (uint32_t k = 0; k < count; k++) {
		char what[64];
		snprintf(what, sizeof(what), "section %" PRIu32 "'s header", k);
		NEED(SEC_HDR, what);
		uint32_t type = get32(b + pos);
		uint64_t sl = get64(b + pos + 4);
		uint32_t crc = get32(b + pos + 12);
		if (sl > n - pos - SEC_HDR)
			return fail(err, errlen, "truncated at byte %zu (section %" PRIu32
				    " claims %" PRIu64 " bytes, %zu remain)", n, k, sl, n - pos - SEC_HDR);
		uint32_t c = snapshot_crc32(0, b + pos, 12);
		c = snapshot_crc32(c, b + pos + SEC_HDR, (size_t)sl);
		if (c != crc)
			return fail(err, errlen, "section %" PRIu32 " (type %" PRIu32 ", %" PRIu64
				    " bytes at offset %zu) CRC mismatch", k, type, sl, pos);
		pos += SEC_HDR + (size_t)sl;
	}
	NEED(END_LEN, "the end marker");
	if (memcmp(b + pos, SNAPSHOT_END_MAGIC, MAGIC_LEN) != 0 || get16(b + pos + 6) != 0)
		return fail(err, errlen, "no end marker at offset %zu (section count %" PRIu32
			    " is wrong or the file is corrupt)", pos, count);
	if (get32(b + pos + 8) != snapshot_crc32(0, b, header_len))
		return fail(err, errlen, "header CRC mismatch");
	uint64_t total = get64(b + pos + 12);
	pos += END_LEN;
	if (total != pos)
		return fail(err, errlen, "end marker records %" PRIu64 " bytes, the file has %zu",
			    total, pos);
	if (pos != n)
		return fail(err, errlen, "%zu bytes of trailing garbage after the end marker", n - pos);
#undef NEED
	snap->version = version;
	snap->created_ns = created;
	snap->id = id;
	snap->sections = count;
	snap->buf = b;
	snap->len = n;
	snap->first_section = header_len;
	return 0;
}

int snapshot_version(const void *buf, size_t n)
{
	if (!buf || n < MAGIC_LEN + 2 || memcmp(buf, SNAPSHOT_MAGIC, MAGIC_LEN) != 0)
		return -EINVAL;
	return get16((const uint8_t *)buf + MAGIC_LEN);
}

int snapshot_compatible(const struct snapshot *snap, const char *fingerprint,
			char *err, size_t errlen)
{
	if (strcmp(snap->fingerprint, fingerprint) == 0)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "snapshot %" PRIu64 " was written for configuration '%s', "
			 "this one is '%s'; its state does not apply", snap->id, snap->fingerprint,
			 fingerprint);
	return -EPROTO;
}

int snapshot_section_at(const struct snapshot *snap, uint32_t k, uint32_t *type,
			const uint8_t **data, size_t *len)
{
	if (k >= snap->sections)
		return -ERANGE;
	size_t off = snap->first_section;
	/* Lengths were checked by snapshot_read. */
	for (uint32_t i = 0; i < k; i++)
		off += SEC_HDR + (size_t)get64(snap->buf + off + 4);
	if (type)
		*type = get32(snap->buf + off);
	*len = (size_t)get64(snap->buf + off + 4);
	*data = snap->buf + off + SEC_HDR;
	return 0;
}

int snapshot_section(const struct snapshot *snap, uint32_t type, const uint8_t **data, size_t *len)
{
	size_t off = snap->first_section;
	for (uint32_t i = 0; i < snap->sections; i++) {
		size_t sl = (size_t)get64(snap->buf + off + 4);
		if (get32(snap->buf + off) == type) {
			*data = snap->buf + off + SEC_HDR;
			*len = sl;
			return 0;
		}
		off += SEC_HDR + sl;
	}
	return -ENOENT;
}

int64_t snapshot_kv_encode(const struct snapshot_kv *kv, size_t n, uint8_t *out, size_t cap)
{
	if (n > UINT32_MAX)
		return -EINVAL;
	size_t need = 4;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(kv[i].key);
		if (kl > UINT16_MAX)
			return -EINVAL;
		need += 2 + kl + 8;
	}
	if (cap == 0)
		return (int64_t)need;
	if (cap < need)
		return -ENOSPC;
	uint8_t *p = out;
	put32(p, (uint32_t)n);
	p += 4;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(kv[i].key);
		put16(p, (uint16_t)kl);
		memcpy(p + 2, kv[i].key, kl);
		put64(p + 2 + kl, (uint64_t)kv[i].value);
		p += 2 + kl + 8;
	}
	return (int64_t)need;
}

int snapshot_kv_decode(const uint8_t *in, size_t n,
		       int (*each)(const char *key, size_t key_len, int64_t value, void *arg),
		       void *arg)
{
	if (n < 4)
		return -EINVAL;
	uint32_t count = get32(in);
	size_t pos = 4;
	for (int pass = 0; pass < 2; pass++) {
		pos = 4;
		for (uint32_t i = 0; i < count; i++) {
			if (n - pos < 2)
				return -EINVAL;
			size_t kl = get16(in + pos);
			if (n - pos - 2 < kl + 8)
				return -EINVAL;
			const char *key = (const char *)in + pos + 2;
			if (pass == 0 && memchr(key, '\0', kl))
				return -EINVAL;
			if (pass == 1) {
				int rc = each(key, kl, (int64_t)get64(in + pos + 2 + kl), arg);
				if (rc)
					return rc;
			}
			pos += 2 + kl + 8;
		}
		if (pos != n)
			return -EINVAL;
	}
	return 0;
}
