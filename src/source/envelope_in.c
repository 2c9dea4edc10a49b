/* envelope_in.c - ingest envelopes read back into events (see envelope_in.h).
 *
 * One pass over the record checks its JSON syntax and notes where the five
 * keys we read have their values; then the payload's members are walked
 * again and each read as its channel's table says. Nothing is allocated.
 * (jsmn, tried first, cost 2.6 us a trade envelope against 1.6 here.) */
#include "config.h"

#include "source/envelope_in.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

/* A key or literal and its length, so a mismatch costs one compare. */
struct name {
	const char *s;
	size_t n;
};

#define NAME(lit) { lit, sizeof(lit) - 1 }

/* How a payload value is checked and stored. */
enum vkind {
	V_TIME,   /* RFC 3339 string, after 1970 */
	V_ID,     /* integer >= 0 */
	V_COUNT,  /* integer >= 0, or null / absent: -1 */
	V_PRICE,  /* finite number > 0 */
	V_QPRICE, /* finite number >= 0: a quote side may be empty (0) */
	V_SIZE,   /* finite number >= 0 */
	V_VW      /* finite number >= 0, or null / absent: NaN */
};

struct field {
	struct name key; /* Alpaca's short key */
	enum vkind kind;
	bool required;
	size_t off; /* where in struct event; unused for V_TIME */
};

#define FLD(key, kind, req, member) { NAME(key), kind, req, offsetof(struct event, member) }

static const struct field trade_fields[] = {
	{ NAME("t"), V_TIME, false, 0 },
	FLD("i", V_ID, true, u.trade.id),
	FLD("p", V_PRICE, true, u.trade.price),
	FLD("s", V_SIZE, true, u.trade.size),
};

static const struct field quote_fields[] = {
	{ NAME("t"), V_TIME, false, 0 },
	FLD("bp", V_QPRICE, true, u.quote.bid_px),
	FLD("bs", V_SIZE, true, u.quote.bid_sz),
	FLD("ap", V_QPRICE, true, u.quote.ask_px),
	FLD("as", V_SIZE, true, u.quote.ask_sz),
};

static const struct field bar_fields[] = {
	{ NAME("t"), V_TIME, false, 0 },
	FLD("o", V_PRICE, true, u.bar.o),
	FLD("h", V_PRICE, true, u.bar.h),
	FLD("l", V_PRICE, true, u.bar.l),
	FLD("c", V_PRICE, true, u.bar.c),
	FLD("v", V_SIZE, true, u.bar.v),
	FLD("vw", V_VW, false, u.bar.vw),
	FLD("n", V_COUNT, false, u.bar.n),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct channel {
	struct name name;
	enum event_kind kind;
	const struct field *fields;
	unsigned nfields; /* <= 16: a bit each in the seen mask */
};

static const struct channel channels[] = {
	{ NAME("trades"), EVENT_TRADE, trade_fields, NELEM(trade_fields) },
	{ NAME("quotes"), EVENT_QUOTE, quote_fields, NELEM(quote_fields) },
	{ NAME("bars"), EVENT_BAR, bar_fields, NELEM(bar_fields) },
	{ NAME("updatedBars"), EVENT_UPDATED_BAR, bar_fields, NELEM(bar_fields) },
};

/* The top-level keys we read. */
enum topkey { K_CHANNEL, K_SYMBOL, K_EVENT_TS, K_IS_FINAL, K_PAYLOAD, K_COUNT };
static const struct name topkeys[K_COUNT] = {
	NAME("channel"), NAME("symbol"), NAME("eventTs"), NAME("isFinal"), NAME("payload"),
};

/* ---- the scanner -------------------------------------------------------- */

enum vtype { T_NONE = 0, T_STRING, T_PRIM, T_OBJECT, T_ARRAY };

/* A value: a string's body (no quotes), a literal's text, or a container
 * whole, brackets included. */
struct val {
	const char *p;
	size_t n;
	enum vtype type;
	bool esc; /* a string with a backslash */
};

struct scan {
	const char *p, *end;
};

/* Syntax errors: the scanner's only two. */
#define SCAN_BAD (-1)
#define SCAN_DEEP (-2)

static inline void ws(struct scan *s)
{
	if (s->p < s->end && (unsigned char)*s->p > ' ')
		return; /* compact JSON: the common case */
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* A byte of x is '"' or '\\' (the zero-byte test on x ^ each): may also
 * flag a byte above a real one, never a word without one. */
static inline bool word_has_stop(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	return (((q - ones) & ~q) | ((b - ones) & ~b)) & (ones << 7);
}

/* The string whose opening quote is at s->p, up to its closing quote; an
 * escape's second byte is skipped. Eight bytes at a time to the first
 * quote or backslash, then byte by byte. */
static int scan_string(struct scan *s, struct val *v)
{
	const char *b = s->p + 1, *p = b;
	bool esc = false;

	for (;;) {
		for (uint64_t x; s->end - p >= 8 && (memcpy(&x, p, 8), !word_has_stop(x));)
			p += 8;
		while (p < s->end && *p != '"' && *p != '\\')
			p++;
		if (p == s->end)
			return SCAN_BAD;
		if (*p == '"')
			break;
		esc = true;
		if (s->end - p < 2)
			return SCAN_BAD;
		p += 2; /* the escaped byte is never the closing quote */
	}
	*v = (struct val){ b, (size_t)(p - b), T_STRING, esc };
	s->p = p + 1;
	return 0;
}

static size_t digits(const char *s, size_t i, size_t n)
{
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* s[0..n) is exactly one JSON number (RFC 8259 grammar). */
static bool json_number(const char *s, size_t n)
{
	size_t i = n && s[0] == '-', j = digits(s, i, n);

	if (j == i || (s[i] == '0' && j > i + 1))
		return false;
	if (j < n && s[j] == '.') {
		i = j + 1;
		j = digits(s, i, n);
		if (j == i)
			return false;
	}
	if (j < n && (s[j] | 0x20) == 'e') {
		i = j + 1;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		j = digits(s, i, n);
		if (j == i)
			return false;
	}
	return j == n;
}

static bool text_is(const char *p, size_t n, struct name lit)
{
	return n == lit.n && p[0] == lit.s[0] && memcmp(p, lit.s, n) == 0; /* lit.n > 0 */
}

static const struct name lit_true = NAME("true"), lit_false = NAME("false"), lit_null = NAME("null");

/* A number or literal, up to the next delimiter. */
static int scan_literal(struct scan *s, struct val *v)
{
	const char *b = s->p;

	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' &&
	       *s->p != '\n' && *s->p != '\r' && *s->p != '\t')
		s->p++;
	*v = (struct val){ b, (size_t)(s->p - b), T_PRIM, false };
	if (json_number(b, v->n) || text_is(b, v->n, lit_true) || text_is(b, v->n, lit_false) ||
	    text_is(b, v->n, lit_null))
		return 0;
	return SCAN_BAD;
}

static int scan_value(struct scan *s, struct val *v, int depth);

/* Members of an object or elements of an array, one at a time. */
struct iter {
	struct scan *s;
	char close;
	bool first;
	int depth; /* of the container */
};

/* s->p is at '{' or '['. */
static void iter_begin(struct iter *it, struct scan *s, int depth)
{
	it->s = s;
	it->close = *s->p == '{' ? '}' : ']';
	it->first = true;
	it->depth = depth;
	s->p++;
}

/* The next member (key only for objects): 1, or 0 past the closing bracket,
 * or a SCAN_ error. */
static int iter_next(struct iter *it, struct val *key, struct val *v)
{
	struct scan *s = it->s;

	ws(s);
	if (s->p == s->end)
		return SCAN_BAD;
	if (*s->p == it->close && it->first) {
		s->p++;
		return 0;
	}
	if (!it->first) {
		char c = *s->p++;
		if (c == it->close)
			return 0;
		if (c != ',')
			return SCAN_BAD;
		ws(s);
	}
	it->first = false;
	if (it->close == '}') {
		if (s->p == s->end || *s->p != '"' || scan_string(s, key) < 0)
			return SCAN_BAD;
		ws(s);
		if (s->p == s->end || *s->p++ != ':')
			return SCAN_BAD;
		ws(s);
	}
	int rc = scan_value(s, v, it->depth + 1);
	return rc < 0 ? rc : 1;
}

static int scan_value(struct scan *s, struct val *v, int depth)
{
	const char *b = s->p;

	if (s->p == s->end)
		return SCAN_BAD;
	if (*s->p == '"')
		return scan_string(s, v);
	if (*s->p != '{' && *s->p != '[')
		return scan_literal(s, v);
	if (depth >= ENVELOPE_IN_DEPTH_MAX)
		return SCAN_DEEP;
	struct iter it;
	struct val k, m;
	int rc;
	iter_begin(&it, s, depth);
	while ((rc = iter_next(&it, &k, &m)) > 0)
		;
	if (rc < 0)
		return rc;
	*v = (struct val){ b, (size_t)(s->p - b), *b == '{' ? T_OBJECT : T_ARRAY, false };
	return 0;
}

/* ---- values ------------------------------------------------------------- */

struct dec {
	char *err;
	size_t errlen;
};

static int fail(const struct dec *d, const char *where, const char *name, const char *what)
{
	if (d->err && d->errlen)
		snprintf(d->err, d->errlen, "%s%s: %s", where, name, what);
	return -EINVAL;
}

static int hexval(char c)
{
	int l = c | 0x20;
	return c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

/* Decodes the JSON string body s[0..n) into out[0..cap). Returns the
 * length, or -1 if it does not fit or has an escape we do not decode: a
 * surrogate (no producer escapes non-ASCII; ours writes UTF-8 as is), or a
 * bad one. Raw bytes are copied as they are. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			if (o == cap)
				return -1;
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		const char *e = memchr(from, s[i], sizeof(from) - 1);
		uint32_t cp = 0;
		if (e) {
			cp = (unsigned char)to[e - from];
		} else if (s[i] == 'u' && n - i > 4) {
			for (size_t k = 1; k <= 4; k++) {
				int h = hexval(s[i + k]);
				if (h < 0)
					return -1;
				cp = cp << 4 | (uint32_t)h;
			}
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdfff)
				return -1;
		} else {
			return -1;
		}
		size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
		if (cap - o < k)
			return -1;
		if (k == 1) {
			out[o++] = (char)cp;
		} else if (k == 2) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	return (int)o;
}

/* A string's text: in place when it has no escape, else decoded into tmp.
 * -1 if it is not a string or does not decode into cap bytes. */
static int str_text(const struct val *v, char *tmp, size_t cap, const char **p, size_t *n)
{
	if (v->type != T_STRING)
		return -1;
	*p = v->p;
	*n = v->n;
	if (!v->esc)
		return 0;
	int m = unescape(v->p, v->n, tmp, cap);
	if (m < 0)
		return -1;
	*p = tmp;
	*n = (size_t)m;
	return 0;
}

/* Exact powers of ten in a double. */
static const double pow10_exact[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* A number literal, as strtod reads it. Prices and sizes are short
 * decimals: digits m and k of them after the point give m / 10^k, one
 * correctly rounded division while m <= 2^53 and k <= 22 (Clinger), a
 * tenth of strtod's cost. The rest goes to strtod, in place: the scan saw
 * a delimiter after the literal inside the buffer, which stops it. */
static int number(const struct val *v, double *out)
{
	const char *s = v->p;
	size_t n = v->n, i = n && s[0] == '-';
	uint64_t m = 0;
	int sig = 0, k = 0;
	bool frac = false;
	char *end;

	if (v->type != T_PRIM || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return -1; /* true, false, null; scan_literal checked the grammar */
	for (; i < n && sig < 19; i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		if (s[i] == 'e' || s[i] == 'E')
			break;
		m = m * 10 + (uint64_t)(s[i] - '0');
		sig += m != 0;
		k += frac;
	}
	if (i == n && m <= 1ULL << 53 && k < (int)NELEM(pow10_exact)) {
		double x = (double)m / pow10_exact[k];
		*out = s[0] == '-' ? -x : x;
		return 0;
	}
	*out = strtod(s, &end);
	return end == s + n ? 0 : -1;
}

/* An integer literal in [0, INT64_MAX]: no sign, fraction or exponent. */
static int count(const struct val *v, int64_t *out)
{
	uint64_t x = 0;

	/* 19 digits cannot overflow uint64 */
	if (v->type != T_PRIM || v->n == 0 || v->n > 19 || (v->p[0] == '0' && v->n > 1) ||
	    digits(v->p, 0, v->n) != v->n)
		return -1;
	for (size_t i = 0; i < v->n; i++)
		x = x * 10 + (uint64_t)(v->p[i] - '0');
	if (x > INT64_MAX)
		return -1;
	*out = (int64_t)x;
	return 0;
}

static bool is_null(const struct val *v)
{
	return v->type == T_PRIM && text_is(v->p, v->n, lit_null);
}

/* An RFC 3339 time after 1970 (t_ns 0 means absent in struct event). */
static int read_time(const struct dec *d, const struct val *v, const char *where, const char *name,
		     int64_t *out)
{
	if (v->type != T_STRING || clock_parse_rfc3339(v->p, v->n, out) < 0)
		return fail(d, where, name, "not an RFC 3339 time");
	if (*out <= 0)
		return fail(d, where, name, "not after 1970-01-01T00:00:00Z");
	return 0;
}

/* Reads payload value v as f says into out (or *t_ns). */
static int read_field(const struct dec *d, const struct field *f, const struct val *v,
		      struct event *out, int64_t *t_ns)
{
	char *dst = (char *)out + f->off;

	if (f->kind == V_TIME)
		return read_time(d, v, "payload.", f->key.s, t_ns);
	if ((f->kind == V_COUNT || f->kind == V_VW) && is_null(v))
		return 0; /* the default set before the walk */
	if (f->kind == V_ID || f->kind == V_COUNT) {
		int64_t x;
		if (count(v, &x) < 0)
			return fail(d, "payload.", f->key.s, "not an integer >= 0");
		memcpy(dst, &x, sizeof(x));
		return 0;
	}
	double x;
	if (number(v, &x) < 0)
		return fail(d, "payload.", f->key.s, "not a number");
	bool positive = f->kind == V_PRICE;
	if (!isfinite(x) || (positive ? x <= 0 : x < 0))
		return fail(d, "payload.", f->key.s,
			    positive ? "not a finite number > 0" : "not a finite number >= 0");
	memcpy(dst, &x, sizeof(x));
	return 0;
}

/* Walks the payload object (already scanned whole); its t, if any, into
 * *t_ns. */
static int read_payload(const struct dec *d, const struct val *pl, const struct channel *ch,
			struct event *out, int64_t *t_ns)
{
	struct scan s = { pl->p, pl->p + pl->n };
	struct iter it;
	struct val k, v;
	unsigned seen = 0;
	int rc;

	if (out->kind == EVENT_BAR || out->kind == EVENT_UPDATED_BAR) {
		out->u.bar.vw = NAN;
		out->u.bar.n = -1;
	}
	iter_begin(&it, &s, 1);
	while ((rc = iter_next(&it, &k, &v)) > 0) {
		char tmp[8];
		const char *key;
		size_t kn;
		if (str_text(&k, tmp, sizeof(tmp), &key, &kn) < 0)
			continue; /* not a key of ours */
		for (unsigned f = 0; f < ch->nfields; f++) {
			if (!text_is(key, kn, ch->fields[f].key))
				continue;
			if (seen & 1u << f)
				return fail(d, "payload.", ch->fields[f].key.s, "duplicate key");
			seen |= 1u << f;
			rc = read_field(d, &ch->fields[f], &v, out, t_ns);
			if (rc < 0)
				return rc;
			break;
		}
	}
	if (rc < 0) /* cannot happen: the first pass scanned it */
		return fail(d, "", "payload", "not valid JSON");
	for (unsigned f = 0; f < ch->nfields; f++)
		if (ch->fields[f].required && !(seen & 1u << f))
			return fail(d, "payload.", ch->fields[f].key.s, "missing");
	return 0;
}

_Static_assert(EVENT_SYMBOL_MAX == 24, "read_symbol's message says 23 bytes");

/* The envelope's symbol into out; EVENT_SYMBOL_MAX-1 bytes at most. */
static int read_symbol(const struct dec *d, const struct val *v, struct event *out)
{
	char tmp[2 * EVENT_SYMBOL_MAX];
	const char *p;
	size_t n;

	if (v->type != T_STRING)
		return fail(d, "", "symbol", "not a string");
	if (str_text(v, tmp, sizeof(tmp), &p, &n) < 0)
		return fail(d, "", "symbol", "a bad escape or too long");
	if (n >= EVENT_SYMBOL_MAX)
		return fail(d, "", "symbol", "longer than 23 bytes");
	if (n == 0)
		return fail(d, "", "symbol", "empty");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return fail(d, "", "symbol", "has a control character");
	memcpy(out->symbol, p, n);
	out->symbol[n] = '\0';
	out->symbol_len = (uint8_t)n;
	return 0;
}

/* Our channel named by string v, or NULL. */
static const struct channel *find_channel(const struct val *v)
{
	char tmp[16];
	const char *p;
	size_t n;

	if (str_text(v, tmp, sizeof(tmp), &p, &n) < 0)
		return NULL;
	for (size_t i = 0; i < NELEM(channels); i++)
		if (text_is(p, n, channels[i].name))
			return &channels[i];
	return NULL;
}

/* Scans the whole record, noting the values of the keys we read in at[]
 * (type T_NONE: absent) and the first of them that appears twice. */
static int scan_envelope(const struct dec *d, const char *json, size_t len, struct val at[K_COUNT])
{
	struct scan s = { json, json + len };
	struct iter it;
	struct val k, v;
	int rc, dup = -1;

	memset(at, 0, K_COUNT * sizeof(at[0]));
	ws(&s);
	if (s.p == s.end || *s.p != '{') {
		/* another JSON value is "not an object", anything else not JSON */
		rc = scan_value(&s, &v, 0);
		ws(&s);
		return fail(d, "", "envelope", rc == 0 && s.p == s.end ? "not an object" : "not valid JSON");
	}
	iter_begin(&it, &s, 0);
	while ((rc = iter_next(&it, &k, &v)) > 0) {
		char tmp[8];
		const char *key;
		size_t kn;
		if (str_text(&k, tmp, sizeof(tmp), &key, &kn) < 0)
			continue;
		for (int t = 0; t < K_COUNT; t++) {
			if (!text_is(key, kn, topkeys[t]))
				continue;
			if (at[t].type != T_NONE && dup < 0)
				dup = t;
			at[t] = v;
			break;
		}
	}
	ws(&s);
	if (rc == SCAN_DEEP)
		return fail(d, "", "envelope", "nested too deep");
	if (rc < 0 || s.p != s.end)
		return fail(d, "", "envelope", "not valid JSON");
	if (dup >= 0)
		return fail(d, "", topkeys[dup].s, "duplicate key");
	return 0;
}

int envelope_in_decode(const char *json, size_t len, struct event *ev, char *err, size_t errlen)
{
	struct dec d = { .err = err, .errlen = errlen };
	struct val at[K_COUNT];

	if (err && errlen)
		err[0] = '\0';
	if (!json || !ev)
		return fail(&d, "", "envelope", "NULL");
	if (len > UINT32_MAX) /* raw.n is 32 bits */
		return fail(&d, "", "envelope", "too large");
	int rc = scan_envelope(&d, json, len, at);
	if (rc < 0)
		return rc;

	if (at[K_CHANNEL].type == T_NONE)
		return fail(&d, "", "channel", "missing");
	if (at[K_CHANNEL].type != T_STRING)
		return fail(&d, "", "channel", "not a string");
	const struct channel *ch = find_channel(&at[K_CHANNEL]);
	if (!ch) {
		fail(&d, "", "channel", "not one TA reads (trades, quotes, bars, updatedBars)");
		return -ENOTSUP;
	}

	struct event out;
	memset(&out, 0, sizeof(out));
	out.kind = ch->kind;
	const struct val *fin = &at[K_IS_FINAL];
	if (fin->type != T_NONE) {
		bool t = fin->type == T_PRIM && text_is(fin->p, fin->n, lit_true);
		bool f = fin->type == T_PRIM && text_is(fin->p, fin->n, lit_false);
		if (!t && !f)
			return fail(&d, "", "isFinal", "not a boolean");
		if (f && out.kind == EVENT_BAR)
			out.kind = EVENT_UPDATED_BAR;
	}

	if (at[K_SYMBOL].type == T_NONE)
		return fail(&d, "", "symbol", "missing");
	rc = read_symbol(&d, &at[K_SYMBOL], &out);
	if (rc < 0)
		return rc;

	if (at[K_EVENT_TS].type == T_NONE)
		return fail(&d, "", "eventTs", "missing");
	rc = read_time(&d, &at[K_EVENT_TS], "", "eventTs", &out.t_ns);
	if (rc < 0)
		return rc;

	const struct val *pl = &at[K_PAYLOAD];
	if (pl->type == T_NONE)
		return fail(&d, "", "payload", "missing");
	if (pl->type != T_OBJECT)
		return fail(&d, "", "payload", "not an object");
	int64_t t_payload = 0;
	rc = read_payload(&d, pl, ch, &out, &t_payload);
	if (rc < 0)
		return rc;
	if (t_payload) /* Alpaca's own t wins: see envelope_in.h */
		out.t_ns = t_payload;
	out.raw.p = pl->p;
	out.raw.n = (uint32_t)pl->n;

	out.recv_real_ns = ev->recv_real_ns;
	out.recv_mono_ns = ev->recv_mono_ns;
	*ev = out;
	return 0;
}
