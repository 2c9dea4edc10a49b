/* test_store_fs.c - the file store on a real uv loop: durability layout,
 * retention, corrupt and incomplete checkpoints, savepoints, close. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <cmocka.h>

#include "state/manifest.h"
#include "state/snapshot.h"
#include "state/store_fs.h"
#include "state/store.h"

struct fx {
	uv_loop_t loop;
	char dir[64];           /* the test's temp dir */
	char root[96];          /* the store directory inside it */
	struct store_fs *s;
	uint8_t *snaps[8];
	size_t lens[8];
	int writes_done, write_status[8];
	int latest_calls;
	int latest_status;
	uint64_t latest_id;
	uint8_t *latest_buf;
	size_t latest_len;
	size_t nskipped;
	uint64_t skipped_id[8];
	char skipped_reason[8][STORE_REASON_MAX];
	int closed;
	uint64_t max_id;        /* the bound run_latest passes */
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/tg-store-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->max_id = UINT64_MAX;
	snprintf(fx->root, sizeof(fx->root), "%s/checkpoints", fx->dir);
	for (int i = 0; i < 8; i++) {
		struct snapshot_writer w;
		char payload[64];
		int k = snprintf(payload, sizeof(payload), "state of checkpoint %d", i);
		assert_int_equal(snapshot_writer_init(&w, (uint64_t)i, 1000 + i, "ingest", "feed=iex"), 0);
		assert_int_equal(snapshot_writer_add(&w, SNAPSHOT_SEC_SEQ, payload, (size_t)k), 0);
		assert_int_equal(snapshot_writer_finish(&w, &fx->snaps[i], &fx->lens[i]), 0);
	}
	*state = fx;
	return 0;
}

static void on_closed(void *arg)
{
	((struct fx *)arg)->closed++;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	if (fx->s) {
		store_fs_close(fx->s, on_closed, fx);
		assert_int_equal(fx->closed, 0); /* never from inside close */
		uv_run(&fx->loop, UV_RUN_DEFAULT);
		assert_int_equal(fx->closed, 1);
	}
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < 8; i++)
		free(fx->snaps[i]);
	free(fx->latest_buf);
	free(fx);
	return 0;
}

static void on_write(int status, void *arg)
{
	struct fx *fx = arg;
	fx->write_status[fx->writes_done++] = status;
}

static void on_latest(const struct store_latest *res, void *arg)
{
	struct fx *fx = arg;
	fx->latest_calls++;
	fx->latest_status = res->status;
	fx->latest_id = res->id;
	free(fx->latest_buf);
	fx->latest_buf = NULL;
	fx->latest_len = res->len;
	if (res->buf) {
		fx->latest_buf = malloc(res->len);
		memcpy(fx->latest_buf, res->buf, res->len);
	}
	fx->nskipped = res->nskipped;
	for (size_t i = 0; i < res->nskipped && i < 8; i++) {
		fx->skipped_id[i] = res->skipped[i].id;
		snprintf(fx->skipped_reason[i], STORE_REASON_MAX, "%s", res->skipped[i].reason);
	}
}

static void write_ids(struct fx *fx, int from, int to)
{
	int before = fx->writes_done;
	/* All queued at once: the store runs them in order, one at a time. */
	for (int i = from; i <= to; i++)
		assert_int_equal(store_fs_write(fx->s, (uint64_t)i, fx->snaps[i], fx->lens[i],
						on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->writes_done - before, to - from + 1);
	for (int i = before; i < fx->writes_done; i++)
		assert_int_equal(fx->write_status[i], 0);
}

static void run_latest(struct fx *fx)
{
	int before = fx->latest_calls;
	assert_int_equal(store_fs_latest(fx->s, fx->max_id, on_latest, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->latest_calls, before + 1);
}

static char *chk(struct fx *fx, uint64_t id, const char *file)
{
	static char p[256]; /* test helper only */
	snprintf(p, sizeof(p), "%s/chk-%020" PRIu64 "%s%s", fx->root, id, file ? "/" : "",
		 file ? file : "");
	return p;
}

/* The chk-* entries of the store, sorted ascending into ids; returns count. */
static int list(struct fx *fx, uint64_t *ids, int max)
{
	DIR *d = opendir(fx->root);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "chk-", 4) == 0) {
			assert_true(n < max);
			ids[n++] = strtoull(e->d_name + 4, NULL, 10);
		}
		/* No temp files survive a completed write. */
		assert_null(strstr(e->d_name, ".tmp"));
	}
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	return n;
}

static void test_retention(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 3, &fx->s), 0);
	write_ids(fx, 1, 5);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 3);
	assert_true(ids[0] == 3 && ids[1] == 4 && ids[2] == 5);
	assert_int_equal(access(chk(fx, 5, "MANIFEST"), F_OK), 0);

	run_latest(fx);
	assert_int_equal(fx->latest_status, 0);
	assert_true(fx->latest_id == 5);
	assert_int_equal(fx->nskipped, 0);
	assert_int_equal(fx->latest_len, fx->lens[5]);
	assert_memory_equal(fx->latest_buf, fx->snaps[5], fx->lens[5]);

	/* The MANIFEST names the file, its size and CRC. */
	FILE *f = fopen(chk(fx, 5, "MANIFEST"), "r");
	assert_non_null(f);
	char text[512];
	size_t tl = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[tl] = '\0';
	char want[128];
	snprintf(want, sizeof(want), "file state.snap %zu %08" PRIx32 "\n", fx->lens[5],
		 snapshot_crc32(0, fx->snaps[5], fx->lens[5]));
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "torghut-checkpoint 1\nid 5\n"));

	/* An id already complete is refused, and nothing changes. */
	assert_int_equal(store_fs_write(fx->s, 5, fx->snaps[5], fx->lens[5], on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->write_status[fx->writes_done - 1], -EEXIST);
	assert_int_equal(list(fx, ids, 16), 3);
}

static void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_corrupt_newest_falls_back(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 3, &fx->s), 0);
	write_ids(fx, 1, 3);
	flip_byte(chk(fx, 3, "state.snap"), 30);
	run_latest(fx);
	assert_int_equal(fx->latest_status, 0);
	assert_true(fx->latest_id == 2);
	assert_memory_equal(fx->latest_buf, fx->snaps[2], fx->lens[2]);
	assert_int_equal(fx->nskipped, 1);
	assert_true(fx->skipped_id[0] == 3);
	assert_non_null(strstr(fx->skipped_reason[0], "state.snap CRC"));

	/* Truncated as well: both newer ones are reported, newest first. */
	assert_int_equal(truncate(chk(fx, 2, "state.snap"), (off_t)fx->lens[2] - 5), 0);
	run_latest(fx);
	assert_true(fx->latest_id == 1);
	assert_int_equal(fx->nskipped, 2);
	assert_true(fx->skipped_id[0] == 3 && fx->skipped_id[1] == 2);
	assert_non_null(strstr(fx->skipped_reason[1], "truncated"));

	/* A corrupt MANIFEST is caught by its own CRC. */
	flip_byte(chk(fx, 1, "MANIFEST"), 24);
	run_latest(fx);
	assert_int_equal(fx->latest_status, -ENOENT);
	assert_int_equal(fx->nskipped, 3);
	assert_non_null(strstr(fx->skipped_reason[2], "MANIFEST"));
	assert_null(fx->latest_buf);
}

/* The skipped list both stores report: grows past its first room, keeps
 * the order, cuts a long reason to fit. */
static void test_skip_list(void **state)
{
	(void)state;
	struct store_skip *sk = NULL;
	size_t n = 0, cap = 0;
	char why[32], longer[STORE_REASON_MAX + 50];
	for (uint64_t id = 1; id <= 9; id++) {
		snprintf(why, sizeof(why), "reason %" PRIu64, id);
		manifest_skip_add(&sk, &n, &cap, id, why);
	}
	assert_int_equal(n, 9);
	assert_true(cap >= 9);
	for (size_t i = 0; i < n; i++) {
		snprintf(why, sizeof(why), "reason %zu", i + 1);
		assert_true(sk[i].id == i + 1);
		assert_string_equal(sk[i].reason, why);
	}
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	manifest_skip_add(&sk, &n, &cap, 10, longer);
	assert_int_equal(n, 10);
	assert_int_equal(strlen(sk[9].reason), STORE_REASON_MAX - 1);
	free(sk);
}

static void test_incomplete_ignored(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 3, &fx->s), 0);
	write_ids(fx, 1, 2);
	/* A crash between the snapshot and its MANIFEST. */
	assert_int_equal(mkdir(chk(fx, 3, NULL), 0755), 0);
	FILE *f = fopen(chk(fx, 3, "state.snap"), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(fx->snaps[3], 1, fx->lens[3], f), fx->lens[3]);
	fclose(f);
	run_latest(fx);
	assert_int_equal(fx->latest_status, 0);
	assert_true(fx->latest_id == 2);
	assert_int_equal(fx->nskipped, 1);
	assert_true(fx->skipped_id[0] == 3);
	assert_non_null(strstr(fx->skipped_reason[0], "no MANIFEST"));

	/* The next write reuses nothing and prunes the leftover once a newer
	 * checkpoint is complete. */
	write_ids(fx, 4, 4);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 3);
	assert_true(ids[0] == 1 && ids[1] == 2 && ids[2] == 4);

	/* Rewriting an incomplete id completes it. */
	assert_int_equal(mkdir(chk(fx, 5, NULL), 0755), 0);
	write_ids(fx, 5, 5);
	run_latest(fx);
	assert_true(fx->latest_id == 5);
	assert_int_equal(fx->nskipped, 0);
}

static void test_newer_version_refused(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 3, &fx->s), 0);
	write_ids(fx, 1, 1);
	/* An intact checkpoint from a build with format version 3. */
	uint8_t *v2 = malloc(fx->lens[2]);
	memcpy(v2, fx->snaps[2], fx->lens[2]);
	v2[6] = 3;
	assert_int_equal(snapshot_version(v2, fx->lens[2]), 3);
	assert_int_equal(store_fs_write(fx->s, 2, v2, fx->lens[2], on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->write_status[1], 0);
	free(v2);
	run_latest(fx);
	assert_int_equal(fx->latest_status, -EPROTO);
	assert_null(fx->latest_buf);
	assert_int_equal(fx->nskipped, 1);
	assert_true(fx->skipped_id[0] == 2);
	assert_string_equal(fx->skipped_reason[0],
			    "state.snap: unknown format version 3 (this build reads 2..2)");
}

/* The exactly-once restart: the checkpoint Kafka committed, not a newer one. */
static void test_max_id_bound(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 5, &fx->s), 0);
	write_ids(fx, 2, 5);
	fx->max_id = 4;
	run_latest(fx);
	assert_int_equal(fx->latest_status, 0);
	assert_true(fx->latest_id == 4);
	assert_memory_equal(fx->latest_buf, fx->snaps[4], fx->lens[4]);
	assert_int_equal(fx->nskipped, 0);      /* 5 is above the bound, not skipped */

	/* Between two ids: the one below. A damaged one at the bound falls back. */
	flip_byte(chk(fx, 3, "state.snap"), 30);
	fx->max_id = 3;
	run_latest(fx);
	assert_true(fx->latest_id == 2);
	assert_int_equal(fx->nskipped, 1);
	assert_true(fx->skipped_id[0] == 3);

	/* Below every checkpoint: none. */
	fx->max_id = 1;
	run_latest(fx);
	assert_int_equal(fx->latest_status, -ENOENT);
	assert_int_equal(fx->nskipped, 0);
	assert_null(fx->latest_buf);
}

static void test_empty_store(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 1, &fx->s), 0);
	run_latest(fx);
	assert_int_equal(fx->latest_status, -ENOENT); /* directory not there yet */
	assert_int_equal(fx->nskipped, 0);
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 0, &(struct store_fs *){0}), -EINVAL);
}

static void test_savepoint_not_pruned(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 1, &fx->s), 0);
	char sp[128];
	snprintf(sp, sizeof(sp), "%s/savepoint-a", fx->dir);
	assert_int_equal(store_fs_write_to(fx->s, sp, 6, fx->snaps[6], fx->lens[6], on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->write_status[0], 0);
	write_ids(fx, 1, 3);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 1);
	assert_true(ids[0] == 3);

	assert_int_equal(store_fs_read_dir(fx->s, sp, on_latest, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->latest_status, 0);
	assert_true(fx->latest_id == 6);
	assert_memory_equal(fx->latest_buf, fx->snaps[6], fx->lens[6]);

	/* Not a checkpoint: an explanation, no buffer. */
	assert_int_equal(store_fs_read_dir(fx->s, fx->dir, on_latest, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->latest_status, -ENOENT);
	assert_int_equal(fx->nskipped, 1);
	assert_non_null(strstr(fx->skipped_reason[0], "no MANIFEST"));
}

static void test_close_with_queued_jobs(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 2, &fx->s), 0);
	for (int i = 1; i <= 4; i++)
		assert_int_equal(store_fs_write(fx->s, (uint64_t)i, fx->snaps[i], fx->lens[i],
						on_write, fx), 0);
	assert_int_equal(store_fs_latest(fx->s, fx->max_id, on_latest, fx), 0);
	store_fs_close(fx->s, on_closed, fx);
	assert_int_equal(store_fs_write(fx->s, 7, fx->snaps[7], fx->lens[7], on_write, fx),
			 -ECANCELED);
	assert_int_equal(store_fs_latest(fx->s, UINT64_MAX, on_latest, fx), -ECANCELED);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	fx->s = NULL; /* freed by close */
	assert_int_equal(fx->closed, 1);
	assert_int_equal(fx->writes_done, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fx->write_status[i], 0);
	/* Queued behind the writes, so it sees the last one. */
	assert_int_equal(fx->latest_calls, 1);
	assert_true(fx->latest_id == 4);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 2);
}

static void on_write_then_close(int status, void *arg)
{
	struct fx *fx = arg;
	on_write(status, arg);
	store_fs_close(fx->s, on_closed, fx);
	assert_int_equal(fx->closed, 0);
}

/* Closing from inside a callback, with a job still queued behind it. */
static void test_close_from_callback(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(store_fs_new(&fx->loop, fx->root, 2, &fx->s), 0);
	assert_int_equal(store_fs_write(fx->s, 1, fx->snaps[1], fx->lens[1],
					on_write_then_close, fx), 0);
	assert_int_equal(store_fs_write(fx->s, 2, fx->snaps[2], fx->lens[2], on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	fx->s = NULL;
	assert_int_equal(fx->closed, 1);
	assert_int_equal(fx->writes_done, 2);
	assert_int_equal(fx->write_status[0], 0);
	assert_int_equal(fx->write_status[1], 0);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 2);
}

static void on_facade_closed(void *arg)
{
	(*(int *)arg)++;
}

/* The facade over a file:// URL forwards to store_fs. */
static void test_facade_file_url(void **state)
{
	struct fx *fx = *state;
	char url[160], err[200], sp[160];
	struct store *st;
	snprintf(url, sizeof(url), "file://%s/", fx->root);
	struct store_config cfg = { .url = url, .retain = 1 };
	assert_int_equal(store_new(&fx->loop, &cfg, &st, err, sizeof(err)), 0);
	snprintf(url, sizeof(url), "file://%s", fx->root);
	assert_string_equal(store_describe(st), url);
	assert_int_equal(store_write(st, 1, fx->snaps[1], fx->lens[1], on_write, fx), 0);
	assert_int_equal(store_write(st, 2, fx->snaps[2], fx->lens[2], on_write, fx), 0);
	snprintf(sp, sizeof(sp), "%s/sp", fx->dir);
	assert_int_equal(store_write_to(st, sp, 3, fx->snaps[3], fx->lens[3], on_write, fx), 0);
	assert_int_equal(store_write_to(st, "s3://bucket/p", 3, fx->snaps[3], fx->lens[3], on_write, fx),
			 -EINVAL);
	assert_int_equal(store_latest(st, UINT64_MAX, on_latest, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->writes_done, 3);
	assert_int_equal(fx->write_status[0] | fx->write_status[1] | fx->write_status[2], 0);
	assert_true(fx->latest_id == 2);
	uint64_t ids[16];
	assert_int_equal(list(fx, ids, 16), 1);         /* retain 1 */
	assert_int_equal(store_read_dir(st, sp, on_latest, fx), 0);
	/* A failed write: the reason names the store. */
	assert_int_equal(store_write(st, 2, fx->snaps[2], fx->lens[2], on_write, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_true(fx->latest_id == 3);
	assert_int_equal(fx->write_status[3], -EEXIST);
	assert_non_null(strstr(store_last_error(st), fx->root));
	int closed = 0;
	store_close(st, on_facade_closed, &closed);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);

	cfg.url = "relative/dir";
	assert_int_equal(store_new(&fx->loop, &cfg, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "relative/dir"));
	cfg.url = "s3://bucket/p";      /* no credentials */
	assert_int_equal(store_new(&fx->loop, &cfg, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "credentials"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_newest_falls_back, setup, teardown),
		cmocka_unit_test(test_skip_list),
		cmocka_unit_test_setup_teardown(test_incomplete_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_id_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_savepoint_not_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_queued_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_facade_file_url, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
