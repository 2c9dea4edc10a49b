/* frame.c - zero-copy parser of one Alpaca market-data frame (see frame.h).
 *
 * jsmn tokenizes the frame; then one pass over the tokens both checks what
 * jsmn lets through (separators, literals, number grammar, control bytes in
 * strings), so every raw slice handed on is valid JSON the sink can splice
 * into an envelope, and reads each message into an event. Events are
 * delivered only after the whole frame proved well-formed. */
#include "config.h"

#include "source/frame.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

/* jsmn is header-only: its functions become static in this file only. Strict
 * mode rejects bare words; parent links make closing a container O(1) and
 * give the validation pass each token's parent. */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#define FRAME_TOK_INIT 1024
#define FRAME_EV_INIT 64
#define FRAME_MAX_DEPTH 64
#define FRAME_NUM_MAX 511 /* longest number literal we convert */

struct frame_parser {
	jsmntok_t *tok;
	unsigned ntok; /* capacity */
	struct event *ev; /* events of the frame being parsed, delivered at the end */
	unsigned nev;     /* capacity */
	locale_t c_locale; /* strtod_l fallback must not depend on the process locale */
	/* The last date seen in a "t" ("YYYY-MM-DD") and its midnight in UTC ns:
	 * a feed's timestamps share their date, so only the time is converted. */
	char day[10];
	int64_t day_ns;
	struct frame_stats st;
};

struct frame_parser *frame_parser_new(void)
{
	struct frame_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ntok = FRAME_TOK_INIT;
	p->tok = malloc(p->ntok * sizeof(*p->tok));
	p->nev = FRAME_EV_INIT;
	p->ev = malloc(p->nev * sizeof(*p->ev));
	p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!p->tok || !p->ev || p->c_locale == (locale_t)0) {
		frame_parser_free(p);
		return NULL;
	}
	return p;
}

void frame_parser_free(struct frame_parser *p)
{
	if (!p)
		return;
	if (p->c_locale != (locale_t)0)
		freelocale(p->c_locale);
	free(p->tok);
	free(p->ev);
	free(p);
}

const struct frame_stats *frame_parser_stats(const struct frame_parser *p)
{
	return &p->st;
}

const char *frame_reject_name(enum frame_reject r)
{
	switch (r) {
	case FRAME_REJ_NOT_OBJECT: return "not_object";
	case FRAME_REJ_NO_TYPE: return "no_type";
	case FRAME_REJ_MISSING_FIELD: return "missing_field";
	case FRAME_REJ_BAD_SYMBOL: return "bad_symbol";
	case FRAME_REJ_BAD_TIME: return "bad_time";
	case FRAME_REJ_BAD_NUMBER: return "bad_number";
	case FRAME_REJ_COUNT: break;
	}
	return "unknown";
}

/* ---- numbers ---------------------------------------------------------- */

static inline bool is_digit(char c)
{
	return (unsigned)((unsigned char)c - '0') <= 9;
}

/* Exact powers of ten representable in a double. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parses a JSON number (RFC 8259 grammar, nothing else) exactly as strtod
 * would. Fast path (Clinger): a mantissa of at most 2^53 scaled by an exact
 * power of ten <= 1e22 is one correctly rounded IEEE operation. Everything
 * else goes to strtod_l on a NUL-terminated stack copy. */
static int parse_double(const struct frame_parser *fp, const char *s, size_t n, double *out)
{
	const char *p = s, *e = s + n;
	bool neg = false, inexact = false;
	uint64_t mant = 0;
	int sig = 0;   /* significant digits accumulated in mant */
	int exp10 = 0; /* value = mant * 10^exp10 (while exact) */

	if (p < e && *p == '-') {
		neg = true;
		p++;
	}
	if (p == e || !is_digit(*p))
		return -1;
	if (*p == '0') {
		p++;
		if (p < e && is_digit(*p))
			return -1; /* leading zero */
	} else {
		for (; p < e && is_digit(*p); p++) {
			if (sig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				sig++;
			} else {
				exp10++;
				inexact |= *p != '0';
			}
		}
	}
	if (p < e && *p == '.') {
		p++;
		if (p == e || !is_digit(*p))
			return -1;
		for (; p < e && is_digit(*p); p++) {
			if (sig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				exp10--;
				if (mant)
					sig++;
			} else {
				inexact |= *p != '0';
			}
		}
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		bool eneg = false;
		if (p < e && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p == e || !is_digit(*p))
			return -1;
		int x = 0;
		for (; p < e && is_digit(*p); p++)
			if (x < 100000)
				x = x * 10 + (*p - '0');
		exp10 += eneg ? -x : x;
	}
	if (p != e)
		return -1;

	if (!inexact && mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)mant;
		d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	if (n > FRAME_NUM_MAX)
		return -1;
	char tmp[FRAME_NUM_MAX + 1];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	double d = strtod_l(tmp, &end, fp->c_locale);
	if (end != tmp + n || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* A JSON integer literal in [min, INT64_MAX]; no fraction, no exponent. */
static int parse_int(const char *s, size_t n, int64_t min, int64_t *out)
{
	const char *p = s, *e = s + n;
	bool neg = false;
	if (p < e && *p == '-') {
		neg = true;
		p++;
	}
	if (p == e || !is_digit(*p) || (*p == '0' && e - p > 1))
		return -1;
	uint64_t v = 0;
	for (; p < e; p++) {
		if (!is_digit(*p))
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	int64_t r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -1;
		r = (int64_t)v;
	}
	if (r < min)
		return -1;
	*out = r;
	return 0;
}

/* ---- strings ---------------------------------------------------------- */

static int hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Decodes the JSON string body s[0..n) into out (UTF-8). Returns the
 * length, or -1 if it does not fit in cap or has a bad escape. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char c = s[i++];
		if (c != '\\') {
			if (o >= cap)
				return -1;
			out[o++] = c;
			continue;
		}
		if (i >= n)
			return -1;
		c = s[i++];
		uint32_t cp;
		switch (c) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u': {
			int h = n - i >= 4 ? hex4(s + i) : -1;
			if (h < 0)
				return -1;
			i += 4;
			cp = (uint32_t)h;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return -1; /* lone low surrogate */
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				int lo = n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' ? hex4(s + i + 2) : -1;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				i += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
			}
			break;
		}
		default: return -1;
		}
		char u[4];
		size_t k;
		if (cp < 0x80) {
			u[0] = (char)cp;
			k = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xC0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3F));
			k = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xE0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (char)(0x80 | (cp & 0x3F));
			k = 3;
		} else {
			u[0] = (char)(0xF0 | (cp >> 18));
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[3] = (char)(0x80 | (cp & 0x3F));
			k = 4;
		}
		if (cap - o < k)
			return -1;
		memcpy(out + o, u, k);
		o += k;
	}
	return (int)o;
}

/* ---- validation ------------------------------------------------------- */

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* [a, b) is whitespace, or whitespace, exactly one sep, whitespace. */
static bool gap_ok(const char *buf, int a, int b, char sep)
{
	while (a < b && is_ws(buf[a]))
		a++;
	if (sep) {
		if (a >= b || buf[a] != sep)
			return false;
		a++;
		while (a < b && is_ws(buf[a]))
			a++;
	}
	return a == b;
}

static inline int tok_outer_start(const jsmntok_t *t)
{
	return t->start - (t->type == JSMN_STRING);
}

static inline int tok_outer_end(const jsmntok_t *t)
{
	return t->end + (t->type == JSMN_STRING);
}

static bool primitive_ok(const char *s, size_t n)
{
	switch (s[0]) {
	case 't': return n == 4 && memcmp(s, "true", 4) == 0;
	case 'f': return n == 5 && memcmp(s, "false", 5) == 0;
	case 'n': return n == 4 && memcmp(s, "null", 4) == 0;
	default: {
		/* grammar only: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
		const char *p = s, *e = s + n;
		if (p < e && *p == '-')
			p++;
		if (p == e || !is_digit(*p))
			return false;
		if (*p++ == '0') {
			if (p < e && is_digit(*p))
				return false;
		} else {
			while (p < e && is_digit(*p))
				p++;
		}
		if (p < e && *p == '.') {
			if (++p == e || !is_digit(*p))
				return false;
			while (p < e && is_digit(*p))
				p++;
		}
		if (p < e && (*p == 'e' || *p == 'E')) {
			p++;
			if (p < e && (*p == '+' || *p == '-'))
				p++;
			if (p == e || !is_digit(*p))
				return false;
			while (p < e && is_digit(*p))
				p++;
		}
		return p == e;
	}
	}
}

/* jsmn has already checked escapes; JSON also forbids raw control bytes.
 * Eight bytes at a time: a byte below 0x20 sets its high bit in
 * (x - 0x20..) & ~x. */
static bool string_ok(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
		if ((x - ones * 0x20) & ~x & highs)
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

static inline bool value_ok(const char *buf, const jsmntok_t *t)
{
	if (t->type == JSMN_PRIMITIVE)
		return primitive_ok(buf + t->start, (size_t)(t->end - t->start));
	if (t->type == JSMN_STRING)
		return string_ok(buf + t->start, (size_t)(t->end - t->start));
	return true;
}

/* Separators in their compact form first (what Alpaca sends), then the
 * general form. */
static inline bool sep_ok(const char *buf, int a, int b, char sep)
{
	if (sep ? b == a + 1 && buf[a] == sep : a == b)
		return true;
	return gap_ok(buf, a, b, sep);
}

/* Checks the value at token k, whole subtree included, for what jsmn lets
 * through: exactly one comma between siblings, none leading or trailing,
 * a colon after each key, keys are strings with one value, literal and
 * number grammar, no raw control bytes in strings. depth is the number of
 * containers around k. Returns the index of the token after the subtree,
 * or -1. */
static int check_container(const char *buf, const jsmntok_t *tok, int n, int k, int depth);

static inline int check_value(const char *buf, const jsmntok_t *tok, int n, int k, int depth)
{
	const jsmntok_t *t = &tok[k];
	if (t->type == JSMN_PRIMITIVE || t->type == JSMN_STRING)
		return value_ok(buf, t) ? k + 1 : -1;
	return check_container(buf, tok, n, k, depth);
}

/* The container case of check_value, kept out of line: its stack is big. */
__attribute__((noinline)) static int check_container(const char *buf, const jsmntok_t *tok,
						     int n, int k, int depth)
{
	const jsmntok_t *t = &tok[k];
	if (depth >= FRAME_MAX_DEPTH)
		return -1;
	struct {
		int idx, cur;
		bool first;
	} st[FRAME_MAX_DEPTH];
	int sp = 1;
	st[0].idx = k;
	st[0].cur = t->start + 1;
	st[0].first = true;
	int end = t->end, j = k + 1;
	for (; j < n && tok[j].start < end; j++) {
		const jsmntok_t *u = &tok[j];
		while (st[sp - 1].idx != u->parent) {
			if (!sep_ok(buf, st[sp - 1].cur, tok[st[sp - 1].idx].end - 1, 0) || --sp == 0)
				return -1;
		}
		if (!sep_ok(buf, st[sp - 1].cur, tok_outer_start(u), st[sp - 1].first ? 0 : ','))
			return -1;
		st[sp - 1].first = false;
		if (tok[u->parent].type == JSMN_OBJECT) {
			if (u->type != JSMN_STRING || u->size != 1 || j + 1 >= n || tok[j + 1].parent != j ||
			    !value_ok(buf, u) || !sep_ok(buf, u->end + 1, tok_outer_start(&tok[j + 1]), ':'))
				return -1;
			u = &tok[++j];
		}
		if (!value_ok(buf, u))
			return -1;
		st[sp - 1].cur = tok_outer_end(u);
		if (u->type == JSMN_OBJECT || u->type == JSMN_ARRAY) {
			if (depth + sp >= FRAME_MAX_DEPTH)
				return -1;
			st[sp].idx = j;
			st[sp].cur = u->start + 1;
			st[sp].first = true;
			sp++;
		}
	}
	while (sp > 0) {
		if (!sep_ok(buf, st[sp - 1].cur, tok[st[sp - 1].idx].end - 1, 0))
			return -1;
		sp--;
	}
	return j;
}

/* ---- messages --------------------------------------------------------- */

/* Keys we read; F_OTHER for anything else. */
enum fkey {
	F_OTHER = 0,
	F_T, F_S, F_t, F_i, F_p, F_s,
	F_bp, F_ap, F_bs, F_as,
	F_o, F_h, F_l, F_c, F_v, F_vw, F_n,
	F_ci, F_cp, F_cs,
	F_code, F_msg,
	F_COUNT
};

static enum fkey key1(char a)
{
	switch (a) {
	case 'T': return F_T;
	case 'S': return F_S;
	case 't': return F_t;
	case 'i': return F_i;
	case 'p': return F_p;
	case 's': return F_s;
	case 'o': return F_o;
	case 'h': return F_h;
	case 'l': return F_l;
	case 'c': return F_c;
	case 'v': return F_v;
	case 'n': return F_n;
	default: return F_OTHER;
	}
}

static enum fkey key2(char a, char b)
{
	switch (a) {
	case 'b': return b == 'p' ? F_bp : b == 's' ? F_bs : F_OTHER;
	case 'a': return b == 'p' ? F_ap : b == 's' ? F_as : F_OTHER;
	case 'v': return b == 'w' ? F_vw : F_OTHER;
	case 'c': return b == 'i' ? F_ci : b == 'p' ? F_cp : b == 's' ? F_cs : F_OTHER;
	default: return F_OTHER;
	}
}

static enum fkey key_decoded(const char *k, size_t n)
{
	if (n == 1)
		return key1(k[0]);
	if (n == 2)
		return key2(k[0], k[1]);
	if (n == 4 && memcmp(k, "code", 4) == 0)
		return F_code;
	if (n == 3 && memcmp(k, "msg", 3) == 0)
		return F_msg;
	return F_OTHER;
}

/* Classifies a key and checks it has no raw control bytes. -1 if bad. */
static int key_of(const char *k, size_t n)
{
	/* Alpaca's keys are one or two plain characters */
	if (n == 1 && (unsigned char)k[0] >= 0x20)
		return key1(k[0]); /* a lone backslash cannot end a string */
	if (n == 2 && (unsigned char)k[0] >= 0x20 && (unsigned char)k[1] >= 0x20 && k[0] != '\\')
		return key2(k[0], k[1]);
	bool esc = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c < 0x20)
			return -1;
		esc |= c == '\\';
	}
	if (!esc)
		return key_decoded(k, n);
	char tmp[8]; /* the longest key we know is 4 bytes */
	int m = unescape(k, n, tmp, sizeof(tmp));
	return m < 0 ? F_OTHER : key_decoded(tmp, (size_t)m);
}

static enum event_kind kind_decoded(const char *v, size_t n)
{
	if (n == 1) {
		switch (v[0]) {
		case 't': return EVENT_TRADE;
		case 'q': return EVENT_QUOTE;
		case 'b': return EVENT_BAR;
		case 'u': return EVENT_UPDATED_BAR;
		case 'd': return EVENT_DAILY_BAR;
		case 's': return EVENT_TRADING_STATUS;
		case 'l': return EVENT_LULD;
		case 'c': return EVENT_CORRECTION;
		case 'x': return EVENT_CANCEL_ERROR;
		case 'i': return EVENT_IMBALANCE;
		default: return EVENT_NONE;
		}
	}
	if (n == 7 && memcmp(v, "success", 7) == 0)
		return EVENT_CTL_SUCCESS;
	if (n == 5 && memcmp(v, "error", 5) == 0)
		return EVENT_CTL_ERROR;
	if (n == 12 && memcmp(v, "subscription", 12) == 0)
		return EVENT_CTL_SUBSCRIPTION;
	return EVENT_NONE;
}

static enum event_kind kind_of(const char *v, size_t n)
{
	enum event_kind k = kind_decoded(v, n);
	if (k != EVENT_NONE || !memchr(v, '\\', n))
		return k;
	char tmp[16];
	int m = unescape(v, n, tmp, sizeof(tmp));
	return m < 0 ? EVENT_NONE : kind_decoded(tmp, (size_t)m);
}

/* A member value as both paths see it: the body of a string (no quotes), a
 * number or literal, or a container; type FV_NONE = absent. */
enum fval { FV_NONE = 0, FV_STRING, FV_PRIMITIVE, FV_CONTAINER };

struct fld {
	uint32_t off, len;
	uint8_t type; /* enum fval */
};

/* One message's members of interest, filled by either path. */
struct msg {
	struct frame_parser *fp;
	const char *buf;
	bool dup_type;   /* "T" seen twice */
	uint32_t t_key;  /* offset of the opening quote of the "T" key */
	uint32_t t_end;  /* offset just past the "T" value */
	struct fld f[F_COUNT];
};

static int num(const struct msg *m, enum fkey k, double *out)
{
	const struct fld *v = &m->f[k];
	if (v->type != FV_PRIMITIVE)
		return -1;
	return parse_double(m->fp, m->buf + v->off, v->len, out);
}

/* Optional number: NaN when absent. */
static int num_opt(const struct msg *m, enum fkey k, double *out)
{
	if (!m->f[k].type) {
		*out = NAN;
		return 0;
	}
	return num(m, k, out);
}

static int integer(const struct msg *m, enum fkey k, int64_t min, int64_t *out)
{
	const struct fld *v = &m->f[k];
	if (v->type != FV_PRIMITIVE)
		return -1;
	return parse_int(m->buf + v->off, v->len, min, out);
}

static int symbol(const struct msg *m, struct event *ev)
{
	const struct fld *v = &m->f[F_S];
	if (v->type != FV_STRING)
		return -1;
	const char *s = m->buf + v->off;
	size_t n = v->len;
	int len = -1;
	if (n < EVENT_SYMBOL_MAX) {
		/* the common case: copy, and fall back if an escape shows up */
		size_t i = 0;
		for (; i < n && s[i] != '\\'; i++)
			ev->symbol[i] = s[i];
		if (i == n)
			len = (int)n; /* raw control bytes were refused by check_value */
	}
	if (len < 0) {
		len = unescape(s, n, ev->symbol, EVENT_SYMBOL_MAX - 1);
		if (len < 0)
			return -1;
		for (int i = 0; i < len; i++)
			if ((unsigned char)ev->symbol[i] < 0x20)
				return -1; /* includes an escaped NUL */
	}
	if (len == 0)
		return -1;
	ev->symbol[len] = '\0';
	ev->symbol_len = (uint8_t)len;
	return 0;
}

static inline unsigned digits2(const char *s)
{
	unsigned a = (unsigned)((unsigned char)s[0] - '0'), b = (unsigned)((unsigned char)s[1] - '0');
	return a > 9 || b > 9 ? 100 : a * 10 + b;
}

/* Caches the UTC midnight of the date s[0..10). -1 if clock_parse_rfc3339
 * refuses it or a time of that day could overflow int64 ns. */
static int day_refresh(struct frame_parser *p, const char *s)
{
	char mid[20];
	memcpy(mid, s, 10);
	memcpy(mid + 10, "T00:00:00Z", 10);
	int64_t ns;
	p->day[0] = '\0'; /* never matches a date: strings here have no control bytes */
	if (clock_parse_rfc3339(mid, sizeof(mid), &ns) < 0 || ns > INT64_MAX - 86400 * CLOCK_NS_PER_SEC)
		return -1;
	memcpy(p->day, s, 10);
	p->day_ns = ns;
	return 0;
}

/* "YYYY-MM-DDThh:mm:ss[.f{1,9}]Z" as clock_parse_rfc3339 reads it, the date
 * from the cache. -1 for any other form: clock_parse_rfc3339 then decides. */
static int time_fast(struct frame_parser *p, const char *s, size_t n, int64_t *out)
{
	static const int64_t scale[10] = {1, 100000000, 10000000, 1000000, 100000,
					  10000, 1000, 100, 10, 1};
	if (n < 20 || n > 30 || s[n - 1] != 'Z' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	if (memcmp(s, p->day, 10) != 0 && day_refresh(p, s) < 0)
		return -1;
	unsigned hh = digits2(s + 11), mi = digits2(s + 14), ss = digits2(s + 17);
	if (hh > 23 || mi > 59 || ss > 59)
		return -1;
	int64_t frac = 0;
	if (n > 20) {
		size_t nd = n - 21;
		if (s[19] != '.' || nd == 0)
			return -1;
		for (size_t i = 20; i < n - 1; i++) {
			unsigned c = (unsigned)((unsigned char)s[i] - '0');
			if (c > 9)
				return -1;
			frac = frac * 10 + c;
		}
		frac *= scale[nd];
	}
	*out = p->day_ns + (int64_t)((hh * 60 + mi) * 60 + ss) * CLOCK_NS_PER_SEC + frac;
	return 0;
}

static int timestamp(const struct msg *m, int64_t *out)
{
	const struct fld *v = &m->f[F_t];
	if (v->type != FV_STRING)
		return -1;
	const char *s = m->buf + v->off;
	size_t n = v->len;
	if (time_fast(m->fp, s, n, out) == 0 || clock_parse_rfc3339(s, n, out) == 0)
		return 0;
	if (!memchr(s, '\\', n))
		return -1;
	char tmp[CLOCK_RFC3339_MAX];
	int k = unescape(s, n, tmp, sizeof(tmp));
	if (k < 0)
		return -1;
	return clock_parse_rfc3339(tmp, (size_t)k, out) == 0 ? 0 : -1;
}

/* The byte range of the "T" member plus one adjacent comma, relative to the
 * object [os, oe): the following comma if there is one, else the preceding.
 * a is the key's opening quote, b just past the value's closing quote. */
static void type_cut(const char *buf, int os, int oe, int a, int b, struct event *ev)
{
	int j = b;
	while (j < oe && is_ws(buf[j]))
		j++;
	if (buf[j] == ',') {
		b = j + 1;
	} else {
		j = a - 1;
		while (j > os && is_ws(buf[j]))
			j--;
		if (buf[j] == ',')
			a = j;
	}
	ev->type_off = (uint32_t)(a - os);
	ev->type_len = (uint32_t)(b - a);
}

#define REQUIRE(m, k)                                                                              \
	do {                                                                                       \
		if (!(m)->f[k].type)                                                               \
			return FRAME_REJ_MISSING_FIELD;                                            \
	} while (0)

/* Fills ev from the collected fields; returns -1 on success or a reason. */
static int fill(struct msg *m, struct event *ev)
{
	enum event_kind k = ev->kind;
	if (k >= EVENT_CTL_SUCCESS) {
		if (m->f[F_msg].type == FV_STRING) {
			ev->u.ctl.msg.p = m->buf + m->f[F_msg].off;
			ev->u.ctl.msg.n = m->f[F_msg].len;
		}
		if (k == EVENT_CTL_ERROR && m->f[F_code].type) {
			int64_t c;
			if (integer(m, F_code, INT_MIN, &c) || c > INT_MAX)
				return FRAME_REJ_BAD_NUMBER;
			ev->u.ctl.code = (int)c;
		}
		return -1;
	}

	REQUIRE(m, F_S);
	REQUIRE(m, F_t);
	switch (k) {
	case EVENT_TRADE:
		REQUIRE(m, F_i);
		REQUIRE(m, F_p);
		REQUIRE(m, F_s);
		break;
	case EVENT_QUOTE:
		REQUIRE(m, F_bp);
		REQUIRE(m, F_ap);
		REQUIRE(m, F_bs);
		REQUIRE(m, F_as);
		break;
	case EVENT_BAR:
	case EVENT_UPDATED_BAR:
	case EVENT_DAILY_BAR:
		REQUIRE(m, F_o);
		REQUIRE(m, F_h);
		REQUIRE(m, F_l);
		REQUIRE(m, F_c);
		REQUIRE(m, F_v);
		break;
	case EVENT_CANCEL_ERROR:
		REQUIRE(m, F_i);
		break;
	default: break;
	}
	if (symbol(m, ev))
		return FRAME_REJ_BAD_SYMBOL;
	if (timestamp(m, &ev->t_ns))
		return FRAME_REJ_BAD_TIME;

	switch (k) {
	case EVENT_TRADE:
		if (integer(m, F_i, 0, &ev->u.trade.id) || num(m, F_p, &ev->u.trade.price) ||
		    num(m, F_s, &ev->u.trade.size))
			return FRAME_REJ_BAD_NUMBER;
		break;
	case EVENT_QUOTE:
		if (num(m, F_bp, &ev->u.quote.bid_px) || num(m, F_ap, &ev->u.quote.ask_px) ||
		    num(m, F_bs, &ev->u.quote.bid_sz) || num(m, F_as, &ev->u.quote.ask_sz))
			return FRAME_REJ_BAD_NUMBER;
		break;
	case EVENT_BAR:
	case EVENT_UPDATED_BAR:
	case EVENT_DAILY_BAR: {
		struct event_bar *b = &ev->u.bar;
		if (num(m, F_o, &b->o) || num(m, F_h, &b->h) || num(m, F_l, &b->l) ||
		    num(m, F_c, &b->c) || num(m, F_v, &b->v) || num_opt(m, F_vw, &b->vw))
			return FRAME_REJ_BAD_NUMBER;
		b->n = -1;
		if (m->f[F_n].type && integer(m, F_n, 0, &b->n))
			return FRAME_REJ_BAD_NUMBER;
		break;
	}
	case EVENT_CORRECTION:
		ev->u.trade.id = -1;
		if ((m->f[F_ci].type && integer(m, F_ci, 0, &ev->u.trade.id)) ||
		    num_opt(m, F_cp, &ev->u.trade.price) || num_opt(m, F_cs, &ev->u.trade.size))
			return FRAME_REJ_BAD_NUMBER;
		break;
	case EVENT_CANCEL_ERROR:
		if (integer(m, F_i, 0, &ev->u.trade.id) || num_opt(m, F_p, &ev->u.trade.price) ||
		    num_opt(m, F_s, &ev->u.trade.size))
			return FRAME_REJ_BAD_NUMBER;
		break;
	default: break;
	}
	return -1;
}

static void reject(struct frame_stats *d, enum frame_reject r)
{
	d->rejected++;
	d->by_reason[r]++;
}

/* Counts a read message: 1 if ev is to be delivered. */
static unsigned tally(struct frame_stats *d, const struct event *ev, int why)
{
	if (why >= 0)
		reject(d, (enum frame_reject)why);
	else if (ev->kind == EVENT_NONE)
		d->unknown_type++;
	else
		return 1;
	return 0;
}

static void stats_add(struct frame_stats *st, const struct frame_stats *d)
{
	st->messages += d->messages;
	st->events += d->events;
	st->unknown_type += d->unknown_type;
	st->rejected += d->rejected;
	for (int i = 0; i < FRAME_REJ_COUNT; i++)
		st->by_reason[i] += d->by_reason[i];
}

/* What both paths do once a message's members are collected: the type, the
 * fields, the raw slice. Sets *why to a frame_reject, or to -1 with ev
 * filled (ev->kind EVENT_NONE for an unknown T). */
static void finish_object(struct msg *m, int os, int oe, struct event *ev, int *why)
{
	const struct fld *t = &m->f[F_T];
	*why = -1;
	ev->kind = EVENT_NONE;
	if (t->type != FV_STRING || m->dup_type) {
		*why = FRAME_REJ_NO_TYPE;
		return;
	}
	ev->kind = kind_of(m->buf + t->off, t->len);
	if (ev->kind == EVENT_NONE)
		return;
	*why = fill(m, ev);
	if (*why >= 0)
		return;
	ev->raw.p = m->buf + os;
	ev->raw.n = (uint32_t)(oe - os);
	type_cut(m->buf, os, oe, (int)m->t_key, (int)m->t_end, ev);
}

static inline uint8_t fval_of(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? FV_STRING : t->type == JSMN_PRIMITIVE ? FV_PRIMITIVE : FV_CONTAINER;
}

/* Reads the message object at token k, checking its syntax on the way.
 * Returns the index after it, or -1 if the frame is malformed; then *why as
 * finish_object. */
static int read_object(struct msg *m, const jsmntok_t *tok, int n, int k, struct event *ev,
		       int *why)
{
	const char *buf = m->buf;
	int cur = tok[k].start + 1;
	int j = k + 1;
	memset(m->f, 0, sizeof(m->f));
	m->dup_type = false;
	while (j < n && tok[j].parent == k) {
		const jsmntok_t *key = &tok[j];
		if (key->type != JSMN_STRING || key->size != 1 || j + 1 >= n)
			return -1;
		const jsmntok_t *val = &tok[j + 1];
		if (!sep_ok(buf, cur, key->start - 1, j == k + 1 ? 0 : ',') ||
		    !sep_ok(buf, key->end + 1, tok_outer_start(val), ':'))
			return -1;
		int fk = key_of(buf + key->start, (size_t)(key->end - key->start));
		if (fk < 0)
			return -1;
		int next = check_value(buf, tok, n, j + 1, 2);
		if (next < 0)
			return -1;
		if (fk == F_T) {
			m->dup_type |= m->f[F_T].type != FV_NONE;
			m->t_key = (uint32_t)key->start - 1;
			m->t_end = (uint32_t)tok_outer_end(val);
		}
		m->f[fk] = (struct fld){(uint32_t)val->start, (uint32_t)(val->end - val->start), fval_of(val)};
		cur = tok_outer_end(val);
		j = next;
	}
	if (!sep_ok(buf, cur, tok[k].end - 1, 0))
		return -1;
	finish_object(m, tok[k].start, tok[k].end, ev, why);
	return j;
}

/* ---- the single pass -------------------------------------------------- */

static int grow_ev(struct frame_parser *p);

/* What Alpaca sends is compact: no whitespace, no escapes, flat objects
 * whose values are strings, numbers or arrays of strings. One pass over the
 * bytes checks exactly that grammar and collects the members; anything else
 * (whitespace, a backslash, a nested object, a non-object element, an empty
 * array or object, a malformed token) makes it give up, and the frame goes
 * to the jsmn path, which handles all of JSON. What the single pass accepts
 * is valid JSON, read by the same finish_object, so both paths agree. */

/* The string whose opening quote is at i: the index of its closing quote,
 * or 0 to give up (escape, control byte, end of buffer). */
static inline size_t fast_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c == '"')
			return i;
		if (c == '\\' || c < 0x20)
			return 0;
	}
	return 0;
}

static inline size_t fast_digits(const char *b, size_t len, size_t i)
{
	while (i < len && is_digit(b[i]))
		i++;
	return i;
}

/* The number or literal starting at i: the index just past it, or 0. The
 * grammar is primitive_ok's; the delimiter after it is the caller's check. */
static size_t fast_primitive(const char *b, size_t len, size_t i)
{
	switch (b[i]) {
	case 't': return len - i > 4 && memcmp(b + i, "true", 4) == 0 ? i + 4 : 0;
	case 'f': return len - i > 5 && memcmp(b + i, "false", 5) == 0 ? i + 5 : 0;
	case 'n': return len - i > 4 && memcmp(b + i, "null", 4) == 0 ? i + 4 : 0;
	default: break;
	}
	if (b[i] == '-')
		i++;
	if (i >= len || !is_digit(b[i]))
		return 0;
	i = b[i] == '0' ? i + 1 : fast_digits(b, len, i + 1);
	if (i < len && b[i] == '.') {
		if (++i >= len || !is_digit(b[i]))
			return 0;
		i = fast_digits(b, len, i + 1);
	}
	if (i < len && (b[i] == 'e' || b[i] == 'E')) {
		if (++i < len && (b[i] == '+' || b[i] == '-'))
			i++;
		if (i >= len || !is_digit(b[i]))
			return 0;
		i = fast_digits(b, len, i + 1);
	}
	return i;
}

/* The array of strings and primitives at i (Alpaca's trade conditions, a
 * subscription's lists): the index just past it, or 0. */
static size_t fast_flat_array(const char *b, size_t len, size_t i)
{
	if (b[i + 1] == ']')
		return i + 2;
	for (i++; i < len;) {
		if (b[i] == '"') {
			i = fast_string(b, len, i);
			if (!i)
				return 0;
			i++;
		} else {
			i = fast_primitive(b, len, i);
			if (!i)
				return 0;
		}
		if (i >= len)
			return 0;
		if (b[i] == ']')
			return i + 1;
		if (b[i++] != ',')
			return 0;
	}
	return 0;
}

/* The whole frame in one pass. Returns the number of events (in p->ev,
 * stats in *d), or -1 to hand the frame to the jsmn path. buf[len - 1] is
 * ']', which bounds every scan below without a length check of its own. */
static int fast_frame(struct frame_parser *p, const char *buf, size_t len, struct frame_stats *d)
{
	if (len < 4 || buf[0] != '[' || buf[len - 1] != ']')
		return -1;
	struct msg m = {.fp = p, .buf = buf};
	unsigned nev = 0;
	size_t i = 1;
	for (;;) {
		if (buf[i] != '{' || buf[i + 1] != '"')
			return -1; /* not an object, empty object, whitespace */
		size_t os = i++;
		memset(m.f, 0, sizeof(m.f));
		m.dup_type = false;
		for (;;) {
			/* buf[i] is '"' here */
			size_t ke = fast_string(buf, len, i);
			if (!ke || buf[ke + 1] != ':')
				return -1;
			size_t ks = i + 1;
			/* an escape-free key: key_of's classification without its checks */
			int fk = key_decoded(buf + ks, ke - ks);
			struct fld v;
			i = ke + 2;
			if (buf[i] == '"') {
				size_t e = fast_string(buf, len, i);
				if (!e)
					return -1;
				v = (struct fld){(uint32_t)i + 1, (uint32_t)(e - i - 1), FV_STRING};
				i = e + 1;
			} else if (buf[i] == '[') {
				size_t e = fast_flat_array(buf, len, i);
				if (!e)
					return -1;
				v = (struct fld){(uint32_t)i, (uint32_t)(e - i), FV_CONTAINER};
				i = e;
			} else {
				size_t e = fast_primitive(buf, len, i);
				if (!e)
					return -1;
				v = (struct fld){(uint32_t)i, (uint32_t)(e - i), FV_PRIMITIVE};
				i = e;
			}
			if (fk == F_T) {
				m.dup_type |= m.f[F_T].type != FV_NONE;
				m.t_key = (uint32_t)ks - 1;
				m.t_end = (uint32_t)i;
			}
			m.f[fk] = v;
			if (i >= len)
				return -1;
			if (buf[i] == '}')
				break;
			if (buf[i] != ',' || buf[i + 1] != '"')
				return -1;
			i++;
		}
		i++; /* past '}' */
		if (nev == p->nev && grow_ev(p))
			return -1; /* the jsmn path reports ENOMEM */
		struct event *ev = &p->ev[nev];
		memset(ev, 0, sizeof(*ev));
		int why;
		finish_object(&m, (int)os, (int)i, ev, &why);
		d->messages++;
		nev += tally(d, ev, why);
		if (i >= len)
			return -1;
		if (buf[i] == ']')
			return i + 1 == len ? (int)nev : -1;
		if (buf[i] != ',')
			return -1;
		i++;
	}
}

/* Doubles the token or event array; both are kept for the next frame. */
static int grow_tok(struct frame_parser *p)
{
	jsmntok_t *t = realloc(p->tok, (size_t)p->ntok * 2 * sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->tok = t;
	p->ntok *= 2;
	return 0;
}

static int grow_ev(struct frame_parser *p)
{
	struct event *e = realloc(p->ev, (size_t)p->nev * 2 * sizeof(*e));
	if (!e)
		return -ENOMEM;
	p->ev = e;
	p->nev *= 2;
	return 0;
}

/* The jsmn path: any JSON. Returns the number of events (in p->ev, stats in
 * *d), -EPROTO or -ENOMEM. */
static int jsmn_frame(struct frame_parser *p, const char *buf, size_t len, struct frame_stats *d)
{
	jsmn_parser jp;
	jsmn_init(&jp);
	int r;
	for (;;) {
		r = jsmn_parse(&jp, buf, len, p->tok, p->ntok);
		if (r != JSMN_ERROR_NOMEM)
			break;
		/* jsmn resumes where it stopped once given more tokens */
		if (grow_tok(p))
			return -ENOMEM;
	}
	const jsmntok_t *tok = p->tok;
	int n = (int)jp.toknext;
	if (r < 0 || n < 1 || tok[0].type != JSMN_ARRAY || !gap_ok(buf, 0, tok[0].start, 0) ||
	    !gap_ok(buf, tok[0].end, (int)len, 0))
		return -EPROTO;

	/* One pass checks the syntax and reads the messages into p->ev; the
	 * events go out only once the whole frame is known to be good. */
	struct msg m = {.fp = p, .buf = buf};
	unsigned nev = 0;
	int cur = tok[0].start + 1;
	for (int k = 1; k < n;) {
		if (!sep_ok(buf, cur, tok_outer_start(&tok[k]), k == 1 ? 0 : ','))
			return -EPROTO;
		cur = tok_outer_end(&tok[k]);
		d->messages++;
		if (tok[k].type != JSMN_OBJECT) {
			k = check_value(buf, tok, n, k, 1);
			if (k < 0)
				return -EPROTO;
			reject(d, FRAME_REJ_NOT_OBJECT);
			continue;
		}
		if (nev == p->nev && grow_ev(p))
			return -ENOMEM;
		struct event *ev = &p->ev[nev];
		memset(ev, 0, sizeof(*ev));
		int why;
		k = read_object(&m, tok, n, k, ev, &why);
		if (k < 0)
			return -EPROTO;
		nev += tally(d, ev, why);
	}
	if (!sep_ok(buf, cur, tok[0].end - 1, 0))
		return -EPROTO;
	return (int)nev;
}

int frame_parse(struct frame_parser *p, const char *buf, size_t len, int64_t recv_real_ns,
		int64_t recv_mono_ns, frame_cb cb, void *arg)
{
	if (!p || !buf || !cb)
		return -EINVAL;
	if (len >= (size_t)INT_MAX) {
		p->st.frames_bad++;
		return -EMSGSIZE;
	}

	struct frame_stats d;
	memset(&d, 0, sizeof(d));
	int nev = fast_frame(p, buf, len, &d);
	if (nev < 0) {
		p->st.frames_general++;
		memset(&d, 0, sizeof(d));
		nev = jsmn_frame(p, buf, len, &d);
		if (nev < 0) {
			p->st.frames_bad++;
			return nev;
		}
	}
	p->st.frames++;
	d.events = (uint64_t)nev;
	stats_add(&p->st, &d);
	for (int i = 0; i < nev; i++) {
		p->ev[i].recv_real_ns = recv_real_ns;
		p->ev[i].recv_mono_ns = recv_mono_ns;
		cb(arg, &p->ev[i]);
	}
	return nev;
}
