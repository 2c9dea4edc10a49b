/* The recorder writes frames off the loop thread in the replay's recording
 * format: read back with the replay's own reader. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay/recording.h"
#include "source/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int closed;
static void on_closed(void *arg)
{
	closed++;
}

static void test_round_trip(void **state)
{
	char path[] = "/tmp/tg-rec-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct recorder *r;
	assert_int_equal(recorder_new(&loop, path, &r), 0);

	const char *f1 = "[{\"T\":\"success\",\"msg\":\"connected\"}]";
	const char *f2 = "[{\"T\":\"t\",\"S\":\"NVDA\",\"i\":1,\"p\":1.5,\"s\":2,\"t\":\"2025-01-15T14:30:00.1Z\"}]";
	recorder_frame(r, 1000, f1, strlen(f1));
	recorder_frame(r, 1500, f2, strlen(f2));
	/* enough frames to cross the flush threshold several times */
	char *big = malloc(100000);
	memset(big, ' ', 100000);
	big[0] = '[';
	big[99999] = ']';
	for (int i = 0; i < 30; i++) {
		recorder_frame(r, 2000 + i, big, 100000);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	free(big);
	uint64_t frames = recorder_stats(r)->frames, dropped = recorder_stats(r)->dropped_frames;
	assert_int_equal(frames + dropped, 32);
	recorder_close(r, on_closed, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);
	assert_int_equal(uv_loop_close(&loop), 0);

	FILE *f = fopen(path, "r");
	struct recording_reader *rd;
	struct recording_item it;
	char err[256];
	uint64_t line;
	assert_int_equal(recording_reader_new(f, 0, &rd), 0);
	assert_int_equal(recording_read(rd, &it, err, sizeof(err), &line), 1);
	assert_int_equal(it.kind, RECORDING_FRAME);
	assert_int_equal(it.at_ns, 0);
	assert_int_equal(recording_read(rd, &it, err, sizeof(err), &line), 1);
	assert_int_equal(it.at_ns, 500);
	assert_int_equal(it.nmsgs, 1);
	assert_non_null(strstr(it.line, "\"S\":\"NVDA\""));
	uint64_t n = 2;
	int rc;
	while ((rc = recording_read(rd, &it, err, sizeof(err), &line)) == 1)
		n++;
	assert_int_equal(rc, 0);
	assert_int_equal(n, frames); /* every frame not counted as dropped is in the file */
	recording_reader_free(rd);
	fclose(f);
	unlink(path);
}

static void test_open_failure(void **state)
{
	uv_loop_t loop;
	struct recorder *r;
	uv_loop_init(&loop);
	assert_true(recorder_new(&loop, "/nonexistent-dir/x.jsonl", &r) < 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_open_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
