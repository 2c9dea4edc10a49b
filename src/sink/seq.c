#include "config.h"

#include "core/bytes.h"

#include "sink/seq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SYM_MAX 24
#define SEQ_MAGIC 0x53514d31u /* "SQM1" */

struct slot {
	uint64_t hash; /* 0: empty */
	int64_t seq;
	uint8_t channel;
	char symbol[SYM_MAX];
};

struct seq_map {
	struct slot *slots;
	size_t cap, count; /* cap is a power of two */
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
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void seq_map_free(struct seq_map *m)
{
	if (m) {
		free(m->slots);
		free(m);
	}
}

static struct slot *find(const struct seq_map *m, uint64_t h, unsigned channel, const char *symbol)
{
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];
		if (s->hash == 0 ||
		    (s->hash == h && s->channel == channel && strcmp(s->symbol, symbol) == 0))
			return s;
	}
}

static int grow(struct seq_map *m)
{
	struct seq_map n = {.cap = m->cap * 2};
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash)
			*find(&n, m->slots[i].hash, m->slots[i].channel, m->slots[i].symbol) = m->slots[i];
	free(m->slots);
	m->slots = n.slots;
	m->cap = n.cap;
	return 0;
}

static struct slot *upsert(struct seq_map *m, unsigned channel, const char *symbol)
{
	if (strlen(symbol) >= SYM_MAX || channel > 255)
		return NULL;
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0) /* load <= 0.75 */
		return NULL;
	uint64_t h = key_hash(channel, symbol);
	struct slot *s = find(m, h, channel, symbol);
	if (!s->hash) {
		s->hash = h;
		s->channel = (uint8_t)channel;
		strcpy(s->symbol, symbol);
		s->seq = 0;
		m->count++;
	}
	return s;
}

int64_t seq_map_next(struct seq_map *m, unsigned channel, const char *symbol)
{
	struct slot *s = upsert(m, channel, symbol);
	return s ? ++s->seq : -ENOMEM;
}

int64_t seq_map_peek(const struct seq_map *m, unsigned channel, const char *symbol)
{
	const struct slot *s = find(m, key_hash(channel, symbol), channel, symbol);
	return s->hash ? s->seq : 0;
}

size_t seq_map_count(const struct seq_map *m)
{
	return m->count;
}

/* Format: magic u32, count u32, then per entry: channel u8, symbol length u8,
 * symbol bytes, seq i64; all little-endian; entries sorted by (channel, symbol). */
static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
	if (x->channel != y->channel)
		return x->channel < y->channel ? -1 : 1;
	return strcmp(x->symbol, y->symbol);
}

int seq_map_save(const struct seq_map *m, uint8_t *out, size_t cap)
{
	size_t need = 8;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash)
			need += 2 + strlen(m->slots[i].symbol) + 8;
	if (need > INT32_MAX)
		return -E2BIG;
	if (cap == 0)
		return (int)need;
	if (cap < need)
		return -ENOSPC;
	/* Sorted, so equal maps serialize to equal bytes whatever their history. */
	const struct slot **order = malloc((m->count ? m->count : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash)
			order[k++] = &m->slots[i];
	qsort(order, k, sizeof(*order), slot_cmp);
	bytes_put_u32(out, SEQ_MAGIC);
	bytes_put_u32(out + 4, (uint32_t)m->count);
	size_t off = 8;
	for (size_t i = 0; i < k; i++) {
		const struct slot *s = order[i];
		size_t n = strlen(s->symbol);
		out[off++] = s->channel;
		out[off++] = (uint8_t)n;
		memcpy(out + off, s->symbol, n);
		off += n;
		bytes_put_u64(out + off, (uint64_t)s->seq);
		off += 8;
	}
	free(order);
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
		struct slot *s = upsert(t, ch, sym);
		if (!s)
			goto bad;
		s->seq = seq;
	}
	if (off != n)
		goto bad;
	free(m->slots);
	*m = *t;
	free(t);
	return 0;
bad:
	seq_map_free(t);
	return -EINVAL;
}
