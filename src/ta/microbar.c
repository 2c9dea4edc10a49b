/* microbar.c - 1-second micro-bars: per-symbol open buckets, closed in order. */
#include "config.h"

#include "core/bytes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ta/ind_codec.h"
#include "ta/microbar.h"

#define NIL UINT32_MAX
#define CAP_MAX (UINT32_MAX / 2) /* indices stay below NIL */

struct mb_bucket {
	int64_t start;
	int64_t o_t, c_t;
	uint64_t o_arr, c_arr;
	double o, h, l, c, v, pv;
	int64_t count;
	uint32_t next; /* the symbol's next later open bucket; free-list link when free */
	uint32_t sym;
};

struct mb_sym {
	char name[EVENT_SYMBOL_MAX];
	int64_t seq;          /* last assigned */
	int64_t last_event;   /* 0 = none */
	int64_t last_bar_end; /* 0 = none */
	uint64_t late;
	uint32_t head; /* earliest open bucket, list ascending by start */
	uint32_t nopen;
};

struct microbar {
	struct mb_sym *syms;
	uint32_t nsym, symcap;
	uint32_t *slots; /* open addressing: sym index + 1, 0 = empty */
	uint32_t nslot;  /* power of two, >= 2 * nsym */
	size_t namebytes; /* sum of the names' lengths: the snapshot size in O(1) */
	struct mb_bucket *pool;
	uint32_t poolcap, free_head, nopen;
	uint32_t *heap; /* bucket indices, min-heap by (start, name); capacity poolcap */
	int64_t closed_until;
	uint64_t accepted, late, rejected, emitted;
	microbar_late_fn late_cb;
	void *late_arg;
};

/* ---- symbols ----------------------------------------------------------- */

/* Returns the slot holding `name`, or the empty slot where it would go. */
static uint32_t *slot_find(const struct microbar *m, const char *name, size_t n)
{
	uint32_t mask = m->nslot - 1;
	for (uint32_t i = bytes_fnv1a32(name, n) & mask;; i = (i + 1) & mask) {
		uint32_t v = m->slots[i];
		if (v == 0)
			return &m->slots[i];
		const char *k = m->syms[v - 1].name;
		if (memcmp(k, name, n) == 0 && k[n] == '\0')
			return &m->slots[i];
	}
}

static int slots_rehash(struct microbar *m, uint32_t nslot)
{
	uint32_t *slots = calloc(nslot, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(m->slots);
	m->slots = slots;
	m->nslot = nslot;
	for (uint32_t i = 0; i < m->nsym; i++)
		*slot_find(m, m->syms[i].name, strlen(m->syms[i].name)) = i + 1;
	return 0;
}

static int sym_lookup(const struct microbar *m, const char *name, size_t n)
{
	uint32_t v = *slot_find(m, name, n);
	return v ? (int)(v - 1) : -ENOENT;
}

/* Index of the symbol, created if new; -ENOMEM (nothing changed). */
static int64_t sym_get(struct microbar *m, const char *name, size_t n)
{
	uint32_t *slot = slot_find(m, name, n);
	if (*slot)
		return *slot - 1;
	if (m->nsym >= CAP_MAX)
		return -ENOMEM;
	if (m->nsym == m->symcap) {
		uint32_t cap = m->symcap ? m->symcap * 2 : 64;
		struct mb_sym *s = realloc(m->syms, (size_t)cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		m->syms = s;
		m->symcap = cap;
	}
	if ((uint64_t)(m->nsym + 1) * 2 > m->nslot) {
		if (slots_rehash(m, m->nslot * 2) < 0)
			return -ENOMEM;
		slot = slot_find(m, name, n);
	}
	struct mb_sym *s = &m->syms[m->nsym];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, n);
	s->head = NIL;
	*slot = m->nsym + 1;
	m->namebytes += n;
	return m->nsym++;
}

/* ---- bucket pool and heap ---------------------------------------------- */

static int pool_reserve(struct microbar *m)
{
	if (m->free_head != NIL)
		return 0;
	uint32_t old = m->poolcap, cap = old ? old * 2 : 64;
	if (cap > CAP_MAX)
		return -ENOMEM;
	struct mb_bucket *p = realloc(m->pool, (size_t)cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->pool = p;
	uint32_t *h = realloc(m->heap, (size_t)cap * sizeof(*h));
	if (!h)
		return -ENOMEM; /* the larger pool is kept; only the heap is short */
	m->heap = h;
	for (uint32_t i = old; i < cap; i++)
		p[i].next = i + 1 < cap ? i + 1 : NIL;
	m->free_head = old;
	m->poolcap = cap;
	return 0;
}

/* Strict total order of open buckets: (start, symbol name). */
static bool bucket_before(const struct microbar *m, uint32_t a, uint32_t b)
{
	const struct mb_bucket *x = &m->pool[a], *y = &m->pool[b];
	if (x->start != y->start)
		return x->start < y->start;
	return strcmp(m->syms[x->sym].name, m->syms[y->sym].name) < 0;
}

static void heap_push(struct microbar *m, uint32_t b)
{
	uint32_t i = m->nopen++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!bucket_before(m, b, m->heap[parent]))
			break;
		m->heap[i] = m->heap[parent];
		i = parent;
	}
	m->heap[i] = b;
}

static uint32_t heap_pop(struct microbar *m)
{
	uint32_t top = m->heap[0];
	uint32_t last = m->heap[--m->nopen];
	uint32_t n = m->nopen, i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && bucket_before(m, m->heap[c + 1], m->heap[c]))
			c++;
		if (!bucket_before(m, m->heap[c], last))
			break;
		m->heap[i] = m->heap[c];
		i = c;
	}
	if (n > 0)
		m->heap[i] = last;
	return top;
}

/* Takes the reserved free bucket (pool_reserve succeeded) and links it into
 * the symbol's list and the heap. */
static struct mb_bucket *bucket_open(struct microbar *m, uint32_t sym, int64_t start)
{
	uint32_t b = m->free_head;
	struct mb_bucket *k = &m->pool[b];
	m->free_head = k->next;
	memset(k, 0, sizeof(*k));
	k->start = start;
	k->sym = sym;
	/* Insert ascending by start into the symbol's short list. */
	struct mb_sym *s = &m->syms[sym];
	uint32_t *link = &s->head;
	while (*link != NIL && m->pool[*link].start < start)
		link = &m->pool[*link].next;
	k->next = *link;
	*link = b;
	s->nopen++;
	heap_push(m, b);
	return k;
}

static struct mb_bucket *bucket_find(struct microbar *m, const struct mb_sym *s, int64_t start)
{
	for (uint32_t b = s->head; b != NIL; b = m->pool[b].next) {
		if (m->pool[b].start == start)
			return &m->pool[b];
		if (m->pool[b].start > start)
			break;
	}
	return NULL;
}

/* ---- public ------------------------------------------------------------ */

struct microbar *microbar_new(microbar_late_fn late_cb, void *late_arg)
{
	struct microbar *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nslot = 128;
	m->slots = calloc(m->nslot, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->free_head = NIL;
	m->closed_until = INT64_MIN;
	m->late_cb = late_cb;
	m->late_arg = late_arg;
	return m;
}

void microbar_free(struct microbar *m)
{
	if (!m)
		return;
	free(m->syms);
	free(m->slots);
	free(m->pool);
	free(m->heap);
	free(m);
}

bool microbar_trade_valid(int64_t t_ns, double price, double size)
{
	return t_ns > 0 && t_ns <= MICROBAR_T_MAX && isfinite(price) && isfinite(size) &&
	       price > 0 && size > 0 && isfinite(price * size);
}

static size_t sym_len(const char *sym)
{
	if (!sym)
		return 0;
	size_t n = strnlen(sym, EVENT_SYMBOL_MAX);
	return n < EVENT_SYMBOL_MAX ? n : 0;
}

int microbar_add_trade(struct microbar *m, const char *sym, int64_t t_ns, double price,
		       double size, uint64_t arrival_seq)
{
	size_t n = sym_len(sym);
	if (n == 0 || !microbar_trade_valid(t_ns, price, size)) {
		m->rejected++;
		return MICROBAR_REJECTED;
	}
	/* Allocate up front so nothing below can fail half-way. */
	if (pool_reserve(m) < 0)
		return -ENOMEM;
	int64_t si = sym_get(m, sym, n);
	if (si < 0)
		return -ENOMEM;
	struct mb_sym *s = &m->syms[si];
	if (t_ns > s->last_event)
		s->last_event = t_ns;

	int64_t start = t_ns - t_ns % MICROBAR_NS;
	if (start + MICROBAR_NS <= m->closed_until) {
		s->late++;
		m->late++;
		if (m->late_cb)
			m->late_cb(m->late_arg, s->name, t_ns, price, size);
		return MICROBAR_LATE;
	}

	struct mb_bucket *k = bucket_find(m, s, start);
	if (!k) {
		k = bucket_open(m, (uint32_t)si, start);
		k->o = k->h = k->l = k->c = price;
		k->o_t = k->c_t = t_ns;
		k->o_arr = k->c_arr = arrival_seq;
	} else {
		if (t_ns < k->o_t || (t_ns == k->o_t && arrival_seq < k->o_arr)) {
			k->o = price;
			k->o_t = t_ns;
			k->o_arr = arrival_seq;
		}
		if (t_ns > k->c_t || (t_ns == k->c_t && arrival_seq >= k->c_arr)) {
			k->c = price;
			k->c_t = t_ns;
			k->c_arr = arrival_seq;
		}
		if (price > k->h)
			k->h = price;
		if (price < k->l)
			k->l = price;
	}
	k->v += size;
	k->pv += price * size;
	k->count++;
	m->accepted++;
	return MICROBAR_ACCEPTED;
}

int microbar_close_until(struct microbar *m, int64_t watermark_ns, microbar_emit_fn emit,
			 void *arg)
{
	if (watermark_ns <= m->closed_until)
		return 0;
	m->closed_until = watermark_ns;
	int n = 0;
	/* start <= MICROBAR_T_MAX, so start + 1 s cannot overflow. */
	while (m->nopen > 0 && m->pool[m->heap[0]].start + MICROBAR_NS <= watermark_ns) {
		uint32_t b = heap_pop(m);
		struct mb_bucket *k = &m->pool[b];
		struct mb_sym *s = &m->syms[k->sym];
		/* The heap pops a symbol's buckets in start order: always its head. */
		s->head = k->next;
		s->nopen--;
		struct microbar_bar bar;
		memcpy(bar.symbol, s->name, sizeof(bar.symbol));
		bar.start_ns = k->start;
		bar.end_ns = k->start + MICROBAR_NS;
		bar.prev_end_ns = s->last_bar_end;
		bar.o = k->o;
		bar.h = k->h;
		bar.l = k->l;
		bar.c = k->c;
		bar.v = k->v;
		bar.vwap = k->pv / k->v;
		bar.count = k->count;
		bar.seq = ++s->seq;
		s->last_bar_end = bar.end_ns;
		k->next = m->free_head;
		m->free_head = b;
		m->emitted++;
		n++;
		if (emit)
			emit(arg, &bar);
	}
	return n;
}

int64_t microbar_earliest_end(const struct microbar *m)
{
	return m->nopen ? m->pool[m->heap[0]].start + MICROBAR_NS : INT64_MAX;
}

int64_t microbar_closed_until(const struct microbar *m)
{
	return m->closed_until;
}

void microbar_stats(const struct microbar *m, struct microbar_stats *out)
{
	out->accepted = m->accepted;
	out->late = m->late;
	out->rejected = m->rejected;
	out->emitted = m->emitted;
	out->symbols = m->nsym;
	out->open_buckets = m->nopen;
	out->mem_bytes = sizeof(*m) + (size_t)m->symcap * sizeof(*m->syms) +
			 (size_t)m->nslot * sizeof(*m->slots) +
			 (size_t)m->poolcap * (sizeof(*m->pool) + sizeof(*m->heap));
}

static void sym_info(const struct mb_sym *s, struct microbar_symbol_info *out)
{
	out->symbol = s->name;
	out->last_event_ns = s->last_event;
	out->last_bar_end_ns = s->last_bar_end;
	out->seq = s->seq;
	out->late = s->late;
	out->open_buckets = s->nopen;
}

int microbar_symbol(const struct microbar *m, const char *sym, struct microbar_symbol_info *out)
{
	size_t n = sym_len(sym);
	if (n == 0)
		return -ENOENT;
	int i = sym_lookup(m, sym, n);
	if (i < 0)
		return i;
	sym_info(&m->syms[i], out);
	return 0;
}

size_t microbar_symbol_count(const struct microbar *m)
{
	return m->nsym;
}

int microbar_symbol_at(const struct microbar *m, size_t i, struct microbar_symbol_info *out)
{
	if (i >= m->nsym)
		return -ENOENT;
	sym_info(&m->syms[i], out);
	return 0;
}

/* ---- snapshot ----------------------------------------------------------
 * "TGMB", version u32, closed_until, accepted, late, rejected, emitted (u64),
 * nsym u32, nopen u32; per symbol in first-seen order: u8 name length, name,
 * seq, last_event, last_bar_end, late (u64), nopen u32, then its open buckets
 * ascending (start, o_t, c_t, o_arr, c_arr, o, h, l, c, v, pv, count). */

#define MB_MAGIC "TGMB"
#define MB_VERSION 1u
#define MB_HEAD_LEN (4 + 4 + 8 + 4 * 8 + 4 + 4)
#define MB_SYM_FIXED (1 + 4 * 8 + 4) /* plus the name */
#define MB_BUCKET_LEN (5 * 8 + 6 * 8 + 8)

/* A bucket travels as the raw words of its first 96 bytes. */
_Static_assert(offsetof(struct mb_bucket, start) == 0 && offsetof(struct mb_bucket, o_t) == 8 &&
		       offsetof(struct mb_bucket, c_t) == 16 && offsetof(struct mb_bucket, o_arr) == 24 &&
		       offsetof(struct mb_bucket, c_arr) == 32 && offsetof(struct mb_bucket, o) == 40 &&
		       offsetof(struct mb_bucket, h) == 48 && offsetof(struct mb_bucket, l) == 56 &&
		       offsetof(struct mb_bucket, c) == 64 && offsetof(struct mb_bucket, v) == 72 &&
		       offsetof(struct mb_bucket, pv) == 80 && offsetof(struct mb_bucket, count) == 88 &&
		       offsetof(struct mb_bucket, next) == MB_BUCKET_LEN,
	       "mb_bucket starts with the 12 words of its encoding");

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static bool r_need(struct rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	return true;
}

static uint8_t r_u8(struct rd *r)
{
	return r_need(r, 1) ? *r->p++ : 0;
}

static uint32_t r_u32(struct rd *r)
{
	if (!r_need(r, 4))
		return 0;
	uint32_t v = bytes_get_u32(r->p);
	r->p += 4;
	return v;
}

static uint64_t r_u64(struct rd *r)
{
	if (!r_need(r, 8))
		return 0;
	uint64_t v = bytes_get_u64(r->p);
	r->p += 8;
	return v;
}

static double r_f64(struct rd *r)
{
	uint64_t v = r_u64(r);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

static void mb_put_head(const struct microbar *m, struct ind_codec_w *w)
{
	ind_codec_put_bytes(w, MB_MAGIC, 4);
	ind_codec_put_u32(w, MB_VERSION);
	ind_codec_put_i64(w, m->closed_until);
	ind_codec_put_u64(w, m->accepted);
	ind_codec_put_u64(w, m->late);
	ind_codec_put_u64(w, m->rejected);
	ind_codec_put_u64(w, m->emitted);
	ind_codec_put_u32(w, m->nsym);
	ind_codec_put_u32(w, m->nopen);
}

/* One symbol with its open buckets: the unit of a save step. */
static void mb_put_sym(const struct microbar *m, const struct mb_sym *s, struct ind_codec_w *w)
{
	ind_codec_put_name(w, s->name);
	ind_codec_put_i64(w, s->seq);
	ind_codec_put_i64(w, s->last_event);
	ind_codec_put_i64(w, s->last_bar_end);
	ind_codec_put_u64(w, s->late);
	ind_codec_put_u32(w, s->nopen);
	uint8_t *at = ind_codec_take(w, (size_t)s->nopen * MB_BUCKET_LEN);
	for (uint32_t b = s->head; at && b != NIL; b = m->pool[b].next)
		at = ind_codec_raw_words(at, &m->pool[b], MB_BUCKET_LEN / 8);
}

ssize_t microbar_save_begin(const struct microbar *m, struct microbar_saver *s)
{
	memset(s, 0, sizeof(*s));
	s->size = MB_HEAD_LEN + (size_t)m->nopen * MB_BUCKET_LEN + (size_t)m->nsym * MB_SYM_FIXED +
		  m->namebytes;
	return (ssize_t)s->size;
}

int microbar_save_step(const struct microbar *m, struct microbar_saver *s, uint8_t *buf, size_t budget)
{
	if (s->head_done && s->sym >= m->nsym)
		return s->off == s->size ? 1 : -EIO;
	struct ind_codec_w w = { buf, s->size, s->off };
	do {
		if (!s->head_done) {
			mb_put_head(m, &w);
			s->head_done = true;
		} else {
			mb_put_sym(m, &m->syms[s->sym++], &w);
		}
	} while (s->sym < m->nsym && w.len - s->off < budget);
	if (w.len > s->size)
		return -EIO; /* the state changed since begin */
	s->off = w.len;
	if (s->sym < m->nsym)
		return 0;
	return s->off == s->size ? 1 : -EIO;
}

ssize_t microbar_save(const struct microbar *m, void *buf, size_t cap)
{
	struct microbar_saver s;
	ssize_t need = microbar_save_begin(m, &s);
	if (cap == 0)
		return need;
	if (cap < (size_t)need || !buf)
		return -ENOSPC;
	int rc = microbar_save_step(m, &s, buf, SIZE_MAX);
	return rc == 1 ? need : rc < 0 ? rc : -EIO;
}

static bool price_ok(double p)
{
	return isfinite(p) && p > 0;
}

static bool aligned(int64_t t)
{
	return t > 0 && t <= MICROBAR_T_MAX && t % MICROBAR_NS == 0;
}

/* Reads one bucket of symbol `si` into `into`: 0, -EINVAL, -ENOMEM. */
static int load_bucket(struct rd *r, struct microbar *into, uint32_t si, int64_t *prev_start)
{
	struct mb_bucket k;
	k.start = (int64_t)r_u64(r);
	k.o_t = (int64_t)r_u64(r);
	k.c_t = (int64_t)r_u64(r);
	k.o_arr = r_u64(r);
	k.c_arr = r_u64(r);
	k.o = r_f64(r);
	k.h = r_f64(r);
	k.l = r_f64(r);
	k.c = r_f64(r);
	k.v = r_f64(r);
	k.pv = r_f64(r);
	k.count = (int64_t)r_u64(r);
	/* Ascending, and never in a closed second. */
	if (r->bad || !aligned(k.start) || k.start <= *prev_start ||
	    k.start + MICROBAR_NS <= into->closed_until)
		return -EINVAL;
	int64_t end = k.start + MICROBAR_NS;
	if (k.o_t < k.start || k.o_t >= end || k.c_t < k.start || k.c_t >= end)
		return -EINVAL;
	if (k.o_t > k.c_t || (k.o_t == k.c_t && k.o_arr > k.c_arr))
		return -EINVAL;
	if (!price_ok(k.o) || !price_ok(k.h) || !price_ok(k.l) || !price_ok(k.c) ||
	    !price_ok(k.v) || !price_ok(k.pv) || k.count < 1)
		return -EINVAL;
	if (k.l > k.o || k.l > k.c || k.h < k.o || k.h < k.c)
		return -EINVAL;
	if (into->syms[si].last_event < k.c_t)
		return -EINVAL;
	if (pool_reserve(into) < 0)
		return -ENOMEM;
	struct mb_bucket *dst = bucket_open(into, si, k.start);
	uint32_t next = dst->next;
	*dst = k;
	dst->next = next;
	dst->sym = si;
	*prev_start = k.start;
	return 0;
}

int microbar_load(struct microbar *m, const void *buf, size_t len)
{
	if (!buf || len < MB_HEAD_LEN || memcmp(buf, MB_MAGIC, 4) != 0)
		return -EINVAL;
	struct rd r = { (const uint8_t *)buf + 4, (const uint8_t *)buf + len, false };
	if (r_u32(&r) != MB_VERSION)
		return -EINVAL;
	struct microbar *n = microbar_new(m->late_cb, m->late_arg);
	if (!n)
		return -ENOMEM;
	int rc = -EINVAL;
	n->closed_until = (int64_t)r_u64(&r);
	n->accepted = r_u64(&r);
	n->late = r_u64(&r);
	n->rejected = r_u64(&r);
	n->emitted = r_u64(&r);
	uint32_t nsym = r_u32(&r), nbucket = r_u32(&r);
	/* Bound counts by the input size before anything is allocated. */
	size_t rest = (size_t)(r.end - r.p);
	if (r.bad || nsym > rest / MB_SYM_FIXED || nbucket > rest / MB_BUCKET_LEN)
		goto out;
	uint64_t seen_buckets = 0;
	for (uint32_t i = 0; i < nsym; i++) {
		uint8_t nlen = r_u8(&r);
		if (r.bad || nlen == 0 || nlen >= EVENT_SYMBOL_MAX || !r_need(&r, nlen))
			goto out;
		const char *name = (const char *)r.p;
		if (memchr(name, '\0', nlen) || sym_lookup(n, name, nlen) >= 0)
			goto out;
		int64_t si = sym_get(n, name, nlen);
		if (si < 0) {
			rc = -ENOMEM;
			goto out;
		}
		r.p += nlen;
		struct mb_sym *s = &n->syms[si];
		s->seq = (int64_t)r_u64(&r);
		s->last_event = (int64_t)r_u64(&r);
		s->last_bar_end = (int64_t)r_u64(&r);
		s->late = r_u64(&r);
		uint32_t nopen = r_u32(&r);
		if (r.bad || s->seq < 0 || s->last_event < 0 || s->last_event > MICROBAR_T_MAX)
			goto out;
		if (s->last_bar_end != 0 &&
		    (!aligned(s->last_bar_end) || s->last_bar_end > n->closed_until || s->seq < 1))
			goto out;
		seen_buckets += nopen;
		if (seen_buckets > nbucket)
			goto out;
		int64_t prev_start = s->last_bar_end - MICROBAR_NS;
		for (uint32_t b = 0; b < nopen; b++) {
			rc = load_bucket(&r, n, (uint32_t)si, &prev_start);
			if (rc < 0)
				goto out;
		}
		rc = -EINVAL;
	}
	if (r.bad || r.p != r.end || seen_buckets != nbucket)
		goto out;
	/* Success: swap the contents, free the old state through n. */
	struct microbar tmp = *m;
	*m = *n;
	*n = tmp;
	rc = 0;
out:
	microbar_free(n);
	return rc;
}
