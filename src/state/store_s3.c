/* store_s3.c - the checkpoint layout over the S3 client: one job at a time,
 * each a small state machine advanced by S3 callbacks on the loop. */
#include "config.h"

#include "state/store_s3.h"
#include "state/manifest.h"
#include "state/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 1100

enum job_kind { J_WRITE, J_WRITE_TO, J_LATEST, J_READ_DIR };
enum step {
	S_CHECK_EXISTS, S_PUT_SNAP, S_PUT_MANIFEST, S_PRUNE_LIST, S_PRUNE_DELETE,
	S_LIST, S_GET_MANIFEST, S_GET_SNAP,
};

struct chk {
	uint64_t id;
	bool manifest;
};

struct job {
	struct job *next;
	struct store_s3 *s;
	enum job_kind kind;
	enum step step;
	char *bucket, *dir;     /* where this job's two objects live */
	uint64_t id;            /* write: the id; latest: the upper bound */
	const void *buf;        /* caller's, valid until the callback */
	size_t n;
	/* latest: the checkpoints listed, newest first, and the one in hand */
	struct chk *chks;
	size_t nchks, cur;
	uint64_t mid;           /* the MANIFEST's values */
	size_t msize;
	uint32_t mcrc;
	/* prune: keys to delete, in order */
	char **doomed;
	size_t ndoomed, next_doomed;
	/* results */
	int status;
	uint64_t rid;
	uint8_t *rbuf;
	size_t rlen;
	struct store_skip *skips;
	size_t nskips, capskips;
	char error[STORE_REASON_MAX];
	store_write_cb wcb;
	store_latest_cb lcb;
	void *arg;
};

struct store_s3 {
	uv_timer_t defer;       /* ends a job whose request could not start */
	struct s3 *c;
	char *bucket, *prefix;
	unsigned retain;
	struct job *head, *tail, *running;
	bool closing;
	store_close_cb close_cb;
	void *close_arg;
	char last_error[STORE_REASON_MAX];
};

int store_s3_key(char *out, size_t cap, const char *prefix, uint64_t id, const char *name)
{
	char chk[MANIFEST_CHK_LEN + 1];
	manifest_chk_name(chk, sizeof(chk), id);
	int k = snprintf(out, cap, "%s%s%s%s%s", prefix, *prefix ? "/" : "", chk, name ? "/" : "",
			 name ? name : "");
	return k < 0 || (size_t)k >= cap ? -ENOSPC : k;
}

/* dir + "/" + name into out. */
static int obj_key(char *out, size_t cap, const char *dir, const char *name)
{
	int k = snprintf(out, cap, "%s%s%s", dir, *dir ? "/" : "", name);
	return k < 0 || (size_t)k >= cap ? -ENOSPC : 0;
}

static void job_free(struct job *j)
{
	free(j->bucket);
	free(j->dir);
	free(j->chks);
	for (size_t i = 0; i < j->ndoomed; i++)
		free(j->doomed[i]);
	free(j->doomed);
	free(j->rbuf);
	free(j->skips);
	free(j);
}

static void defer_closed(uv_handle_t *h)
{
	struct store_s3 *s = h->data;
	store_close_cb cb = s->close_cb;
	void *carg = s->close_arg;
	free(s->bucket);
	free(s->prefix);
	free(s);
	if (cb)
		cb(carg);
}

static void client_closed(void *arg)
{
	struct store_s3 *s = arg;
	uv_close((uv_handle_t *)&s->defer, defer_closed);
}

static void start_next(struct store_s3 *s);

/* The job's callback, then the next job (or the close once idle). */
static void job_end(struct job *j)
{
	struct store_s3 *s = j->s;
	if (j->status < 0 && j->status != -ENOENT && j->error[0])
		snprintf(s->last_error, sizeof(s->last_error), "%s", j->error);
	else if (j->status < 0 && j->kind <= J_WRITE_TO)
		snprintf(s->last_error, sizeof(s->last_error), "%s", strerror(-j->status));
	if (j->kind == J_WRITE || j->kind == J_WRITE_TO) {
		if (j->wcb)
			j->wcb(j->status, j->arg);
	} else {
		bool ok = j->status == 0;
		struct store_latest res = {
			.status = j->status, .id = ok ? j->rid : 0, .buf = ok ? j->rbuf : NULL,
			.len = ok ? j->rlen : 0, .skipped = j->skips, .nskipped = j->nskips,
			.error = j->status < 0 ? j->error : "",
		};
		if (j->lcb)
			j->lcb(&res, j->arg);
	}
	s->running = NULL;
	job_free(j);
	start_next(s);
	if (s->closing && !s->running && s->c) {
		struct s3 *c = s->c;
		s->c = NULL;
		s3_close(c, client_closed, s);
	}
}

static void fail(struct job *j, int status, const char *reason)
{
	j->status = status;
	snprintf(j->error, sizeof(j->error), "%s", reason);
	job_end(j);
}

static void on_s3(const struct s3_result *res, void *arg);

static void deferred_end(uv_timer_t *t)
{
	struct store_s3 *s = t->data;
	if (s->running)
		job_end(s->running);
}

/* Checks a request was issued. If not, the job ends from the loop: this may
 * run inside a store_s3_* call, whose callback must not run from inside it. */
static void req(struct job *j, int rc)
{
	if (rc >= 0)
		return;
	j->status = rc;
	snprintf(j->error, sizeof(j->error), "could not start an S3 request: %s", strerror(-rc));
	uv_timer_start(&j->s->defer, deferred_end, 0, 0);
}

static void get_obj(struct job *j, const char *dir, const char *name, size_t max)
{
	char key[KEY_MAX];
	if (obj_key(key, sizeof(key), dir, name))
		return req(j, -ENAMETOOLONG);
	req(j, s3_get(j->s->c, j->bucket, key, max, on_s3, j));
}

static void put_obj(struct job *j, const char *name, const void *buf, size_t n)
{
	char key[KEY_MAX];
	if (obj_key(key, sizeof(key), j->dir, name))
		return req(j, -ENAMETOOLONG);
	req(j, s3_put(j->s->c, j->bucket, key, buf, n, on_s3, j));
}

static void list_chks(struct job *j)
{
	char pre[KEY_MAX];
	struct store_s3 *s = j->s;
	snprintf(pre, sizeof(pre), "%s%schk-", s->prefix, *s->prefix ? "/" : "");
	req(j, s3_list(s->c, s->bucket, pre, on_s3, j));
}

/* ---- latest / read_dir: verify one checkpoint directory ---- */

static void verify_next(struct job *j);

static void verify_start(struct job *j, uint64_t id)
{
	if (j->kind == J_LATEST) {
		char d[KEY_MAX];
		if (store_s3_key(d, sizeof(d), j->s->prefix, id, NULL) < 0)
			return req(j, -ENAMETOOLONG);
		free(j->dir);
		j->dir = strdup(d);
		if (!j->dir)
			return req(j, -ENOMEM);
	}
	j->step = S_GET_MANIFEST;
	get_obj(j, j->dir, MANIFEST_NAME, MANIFEST_MAX);
}

/* The checkpoint in hand is damaged or incomplete: report, go on (latest)
 * or stop (read_dir). */
static void verify_skip(struct job *j, int rc, const char *why)
{
	uint64_t id = j->kind == J_LATEST ? j->chks[j->cur].id : 0;
	manifest_skip_add(&j->skips, &j->nskips, &j->capskips, id, why);
	if (j->kind == J_READ_DIR || rc == -EPROTO) {
		/* -EPROTO: falling back past state this build cannot read would
		 * silently regress it: refuse, the operator decides. */
		j->status = rc;
		return job_end(j);
	}
	j->cur++;
	verify_next(j);
}

static void verify_next(struct job *j)
{
	for (; j->cur < j->nchks; j->cur++) {
		if (j->chks[j->cur].manifest)
			return verify_start(j, j->chks[j->cur].id);
		manifest_skip_add(&j->skips, &j->nskips, &j->capskips, j->chks[j->cur].id,
				  "no MANIFEST (incomplete, a crash during the write?)");
	}
	j->status = -ENOENT;
	job_end(j);
}

static int cmp_chk_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct chk *)a)->id, y = ((const struct chk *)b)->id;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The checkpoints under the prefix, newest first, from a listing of
 * "<prefix>/chk-". */
static int group_chks(struct job *j, const struct s3_result *res)
{
	size_t pl = strlen(j->s->prefix) + (*j->s->prefix ? 1 : 0);
	for (size_t i = 0; i < res->nobjects; i++) {
		const char *k = res->objects[i].key;
		uint64_t id;
		if (strlen(k) < pl + MANIFEST_CHK_LEN + 1 || k[pl + MANIFEST_CHK_LEN] != '/' ||
		    manifest_chk_parse(k + pl, MANIFEST_CHK_LEN, &id))
			continue;
		const char *rest = k + pl + MANIFEST_CHK_LEN + 1;
		/* Listings come in key order, so one checkpoint's keys are adjacent. */
		if (!j->nchks || j->chks[j->nchks - 1].id != id) {
			struct chk *g = realloc(j->chks, (j->nchks + 1) * sizeof(*g));
			if (!g)
				return -ENOMEM;
			j->chks = g;
			j->chks[j->nchks++] = (struct chk){ .id = id };
		}
		if (!strcmp(rest, MANIFEST_NAME))
			j->chks[j->nchks - 1].manifest = true;
	}
	if (j->nchks)
		qsort(j->chks, j->nchks, sizeof(*j->chks), cmp_chk_desc);
	return 0;
}

/* ---- prune ---- */

static int doom(struct job *j, const char *key)
{
	char **g = realloc(j->doomed, (j->ndoomed + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	j->doomed = g;
	if (!(j->doomed[j->ndoomed] = strdup(key)))
		return -ENOMEM;
	j->ndoomed++;
	return 0;
}

static void plan_prune(struct job *j, const struct s3_result *res)
{
	if (group_chks(j, res))
		return;
	unsigned kept = 0;
	bool seen_complete = false;
	for (size_t i = 0; i < j->nchks; i++) {
		if (j->chks[i].manifest) {
			seen_complete = true;
			if (kept < j->s->retain) {
				kept++;
				continue;
			}
		} else if (!seen_complete) {
			continue;       /* newer than every complete one: leave it */
		}
		/* MANIFEST first, so an interrupted delete leaves an incomplete
		 * checkpoint, which readers ignore. */
		char d[KEY_MAX], m[KEY_MAX];
		if (store_s3_key(d, sizeof(d), j->s->prefix, j->chks[i].id, NULL) < 0 ||
		    obj_key(m, sizeof(m), d, MANIFEST_NAME))
			continue;
		if (j->chks[i].manifest && doom(j, m))
			return;
		size_t dl = strlen(d);
		for (size_t o = 0; o < res->nobjects; o++) {
			const char *k = res->objects[o].key;
			if (strncmp(k, d, dl) == 0 && k[dl] == '/' && strcmp(k, m) != 0 && doom(j, k))
				return;
		}
	}
}

static void delete_next(struct job *j)
{
	if (j->next_doomed >= j->ndoomed) {
		j->status = 0;
		return job_end(j);
	}
	req(j, s3_delete(j->s->c, j->s->bucket, j->doomed[j->next_doomed++], on_s3, j));
}

/* ---- the state machine ---- */

static void on_s3(const struct s3_result *res, void *arg)
{
	struct job *j = arg;
	char why[STORE_REASON_MAX];
	switch (j->step) {
	case S_CHECK_EXISTS:
		if (res->status == 0)
			return fail(j, -EEXIST, "a complete checkpoint with this id exists");
		if (res->status != -ENOENT)
			return fail(j, res->status, res->reason);
		j->step = S_PUT_SNAP;
		return put_obj(j, MANIFEST_SNAP_NAME, j->buf, j->n);
	case S_PUT_SNAP: {
		if (res->status)
			return fail(j, res->status, res->reason);
		char man[256];
		int ml = manifest_format(man, sizeof(man), j->id, j->n, snapshot_crc32(0, j->buf, j->n));
		if (ml < 0)
			return fail(j, ml, "MANIFEST too long");
		j->step = S_PUT_MANIFEST;
		/* s3_put keeps a pointer until its callback: the job owns a copy. */
		free(j->rbuf);
		j->rbuf = (uint8_t *)strdup(man);
		if (!j->rbuf)
			return fail(j, -ENOMEM, "out of memory");
		return put_obj(j, MANIFEST_NAME, j->rbuf, (size_t)ml);
	}
	case S_PUT_MANIFEST:
		if (res->status)
			return fail(j, res->status, res->reason);
		if (j->kind == J_WRITE_TO) {
			j->status = 0;
			return job_end(j);
		}
		j->step = S_PRUNE_LIST;
		return list_chks(j);
	case S_PRUNE_LIST:
		/* The checkpoint is written; pruning is best effort, retried
		 * after the next write. */
		if (res->status) {
			j->status = 0;
			return job_end(j);
		}
		plan_prune(j, res);
		j->step = S_PRUNE_DELETE;
		return delete_next(j);
	case S_PRUNE_DELETE:
		return delete_next(j);
	case S_LIST:
		if (res->status)
			return fail(j, res->status, res->reason);
		if (group_chks(j, res))
			return fail(j, -ENOMEM, "out of memory");
		/* Above the bound: not ours to look at. */
		while (j->cur < j->nchks && j->chks[j->cur].id > j->id)
			j->cur++;
		return verify_next(j);
	case S_GET_MANIFEST: {
		if (res->status == -ENOENT)
			return verify_skip(j, -ENOENT, "no MANIFEST (incomplete, a crash during the write?)");
		if (res->status == -EFBIG)
			return verify_skip(j, -EINVAL, "MANIFEST too large");
		if (res->status)
			return fail(j, res->status, res->reason);
		int rc = manifest_parse((const char *)res->body, res->len, &j->mid, &j->msize,
					&j->mcrc, why, sizeof(why));
		if (rc)
			return verify_skip(j, rc, why);
		if (j->kind == J_LATEST && j->mid != j->chks[j->cur].id) {
			snprintf(why, sizeof(why), "MANIFEST names checkpoint %" PRIu64, j->mid);
			return verify_skip(j, -EINVAL, why);
		}
		j->step = S_GET_SNAP;
		return get_obj(j, j->dir, MANIFEST_SNAP_NAME, j->msize);
	}
	case S_GET_SNAP: {
		if (res->status == -ENOENT)
			return verify_skip(j, -EINVAL, MANIFEST_SNAP_NAME " missing");
		if (res->status == -EFBIG) {
			snprintf(why, sizeof(why), MANIFEST_SNAP_NAME " is longer than the %zu bytes MANIFEST names",
				 j->msize);
			return verify_skip(j, -EINVAL, why);
		}
		if (res->status)
			return fail(j, res->status, res->reason);
		int rc = manifest_check(res->body, res->len, j->mid, j->msize, j->mcrc, why, sizeof(why));
		if (rc)
			return verify_skip(j, rc, why);
		uint8_t *copy = malloc(res->len ? res->len : 1);
		if (!copy)
			return fail(j, -ENOMEM, "out of memory");
		memcpy(copy, res->body, res->len);
		free(j->rbuf);
		j->rbuf = copy;
		j->rlen = res->len;
		j->rid = j->mid;
		j->status = 0;
		return job_end(j);
	}
	}
}

static void start_next(struct store_s3 *s)
{
	struct job *j = s->head;
	if (!j || s->running)
		return;
	s->head = j->next;
	if (!s->head)
		s->tail = NULL;
	s->running = j;
	switch (j->kind) {
	case J_WRITE:
	case J_WRITE_TO:
		j->step = S_CHECK_EXISTS;
		return get_obj(j, j->dir, MANIFEST_NAME, MANIFEST_MAX);
	case J_LATEST:
		j->step = S_LIST;
		return list_chks(j);
	case J_READ_DIR:
		return verify_start(j, 0);
	}
}

static struct job *job_new(struct store_s3 *s, enum job_kind kind, const char *bucket,
			   const char *dir)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->s = s;
	j->kind = kind;
	j->bucket = strdup(bucket);
	j->dir = strdup(dir);
	if (!j->bucket || !j->dir) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void submit(struct store_s3 *s, struct job *j)
{
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	start_next(s);
}

static int write_common(struct store_s3 *s, enum job_kind kind, const char *bucket,
			const char *dir, uint64_t id, const void *buf, size_t n,
			store_write_cb cb, void *arg)
{
	if (s->closing)
		return -ECANCELED;
	if (!buf && n)
		return -EINVAL;
	struct job *j = job_new(s, kind, bucket, dir);
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

int store_s3_write(struct store_s3 *s, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg)
{
	char d[KEY_MAX];
	if (store_s3_key(d, sizeof(d), s->prefix, id, NULL) < 0)
		return -ENAMETOOLONG;
	return write_common(s, J_WRITE, s->bucket, d, id, buf, n, cb, arg);
}

int store_s3_write_to(struct store_s3 *s, const char *bucket, const char *prefix, uint64_t id,
		      const void *buf, size_t n, store_write_cb cb, void *arg)
{
	if (!bucket || !*bucket || !prefix)
		return -EINVAL;
	return write_common(s, J_WRITE_TO, bucket, prefix, id, buf, n, cb, arg);
}

static int read_common(struct store_s3 *s, enum job_kind kind, const char *bucket,
		       const char *dir, uint64_t max_id, store_latest_cb cb, void *arg)
{
	if (s->closing)
		return -ECANCELED;
	struct job *j = job_new(s, kind, bucket, dir);
	if (!j)
		return -ENOMEM;
	j->id = max_id;
	j->lcb = cb;
	j->arg = arg;
	submit(s, j);
	return 0;
}

int store_s3_latest(struct store_s3 *s, uint64_t max_id, store_latest_cb cb, void *arg)
{
	return read_common(s, J_LATEST, s->bucket, s->prefix, max_id, cb, arg);
}

int store_s3_read_dir(struct store_s3 *s, const char *bucket, const char *prefix,
		      store_latest_cb cb, void *arg)
{
	if (!bucket || !*bucket || !prefix)
		return -EINVAL;
	return read_common(s, J_READ_DIR, bucket, prefix, 0, cb, arg);
}

const char *store_s3_last_error(const struct store_s3 *s)
{
	return s->last_error;
}

void store_s3_close(struct store_s3 *s, store_close_cb cb, void *arg)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	if (s->running || s->head)
		return;         /* the last job's end closes the client */
	struct s3 *c = s->c;
	s->c = NULL;
	s3_close(c, client_closed, s);  /* its callback runs from the loop */
}

int store_s3_new(uv_loop_t *loop, const struct s3_config *cfg, const char *bucket,
		 const char *prefix, unsigned retain, struct store_s3 **out, char *err,
		 size_t errlen)
{
	*out = NULL;
	if (!bucket || !*bucket || !prefix || retain < 1) {
		snprintf(err, errlen, "%s", retain < 1 ? "retain must be at least 1" : "no bucket");
		return -EINVAL;
	}
	struct store_s3 *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->bucket = strdup(bucket);
	s->prefix = strdup(prefix);
	s->retain = retain;
	int rc = s->bucket && s->prefix ? s3_new(loop, cfg, &s->c, err, errlen) : -ENOMEM;
	if (!rc && strlen(prefix) > 900) {
		snprintf(err, errlen, "prefix too long");
		s3_close(s->c, NULL, NULL);
		rc = -EINVAL;
	}
	if (rc) {
		free(s->bucket);
		free(s->prefix);
		free(s);
		return rc;
	}
	uv_timer_init(loop, &s->defer);
	s->defer.data = s;
	*out = s;
	return 0;
}
