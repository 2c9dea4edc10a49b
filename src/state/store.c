/* store.c - the store facade: parses the URL, forwards to store_fs or
 * store_s3. */
#include "config.h"

#include "state/store.h"
#include "state/store_fs.h"
#include "state/store_s3.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { URL_FS = 1, URL_S3 = 2 };

struct store {
	int kind;
	struct store_fs *fs;
	struct store_s3 *s3;
	char describe[PATH_MAX + 16];
	char fs_error[STORE_REASON_MAX];
	bool closing;
	store_close_cb close_cb;
	void *close_arg;
};

/* A store_fs write in flight: its status becomes the facade's last error. */
struct fs_write {
	struct store *s;
	store_write_cb cb;
	void *arg;
};

int store_parse_url(const char *url, char *path, size_t pathcap, char *bucket, size_t bcap,
		    char *prefix, size_t pcap)
{
	if (!url)
		return -EINVAL;
	const char *p = NULL;
	if (strncmp(url, "file://", 7) == 0)
		p = url + 7;
	else if (url[0] == '/')
		p = url;
	if (p) {
		if (p[0] != '/' || (size_t)snprintf(path, pathcap, "%s", p) >= pathcap)
			return -EINVAL;
		size_t l = strlen(path);
		while (l > 1 && path[l - 1] == '/')
			path[--l] = '\0';
		return URL_FS;
	}
	const char *b = NULL;
	if (strncmp(url, "s3://", 5) == 0)
		b = url + 5;
	else if (strncmp(url, "s3a://", 6) == 0)
		b = url + 6;
	if (!b)
		return -EINVAL;
	size_t bl = strcspn(b, "/");
	/* Bucket names: 3..63 of [a-z0-9.-]. */
	if (bl < 3 || bl > 63 || bl >= bcap)
		return -EINVAL;
	for (size_t i = 0; i < bl; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == '-'))
			return -EINVAL;
	memcpy(bucket, b, bl);
	bucket[bl] = '\0';
	const char *r = b + bl;
	while (*r == '/')
		r++;
	size_t rl = strlen(r);
	while (rl > 0 && r[rl - 1] == '/')
		rl--;
	if (rl >= pcap || memchr(r, '?', rl) || memchr(r, '#', rl))
		return -EINVAL;
	memcpy(prefix, r, rl);
	prefix[rl] = '\0';
	return URL_S3;
}

int store_new(uv_loop_t *loop, const struct store_config *cfg, struct store **out, char *err,
	      size_t errlen)
{
	*out = NULL;
	char path[PATH_MAX], bucket[64], prefix[1024];
	int kind = cfg && cfg->url ? store_parse_url(cfg->url, path, sizeof(path), bucket,
						     sizeof(bucket), prefix, sizeof(prefix)) : -EINVAL;
	if (kind < 0) {
		snprintf(err, errlen, "expected file:///path, /path or s3://bucket/prefix, got \"%s\"",
			 cfg && cfg->url ? cfg->url : "");
		return -EINVAL;
	}
	if (cfg->retain < 1) {
		snprintf(err, errlen, "retain must be at least 1");
		return -EINVAL;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = kind;
	int rc;
	if (kind == URL_FS) {
		snprintf(s->describe, sizeof(s->describe), "file://%s", path);
		rc = store_fs_new(loop, path, cfg->retain, &s->fs);
		if (rc)
			snprintf(err, errlen, "%s", strerror(-rc));
	} else {
		snprintf(s->describe, sizeof(s->describe), "s3://%s%s%s", bucket, *prefix ? "/" : "",
			 prefix);
		struct s3_config sc = {
			.endpoint = cfg->s3_endpoint, .region = cfg->s3_region,
			.path_style = cfg->s3_path_style, .access_key = cfg->s3_access_key,
			.secret_key = cfg->s3_secret_key, .ca_file = cfg->s3_ca_file,
			.timeout_ms = cfg->timeout_ms, .max_retries = cfg->max_retries,
		};
		rc = store_s3_new(loop, &sc, bucket, prefix, cfg->retain, &s->s3, err, errlen);
	}
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void fs_written(int status, void *arg)
{
	struct fs_write *w = arg;
	struct store *s = w->s;
	if (status < 0)
		snprintf(s->fs_error, sizeof(s->fs_error), "%.120s: %.70s", s->describe, strerror(-status));
	if (w->cb)
		w->cb(status, w->arg);
	free(w);
}

static int fs_write(struct store *s, const char *dir, uint64_t id, const void *buf, size_t n,
		    store_write_cb cb, void *arg)
{
	struct fs_write *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct fs_write){ .s = s, .cb = cb, .arg = arg };
	int rc = dir ? store_fs_write_to(s->fs, dir, id, buf, n, fs_written, w)
		     : store_fs_write(s->fs, id, buf, n, fs_written, w);
	if (rc)
		free(w);
	return rc;
}

int store_write(struct store *s, uint64_t id, const void *buf, size_t n, store_write_cb cb,
		void *arg)
{
	if (s->kind == URL_FS)
		return fs_write(s, NULL, id, buf, n, cb, arg);
	return store_s3_write(s->s3, id, buf, n, cb, arg);
}

/* where, parsed; -EINVAL unless it is of the store's kind. */
static int parse_where(const struct store *s, const char *where, char *path, size_t pathcap,
		       char *bucket, size_t bcap, char *prefix, size_t pcap)
{
	int kind = store_parse_url(where, path, pathcap, bucket, bcap, prefix, pcap);
	return kind == s->kind ? 0 : -EINVAL;
}

int store_write_to(struct store *s, const char *where, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg)
{
	char path[PATH_MAX], bucket[64], prefix[1024];
	if (parse_where(s, where, path, sizeof(path), bucket, sizeof(bucket), prefix, sizeof(prefix)))
		return -EINVAL;
	if (s->kind == URL_FS)
		return fs_write(s, path, id, buf, n, cb, arg);
	return store_s3_write_to(s->s3, bucket, prefix, id, buf, n, cb, arg);
}

int store_latest(struct store *s, uint64_t max_id, store_latest_cb cb, void *arg)
{
	if (s->kind == URL_FS)
		return store_fs_latest(s->fs, max_id, cb, arg);
	return store_s3_latest(s->s3, max_id, cb, arg);
}

int store_read_dir(struct store *s, const char *where, store_latest_cb cb, void *arg)
{
	char path[PATH_MAX], bucket[64], prefix[1024];
	if (parse_where(s, where, path, sizeof(path), bucket, sizeof(bucket), prefix, sizeof(prefix)))
		return -EINVAL;
	if (s->kind == URL_FS)
		return store_fs_read_dir(s->fs, path, cb, arg);
	return store_s3_read_dir(s->s3, bucket, prefix, cb, arg);
}

const char *store_describe(const struct store *s)
{
	return s->describe;
}

const char *store_last_error(const struct store *s)
{
	return s->kind == URL_FS ? s->fs_error : store_s3_last_error(s->s3);
}

static void backend_closed(void *arg)
{
	struct store *s = arg;
	store_close_cb cb = s->close_cb;
	void *carg = s->close_arg;
	free(s);
	if (cb)
		cb(carg);
}

void store_close(struct store *s, store_close_cb cb, void *arg)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	if (s->kind == URL_FS)
		store_fs_close(s->fs, backend_closed, s);
	else
		store_s3_close(s->s3, backend_closed, s);
}
