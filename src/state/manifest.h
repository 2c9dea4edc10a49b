/* manifest.h - the checkpoint layout shared by every store: names, the
 * MANIFEST that marks a checkpoint complete, and the list of checkpoints a
 * search passed over.
 *
 *     chk-<id, 20 digits>/state.snap   the snapshot (snapshot.h)
 *     chk-<id, 20 digits>/MANIFEST     written last
 *
 * MANIFEST is text:
 *     torghut-checkpoint 1
 *     id <id>
 *     file state.snap <size> <crc32 hex>
 *     crc <crc32 hex of the lines above>
 *
 * No I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "state/store_types.h"

#define MANIFEST_SNAP_NAME "state.snap"
#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_MAX 4096       /* a larger MANIFEST is not ours */
#define MANIFEST_CHK_LEN 24     /* strlen("chk-") + 20 digits */

/* "chk-<20 digits>" into out (cap >= MANIFEST_CHK_LEN + 1). */
void manifest_chk_name(char *out, size_t cap, uint64_t id);

/* Is name[0..len) exactly "chk-<20 digits>"? 0 and *id, or -EINVAL. */
int manifest_chk_parse(const char *name, size_t len, uint64_t *id);

/* The MANIFEST text for a snapshot of `size` bytes with CRC-32 `crc`: its
 * length, or -ENAMETOOLONG if cap is too small (256 always suffices). */
int manifest_format(char *out, size_t cap, uint64_t id, size_t size, uint32_t crc);

/* Parses a MANIFEST: 0, or -EINVAL with the reason in why. Strict: the text
 * must be exactly what manifest_format writes for the values it names. */
int manifest_parse(const char *text, size_t len, uint64_t *id, size_t *size, uint32_t *crc,
		   char *why, size_t whylen);

/* Appends (id, why) to a search's list of skipped checkpoints, growing it
 * (*n entries, room for *cap). Best effort: out of memory, the entry is
 * left out of the report. */
void manifest_skip_add(struct store_skip **skips, size_t *n, size_t *cap, uint64_t id,
		       const char *why);

/* Checks snapshot bytes against their MANIFEST values (size, CRC), then
 * snapshot_read and the id inside. 0; -EINVAL with why when damaged;
 * -EPROTO with why when the bytes match the MANIFEST but are in a format
 * version this build cannot read (that is not damage: refuse, do not fall
 * back). */
int manifest_check(const uint8_t *buf, size_t len, uint64_t id, size_t size, uint32_t crc,
		   char *why, size_t whylen);
