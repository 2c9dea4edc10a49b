/* recording.c - JSONL recording reader and writer (format in recording.h).
 *
 * A small strict JSON scanner validates each line in place and notes the
 * byte ranges the replayer needs (message objects and their T, S, i, t), so
 * messages are sent exactly as recorded and nothing is allocated per line
 * once the buffers have grown to the largest line seen. */
#include "config.h"

#include "replay/recording.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX_DEPTH 64
#define READ_CHUNK 65536u
#define BUF_SLACK 4098u /* room beyond max_line: the newline, the NUL, a read */

/* ---- strict JSON scanner ------------------------------------------------ */

struct scan {
	const unsigned char *p;
	size_t n, i;
	int depth;
	const char *why; /* first error, static text */
	size_t why_at;
};

static int scan_fail(struct scan *s, const char *why)
{
	if (!s->why) {
		s->why = why;
		s->why_at = s->i;
	}
	return -1;
}

static void scan_ws(struct scan *s)
{
	while (s->i < s->n) {
		unsigned char c = s->p[s->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->i++;
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int scan_u4(struct scan *s, unsigned *out)
{
	unsigned v = 0;
	if (s->n - s->i < 4)
		return scan_fail(s, "truncated \\u escape");
	for (int k = 0; k < 4; k++) {
		int h = hexval(s->p[s->i + k]);
		if (h < 0)
			return scan_fail(s, "bad \\u escape");
		v = v << 4 | (unsigned)h;
	}
	s->i += 4;
	*out = v;
	return 0;
}

/* One UTF-8 sequence starting with a byte >= 0x80 (RFC 3629: no overlongs,
 * no surrogates, <= U+10FFFF). */
static int scan_utf8(struct scan *s)
{
	const unsigned char *p = s->p + s->i;
	size_t left = s->n - s->i;
	unsigned c = p[0], need, min, cp;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, min = 0x80, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, min = 0x800, cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, min = 0x10000, cp = c & 0x07;
	} else {
		return scan_fail(s, "invalid UTF-8");
	}
	if (left <= need)
		return scan_fail(s, "invalid UTF-8");
	for (unsigned k = 1; k <= need; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return scan_fail(s, "invalid UTF-8");
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return scan_fail(s, "invalid UTF-8");
	s->i += need + 1;
	return 0;
}

/* At '"'. On success *in is the content between the quotes. */
static int scan_string(struct scan *s, struct recording_span *in)
{
	if (s->i >= s->n || s->p[s->i] != '"')
		return scan_fail(s, "expected a string");
	size_t start = ++s->i;
	for (;;) {
		if (s->i >= s->n)
			return scan_fail(s, "unterminated string");
		unsigned char c = s->p[s->i];
		if (c == '"')
			break;
		if (c < 0x20)
			return scan_fail(s, "control character in string");
		if (c == '\\') {
			if (++s->i >= s->n)
				return scan_fail(s, "unterminated string");
			c = s->p[s->i++];
			if (c == 'u') {
				unsigned u, lo;
				if (scan_u4(s, &u) < 0)
					return -1;
				if (u >= 0xdc00 && u <= 0xdfff)
					return scan_fail(s, "lone low surrogate escape");
				if (u >= 0xd800 && u <= 0xdbff) {
					if (s->n - s->i < 2 || s->p[s->i] != '\\' || s->p[s->i + 1] != 'u')
						return scan_fail(s, "lone high surrogate escape");
					s->i += 2;
					if (scan_u4(s, &lo) < 0)
						return -1;
					if (lo < 0xdc00 || lo > 0xdfff)
						return scan_fail(s, "bad surrogate pair");
				}
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return scan_fail(s, "bad escape");
			}
			continue;
		}
		if (c >= 0x80) {
			if (scan_utf8(s) < 0)
				return -1;
			continue;
		}
		s->i++;
	}
	if (in) {
		in->off = (uint32_t)start;
		in->len = (uint32_t)(s->i - start);
	}
	s->i++; /* closing quote */
	return 0;
}

static bool isdig(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number. *integral says whether it had no fraction or exponent. */
static int scan_number(struct scan *s, struct recording_span *sp, bool *integral)
{
	size_t start = s->i;
	bool intg = true;
	if (s->i < s->n && s->p[s->i] == '-')
		s->i++;
	if (s->i >= s->n || !isdig(s->p[s->i]))
		return scan_fail(s, "bad number");
	if (s->p[s->i] == '0') {
		s->i++;
	} else {
		while (s->i < s->n && isdig(s->p[s->i]))
			s->i++;
	}
	if (s->i < s->n && s->p[s->i] == '.') {
		intg = false;
		s->i++;
		if (s->i >= s->n || !isdig(s->p[s->i]))
			return scan_fail(s, "bad number");
		while (s->i < s->n && isdig(s->p[s->i]))
			s->i++;
	}
	if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
		intg = false;
		s->i++;
		if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-'))
			s->i++;
		if (s->i >= s->n || !isdig(s->p[s->i]))
			return scan_fail(s, "bad number");
		while (s->i < s->n && isdig(s->p[s->i]))
			s->i++;
	}
	if (sp) {
		sp->off = (uint32_t)start;
		sp->len = (uint32_t)(s->i - start);
	}
	if (integral)
		*integral = intg;
	return 0;
}

static int scan_lit(struct scan *s, const char *lit)
{
	size_t k = strlen(lit);
	if (s->n - s->i < k || memcmp(s->p + s->i, lit, k) != 0)
		return scan_fail(s, "unexpected character");
	s->i += k;
	return 0;
}

static int scan_value(struct scan *s);

/* At '{' or '['. Generic container: members are only validated. */
static int scan_container(struct scan *s)
{
	unsigned char open = s->p[s->i], close = open == '{' ? '}' : ']';
	if (++s->depth > SCAN_MAX_DEPTH)
		return scan_fail(s, "nesting too deep");
	s->i++;
	scan_ws(s);
	if (s->i < s->n && s->p[s->i] == close) {
		s->i++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			scan_ws(s);
			if (scan_string(s, NULL) < 0)
				return -1;
			scan_ws(s);
			if (s->i >= s->n || s->p[s->i] != ':')
				return scan_fail(s, "expected ':'");
			s->i++;
		}
		if (scan_value(s) < 0)
			return -1;
		scan_ws(s);
		if (s->i >= s->n)
			return scan_fail(s, "unterminated object or array");
		if (s->p[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->p[s->i] == close) {
			s->i++;
			s->depth--;
			return 0;
		}
		return scan_fail(s, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* Any value, with leading whitespace. */
static int scan_value(struct scan *s)
{
	scan_ws(s);
	if (s->i >= s->n)
		return scan_fail(s, "expected a value");
	switch (s->p[s->i]) {
	case '{':
	case '[':
		return scan_container(s);
	case '"':
		return scan_string(s, NULL);
	case 't':
		return scan_lit(s, "true");
	case 'f':
		return scan_lit(s, "false");
	case 'n':
		return scan_lit(s, "null");
	default:
		if (s->p[s->i] == '-' || isdig(s->p[s->i]))
			return scan_number(s, NULL, NULL);
		return scan_fail(s, "expected a value");
	}
}

static bool key_is(const struct scan *s, struct recording_span k, const char *name)
{
	size_t n = strlen(name);
	return k.len == n && memcmp(s->p + k.off, name, n) == 0;
}

/* At '{' (after whitespace): one Alpaca message object. Notes the whole
 * object and its T, S, i, t members; requires a non-empty string T. */
static int scan_message(struct scan *s, struct recording_msg *m)
{
	memset(m, 0, sizeof(*m));
	scan_ws(s);
	if (s->i >= s->n || s->p[s->i] != '{')
		return scan_fail(s, "message is not an object");
	size_t start = s->i;
	if (++s->depth > SCAN_MAX_DEPTH)
		return scan_fail(s, "nesting too deep");
	bool have_t = false;
	s->i++;
	scan_ws(s);
	if (s->i < s->n && s->p[s->i] == '}') {
		s->i++;
	} else {
		for (;;) {
			struct recording_span k;
			scan_ws(s);
			if (scan_string(s, &k) < 0)
				return -1;
			scan_ws(s);
			if (s->i >= s->n || s->p[s->i] != ':')
				return scan_fail(s, "expected ':'");
			s->i++;
			scan_ws(s);
			struct recording_span *dst = NULL;
			bool want_str = true;
			if (key_is(s, k, "T")) {
				if (have_t)
					return scan_fail(s, "message has \"T\" twice");
				have_t = true;
				dst = &m->type;
			} else if (key_is(s, k, "S")) {
				dst = &m->sym;
			} else if (key_is(s, k, "t")) {
				dst = &m->time;
			} else if (key_is(s, k, "i")) {
				dst = &m->id;
				want_str = false;
			}
			if (dst && want_str && s->i < s->n && s->p[s->i] == '"') {
				if (scan_string(s, dst) < 0)
					return -1;
			} else if (dst && !want_str && s->i < s->n &&
				   (s->p[s->i] == '-' || isdig(s->p[s->i]))) {
				if (scan_number(s, dst, NULL) < 0)
					return -1;
			} else {
				if (dst == &m->type)
					return scan_fail(s, "message \"T\" is not a string");
				if (scan_value(s) < 0)
					return -1;
			}
			scan_ws(s);
			if (s->i >= s->n)
				return scan_fail(s, "unterminated message object");
			if (s->p[s->i] == ',') {
				s->i++;
				continue;
			}
			if (s->p[s->i] == '}') {
				s->i++;
				break;
			}
			return scan_fail(s, "expected ',' or '}'");
		}
	}
	s->depth--;
	if (!have_t || m->type.len == 0)
		return scan_fail(s, "message without a \"T\" type");
	m->obj.off = (uint32_t)start;
	m->obj.len = (uint32_t)(s->i - start);
	return 0;
}

/* ---- message index --------------------------------------------------- */

struct msg_index {
	struct recording_msg *v;
	size_t n, cap;
};

static struct recording_msg *index_push(struct msg_index *x)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct recording_msg *v = realloc(x->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		x->v = v;
		x->cap = cap;
	}
	return &x->v[x->n++];
}

/* At '[': an array of message objects, indexed into x (if non-NULL). */
static int scan_frame(struct scan *s, struct msg_index *x, bool *nomem)
{
	if (++s->depth > SCAN_MAX_DEPTH)
		return scan_fail(s, "nesting too deep");
	s->i++;
	scan_ws(s);
	if (s->i < s->n && s->p[s->i] == ']') {
		s->i++;
		s->depth--;
		return 0;
	}
	for (;;) {
		struct recording_msg tmp, *m = &tmp;
		if (x) {
			m = index_push(x);
			if (!m) {
				*nomem = true;
				return scan_fail(s, "out of memory");
			}
		}
		if (scan_message(s, m) < 0)
			return -1;
		scan_ws(s);
		if (s->i >= s->n)
			return scan_fail(s, "unterminated frame array");
		if (s->p[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->p[s->i] == ']') {
			s->i++;
			s->depth--;
			return 0;
		}
		return scan_fail(s, "expected ',' or ']'");
	}
}

/* Non-negative int64 from an integral number span. */
static int span_to_i64(const unsigned char *p, struct recording_span sp, int64_t *out)
{
	int64_t v = 0;
	if (sp.len == 0 || p[sp.off] == '-')
		return -1;
	for (uint32_t k = 0; k < sp.len; k++) {
		int d = p[sp.off + k] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* One recording line: the top-level object. Fills it (spans relative to
 * the line) and the message index. */
static int scan_line(struct scan *s, struct recording_item *it, struct msg_index *x, bool *nomem)
{
	bool have_at = false, have_body = false;
	scan_ws(s);
	if (s->i >= s->n || s->p[s->i] != '{')
		return scan_fail(s, "line is not a JSON object");
	s->depth = 1;
	s->i++;
	scan_ws(s);
	if (s->i < s->n && s->p[s->i] == '}') {
		s->i++;
	} else {
		for (;;) {
			struct recording_span k;
			scan_ws(s);
			if (scan_string(s, &k) < 0)
				return -1;
			scan_ws(s);
			if (s->i >= s->n || s->p[s->i] != ':')
				return scan_fail(s, "expected ':'");
			s->i++;
			scan_ws(s);
			if (key_is(s, k, "at_ns")) {
				struct recording_span num;
				bool integral;
				if (have_at)
					return scan_fail(s, "\"at_ns\" given twice");
				have_at = true;
				if (s->i >= s->n || !(s->p[s->i] == '-' || isdig(s->p[s->i])))
					return scan_fail(s, "\"at_ns\" is not a number");
				if (scan_number(s, &num, &integral) < 0)
					return -1;
				if (!integral || span_to_i64(s->p, num, &it->at_ns) < 0) {
					s->i = num.off;
					return scan_fail(s, "\"at_ns\" is not an integer in [0, 2^63-1]");
				}
			} else if (key_is(s, k, "msg") || key_is(s, k, "frame") || key_is(s, k, "meta")) {
				if (have_body)
					return scan_fail(s, "more than one of \"msg\", \"frame\", \"meta\"");
				have_body = true;
				size_t start = s->i;
				if (key_is(s, k, "msg")) {
					it->kind = RECORDING_MSG;
					struct recording_msg *m = index_push(x);
					if (!m) {
						*nomem = true;
						return scan_fail(s, "out of memory");
					}
					if (scan_message(s, m) < 0)
						return -1;
				} else if (key_is(s, k, "frame")) {
					it->kind = RECORDING_FRAME;
					if (s->i >= s->n || s->p[s->i] != '[')
						return scan_fail(s, "\"frame\" is not an array");
					if (scan_frame(s, x, nomem) < 0)
						return -1;
				} else {
					it->kind = RECORDING_META;
					if (s->i >= s->n || s->p[s->i] != '{')
						return scan_fail(s, "\"meta\" is not an object");
					if (scan_container(s) < 0)
						return -1;
				}
				it->payload.off = (uint32_t)start;
				it->payload.len = (uint32_t)(s->i - start);
			} else {
				if (scan_value(s) < 0)
					return -1;
			}
			scan_ws(s);
			if (s->i >= s->n)
				return scan_fail(s, "unterminated line object");
			if (s->p[s->i] == ',') {
				s->i++;
				continue;
			}
			if (s->p[s->i] == '}') {
				s->i++;
				break;
			}
			return scan_fail(s, "expected ',' or '}'");
		}
	}
	scan_ws(s);
	if (s->i != s->n)
		return scan_fail(s, "trailing bytes after the line object");
	if (!have_body) {
		s->i = 0;
		return scan_fail(s, "line has none of \"msg\", \"frame\", \"meta\"");
	}
	if (!have_at) {
		if (it->kind != RECORDING_META) {
			s->i = 0;
			return scan_fail(s, "line has no \"at_ns\"");
		}
		it->at_ns = -1;
	}
	return 0;
}

int recording_json_valid(const char *buf, size_t len)
{
	if (!buf)
		return -EPROTO;
	struct scan s = {.p = (const unsigned char *)buf, .n = len};
	if (scan_value(&s) < 0)
		return -EPROTO;
	scan_ws(&s);
	return s.i == s.n ? 0 : -EPROTO;
}

/* ---- reader ------------------------------------------------------------ */

struct recording_reader {
	FILE *f;
	size_t max_line, buf_limit;
	char *buf;
	size_t cap, pos, end;
	bool eof, ioerr, discarding;
	uint64_t lineno;
	struct msg_index idx;
	struct recording_reader_stats st;
};

int recording_reader_new(FILE *f, size_t max_line, struct recording_reader **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!f || max_line > RECORDING_MAX_LINE_LIMIT)
		return -EINVAL;
	if (max_line == 0)
		max_line = RECORDING_MAX_LINE_DEFAULT;
	struct recording_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = f;
	r->max_line = max_line;
	r->buf_limit = max_line + BUF_SLACK;
	r->cap = READ_CHUNK < r->buf_limit ? READ_CHUNK : r->buf_limit;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->st.buf_cap = r->cap;
	*out = r;
	return 0;
}

void recording_reader_free(struct recording_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->idx.v);
	free(r);
}

const struct recording_reader_stats *recording_reader_stats(const struct recording_reader *r)
{
	return &r->st;
}

/* Appends input at buf[end]; grows the buffer (up to buf_limit) when the
 * free room is small. Sets eof/ioerr at the end of the stream. */
static int fill(struct recording_reader *r)
{
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	if (r->cap - 1 - r->end < BUF_SLACK / 2 && r->cap < r->buf_limit) {
		size_t cap = r->cap * 2 < r->buf_limit ? r->cap * 2 : r->buf_limit;
		char *b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
		r->st.buf_cap = cap;
	}
	size_t room = r->cap - 1 - r->end; /* keep one byte for the NUL */
	size_t got = fread(r->buf + r->end, 1, room, r->f);
	r->end += got;
	if (got < room) {
		if (ferror(r->f))
			r->ioerr = true;
		if (feof(r->f) || r->ioerr)
			r->eof = true;
	}
	return 0;
}

/* Next raw line. 1 with *line and *len set (NUL-terminated, no newline), 0 at end,
 * -EMSGSIZE for a line longer than max_line (consumed), -EIO, -ENOMEM. */
static int next_line(struct recording_reader *r, char **line, size_t *len)
{
	size_t scanned = 0;
	for (;;) {
		size_t avail = r->end - r->pos;
		char *nl = memchr(r->buf + r->pos + scanned, '\n', avail - scanned);
		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->pos));
			char *l = r->buf + r->pos;
			r->pos += n + 1;
			if (r->discarding) {
				r->discarding = false;
				return -EMSGSIZE;
			}
			if (n > 0 && l[n - 1] == '\r')
				n--;
			if (n > r->max_line)
				return -EMSGSIZE;
			l[n] = '\0';
			*line = l;
			*len = n;
			return 1;
		}
		scanned = avail;
		if (r->discarding || scanned > r->max_line + 1) {
			/* Too long: drop what is buffered and skip to the newline. */
			r->discarding = true;
			r->pos = r->end = 0;
			scanned = 0;
		}
		if (r->eof) {
			if (r->discarding) {
				r->discarding = false;
				return r->ioerr ? -EIO : -EMSGSIZE;
			}
			if (r->ioerr)
				return -EIO;
			if (avail == 0)
				return 0;
			char *l = r->buf + r->pos;
			size_t n = avail;
			r->pos = r->end;
			if (n > 0 && l[n - 1] == '\r')
				n--;
			if (n > r->max_line)
				return -EMSGSIZE;
			l[n] = '\0';
			*line = l;
			*len = n;
			return 1;
		}
		int rc = fill(r); /* moves the unread bytes to the front first */
		if (rc < 0)
			return rc;
	}
}

static void set_err(char *err, size_t cap, uint64_t lineno, const char *fmt_why, size_t at)
{
	if (err && cap)
		snprintf(err, cap, "line %" PRIu64 ": byte %zu: %s", lineno, at + 1, fmt_why);
}

static bool blank(const char *l, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (l[k] != ' ' && l[k] != '\t' && l[k] != '\r')
			return false;
	return true;
}

int recording_read(struct recording_reader *r, struct recording_item *it, char *err, size_t errcap,
		   uint64_t *lineno_out)
{
	if (!r || !it)
		return -EINVAL;
	if (err && errcap)
		err[0] = '\0';
	for (;;) {
		char *line = NULL;
		size_t len = 0;
		int rc = next_line(r, &line, &len);
		if (rc == 0)
			return 0;
		if (rc == -EIO || rc == -ENOMEM) {
			if (err && errcap)
				snprintf(err, errcap, "after line %" PRIu64 ": %s", r->lineno,
					 rc == -EIO ? "read error" : "out of memory");
			return rc;
		}
		r->lineno++;
		r->st.lines++;
		if (lineno_out)
			*lineno_out = r->lineno;
		if (rc == -EMSGSIZE) {
			r->st.malformed++;
			if (err && errcap)
				snprintf(err, errcap, "line %" PRIu64 ": longer than %zu bytes", r->lineno,
					 r->max_line);
			return -EBADMSG;
		}
		if (blank(line, len))
			continue;

		memset(it, 0, sizeof(*it));
		r->idx.n = 0;
		struct scan s = {.p = (const unsigned char *)line, .n = len};
		bool nomem = false;
		if (scan_line(&s, it, &r->idx, &nomem) < 0) {
			r->st.malformed++;
			set_err(err, errcap, r->lineno, s.why ? s.why : "malformed", s.why_at);
			if (r->idx.cap > r->st.index_cap)
				r->st.index_cap = r->idx.cap;
			return nomem ? -ENOMEM : -EBADMSG;
		}
		if (r->idx.cap > r->st.index_cap)
			r->st.index_cap = r->idx.cap;
		it->lineno = r->lineno;
		it->line = line;
		it->line_len = len;
		it->nmsgs = r->idx.n;
		it->msgs = r->idx.n ? r->idx.v : NULL;
		r->st.items++;
		r->st.messages += it->nmsgs;
		return 1;
	}
}

/* ---- writer ------------------------------------------------------------ */

/* Writes buf[0..len) (already validated) trimmed of outer whitespace, with
 * raw CR/LF written as spaces. */
static int write_json_oneline(FILE *f, const char *buf, size_t len, size_t *written)
{
	size_t a = 0, b = len;
	while (a < b && strchr(" \t\r\n", buf[a]))
		a++;
	while (b > a && strchr(" \t\r\n", buf[b - 1]))
		b--;
	size_t k = a;
	while (k < b) {
		size_t run = k;
		while (run < b && buf[run] != '\n' && buf[run] != '\r')
			run++;
		if (run > k && fwrite(buf + k, 1, run - k, f) != run - k)
			return -EIO;
		*written += run - k;
		if (run < b) {
			if (fputc(' ', f) == EOF)
				return -EIO;
			(*written)++;
			run++;
		}
		k = run;
	}
	return 0;
}

enum wshape { W_MSG, W_FRAME, W_META };

static int check_shape(const char *json, size_t len, enum wshape shape)
{
	struct scan s = {.p = (const unsigned char *)json, .n = len};
	struct recording_msg m;
	scan_ws(&s);
	if (s.i >= s.n)
		return -EPROTO;
	s.depth = 0;
	int rc;
	switch (shape) {
	case W_MSG:
		rc = scan_message(&s, &m);
		break;
	case W_FRAME:
		rc = s.p[s.i] == '[' ? scan_frame(&s, NULL, NULL) : -1;
		break;
	default:
		rc = s.p[s.i] == '{' ? scan_container(&s) : -1;
		break;
	}
	if (rc < 0)
		return -EPROTO;
	scan_ws(&s);
	return s.i == s.n ? 0 : -EPROTO;
}

static int write_line(FILE *f, int64_t at_ns, const char *key, const char *json, size_t len,
		      enum wshape shape)
{
	if (!f || !json || (shape != W_META && at_ns < 0))
		return -EINVAL;
	if (check_shape(json, len, shape) < 0)
		return -EPROTO;
	int n;
	if (shape == W_META)
		n = fprintf(f, "{\"%s\":", key);
	else
		n = fprintf(f, "{\"at_ns\":%" PRId64 ",\"%s\":", at_ns, key);
	if (n < 0)
		return -EIO;
	size_t written = (size_t)n;
	if (write_json_oneline(f, json, len, &written) < 0)
		return -EIO;
	if (fputs("}\n", f) == EOF)
		return -EIO;
	written += 2;
	return written > INT32_MAX ? INT32_MAX : (int)written;
}

int recording_write_msg(FILE *f, int64_t at_ns, const char *json, size_t len)
{
	return write_line(f, at_ns, "msg", json, len, W_MSG);
}

int recording_write_frame(FILE *f, int64_t at_ns, const char *json, size_t len)
{
	return write_line(f, at_ns, "frame", json, len, W_FRAME);
}

int recording_write_meta(FILE *f, const char *json, size_t len)
{
	return write_line(f, 0, "meta", json, len, W_META);
}
