/* s3_check.c - the S3 checkpoint store against a real S3-speaking server
 * (s3rver behind tests/s3/fault_proxy.py), driven by test_s3.sh:
 *     s3_check MODE ENDPOINT BUCKET
 * MODE: main (objects, layout, manifest rule, damage, retention, max_id,
 * savepoints), flaky (503 to the first requests), down (503 to all),
 * unreachable, badsecret, vhost (virtual-host style through http_proxy).
 * Prints "ok - ..." / "not ok - ..." lines; exit status 1 if any failed. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "state/s3.h"
#include "state/snapshot.h"
#include "state/store.h"
#include "state/store_s3.h"

static int failures;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	if (!ok)
		failures++;
}

struct ctx {
	uv_loop_t loop;
	const char *endpoint, *bucket;
	struct s3 *c;
	struct store *st;
	/* the last result of each kind */
	int calls;
	int status;
	long http;
	int attempts;
	char reason[400];
	uint8_t *body;
	size_t len;
	char **keys;
	size_t nkeys;
	/* store_latest */
	uint64_t id;
	struct store_skip skips[8];
	size_t nskipped;
	char error[STORE_REASON_MAX];
	char last_error[STORE_REASON_MAX];
	uint8_t *snaps[16];
	size_t lens[16];
};

static void reset(struct ctx *x)
{
	x->calls = 0;
	free(x->body);
	x->body = NULL;
	x->len = 0;
	for (size_t i = 0; i < x->nkeys; i++)
		free(x->keys[i]);
	free(x->keys);
	x->keys = NULL;
	x->nkeys = 0;
	x->reason[0] = x->error[0] = x->last_error[0] = '\0';
	x->nskipped = 0;
	x->id = 0;
}

static void wait_calls(struct ctx *x, int n)
{
	uint64_t end = uv_hrtime() + 60000000000ull;
	while (x->calls < n && uv_hrtime() < end)
		uv_run(&x->loop, UV_RUN_ONCE);
	if (x->calls < n) {
		check(false, "a callback within 60 s");
		exit(1);
	}
}

static void on_s3(const struct s3_result *r, void *arg)
{
	struct ctx *x = arg;
	x->calls++;
	x->status = r->status;
	x->http = r->http_status;
	x->attempts = r->attempts;
	snprintf(x->reason, sizeof(x->reason), "%s", r->reason);
	if (r->body) {
		x->body = malloc(r->len + 1);
		memcpy(x->body, r->body, r->len);
		x->len = r->len;
	}
	if (r->nobjects) {
		x->keys = calloc(r->nobjects, sizeof(*x->keys));
		for (size_t i = 0; i < r->nobjects; i++)
			x->keys[i] = strdup(r->objects[i].key);
		x->nkeys = r->nobjects;
	}
}

static void on_write(int status, void *arg)
{
	struct ctx *x = arg;
	x->calls++;
	x->status = status;
	if (status < 0)
		snprintf(x->last_error, sizeof(x->last_error), "%s", store_last_error(x->st));
}

static void on_latest(const struct store_latest *r, void *arg)
{
	struct ctx *x = arg;
	x->calls++;
	x->status = r->status;
	x->id = r->id;
	if (r->buf) {
		x->body = malloc(r->len);
		memcpy(x->body, r->buf, r->len);
		x->len = r->len;
	}
	x->nskipped = r->nskipped;
	for (size_t i = 0; i < r->nskipped && i < 8; i++)
		x->skips[i] = r->skipped[i];
	snprintf(x->error, sizeof(x->error), "%s", r->error ? r->error : "");
}

/* ---- blocking-style helpers for the test (the loop runs inside) ---- */

static int put(struct ctx *x, const char *key, const void *buf, size_t n)
{
	reset(x);
	if (s3_put(x->c, x->bucket, key, buf, n, on_s3, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static int get(struct ctx *x, const char *key, size_t max)
{
	reset(x);
	if (s3_get(x->c, x->bucket, key, max, on_s3, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static int del(struct ctx *x, const char *key)
{
	reset(x);
	if (s3_delete(x->c, x->bucket, key, on_s3, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static int list(struct ctx *x, const char *prefix)
{
	reset(x);
	if (s3_list(x->c, x->bucket, prefix, on_s3, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static int swrite(struct ctx *x, uint64_t id)
{
	reset(x);
	if (store_write(x->st, id, x->snaps[id], x->lens[id], on_write, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static int slatest(struct ctx *x, uint64_t max_id)
{
	reset(x);
	if (store_latest(x->st, max_id, on_latest, x))
		return -999;
	wait_calls(x, 1);
	return x->status;
}

static bool has_key(struct ctx *x, const char *key)
{
	for (size_t i = 0; i < x->nkeys; i++)
		if (!strcmp(x->keys[i], key))
			return true;
	return false;
}

/* The checkpoint ids under cp/, as "3,4". */
static void chk_ids(struct ctx *x, char *out, size_t cap)
{
	out[0] = '\0';
	list(x, "cp/chk-");
	uint64_t last = UINT64_MAX;
	for (size_t i = 0; i < x->nkeys; i++) {
		uint64_t id = strtoull(x->keys[i] + strlen("cp/chk-"), NULL, 10);
		if (id == last)
			continue;
		last = id;
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%" PRIu64, l ? "," : "", id);
	}
}

static void open_client(struct ctx *x, const char *secret, int retries, int backoff, int max_keys)
{
	struct s3_config cfg = {
		.endpoint = x->endpoint, .region = "us-east-1", .path_style = true,
		.access_key = "S3RVER", .secret_key = secret, .timeout_ms = 5000,
		.max_retries = retries, .backoff_ms = backoff, .list_max_keys = max_keys,
	};
	char err[200];
	int rc = s3_new(&x->loop, &cfg, &x->c, err, sizeof(err));
	if (rc) {
		check(false, "s3_new: %s", err);
		exit(1);
	}
}

static void open_store(struct ctx *x, const char *url, const char *secret, bool path_style,
		       int timeout_ms, int retries)
{
	struct store_config cfg = {
		.url = url, .retain = 2, .s3_endpoint = x->endpoint, .s3_region = "us-east-1",
		.s3_path_style = path_style, .s3_access_key = "S3RVER", .s3_secret_key = secret,
		.timeout_ms = timeout_ms, .max_retries = retries,
	};
	char err[200];
	int rc = store_new(&x->loop, &cfg, &x->st, err, sizeof(err));
	if (rc) {
		check(false, "store_new: %s", err);
		exit(1);
	}
}

static void on_closed(void *arg)
{
	(*(int *)arg)++;
}

static void close_all(struct ctx *x)
{
	int closed = 0, want = 0;
	if (x->st) {
		store_close(x->st, on_closed, &closed);
		want++;
	}
	if (x->c) {
		s3_close(x->c, on_closed, &closed);
		want++;
	}
	uv_run(&x->loop, UV_RUN_DEFAULT);
	check(closed == want, "closed: every callback ran, the loop ran out of handles");
	check(uv_loop_close(&x->loop) == 0, "every uv handle closed");
	reset(x);
	for (int i = 0; i < 16; i++)
		free(x->snaps[i]);
}

/* ---- scenarios ---- */

static void objects(struct ctx *x)
{
	check(put(x, "t/a", "hello", 5) == 0, "PUT t/a");
	check(put(x, "t/b", "", 0) == 0, "PUT t/b (empty)");
	check(put(x, "t/c d+e", "x", 1) == 0, "PUT a key that needs encoding");
	int rc = list(x, "t/");
	check(rc == 0 && x->nkeys == 3 && has_key(x, "t/a") && has_key(x, "t/b") &&
	      has_key(x, "t/c d+e"), "LIST t/ over pages of one key (continuation tokens): %zu keys %s",
	      x->nkeys, x->reason);
	check(x->attempts >= 3, "LIST took one request per page (%d)", x->attempts);
	check(get(x, "t/a", 100) == 0 && x->len == 5 && !memcmp(x->body, "hello", 5), "GET t/a");
	check(get(x, "t/c d+e", 100) == 0 && x->len == 1, "GET the encoded key");
	rc = get(x, "t/a", 2);
	check(rc == -EFBIG, "GET larger than asked for: -EFBIG (%s)", x->reason);
	check(del(x, "t/a") == 0, "DELETE t/a");
	rc = get(x, "t/a", 100);
	check(rc == -ENOENT && x->http == 404, "GET after DELETE: -ENOENT (%s)", x->reason);
	check(del(x, "t/a") == 0, "DELETE a missing key succeeds");
	check(list(x, "t/") == 0 && x->nkeys == 2 && !has_key(x, "t/a"), "LIST after DELETE");
	check(list(x, "nothing/") == 0 && x->nkeys == 0, "LIST of an empty prefix");
	del(x, "t/b");
	del(x, "t/c d+e");
}

static void main_scenario(struct ctx *x)
{
	open_client(x, "S3RVER", 2, 10, 1);
	objects(x);
	char url[128], ids[128];
	snprintf(url, sizeof(url), "s3://%s/cp", x->bucket);
	open_store(x, url, "S3RVER", true, 5000, 2);
	snprintf(ids, sizeof(ids), "s3://%s/cp", x->bucket);
	check(!strcmp(store_describe(x->st), ids), "describe: %s", store_describe(x->st));

	check(slatest(x, UINT64_MAX) == -ENOENT && x->nskipped == 0, "latest of an empty store: -ENOENT");
	bool ok = true;
	for (uint64_t i = 1; i <= 4; i++)
		ok = ok && swrite(x, i) == 0;
	check(ok, "write checkpoints 1..4");
	chk_ids(x, ids, sizeof(ids));
	check(!strcmp(ids, "3,4"), "retention 2: 3,4 left (%s)", ids);
	list(x, "cp/chk-00000000000000000004/");
	check(x->nkeys == 2 && has_key(x, "cp/chk-00000000000000000004/MANIFEST") &&
	      has_key(x, "cp/chk-00000000000000000004/state.snap"), "layout: chk-<20 digits>/{state.snap,MANIFEST}");
	get(x, "cp/chk-00000000000000000004/MANIFEST", 4096);
	check(x->body && x->len > 20 && !memcmp(x->body, "torghut-checkpoint 1\nid 4\n", 26), "MANIFEST text as store_fs writes it");

	check(swrite(x, 4) == -EEXIST, "rewriting a complete checkpoint: -EEXIST");
	check(slatest(x, UINT64_MAX) == 0 && x->id == 4 && x->len == x->lens[4] &&
	      !memcmp(x->body, x->snaps[4], x->lens[4]) && x->nskipped == 0, "latest: 4, bytes equal");

	/* A crash between the two PUTs: no MANIFEST. */
	put(x, "cp/chk-00000000000000000005/state.snap", x->snaps[5], x->lens[5]);
	int rc = slatest(x, UINT64_MAX);
	check(rc == 0 && x->id == 4 && x->nskipped == 1 && x->skips[0].id == 5 &&
	      strstr(x->skips[0].reason, "no MANIFEST"), "no MANIFEST: ignored, reported (%s)",
	      x->nskipped ? x->skips[0].reason : "");

	/* Damaged: a flipped byte. */
	uint8_t *bad = malloc(x->lens[4]);
	memcpy(bad, x->snaps[4], x->lens[4]);
	bad[30] ^= 0x40;
	put(x, "cp/chk-00000000000000000004/state.snap", bad, x->lens[4]);
	free(bad);
	rc = slatest(x, UINT64_MAX);
	check(rc == 0 && x->id == 3 && x->nskipped == 2 && x->skips[1].id == 4 &&
	      strstr(x->skips[1].reason, "CRC") && x->len == x->lens[3] &&
	      !memcmp(x->body, x->snaps[3], x->lens[3]), "damaged state.snap: skipped with a reason, 3 returned (%s)",
	      x->nskipped > 1 ? x->skips[1].reason : "");

	/* Truncated. */
	put(x, "cp/chk-00000000000000000003/state.snap", x->snaps[3], x->lens[3] - 5);
	rc = slatest(x, UINT64_MAX);
	check(rc == -ENOENT && x->nskipped == 3 && x->skips[2].id == 3 &&
	      strstr(x->skips[2].reason, "truncated"), "truncated state.snap: skipped (%s); none left: -ENOENT",
	      x->nskipped > 2 ? x->skips[2].reason : "");

	/* The next write prunes: complete 6, 4, 3 -> keep 6, 4; the incomplete
	 * 5 is older than 6. */
	check(swrite(x, 6) == 0, "write 6");
	chk_ids(x, ids, sizeof(ids));
	check(!strcmp(ids, "4,6"), "retention after damage: 4,6 left, incomplete 5 pruned (%s)", ids);
	check(swrite(x, 7) == 0 && swrite(x, 8) == 0, "write 7, 8");
	chk_ids(x, ids, sizeof(ids));
	check(!strcmp(ids, "7,8"), "retention: 7,8 (%s)", ids);

	/* max_id: the checkpoint Kafka committed, not a newer one. */
	check(slatest(x, 7) == 0 && x->id == 7 && x->nskipped == 0 && !memcmp(x->body, x->snaps[7], x->lens[7]),
	      "latest(max_id 7): 7, 8 not even looked at");
	check(slatest(x, 8) == 0 && x->id == 8, "latest(max_id 8): 8");
	check(slatest(x, 6) == -ENOENT && x->nskipped == 0, "latest(max_id 6): -ENOENT");

	/* Savepoints: elsewhere, never pruned. */
	char sp[128], none[128];
	snprintf(sp, sizeof(sp), "s3://%s/savepoints/sp-1", x->bucket);
	snprintf(none, sizeof(none), "s3://%s/savepoints/none", x->bucket);
	reset(x);
	check(store_write_to(x->st, sp, 9, x->snaps[9], x->lens[9], on_write, x) == 0, "write_to queued");
	wait_calls(x, 1);
	check(x->status == 0, "savepoint written");
	check(swrite(x, 10) == 0 && swrite(x, 11) == 0, "write 10, 11");
	reset(x);
	store_read_dir(x->st, sp, on_latest, x);
	wait_calls(x, 1);
	check(x->status == 0 && x->id == 9 && x->len == x->lens[9] && !memcmp(x->body, x->snaps[9], x->lens[9]),
	      "read_dir(savepoint): 9, not pruned");
	reset(x);
	store_read_dir(x->st, none, on_latest, x);
	wait_calls(x, 1);
	check(x->status == -ENOENT && x->nskipped == 1 && strstr(x->skips[0].reason, "no MANIFEST"),
	      "read_dir(nothing there): -ENOENT with a reason");
	check(store_write_to(x->st, "/tmp/elsewhere", 12, x->snaps[12], x->lens[12], on_write, x) == -EINVAL,
	      "write_to a file path from an S3 store: -EINVAL");
	get(x, "savepoints/sp-1/MANIFEST", 4096);
	check(x->status == 0, "savepoint layout: <prefix>/MANIFEST");
}

static void flaky(struct ctx *x)
{
	/* The proxy answers 503 SlowDown to its first 3 requests. */
	open_client(x, "S3RVER", 5, 10, 0);
	int rc = put(x, "f/a", "abc", 3);
	check(rc == 0 && x->attempts == 4, "503 x3 then success: attempts %d", x->attempts);
	char url[128];
	snprintf(url, sizeof(url), "s3://%s/flaky", x->bucket);
	open_store(x, url, "S3RVER", true, 5000, 0);
	check(swrite(x, 1) == 0 && slatest(x, UINT64_MAX) == 0 && x->id == 1, "store works after the faults");
}

static void down(struct ctx *x)
{
	open_client(x, "S3RVER", 2, 10, 0);
	uint64_t t0 = uv_hrtime();
	int rc = put(x, "d/a", "abc", 3);
	check(rc == -EIO && x->attempts == 3 && x->http == 503 &&
	      strstr(x->reason, "HTTP 503 SlowDown") && strstr(x->reason, "3 attempts"),
	      "503 always: -EIO after 3 attempts: %s", x->reason);
	char url[128];
	snprintf(url, sizeof(url), "s3://%s/down", x->bucket);
	open_store(x, url, "S3RVER", true, 2000, 3);
	rc = swrite(x, 1);
	check(rc == -EIO && strstr(x->last_error, "503"), "store write: -EIO, last error: %s", x->last_error);
	rc = slatest(x, UINT64_MAX);
	check(rc == -EIO && x->nskipped == 0 && strstr(x->error, "SlowDown"),
	      "latest: -EIO, not -ENOENT, nothing skipped: %s", x->error);
	check(uv_hrtime() - t0 < 30000000000ull, "bounded: %.1f s", (double)(uv_hrtime() - t0) / 1e9);
}

static void unreachable(struct ctx *x)
{
	char url[128];
	snprintf(url, sizeof(url), "s3://%s/cp", x->bucket);
	open_store(x, url, "S3RVER", true, 2000, 1);
	int rc = swrite(x, 1);
	check(rc == -ECONNREFUSED && *x->last_error, "write: -ECONNREFUSED: %s", x->last_error);
	rc = slatest(x, UINT64_MAX);
	check(rc == -ECONNREFUSED && *x->error, "latest: -ECONNREFUSED: %s", x->error);
}

static void badsecret(struct ctx *x)
{
	char url[128];
	snprintf(url, sizeof(url), "s3://%s/cp", x->bucket);
	open_store(x, url, "not-the-secret", true, 5000, 2);
	int rc = swrite(x, 1);
	check(rc == -EACCES && strstr(x->last_error, "HTTP 403 SignatureDoesNotMatch") &&
	      !strstr(x->last_error, "not-the-secret"), "wrong secret: -EACCES, 403, no secret in: %s", x->last_error);
	rc = slatest(x, UINT64_MAX);
	check(rc == -EACCES && strstr(x->error, "403"), "latest: -EACCES: %s", x->error);
}

static void vhost(struct ctx *x)
{
	char url[128];
	snprintf(url, sizeof(url), "s3://%s/vh", x->bucket);
	open_store(x, url, "S3RVER", false, 5000, 2);
	int rc = swrite(x, 1);
	if (!rc)
		rc = swrite(x, 2);
	check(rc == 0, "virtual-host style: write %s", x->last_error);
	check(slatest(x, UINT64_MAX) == 0 && x->id == 2 && !memcmp(x->body, x->snaps[2], x->lens[2]),
	      "virtual-host style: latest");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: s3_check main|flaky|down|unreachable|badsecret|vhost ENDPOINT BUCKET\n");
		return 2;
	}
	struct ctx x = { .endpoint = argv[2], .bucket = argv[3] };
	uv_loop_init(&x.loop);
	for (int i = 0; i < 16; i++) {
		struct snapshot_writer w;
		char payload[64];
		int k = snprintf(payload, sizeof(payload), "state of checkpoint %d", i);
		snapshot_writer_init(&w, (uint64_t)i, 1000 + i, "ingest", "feed=iex");
		snapshot_writer_add(&w, SNAPSHOT_SEC_SEQ, payload, (size_t)k);
		snapshot_writer_finish(&w, &x.snaps[i], &x.lens[i]);
	}
	const char *m = argv[1];
	if (!strcmp(m, "main"))
		main_scenario(&x);
	else if (!strcmp(m, "flaky"))
		flaky(&x);
	else if (!strcmp(m, "down"))
		down(&x);
	else if (!strcmp(m, "unreachable"))
		unreachable(&x);
	else if (!strcmp(m, "badsecret"))
		badsecret(&x);
	else if (!strcmp(m, "vhost"))
		vhost(&x);
	else
		return 2;
	close_all(&x);
	return failures ? 1 : 0;
}
