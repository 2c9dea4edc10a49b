/* test_sendlog.c - the replay send log: header, rows from plain fields and
 * from recording items, sanitizing, and write errors. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/recording.h"
#include "replay/sendlog.h"

static void test_rows(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	struct sendlog *l;
	assert_int_equal(sendlog_new(f, &l), 0);
	assert_int_equal(sendlog_write_fields(l, 1736951400123456789LL, 1, 42, "NVDA", 4, "t", 1,
					      "52983525033527", 14, "2025-01-15T14:30:00.123456789Z", 30),
			 0);
	/* Absent fields are empty. */
	assert_int_equal(sendlog_write_fields(l, -5, 0, UINT64_MAX, "NVDA", 4, "b", 1, NULL, 0,
					      "2025-01-15T14:30:00Z", 20),
			 0);
	/* Bytes that would break the CSV become '_'; fields are cut at 64. */
	char longf[100];
	memset(longf, 'L', sizeof(longf));
	assert_int_equal(sendlog_write_fields(l, 0, 2, 3, "A,B", 3, "x\"\n", 3, longf, 100, "\xc3\xa9 ", 3), 0);
	assert_int_equal(sendlog_flush(l), 0);
	assert_int_equal(sendlog_stats(l)->lines, 3);
	char want[512];
	snprintf(want, sizeof(want),
		 "%s1736951400123456789,1,42,NVDA,t,52983525033527,2025-01-15T14:30:00.123456789Z\n"
		 "-5,0,18446744073709551615,NVDA,b,,2025-01-15T14:30:00Z\n"
		 "0,2,3,A_B,x__,%.64s,___\n",
		 SENDLOG_HEADER, longf);
	assert_string_equal(buf, want);
	assert_int_equal(sendlog_close(l), 0);
	fclose(f); /* not owned by the log */
	free(buf);
}

static void test_from_recording(void **state)
{
	static const char rec[] =
		"{\"at_ns\":7,\"frame\":[{\"T\":\"t\",\"S\":\"AAPL\",\"i\":96921,\"t\":\"2021-02-22T15:51:44.208Z\"},"
		"{\"T\":\"q\",\"S\":\"AMD\",\"t\":\"2021-02-22T15:51:45.3355677Z\"},{\"T\":\"success\",\"msg\":\"x\"}]}\n";
	FILE *in = fmemopen((void *)rec, sizeof(rec) - 1, "r");
	struct recording_reader *r;
	assert_int_equal(recording_reader_new(in, 0, &r), 0);
	struct recording_item it;
	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 1);
	assert_int_equal(it.nmsgs, 3);

	char dir[] = "/tmp/test_sendlog.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/send.csv", dir);
	struct sendlog *l;
	assert_int_equal(sendlog_open(path, &l), 0);
	for (size_t k = 0; k < it.nmsgs; k++)
		assert_int_equal(sendlog_write(l, 100, 9, 1, it.line, &it.msgs[k]), 0);
	assert_int_equal(sendlog_write(l, 100, 9, 1, NULL, &it.msgs[0]), -EINVAL);
	assert_int_equal(sendlog_close(l), 0);
	recording_reader_free(r);
	fclose(in);

	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char got[512];
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, SENDLOG_HEADER
			    "100,9,1,AAPL,t,96921,2021-02-22T15:51:44.208Z\n"
			    "100,9,1,AMD,q,,2021-02-22T15:51:45.3355677Z\n"
			    "100,9,1,,success,,\n");
	unlink(path);
	rmdir(dir);

	assert_int_equal(sendlog_open("/nonexistent-dir/x.csv", &l), -ENOENT);
	assert_null(l);
	assert_int_equal(sendlog_open(NULL, &l), -EINVAL);
	assert_int_equal(sendlog_new(NULL, &l), -EINVAL);
}

static void test_write_error(void **state)
{
	/* /dev/full: writes fail once the buffer is flushed. */
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	struct sendlog *l;
	/* The header itself fails unbuffered. */
	assert_int_equal(sendlog_new(f, &l), -EIO);
	fclose(f);

	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(sendlog_new(f, &l), 0); /* buffered: no error yet */
	assert_int_equal(sendlog_write_fields(l, 1, 1, 1, "A", 1, "q", 1, NULL, 0, NULL, 0), 0);
	assert_int_equal(sendlog_flush(l), -EIO);
	/* Sticky afterwards, and counted. */
	assert_int_equal(sendlog_write_fields(l, 1, 1, 1, "A", 1, "q", 1, NULL, 0, NULL, 0), -EIO);
	assert_int_equal(sendlog_stats(l)->failed, 1);
	assert_int_equal(sendlog_close(l), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_from_recording),
		cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
