/* store_fs.c - checkpoints in a local directory, written on the threadpool. */
#include "config.h"

#include "state/store_fs.h"
#include "state/manifest.h"
#include "state/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_NAME MANIFEST_SNAP_NAME

enum job_kind { J_WRITE, J_WRITE_TO, J_LATEST, J_READ_DIR, J_CLOSE };

struct job {
	uv_work_t req;
	struct job *next;
	struct store_fs *s;
	enum job_kind kind;
	/* Inputs, copied so the worker touches nothing the loop owns. */
	char *root;             /* the store directory */
	char *dir;              /* write_to / read_dir target */
	unsigned retain;
	uint64_t id;            /* write: the id; latest: the upper bound */
	const void *buf;        /* caller's, valid until the callback */
	size_t n;
	/* Outputs. */
	int status;
	uint8_t *rbuf;
	size_t rlen;
	uint64_t rid;
	struct store_skip *skips;
	size_t nskips, capskips;
	char error[STORE_REASON_MAX];   /* status < 0 not explained by skips */
	/* Callback. */
	store_write_cb wcb;
	store_latest_cb lcb;
	void *arg;
};

struct store_fs {
	uv_loop_t *loop;
	char *dir;
	unsigned retain;
	struct job *head, *tail;
	int running;
	int closing;
	store_close_cb close_cb;
	void *close_arg;
};

/* ---- worker side: plain blocking POSIX calls, never on the loop thread ---- */

static int path_join(char *out, size_t cap, const char *a, const char *b)
{
	int k = snprintf(out, cap, "%s/%s", a, b);
	return k < 0 || (size_t)k >= cap ? -ENAMETOOLONG : 0;
}

static int chk_path(char *out, size_t cap, const char *root, uint64_t id)
{
	char name[MANIFEST_CHK_LEN + 1];
	manifest_chk_name(name, sizeof(name), id);
	return path_join(out, cap, root, name);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int fsync_parent(const char *dir);

/* Creates dir (and missing parents, as mkdir -p) if missing; a new entry
 * is made durable in its parent. */
static int mkdir_ok(const char *dir)
{
	if (mkdir(dir, 0755) == 0)
		return fsync_parent(dir);
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	char parent[PATH_MAX];
	const char *slash = strrchr(dir, '/');
	if (!slash || slash == dir || (size_t)(slash - dir) >= sizeof(parent))
		return -ENOENT;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	int rc = mkdir_ok(parent);
	if (rc < 0)
		return rc;
	if (mkdir(dir, 0755) == 0)
		return fsync_parent(dir);
	return errno == EEXIST ? 0 : -errno;
}

/* name.tmp, write, fsync, rename to name, fsync dir: the file is there whole
 * or not at all. */
static int write_durable(const char *dir, const char *name, const void *buf, size_t n)
{
	char tmp[PATH_MAX], dst[PATH_MAX], tname[NAME_MAX + 1];
	snprintf(tname, sizeof(tname), "%s.tmp", name);
	int rc = path_join(tmp, sizeof(tmp), dir, tname);
	if (!rc)
		rc = path_join(dst, sizeof(dst), dir, name);
	if (rc)
		return rc;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	const uint8_t *p = buf;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return fsync_dir(dir);
}

/* Reads a whole file of at most max bytes. */
static int read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if ((uint64_t)st.st_size > max)
		rc = -EFBIG;
	if (rc) {
		close(fd);
		return rc;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = malloc(n + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*out = b;
	*len = got;
	return 0;
}

/* Checks one checkpoint directory. 0 with the snapshot in *buf; -ENOENT when
 * there is no MANIFEST (never completed); -EINVAL and why when corrupt. */
static int verify_dir(const char *dir, uint8_t **buf, size_t *len, uint64_t *id,
		      char *why, size_t whylen)
{
	char path[PATH_MAX];
	uint8_t *m = NULL, *b = NULL;
	size_t ml = 0, bl = 0, size;
	uint32_t crc;
	int rc = path_join(path, sizeof(path), dir, MANIFEST_NAME);
	if (rc) {
		snprintf(why, whylen, "path too long");
		return rc;
	}
	rc = read_all(path, MANIFEST_MAX, &m, &ml);
	if (rc == -ENOENT) {
		snprintf(why, whylen, "no MANIFEST (incomplete, a crash during the write?)");
		return -ENOENT;
	}
	if (rc) {
		snprintf(why, whylen, "MANIFEST: %s", strerror(-rc));
		return -EINVAL;
	}
	rc = manifest_parse((const char *)m, ml, id, &size, &crc, why, whylen);
	free(m);
	if (rc)
		return rc;
	path_join(path, sizeof(path), dir, SNAP_NAME);
	rc = read_all(path, size, &b, &bl);
	if (rc == -EFBIG) {
		snprintf(why, whylen, SNAP_NAME " is longer than the %zu bytes MANIFEST names", size);
		return -EINVAL;
	}
	if (rc) {
		snprintf(why, whylen, SNAP_NAME ": %s", strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	rc = manifest_check(b, bl, *id, size, crc, why, whylen);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = bl;
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The ids of chk-<id> entries, newest first. -ENOENT if root is missing. */
static int list_ids(const char *root, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	DIR *d = opendir(root);
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		uint64_t v;
		if (manifest_chk_parse(e->d_name, strlen(e->d_name), &v))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *g = realloc(*ids, cap * sizeof(**ids));
			if (!g) {
				rc = -ENOMEM;
				break;
			}
			*ids = g;
		}
		(*ids)[(*n)++] = v;
	}
	closedir(d);
	if (rc) {
		free(*ids);
		*ids = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*ids, *n, sizeof(**ids), cmp_desc);
	return 0;
}

static int has_manifest(const char *dir)
{
	char path[PATH_MAX], why[STORE_REASON_MAX];
	uint8_t *m;
	size_t ml, size;
	uint64_t id;
	uint32_t crc;
	if (path_join(path, sizeof(path), dir, MANIFEST_NAME) ||
	    read_all(path, MANIFEST_MAX, &m, &ml))
		return 0;
	int ok = manifest_parse((const char *)m, ml, &id, &size, &crc, why, sizeof(why)) == 0;
	free(m);
	return ok;
}

/* MANIFEST goes first, so an interrupted delete leaves an incomplete
 * checkpoint, which readers ignore. */
static int remove_checkpoint(const char *dir)
{
	char path[PATH_MAX];
	if (!path_join(path, sizeof(path), dir, MANIFEST_NAME))
		unlink(path);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!path_join(path, sizeof(path), dir, e->d_name))
			unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

static void prune(const char *root, unsigned retain)
{
	uint64_t *ids;
	size_t n;
	if (list_ids(root, &ids, &n))
		return;
	char path[PATH_MAX];
	unsigned kept = 0;
	int seen_complete = 0;
	for (size_t i = 0; i < n; i++) {
		if (chk_path(path, sizeof(path), root, ids[i]))
			continue;
		if (has_manifest(path)) {
			seen_complete = 1;
			if (kept < retain) {
				kept++;
				continue;
			}
		} else if (!seen_complete) {
			continue;       /* newer than every complete one: leave it */
		}
		remove_checkpoint(path);
	}
	fsync_dir(root);
	free(ids);
}

static int write_checkpoint(const char *dir, uint64_t id, const void *buf, size_t n)
{
	char path[PATH_MAX], man[512];
	int rc = mkdir_ok(dir);
	if (rc)
		return rc;
	if (path_join(path, sizeof(path), dir, MANIFEST_NAME))
		return -ENAMETOOLONG;
	if (access(path, F_OK) == 0)
		return -EEXIST;
	rc = write_durable(dir, SNAP_NAME, buf, n);
	if (rc)
		return rc;
	int ml = manifest_format(man, sizeof(man), id, n, snapshot_crc32(0, buf, n));
	if (ml < 0)
		return ml;
	return write_durable(dir, MANIFEST_NAME, man, (size_t)ml);
}

/* The directory holding `dir`, fsynced so dir's own entry is durable. */
static int fsync_parent(const char *dir)
{
	char parent[PATH_MAX];
	int k = snprintf(parent, sizeof(parent), "%s", dir);
	if (k < 0 || (size_t)k >= sizeof(parent))
		return -ENAMETOOLONG;
	while (k > 1 && parent[k - 1] == '/')
		parent[--k] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash)
		return fsync_dir(".");
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return fsync_dir(parent);
}

static void work_latest(struct job *j)
{
	uint64_t *ids;
	size_t n;
	j->status = list_ids(j->root, &ids, &n);
	if (j->status) {
		if (j->status != -ENOENT)
			snprintf(j->error, sizeof(j->error), "%s: %s", j->root, strerror(-j->status));
		return;
	}
	j->status = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], why[STORE_REASON_MAX] = "";
		uint64_t mid = 0;
		if (ids[i] > j->id)
			continue;       /* above the bound: not ours to look at */
		if (chk_path(path, sizeof(path), j->root, ids[i]))
			continue;
		int rc = verify_dir(path, &j->rbuf, &j->rlen, &mid, why, sizeof(why));
		if (rc == 0 && mid != ids[i]) {
			snprintf(why, sizeof(why), "MANIFEST names checkpoint %" PRIu64, mid);
			free(j->rbuf);
			j->rbuf = NULL;
			rc = -EINVAL;
		}
		if (rc == 0) {
			j->rid = mid;
			j->status = 0;
			break;
		}
		if (rc == -ENOMEM) {
			j->status = rc;
			break;
		}
		manifest_skip_add(&j->skips, &j->nskips, &j->capskips, ids[i], why);
		if (rc == -EPROTO) {
			/* Falling back past state this build cannot read would
			 * silently regress it: refuse, the operator decides. */
			j->status = rc;
			break;
		}
	}
	free(ids);
}

static void work_cb(uv_work_t *req)
{
	struct job *j = req->data;
	char path[PATH_MAX];
	switch (j->kind) {
	case J_WRITE:
		j->status = mkdir_ok(j->root);
		if (!j->status)
			j->status = chk_path(path, sizeof(path), j->root, j->id);
		if (!j->status)
			j->status = write_checkpoint(path, j->id, j->buf, j->n);
		if (!j->status)
			prune(j->root, j->retain);
		break;
	case J_WRITE_TO:
		j->status = write_checkpoint(j->dir, j->id, j->buf, j->n);
		break;
	case J_LATEST:
		work_latest(j);
		break;
	case J_READ_DIR: {
		char why[STORE_REASON_MAX] = "";
		j->status = verify_dir(j->dir, &j->rbuf, &j->rlen, &j->rid, why, sizeof(why));
		if (j->status && j->status != -ENOMEM)
			manifest_skip_add(&j->skips, &j->nskips, &j->capskips, 0, why);
		break;
	}
	case J_CLOSE:
		break;
	}
}

/* ---- loop side ---- */

static void after_cb(uv_work_t *req, int status);

static void start_next(struct store_fs *s)
{
	struct job *j = s->head;
	if (!j || s->running)
		return;
	s->head = j->next;
	if (!s->head)
		s->tail = NULL;
	s->running = 1;
	j->req.data = j;
	uv_queue_work(s->loop, &j->req, work_cb, after_cb);
}

static void job_free(struct job *j)
{
	free(j->root);
	free(j->dir);
	free(j->rbuf);
	free(j->skips);
	free(j);
}

static void store_free(struct store_fs *s)
{
	store_close_cb cb = s->close_cb;
	void *arg = s->close_arg;
	free(s->dir);
	free(s);
	if (cb)
		cb(arg);
}

static void after_cb(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct store_fs *s = j->s;
	s->running = 0;
	if (status == UV_ECANCELED)
		j->status = -ECANCELED;
	switch (j->kind) {
	case J_WRITE:
	case J_WRITE_TO:
		if (j->wcb)
			j->wcb(j->status, j->arg);
		break;
	case J_LATEST:
	case J_READ_DIR: {
		struct store_latest res = {
			.status = j->status, .id = j->status ? 0 : j->rid,
			.buf = j->status ? NULL : j->rbuf, .len = j->status ? 0 : j->rlen,
			.skipped = j->skips, .nskipped = j->nskips, .error = j->error,
		};
		if (j->lcb)
			j->lcb(&res, j->arg);
		break;
	}
	case J_CLOSE:
		break;
	}
	job_free(j);
	start_next(s);
	if (s->closing && !s->running)
		store_free(s);
}

static struct job *job_new(struct store_fs *s, enum job_kind kind, const char *dir)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->s = s;
	j->kind = kind;
	j->retain = s->retain;
	j->root = strdup(s->dir);
	j->dir = dir ? strdup(dir) : NULL;
	if (!j->root || (dir && !j->dir)) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void submit(struct store_fs *s, struct job *j)
{
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	start_next(s);
}

int store_fs_new(uv_loop_t *loop, const char *dir, unsigned retain, struct store_fs **out)
{
	*out = NULL;
	if (!loop || !dir || !*dir || retain < 1)
		return -EINVAL;
	struct store_fs *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir);
	if (!s->dir) {
		free(s);
		return -ENOMEM;
	}
	s->loop = loop;
	s->retain = retain;
	*out = s;
	return 0;
}

static int write_common(struct store_fs *s, enum job_kind kind, const char *dir, uint64_t id,
			const void *buf, size_t n, store_write_cb cb, void *arg)
{
	if (s->closing)
		return -ECANCELED;
	if (!buf && n)
		return -EINVAL;
	struct job *j = job_new(s, kind, dir);
	if (!j)
		return -ENOMEM;
	j->id = id;
	j->buf = buf;
	j->n = n;
	j->wcb = cb;
	j->arg = arg;
	submit(s, j);
	return 0;
}

int store_fs_write(struct store_fs *s, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg)
{
	return write_common(s, J_WRITE, NULL, id, buf, n, cb, arg);
}

int store_fs_write_to(struct store_fs *s, const char *dir, uint64_t id, const void *buf,
		      size_t n, store_write_cb cb, void *arg)
{
	if (!dir || !*dir)
		return -EINVAL;
	return write_common(s, J_WRITE_TO, dir, id, buf, n, cb, arg);
}

static int read_common(struct store_fs *s, enum job_kind kind, const char *dir, uint64_t max_id,
		       store_latest_cb cb, void *arg)
{
	if (s->closing)
		return -ECANCELED;
	struct job *j = job_new(s, kind, dir);
	if (!j)
		return -ENOMEM;
	j->id = max_id;
	j->lcb = cb;
	j->arg = arg;
	submit(s, j);
	return 0;
}

int store_fs_latest(struct store_fs *s, uint64_t max_id, store_latest_cb cb, void *arg)
{
	return read_common(s, J_LATEST, NULL, max_id, cb, arg);
}

int store_fs_read_dir(struct store_fs *s, const char *dir, store_latest_cb cb, void *arg)
{
	if (!dir || !*dir)
		return -EINVAL;
	return read_common(s, J_READ_DIR, dir, 0, cb, arg);
}

void store_fs_close(struct store_fs *s, store_close_cb cb, void *arg)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->close_cb = cb;
	s->close_arg = arg;
	if (s->running)
		return;         /* the last after-work callback frees the store */
	/* Idle: a no-op job, so cb runs from the loop and not from inside this
	 * call. Without memory for it, free at once. */
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		store_free(s);
		return;
	}
	j->s = s;
	j->kind = J_CLOSE;
	submit(s, j);
}
