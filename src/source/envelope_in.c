/* envelope_in.c - ingest envelopes read back into events (see envelope_in.h).
 *
 * jsmn tokenizes the record into a stack array; one walk over the top-level
 * members finds the five keys we read, a second over the payload's members
 * reads each field as its channel's table says. Nothing is allocated. */
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

/* jsmn is header-only: static in this file. Strict mode refuses bare words
 * and non-string keys. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

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
	const char *name; /* Alpaca's short key */
	enum vkind kind;
	bool required;
	size_t off; /* where in struct event; unused for V_TIME */
};

#define FLD(name, kind, req, member) { name, kind, req, offsetof(struct event, member) }

static const struct field trade_fields[] = {
	{ "t", V_TIME, false, 0 },
	FLD("i", V_ID, true, u.trade.id),
	FLD("p", V_PRICE, true, u.trade.price),
	FLD("s", V_SIZE, true, u.trade.size),
};

static const struct field quote_fields[] = {
	{ "t", V_TIME, false, 0 },
	FLD("bp", V_QPRICE, true, u.quote.bid_px),
	FLD("bs", V_SIZE, true, u.quote.bid_sz),
	FLD("ap", V_QPRICE, true, u.quote.ask_px),
	FLD("as", V_SIZE, true, u.quote.ask_sz),
};

static const struct field bar_fields[] = {
	{ "t", V_TIME, false, 0 },
	FLD("o", V_PRICE, true, u.bar.o),
	FLD("h", V_PRICE, true, u.bar.h),
	FLD("l", V_PRICE, true, u.bar.l),
	FLD("c", V_PRICE, true, u.bar.c),
	FLD("v", V_SIZE, true, u.bar.v),
	FLD("vw", V_VW, false, u.bar.vw),
	FLD("n", V_COUNT, false, u.bar.n),
};

#define NFIELDS(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

struct channel {
	const char *name;
	enum event_kind kind;
	const struct field *fields;
	unsigned nfields; /* <= 16: a bit each in the seen mask */
};

static const struct channel channels[] = {
	{ "trades", EVENT_TRADE, trade_fields, NFIELDS(trade_fields) },
	{ "quotes", EVENT_QUOTE, quote_fields, NFIELDS(quote_fields) },
	{ "bars", EVENT_BAR, bar_fields, NFIELDS(bar_fields) },
	{ "updatedBars", EVENT_UPDATED_BAR, bar_fields, NFIELDS(bar_fields) },
};

/* The top-level keys we read. */
enum topkey { K_CHANNEL, K_SYMBOL, K_EVENT_TS, K_IS_FINAL, K_PAYLOAD, K_COUNT };
static const char *const topkey_names[K_COUNT] = { "channel", "symbol", "eventTs", "isFinal", "payload" };

struct dec {
	const char *js;
	const jsmntok_t *tok;
	int ntok;
	char *err;
	size_t errlen;
};

static int fail(const struct dec *d, const char *where, const char *name, const char *what)
{
	if (d->err && d->errlen)
		snprintf(d->err, d->errlen, "%s%s: %s", where, name, what);
	return -EINVAL;
}

static inline const char *tok_p(const struct dec *d, int k)
{
	return d->js + d->tok[k].start;
}

static inline size_t tok_n(const struct dec *d, int k)
{
	return (size_t)(d->tok[k].end - d->tok[k].start);
}

/* The token after k's subtree: its descendants all start inside it. */
static int skip(const struct dec *d, int k)
{
	int j = k + 1;
	while (j < d->ntok && d->tok[j].start < d->tok[k].end)
		j++;
	return j;
}

static int hexval(char c)
{
	int l = c | 0x20;
	return c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

/* Decodes the JSON string body s[0..n) into out[0..cap). Returns the
 * length, or -1 if it does not fit or has an escape we do not decode: a
 * surrogate (no producer escapes non-ASCII; ours writes UTF-8 as is). Raw
 * bytes are copied as they are. */
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

/* The text of string token k: in place when it has no escape, else decoded
 * into tmp. -1 if it is not a string or does not decode into cap bytes. */
static int str_text(const struct dec *d, int k, char *tmp, size_t cap, const char **p, size_t *n)
{
	if (d->tok[k].type != JSMN_STRING)
		return -1;
	*p = tok_p(d, k);
	*n = tok_n(d, k);
	if (!memchr(*p, '\\', *n))
		return 0;
	int m = unescape(*p, *n, tmp, cap);
	if (m < 0)
		return -1;
	*p = tmp;
	*n = (size_t)m;
	return 0;
}

static bool text_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
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

/* A number token. strtod may read s in place: in strict mode jsmn ends a
 * primitive only at a delimiter inside the buffer, which stops strtod. */
static int number(const struct dec *d, int k, double *out)
{
	const char *s = tok_p(d, k);
	size_t n = tok_n(d, k);
	char *end;

	if (d->tok[k].type != JSMN_PRIMITIVE || !json_number(s, n))
		return -1;
	*out = strtod(s, &end);
	return end == s + n ? 0 : -1;
}

/* An integer token in [0, INT64_MAX]: no sign, fraction or exponent. */
static int count(const struct dec *d, int k, int64_t *out)
{
	const char *s = tok_p(d, k);
	size_t n = tok_n(d, k);
	uint64_t v = 0;

	/* 19 digits cannot overflow uint64 */
	if (d->tok[k].type != JSMN_PRIMITIVE || n == 0 || n > 19 || (s[0] == '0' && n > 1) ||
	    digits(s, 0, n) != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static bool is_null(const struct dec *d, int k)
{
	return d->tok[k].type == JSMN_PRIMITIVE && text_is(tok_p(d, k), tok_n(d, k), "null");
}

/* An RFC 3339 time after 1970 (t_ns 0 means absent in struct event). */
static int read_time(const struct dec *d, int k, const char *where, const char *name, int64_t *out)
{
	if (d->tok[k].type != JSMN_STRING || clock_parse_rfc3339(tok_p(d, k), tok_n(d, k), out) < 0)
		return fail(d, where, name, "not an RFC 3339 time");
	if (*out <= 0)
		return fail(d, where, name, "not after 1970-01-01T00:00:00Z");
	return 0;
}

/* Reads payload value k as f says into out (or *t_ns). */
static int read_field(const struct dec *d, const struct field *f, int k, struct event *out,
		      int64_t *t_ns)
{
	char *dst = (char *)out + f->off;

	if (f->kind == V_TIME)
		return read_time(d, k, "payload.", f->name, t_ns);
	if ((f->kind == V_COUNT || f->kind == V_VW) && is_null(d, k))
		return 0; /* the default set before the walk */
	if (f->kind == V_ID || f->kind == V_COUNT) {
		int64_t v;
		if (count(d, k, &v) < 0)
			return fail(d, "payload.", f->name, "not an integer >= 0");
		memcpy(dst, &v, sizeof(v));
		return 0;
	}
	double v;
	if (number(d, k, &v) < 0)
		return fail(d, "payload.", f->name, "not a number");
	bool positive = f->kind == V_PRICE;
	if (!isfinite(v) || (positive ? v <= 0 : v < 0))
		return fail(d, "payload.", f->name,
			    positive ? "not a finite number > 0" : "not a finite number >= 0");
	memcpy(dst, &v, sizeof(v));
	return 0;
}

/* Walks the payload object at token k; the payload's t, if any, in *t_ns. */
static int read_payload(const struct dec *d, int k, const struct channel *ch, struct event *out,
			int64_t *t_ns)
{
	unsigned seen = 0;
	int j = k + 1;

	if (out->kind == EVENT_BAR || out->kind == EVENT_UPDATED_BAR) {
		out->u.bar.vw = NAN;
		out->u.bar.n = -1;
	}
	for (int m = 0; m < d->tok[k].size; m++) {
		char tmp[8];
		const char *key;
		size_t kn;
		if (j + 1 >= d->ntok || d->tok[j].size != 1)
			return fail(d, "", "payload", "not valid JSON");
		if (str_text(d, j, tmp, sizeof(tmp), &key, &kn) == 0) {
			for (unsigned f = 0; f < ch->nfields; f++) {
				if (!text_is(key, kn, ch->fields[f].name))
					continue;
				if (seen & 1u << f)
					return fail(d, "payload.", ch->fields[f].name, "duplicate key");
				seen |= 1u << f;
				int rc = read_field(d, &ch->fields[f], j + 1, out, t_ns);
				if (rc < 0)
					return rc;
				break;
			}
		}
		j = skip(d, j + 1);
	}
	for (unsigned f = 0; f < ch->nfields; f++)
		if (ch->fields[f].required && !(seen & 1u << f))
			return fail(d, "payload.", ch->fields[f].name, "missing");
	return 0;
}

_Static_assert(EVENT_SYMBOL_MAX == 24, "read_symbol's message says 23 bytes");

/* The envelope's symbol into out; EVENT_SYMBOL_MAX-1 bytes at most. */
static int read_symbol(const struct dec *d, int k, struct event *out)
{
	char tmp[2 * EVENT_SYMBOL_MAX];
	const char *p;
	size_t n;

	if (d->tok[k].type != JSMN_STRING)
		return fail(d, "", "symbol", "not a string");
	if (str_text(d, k, tmp, sizeof(tmp), &p, &n) < 0)
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

/* The channel of string token k: ours, or NULL (not ours, or not a string:
 * *is_string tells). */
static const struct channel *read_channel(const struct dec *d, int k, bool *is_string)
{
	char tmp[16];
	const char *p;
	size_t n;

	*is_string = d->tok[k].type == JSMN_STRING;
	if (str_text(d, k, tmp, sizeof(tmp), &p, &n) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
		if (text_is(p, n, channels[i].name))
			return &channels[i];
	return NULL;
}

/* Finds the value tokens of the keys we read (0: absent). */
static int top_members(const struct dec *d, int at[K_COUNT])
{
	int j = 1;

	memset(at, 0, K_COUNT * sizeof(at[0]));
	for (int m = 0; m < d->tok[0].size; m++) {
		char tmp[8];
		const char *key;
		size_t kn;
		if (j + 1 >= d->ntok || d->tok[j].type != JSMN_STRING || d->tok[j].size != 1)
			return fail(d, "", "envelope", "not valid JSON");
		if (str_text(d, j, tmp, sizeof(tmp), &key, &kn) == 0) {
			for (int t = 0; t < K_COUNT; t++) {
				if (!text_is(key, kn, topkey_names[t]))
					continue;
				if (at[t])
					return fail(d, "", topkey_names[t], "duplicate key");
				at[t] = j + 1;
				break;
			}
		}
		j = skip(d, j + 1);
	}
	return 0;
}

static bool all_ws(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

int envelope_in_decode(const char *json, size_t len, struct event *ev, char *err, size_t errlen)
{
	jsmntok_t tok[ENVELOPE_IN_TOKENS_MAX];
	struct dec d = { .js = json, .tok = tok, .err = err, .errlen = errlen };
	jsmn_parser jp;

	if (err && errlen)
		err[0] = '\0';
	if (!json || !ev)
		return fail(&d, "", "envelope", "NULL");
	if (len >= INT_MAX) /* jsmn offsets are int */
		return fail(&d, "", "envelope", "too large");
	jsmn_init(&jp);
	int r = jsmn_parse(&jp, json, len, tok, ENVELOPE_IN_TOKENS_MAX);
	if (r == JSMN_ERROR_NOMEM)
		return fail(&d, "", "envelope", "more than 256 JSON tokens");
	d.ntok = (int)jp.toknext;
	/* jsmn stops at a NUL and reads several roots: the object must span
	 * the buffer, up to whitespace */
	int q = d.ntok > 0 && tok[0].type == JSMN_STRING; /* a string's token omits its quotes */
	if (r < 0 || d.ntok < 1 || !all_ws(json, (size_t)(tok[0].start - q)) ||
	    !all_ws(json + tok[0].end + q, len - (size_t)(tok[0].end + q)))
		return fail(&d, "", "envelope", "not valid JSON");
	if (tok[0].type != JSMN_OBJECT)
		return fail(&d, "", "envelope", "not an object");

	int at[K_COUNT];
	int rc = top_members(&d, at);
	if (rc < 0)
		return rc;

	if (!at[K_CHANNEL])
		return fail(&d, "", "channel", "missing");
	bool is_string;
	const struct channel *ch = read_channel(&d, at[K_CHANNEL], &is_string);
	if (!is_string)
		return fail(&d, "", "channel", "not a string");
	if (!ch) {
		fail(&d, "", "channel", "not one TA reads (trades, quotes, bars, updatedBars)");
		return -ENOTSUP;
	}

	struct event out;
	memset(&out, 0, sizeof(out));
	out.kind = ch->kind;
	if (at[K_IS_FINAL]) {
		const char *p = tok_p(&d, at[K_IS_FINAL]);
		size_t n = tok_n(&d, at[K_IS_FINAL]);
		bool t = text_is(p, n, "true"), f = text_is(p, n, "false");
		if (tok[at[K_IS_FINAL]].type != JSMN_PRIMITIVE || (!t && !f))
			return fail(&d, "", "isFinal", "not a boolean");
		if (f && out.kind == EVENT_BAR)
			out.kind = EVENT_UPDATED_BAR;
	}

	if (!at[K_SYMBOL])
		return fail(&d, "", "symbol", "missing");
	rc = read_symbol(&d, at[K_SYMBOL], &out);
	if (rc < 0)
		return rc;

	if (!at[K_EVENT_TS])
		return fail(&d, "", "eventTs", "missing");
	rc = read_time(&d, at[K_EVENT_TS], "", "eventTs", &out.t_ns);
	if (rc < 0)
		return rc;

	int pl = at[K_PAYLOAD];
	if (!pl)
		return fail(&d, "", "payload", "missing");
	if (tok[pl].type != JSMN_OBJECT)
		return fail(&d, "", "payload", "not an object");
	int64_t t_payload = 0;
	rc = read_payload(&d, pl, ch, &out, &t_payload);
	if (rc < 0)
		return rc;
	if (t_payload) /* Alpaca's own t wins: see envelope_in.h */
		out.t_ns = t_payload;
	out.raw.p = json + tok[pl].start;
	out.raw.n = (uint32_t)(tok[pl].end - tok[pl].start);

	out.recv_real_ns = ev->recv_real_ns;
	out.recv_mono_ns = ev->recv_mono_ns;
	*ev = out;
	return 0;
}
