/* manifest.c - checkpoint names and the MANIFEST text, shared by the stores. */
#include "config.h"

#include "state/manifest.h"
#include "state/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_chk_name(char *out, size_t cap, uint64_t id)
{
	snprintf(out, cap, "chk-%020" PRIu64, id);
}

int manifest_chk_parse(const char *name, size_t len, uint64_t *id)
{
	if (len != MANIFEST_CHK_LEN || strncmp(name, "chk-", 4) != 0)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 4; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*id = v;
	return 0;
}

int manifest_format(char *out, size_t cap, uint64_t id, size_t size, uint32_t crc)
{
	int k = snprintf(out, cap, "torghut-checkpoint 1\nid %" PRIu64 "\nfile " MANIFEST_SNAP_NAME
			 " %zu %08" PRIx32 "\n", id, size, crc);
	if (k < 0 || (size_t)k >= cap)
		return -ENAMETOOLONG;
	uint32_t mc = snapshot_crc32(0, out, (size_t)k);
	int k2 = snprintf(out + k, cap - (size_t)k, "crc %08" PRIx32 "\n", mc);
	if (k2 < 0 || (size_t)k2 >= cap - (size_t)k)
		return -ENAMETOOLONG;
	return k + k2;
}

int manifest_parse(const char *text, size_t len, uint64_t *id, size_t *size, uint32_t *crc,
		   char *why, size_t whylen)
{
	uint64_t i;
	size_t sz;
	uint32_t c;
	char copy[MANIFEST_MAX + 1];
	/* sscanf needs a terminated string; the caller's bytes need not be. */
	if (len > MANIFEST_MAX) {
		snprintf(why, whylen, "MANIFEST too large (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (sscanf(copy, "torghut-checkpoint 1\nid %" SCNu64 "\nfile " MANIFEST_SNAP_NAME " %zu %" SCNx32,
		   &i, &sz, &c) != 3) {
		snprintf(why, whylen, "MANIFEST unreadable");
		return -EINVAL;
	}
	char want[512];
	int k = manifest_format(want, sizeof(want), i, sz, c);
	if (k < 0 || (size_t)k != len || memcmp(want, text, len) != 0) {
		snprintf(why, whylen, "MANIFEST corrupt (CRC or layout)");
		return -EINVAL;
	}
	*id = i;
	*size = sz;
	*crc = c;
	return 0;
}

void manifest_skip_add(struct store_skip **skips, size_t *n, size_t *cap, uint64_t id,
		       const char *why)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct store_skip *g = realloc(*skips, c * sizeof(*g));
		if (!g)
			return;
		*skips = g;
		*cap = c;
	}
	struct store_skip *sk = &(*skips)[(*n)++];
	sk->id = id;
	snprintf(sk->reason, sizeof(sk->reason), "%s", why);
}

int manifest_check(const uint8_t *buf, size_t len, uint64_t id, size_t size, uint32_t crc,
		   char *why, size_t whylen)
{
	if (len > size) {
		snprintf(why, whylen, MANIFEST_SNAP_NAME " is longer than the %zu bytes MANIFEST names",
			 size);
		return -EINVAL;
	}
	if (len != size) {
		snprintf(why, whylen, MANIFEST_SNAP_NAME " truncated: %zu bytes, MANIFEST says %zu",
			 len, size);
		return -EINVAL;
	}
	uint32_t got = snapshot_crc32(0, buf, len);
	if (got != crc) {
		snprintf(why, whylen, MANIFEST_SNAP_NAME " CRC %08" PRIx32 ", MANIFEST says %08" PRIx32,
			 got, crc);
		return -EINVAL;
	}
	struct snapshot snap;
	char err[160];
	if (snapshot_read(buf, len, &snap, err, sizeof(err)) < 0) {
		snprintf(why, whylen, MANIFEST_SNAP_NAME ": %s", err);
		int v = snapshot_version(buf, len);
		/* The bytes match their MANIFEST, so the version is real, not damage. */
		if (v >= 0 && (v < SNAPSHOT_VERSION_MIN || v > SNAPSHOT_VERSION))
			return -EPROTO;
		return -EINVAL;
	}
	if (snap.id != id) {
		snprintf(why, whylen, MANIFEST_SNAP_NAME " holds checkpoint %" PRIu64
			 ", MANIFEST says %" PRIu64, snap.id, id);
		return -EINVAL;
	}
	return 0;
}
