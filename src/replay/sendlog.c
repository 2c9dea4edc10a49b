/* sendlog.c - the replay server's send log (format in sendlog.h). */
#include "config.h"

#include "replay/sendlog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX 64
#define SENDLOG_BUF (1u << 20)

struct sendlog {
	FILE *f;
	bool owned;
	int err;
	char *vbuf;
	struct sendlog_stats st;
};

static int start(struct sendlog *l)
{
	if (fputs(SENDLOG_HEADER, l->f) == EOF)
		return -EIO;
	return 0;
}

int sendlog_new(FILE *f, struct sendlog **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!f)
		return -EINVAL;
	struct sendlog *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->f = f;
	if (start(l) < 0) {
		free(l);
		return -EIO;
	}
	*out = l;
	return 0;
}

int sendlog_open(const char *path, struct sendlog **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	struct sendlog *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->vbuf = malloc(SENDLOG_BUF);
	l->f = fopen(path, "w");
	if (!l->f || !l->vbuf) {
		int e = l->f ? ENOMEM : errno;
		if (l->f)
			fclose(l->f);
		free(l->vbuf);
		free(l);
		return -e;
	}
	setvbuf(l->f, l->vbuf, _IOFBF, SENDLOG_BUF);
	l->owned = true;
	if (start(l) < 0) {
		fclose(l->f);
		free(l->vbuf);
		free(l);
		return -EIO;
	}
	*out = l;
	return 0;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

static char *put_field(char *p, const char *s, size_t n)
{
	if (!s)
		n = 0;
	if (n > FIELD_MAX)
		n = FIELD_MAX;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		*p++ = (c < 0x21 || c > 0x7e || c == ',' || c == '"') ? '_' : (char)c;
	}
	return p;
}

int sendlog_write_fields(struct sendlog *l, int64_t send_ns, uint64_t conn, uint64_t frame,
			 const char *sym, size_t sym_len, const char *type, size_t type_len,
			 const char *id, size_t id_len, const char *t, size_t t_len)
{
	if (!l)
		return -EINVAL;
	if (l->err) {
		l->st.failed++;
		return l->err;
	}
	char line[3 * 24 + 4 * FIELD_MAX + 8];
	char *p = line;
	p = put_i64(p, send_ns);
	*p++ = ',';
	p = put_u64(p, conn);
	*p++ = ',';
	p = put_u64(p, frame);
	*p++ = ',';
	p = put_field(p, sym, sym_len);
	*p++ = ',';
	p = put_field(p, type, type_len);
	*p++ = ',';
	p = put_field(p, id, id_len);
	*p++ = ',';
	p = put_field(p, t, t_len);
	*p++ = '\n';
	size_t n = (size_t)(p - line);
	if (fwrite(line, 1, n, l->f) != n) {
		l->err = -EIO;
		l->st.failed++;
		return l->err;
	}
	l->st.lines++;
	return 0;
}

int sendlog_write(struct sendlog *l, int64_t send_ns, uint64_t conn, uint64_t frame,
		  const char *base, const struct recording_msg *m)
{
	if (!l || !base || !m)
		return -EINVAL;
	return sendlog_write_fields(l, send_ns, conn, frame, base + m->sym.off, m->sym.len,
				    base + m->type.off, m->type.len, base + m->id.off, m->id.len,
				    base + m->time.off, m->time.len);
}

int sendlog_flush(struct sendlog *l)
{
	if (!l)
		return -EINVAL;
	if (l->err)
		return l->err;
	if (fflush(l->f) != 0)
		l->err = -EIO;
	return l->err;
}

const struct sendlog_stats *sendlog_stats(const struct sendlog *l)
{
	return &l->st;
}

int sendlog_close(struct sendlog *l)
{
	if (!l)
		return 0;
	int rc = sendlog_flush(l);
	if (l->owned) {
		if (fclose(l->f) != 0 && rc == 0)
			rc = -EIO;
	}
	free(l->vbuf);
	free(l);
	return rc;
}
