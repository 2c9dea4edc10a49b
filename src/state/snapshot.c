/* snapshot.c - the checkpoint container (format in snapshot.h). */
#include "config.h"

#include "state/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_LEN 6
#define SEC_HDR 16      /* u32 type, u64 length, u32 crc */
#define END_LEN 20      /* magic, u16 0, u32 header crc, u64 total length */

/* CRC-32 (reflected 0xEDB88320), one byte per step. */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du
};

uint32_t snapshot_crc32(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
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

/* Grows the buffer by n bytes and returns where they start. */
static uint8_t *wgrow(struct snapshot_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > SIZE_MAX - w->len - END_LEN) {
		w->err = -ENOMEM;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

int snapshot_writer_init(struct snapshot_writer *w, uint64_t id, int64_t created_ns,
			 const char *profile, const char *fingerprint)
{
	memset(w, 0, sizeof(*w));
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
