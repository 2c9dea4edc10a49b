#include "config.h"

#include "core/bytes.h"

#include "sink/seq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SYM_MAX 24
#define SEQ_MAGIC 0x53514d31u /* "SQM1" */

/* Entries in insertion order (the order they are saved in, so a save is
 * one pass without sorting, and a load re-inserts in the same order:
 * saving again gives the same bytes), found through an index. */
struct ent {
	uint64_t hash;
	int64_t seq;
	uint8_t channel;
	uint8_t len;
	char symbol[SYM_MAX];
};

struct seq_map {
	struct ent *v;
	size_t count, vcap;
	uint32_t *idx;  /* entry index + 1, 0 = empty; open addressing */
	size_t cap;     /* index slots, a power of two */
	size_t bytes;   /* what seq_map_save writes */
};

static uint64_t key_hash(unsigned channel, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ channel; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

struct seq_map *seq_map_new(void)
{
	struct seq_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cap = 64;
	m->bytes = 8;
	m->idx = calloc(m->cap, sizeof(*m->idx));
	if (!m->idx) {
		free(m);
		return NULL;
	}
	return m;
}

void seq_map_free(struct seq_map *m)
{
	if (m) {
		free(m->v);
		free(m->idx);
		free(m);
	}
}

/* The index slot of (channel, symbol): holding it, or empty where it goes. */
static uint32_t *find(const struct seq_map *m, uint64_t h, unsigned channel, const char *symbol)
{
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		uint32_t x = m->idx[i];
		if (x == 0)
			return &m->idx[i];
		const struct ent *e = &m->v[x - 1];
		if (e->hash == h && e->channel == channel && strcmp(e->symbol, symbol) == 0)
			return &m->idx[i];
	}
}

static int grow_index(struct seq_map *m)
{
	size_t cap = m->cap * 2;
	uint32_t *idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t k = 0; k < m->count; k++) {
		size_t i = m->v[k].hash & (cap - 1);
		while (idx[i])
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)k + 1;
	}
	free(m->idx);
	m->idx = idx;
	m->cap = cap;
	return 0;
}

static struct ent *upsert(struct seq_map *m, unsigned channel, const char *symbol)
{
	size_t len = strlen(symbol);
	if (len >= SYM_MAX || channel > 255)
		return NULL;
	if ((m->count + 1) * 4 > m->cap * 3 && grow_index(m) < 0) /* load <= 0.75 */
		return NULL;
	uint64_t h = key_hash(channel, symbol);
	uint32_t *slot = find(m, h, channel, symbol);
	if (*slot)
		return &m->v[*slot - 1];
	if (m->count == m->vcap) {
		size_t vcap = m->vcap ? m->vcap * 2 : 64;
		struct ent *v = m->count >= UINT32_MAX - 1 ? NULL : realloc(m->v, vcap * sizeof(*v));
		if (!v)
			return NULL;
		m->v = v;
		m->vcap = vcap;
	}
	struct ent *e = &m->v[m->count];
	*e = (struct ent){.hash = h, .channel = (uint8_t)channel, .len = (uint8_t)len};
	memcpy(e->symbol, symbol, len + 1);
	*slot = (uint32_t)++m->count;
	m->bytes += 2 + len + 8;
	return e;
}

int64_t seq_map_next(struct seq_map *m, unsigned channel, const char *symbol)
{
	struct ent *e = upsert(m, channel, symbol);
	return e ? ++e->seq : -ENOMEM;
}

int64_t seq_map_peek(const struct seq_map *m, unsigned channel, const char *symbol)
{
	const uint32_t *slot = find(m, key_hash(channel, symbol), channel, symbol);
	return *slot ? m->v[*slot - 1].seq : 0;
}

size_t seq_map_count(const struct seq_map *m)
{
	return m->count;
}

/* Format: magic u32, count u32, then per entry: channel u8, symbol length u8,
 * symbol bytes, seq i64; all little-endian; entries in insertion order. */
int seq_map_save(const struct seq_map *m, uint8_t *out, size_t cap)
{
	size_t need = m->bytes;
	if (need > INT32_MAX)
		return -E2BIG;
	if (cap == 0)
		return (int)need;
	if (cap < need)
		return -ENOSPC;
	bytes_put_u32(out, SEQ_MAGIC);
	bytes_put_u32(out + 4, (uint32_t)m->count);
	size_t off = 8;
	for (size_t i = 0; i < m->count; i++) {
		const struct ent *e = &m->v[i];
		out[off++] = e->channel;
		out[off++] = e->len;
		memcpy(out + off, e->symbol, e->len);
		off += e->len;
		bytes_put_u64(out + off, (uint64_t)e->seq);
		off += 8;
	}
	return (int)off;
}

int seq_map_load(struct seq_map *m, const uint8_t *in, size_t n)
{
	struct seq_map *t;
	size_t off = 8;

	if (n < 8 || bytes_get_u32(in) != SEQ_MAGIC)
		return -EINVAL;
	uint32_t count = bytes_get_u32(in + 4);
	if (count > (n - 8) / 10) /* each entry is at least 10 bytes */
		return -EINVAL;
	t = seq_map_new();
	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		char sym[SYM_MAX];
		if (off + 2 > n)
			goto bad;
		unsigned ch = in[off], len = in[off + 1];
		off += 2;
		if (len == 0 || len >= SYM_MAX || off + len + 8 > n)
			goto bad;
		memcpy(sym, in + off, len);
		sym[len] = '\0';
		if (memchr(sym, '\0', len))
			goto bad;
		off += len;
		int64_t seq = (int64_t)bytes_get_u64(in + off);
		off += 8;
		if (seq < 0 || seq_map_peek(t, ch, sym) != 0)
			goto bad; /* negative or duplicate entry */
		struct ent *e = upsert(t, ch, sym);
		if (!e)
			goto bad;
		e->seq = seq;
	}
	if (off != n)
		goto bad;
	free(m->v);
	free(m->idx);
	*m = *t;
	free(t);
	return 0;
bad:
	seq_map_free(t);
	return -EINVAL;
}
