/* snapshot.h - the checkpoint container: a versioned, self-describing header
 * and typed sections, each with its own CRC-32.
 *
 * The container does not know what sections hold; each section's bytes come
 * from a module's own codec (ta_engine_save, dedup_save, seq_map_save, ...).
 *
 * Format, version 2 (all integers little-endian; version 2 changed what the
 * TA engine, indicator and dedup sections hold, not the framing):
 *
 *   header   "TGSNAP" (6 bytes), u16 format version,
 *            i64 created (Unix ns), u64 checkpoint id,
 *            u16 profile length, profile bytes,
 *            u16 fingerprint length, fingerprint bytes,
 *            u32 section count
 *   section  u32 type, u64 length, u32 crc32(type, length, bytes), bytes
 *            (repeated section-count times)
 *   end      "TGEND!" (6 bytes), u16 0, u32 crc32(header bytes),
 *            u64 total file length (end marker included)
 *
 * Every byte is covered by a CRC or checked against a constant or a length,
 * so a truncated or bit-flipped file is always refused. CRC-32 is the zlib /
 * IEEE 802.3 polynomial (crc32 of "123456789" is 0xcbf43926).
 *
 * Forward compatibility: readers skip section types they do not know, so a
 * new section type does not need a new format version; a change to the
 * framing above does. The fingerprint names the configuration that state is
 * only meaningful under (feed, slack, channels...); the reader reports it and
 * snapshot_compatible compares it, so that refusing is the caller's call. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_MAGIC "TGSNAP"
#define SNAPSHOT_END_MAGIC "TGEND!"
#define SNAPSHOT_VERSION 2          /* written by this build */
#define SNAPSHOT_VERSION_MIN 2      /* oldest this build reads */
#define SNAPSHOT_SECTION_HDR 16     /* bytes a section adds to its contents */
#define SNAPSHOT_END_LEN 20         /* bytes of the end marker */
#define SNAPSHOT_PROFILE_MAX 63     /* bytes, without the NUL */
#define SNAPSHOT_FINGERPRINT_MAX 1023

/* Section types. 0 is never valid; numbers are never reused. */
enum snapshot_section_type {
	SNAPSHOT_SEC_TA_ENGINE = 1,     /* ta_engine_save: per-symbol TA, watermark, micro-bars */
	SNAPSHOT_SEC_DEDUP = 2,         /* dedup_save: dedup windows */
	SNAPSHOT_SEC_SEQ = 3,           /* seq_map_save: durable envelope seq counters */
	SNAPSHOT_SEC_WATERMARK = 4,     /* ingest-side watermarks */
	SNAPSHOT_SEC_CHANNEL_TIMES = 5, /* per-channel last event times */
	SNAPSHOT_SEC_SOURCE_POS = 6,    /* source positions (role=ta: consumed offsets) */
};

uint32_t snapshot_crc32(uint32_t crc, const void *buf, size_t n);

/* A small codec for the sections that are plain name -> i64 maps (per-channel
 * last event times, watermarks, role=ta source positions as "topic:partition"
 * -> offset): u32 count, then {u16 key length, key, i64 value} in the given
 * order, so the same entries encode to the same bytes. */
struct snapshot_kv {
	const char *key;        /* at most 65535 bytes, no NUL inside */
	int64_t value;
};
/* cap == 0: the bytes needed; else writes and returns them, -ENOSPC if cap is
 * too small, -EINVAL on a key too long. */
int64_t snapshot_kv_encode(const struct snapshot_kv *kv, size_t n, uint8_t *out, size_t cap);
/* Validates everything, then calls each(key, key_len, value, arg) in order;
 * key is not NUL-terminated. A nonzero return from each stops and is returned.
 * -EINVAL on malformed input (each never called then). */
int snapshot_kv_decode(const uint8_t *in, size_t n,
		       int (*each)(const char *key, size_t key_len, int64_t value, void *arg),
		       void *arg);

/* Writer: the fields are private; the struct is public so it can live on the
 * stack. init copies profile and fingerprint. */
struct snapshot_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t header_len;      /* bytes of header, section count included */
	uint32_t sections;
	int err;                /* first failure, reported again by finish */
};

/* 0, -EINVAL (profile or fingerprint too long, NULL) or -ENOMEM. */
int snapshot_writer_init(struct snapshot_writer *w, uint64_t id, int64_t created_ns,
			 const char *profile, const char *fingerprint);
/* The same, writing into buf (cap bytes, from malloc; NULL/0 for none),
 * which the writer now owns: the buffer of an earlier snapshot, reused so
 * its pages are not faulted in again (tens of MB cost tens of ms). */
int snapshot_writer_init_in(struct snapshot_writer *w, uint8_t *buf, size_t cap, uint64_t id,
			    int64_t created_ns, const char *profile, const char *fingerprint);
/* Makes room for `more` bytes of sections (SNAPSHOT_SECTION_HDR each
 * included) and the end marker: until finish, reserving within that never
 * moves the buffer. Growing a buffer whose pages were never written copies
 * untouched memory, so callers that know the size say it first.
 * 0 or -ENOMEM. */
int snapshot_writer_expect(struct snapshot_writer *w, size_t more);
/* Appends a section (copies data). 0, -EINVAL (type 0), -ENOMEM. */
int snapshot_writer_add(struct snapshot_writer *w, uint32_t type, const void *data, size_t len);
/* Appends a section of len bytes and returns where to write them (valid until
 * the next writer call), so a codec can save in place:
 *     p = snapshot_writer_reserve(w, SNAPSHOT_SEC_DEDUP, dedup_save(d, NULL, 0));
 *     if (p) dedup_save(d, p, len);
 * NULL on error (finish then reports it). */
uint8_t *snapshot_writer_reserve(struct snapshot_writer *w, uint32_t type, size_t len);
/* A section filled later, in steps: its offset in the buffer (for
 * snapshot_writer_at), or a negative code. The bytes are garbage until
 * written. */
int64_t snapshot_writer_reserve_off(struct snapshot_writer *w, uint32_t type, size_t len);
/* Where offset `off` is now (moves only when the buffer grows). */
uint8_t *snapshot_writer_at(struct snapshot_writer *w, size_t off);
/* Computes the CRCs and hands over the buffer (free() it). The writer is empty
 * afterwards. 0, or the first error of init/add/reserve (nothing handed over).
 * Touches nothing but the writer and its buffer, so it may run on another
 * thread (the CRCs of tens of MB are work the loop need not do). */
int snapshot_writer_finish(struct snapshot_writer *w, uint8_t **buf, size_t *len);
/* Frees an unfinished writer; safe after finish. */
void snapshot_writer_fini(struct snapshot_writer *w);

/* A validated snapshot. Sections point into the buffer given to
 * snapshot_read, which must outlive the struct. */
struct snapshot {
	unsigned version;
	int64_t created_ns;
	uint64_t id;
	char profile[SNAPSHOT_PROFILE_MAX + 1];
	char fingerprint[SNAPSHOT_FINGERPRINT_MAX + 1];
	uint32_t sections;
	const uint8_t *buf;         /* private */
	size_t len;
	size_t first_section;       /* private: offset of section 0 */
};

/* Checks magic, version, lengths, every CRC and the end marker before
 * returning. 0, or -EINVAL with err naming the reason: "bad magic",
 * "unknown format version V (this build reads 1..1)", "truncated at byte N
 * (...)", "section K (type T) CRC mismatch", "header CRC mismatch", ...
 * err may be NULL. */
int snapshot_read(const void *buf, size_t n, struct snapshot *snap, char *err, size_t errlen);

/* The format version in the header without checking anything else: the
 * version, or -EINVAL when buf does not start with the magic and version.
 * Lets a caller tell "written by another torghut" from "damaged". */
int snapshot_version(const void *buf, size_t n);

/* 0 when the snapshot was written under `fingerprint`; -EPROTO otherwise,
 * with both fingerprints in err. */
int snapshot_compatible(const struct snapshot *snap, const char *fingerprint,
			char *err, size_t errlen);

/* The first section of `type`: 0 and its bytes, or -ENOENT. */
int snapshot_section(const struct snapshot *snap, uint32_t type, const uint8_t **data, size_t *len);
/* Section k (0 <= k < sections) in file order: 0, or -ERANGE. */
int snapshot_section_at(const struct snapshot *snap, uint32_t k, uint32_t *type,
			const uint8_t **data, size_t *len);
