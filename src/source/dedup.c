/* dedup.c - bounded duplicate filter (see dedup.h). */
#include "config.h"

#include "source/dedup.h"

#include "core/hugemem.h"

#include "core/bytes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SYM_CAP (EVENT_SYMBOL_MAX - 1)
#define EMPTY UINT32_MAX

struct ent {
	uint64_t hash; /* of the key */
	int64_t a;     /* trade id, or t */
	uint64_t b;    /* raw-message hash for updatedBars/dailyBars, else 0 */
	int64_t t;     /* event time, for the window */
	uint8_t kind;
	uint8_t sym_len;
	char sym[SYM_CAP];
};

/* A table slot carries 32 bits of the key hash, from which its home slot
 * is also derived: probing touches the ring (another cache miss) only when
 * the key very likely matches, and deletion never touches it. */
struct slot {
	uint32_t idx; /* ring index or EMPTY */
	uint32_t tag; /* hash >> 32 */
};

struct dedup {
	int64_t window_ns;
	uint32_t max;   /* ring capacity */
	uint32_t head;  /* oldest entry */
	uint32_t count;
	uint32_t mask;  /* table size - 1 */
	size_t bytes;   /* encoded size of the entries: the checkpoint size in O(1) */
	int shift;      /* 32 - log2(table size) */
	struct ent *ring;
	struct slot *slot;
	struct dedup_stats st;
};

static bool dedup_kind(unsigned k)
{
	return k == EVENT_TRADE || k == EVENT_QUOTE || k == EVENT_BAR || k == EVENT_UPDATED_BAR ||
	       k == EVENT_DAILY_BAR;
}

static bool content_keyed(unsigned k)
{
	return k == EVENT_UPDATED_BAR || k == EVENT_DAILY_BAR;
}

/* Checkpoint bytes of an entry: kind, symbol length, symbol, t, then the
 * trade id for trades (for other kinds a == t) and the raw hash for
 * content-keyed kinds (else b == 0). */
static size_t ent_len(const struct ent *e)
{
	return 2 + (size_t)e->sym_len + 8 + (e->kind == EVENT_TRADE ? 8 : 0) + (content_keyed(e->kind) ? 8 : 0);
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Byte-order independent: the value is stored in checkpoints. */
static uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	for (; n >= 8; p += 8, n -= 8)
		h = mix64(h ^ bytes_get_u64(p));
	uint64_t tail = 0;
	for (size_t i = 0; i < n; i++)
		tail |= (uint64_t)p[i] << (8 * i);
	return mix64(h ^ tail ^ 0xff);
}

static uint64_t key_hash(const struct ent *e)
{
	uint64_t h = hash_bytes(e->sym, e->sym_len, e->kind);
	h = mix64(h ^ (uint64_t)e->a);
	return mix64(h ^ e->b);
}

static bool key_eq(const struct ent *x, const struct ent *y)
{
	return x->hash == y->hash && x->a == y->a && x->b == y->b && x->kind == y->kind &&
	       x->sym_len == y->sym_len && memcmp(x->sym, y->sym, x->sym_len) == 0;
}

struct dedup *dedup_new(int64_t window_ns, uint32_t max_entries)
{
	if (window_ns <= 0 || max_entries < 1 || max_entries > DEDUP_MAX_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	struct dedup *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	uint32_t size = 2;
	int bits = 1;
	while (size < 2 * (uint64_t)max_entries) {
		size <<= 1;
		bits++;
	}
	d->shift = 32 - bits;
	d->window_ns = window_ns;
	d->max = max_entries;
	d->mask = size - 1;
	d->ring = hugemem_alloc((size_t)max_entries * sizeof(*d->ring), NULL);
	d->slot = hugemem_alloc((size_t)size * sizeof(*d->slot), NULL);
	if (!d->ring || !d->slot) {
		dedup_free(d);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < size; i++)
		d->slot[i].idx = EMPTY;
	return d;
}

void dedup_free(struct dedup *d)
{
	if (!d)
		return;
	free(d->ring);
	free(d->slot);
	free(d);
}

const struct dedup_stats *dedup_stats(const struct dedup *d)
{
	return &d->st;
}

/* Fibonacci hashing of the tag: the home slot of a tag. */
static inline uint32_t home_of(const struct dedup *d, uint32_t tag)
{
	return (uint32_t)(tag * 0x9e3779b9u) >> d->shift;
}

/* Slot holding key k, or the empty slot where it would go. */
static uint32_t find(const struct dedup *d, const struct ent *k, bool *found)
{
	uint32_t tag = (uint32_t)(k->hash >> 32), i = home_of(d, tag);
	for (;;) {
		uint32_t x = d->slot[i].idx;
		if (x == EMPTY) {
			*found = false;
			return i;
		}
		if (d->slot[i].tag == tag && key_eq(&d->ring[x], k)) {
			*found = true;
			return i;
		}
		i = (i + 1) & d->mask;
	}
}

/* Removes the oldest entry (backward-shift deletion keeps probes short
 * without tombstones). */
static void evict_oldest(struct dedup *d)
{
	uint32_t x = d->head;
	uint32_t i = home_of(d, (uint32_t)(d->ring[x].hash >> 32));
	while (d->slot[i].idx != x)
		i = (i + 1) & d->mask;
	for (uint32_t j = i;;) {
		j = (j + 1) & d->mask;
		if (d->slot[j].idx == EMPTY)
			break;
		uint32_t home = home_of(d, d->slot[j].tag);
		/* y may move to i unless its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			d->slot[i] = d->slot[j];
			i = j;
		}
	}
	d->slot[i].idx = EMPTY;
	d->bytes -= ent_len(&d->ring[x]);
	d->head = d->head + 1 == d->max ? 0 : d->head + 1;
	d->count--;
}

static void insert_at(struct dedup *d, uint32_t slot, const struct ent *k)
{
	uint32_t x = d->head + d->count;
	if (x >= d->max)
		x -= d->max;
	d->ring[x] = *k;
	d->slot[slot].idx = x;
	d->slot[slot].tag = (uint32_t)(k->hash >> 32);
	d->count++;
	d->bytes += ent_len(k);
}

/* Fills a key from an event; false for kinds that are not deduplicated. */
static bool make_key(const struct event *ev, struct ent *k)
{
	if (!dedup_kind(ev->kind))
		return false;
	size_t n = strnlen(ev->symbol, SYM_CAP);
	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)ev->kind;
	k->sym_len = (uint8_t)n;
	memcpy(k->sym, ev->symbol, n);
	k->t = ev->t_ns;
	k->a = ev->kind == EVENT_TRADE ? ev->u.trade.id : ev->t_ns;
	if (content_keyed(ev->kind) && ev->raw.p)
		k->b = hash_bytes(ev->raw.p, ev->raw.n, 0x5eed);
	k->hash = key_hash(k);
	return true;
}

int dedup_seen(struct dedup *d, const struct event *ev)
{
	struct ent k;
	if (!make_key(ev, &k)) {
		d->st.ignored++;
		return 0;
	}
	d->st.checked++;
	/* The two slots this check will likely touch are random memory: start
	 * both loads now so their cache misses overlap. */
	__builtin_prefetch(&d->slot[home_of(d, (uint32_t)(k.hash >> 32))]);
	if (d->count)
		__builtin_prefetch(&d->slot[home_of(d, (uint32_t)(d->ring[d->head].hash >> 32))]);

	int64_t ref = ev->t_ns;
	if (ev->recv_real_ns > 0 && ev->recv_real_ns <= INT64_MAX - DEDUP_FUTURE_SLACK_NS &&
	    ref > ev->recv_real_ns + DEDUP_FUTURE_SLACK_NS)
		ref = ev->recv_real_ns + DEDUP_FUTURE_SLACK_NS;
	if (ref > INT64_MIN + d->window_ns) {
		int64_t limit = ref - d->window_ns;
		while (d->count && d->ring[d->head].t < limit) {
			evict_oldest(d);
			d->st.evicted_window++;
		}
	}

	d->st.entries = d->count;
	bool found;
	uint32_t s = find(d, &k, &found);
	if (found) {
		d->st.duplicates++;
		return 1;
	}
	if (d->count == d->max) {
		evict_oldest(d);
		d->st.evicted_capacity++;
		s = find(d, &k, &found); /* the shift may have moved the free slot */
	}
	insert_at(d, s, &k);
	d->st.entries = d->count;
	return 0;
}

/* ---- checkpoint -------------------------------------------------------
 * "TGDD", version u32, count u32, reserved u32 (0); entries oldest first,
 * each ent_len() bytes: u8 kind, u8 symbol length, the symbol, i64 t, i64
 * trade id (trades only), u64 raw hash (updatedBars/dailyBars only). No
 * checksum of its own: the snapshot container checks every section. */

#define CK_MAGIC "TGDD"
#define CK_VERSION 2u /* 2: compact entries, no trailing FNV-1a */
#define CK_HEAD 16
#define CK_ENT_MIN 10 /* kind, length, t */

ssize_t dedup_save_begin(const struct dedup *d, struct dedup_saver *s)
{
	memset(s, 0, sizeof(*s));
	s->size = CK_HEAD + d->bytes;
	return (ssize_t)s->size;
}

int dedup_save_step(const struct dedup *d, struct dedup_saver *s, uint8_t *buf, size_t budget)
{
	size_t off = s->off;
	if (!s->head_done) {
		if (s->size < CK_HEAD)
			return -EIO;
		memcpy(buf, CK_MAGIC, 4);
		bytes_put_u32(buf + 4, CK_VERSION);
		bytes_put_u32(buf + 8, d->count);
		bytes_put_u32(buf + 12, 0);
		off = CK_HEAD;
		s->head_done = true;
	}
	uint32_t x = d->head + s->i;
	if (x >= d->max)
		x -= d->max;
	while (s->i < d->count && (off == s->off || off - s->off < budget)) {
		const struct ent *e = &d->ring[x];
		size_t n = ent_len(e);
		if (n > s->size - off)
			return -EIO; /* d changed since begin */
		uint8_t *q = buf + off;
		q[0] = e->kind;
		q[1] = e->sym_len;
		memcpy(q + 2, e->sym, e->sym_len);
		q += 2 + e->sym_len;
		bytes_put_u64(q, (uint64_t)e->t);
		q += 8;
		if (e->kind == EVENT_TRADE) {
			bytes_put_u64(q, (uint64_t)e->a);
			q += 8;
		}
		if (content_keyed(e->kind))
			bytes_put_u64(q, e->b);
		off += n;
		s->i++;
		x = x + 1 == d->max ? 0 : x + 1;
	}
	s->off = off;
	if (s->i < d->count)
		return 0;
	return off == s->size ? 1 : -EIO;
}

ssize_t dedup_save(const struct dedup *d, void *buf, size_t cap)
{
	struct dedup_saver s;
	ssize_t need = dedup_save_begin(d, &s);
	if (cap == 0)
		return need;
	if (!buf || cap < (size_t)need)
		return -ENOSPC;
	int rc = dedup_save_step(d, &s, buf, SIZE_MAX);
	return rc == 1 ? need : rc < 0 ? rc : -EIO;
}

/* The next entry at *off into *e; false if malformed or short. */
static bool decode_ent(const unsigned char *p, size_t len, size_t *off, struct ent *e)
{
	size_t o = *off;
	if (len - o < CK_ENT_MIN)
		return false;
	memset(e, 0, sizeof(*e));
	e->kind = p[o];
	e->sym_len = p[o + 1];
	if (!dedup_kind(e->kind) || e->sym_len > SYM_CAP || ent_len(e) > len - o)
		return false;
	o += 2;
	if (memchr(p + o, '\0', e->sym_len))
		return false;
	memcpy(e->sym, p + o, e->sym_len);
	o += e->sym_len;
	e->t = (int64_t)bytes_get_u64(p + o);
	o += 8;
	e->a = e->t;
	if (e->kind == EVENT_TRADE) {
		e->a = (int64_t)bytes_get_u64(p + o);
		o += 8;
	}
	if (content_keyed(e->kind)) {
		e->b = bytes_get_u64(p + o);
		o += 8;
	}
	e->hash = key_hash(e);
	*off = o;
	return true;
}

int dedup_load(struct dedup *d, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!p || len < CK_HEAD || memcmp(p, CK_MAGIC, 4) != 0 || bytes_get_u32(p + 4) != CK_VERSION ||
	    bytes_get_u32(p + 12) != 0)
		return -EINVAL;
	uint32_t count = bytes_get_u32(p + 8);
	if (count > (len - CK_HEAD) / CK_ENT_MIN)
		return -EINVAL;

	/* Build aside and swap, so d is untouched on error. */
	struct dedup *n = dedup_new(d->window_ns, d->max);
	if (!n)
		return -ENOMEM;
	n->st = d->st;
	size_t off = CK_HEAD;
	for (uint32_t i = 0; i < count; i++) {
		struct ent e;
		bool found;
		if (!decode_ent(p, len, &off, &e) || (find(n, &e, &found), found)) {
			dedup_free(n);
			return -EINVAL;
		}
		if (n->count == n->max) {
			evict_oldest(n);
			n->st.evicted_capacity++;
		}
		insert_at(n, find(n, &e, &found), &e);
	}
	if (off != len) { /* exactly count entries, nothing after them */
		dedup_free(n);
		return -EINVAL;
	}
	n->st.entries = n->count;

	struct dedup tmp = *d;
	*d = *n;
	*n = tmp;
	dedup_free(n);
	return 0;
}
