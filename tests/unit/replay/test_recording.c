/* test_recording.c - the JSONL recording format: writer/reader round trip
 * for the msg, frame and meta forms, malformed lines reported with their
 * line numbers, over-long lines, garbage, and bounded memory. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "replay/generate.h"
#include "replay/prng.h"
#include "replay/recording.h"

static struct recording_reader *reader_on(const char *text, size_t n, size_t max_line, FILE **f)
{
	*f = fmemopen((void *)text, n, "r");
	assert_non_null(*f);
	struct recording_reader *r;
	assert_int_equal(recording_reader_new(*f, max_line, &r), 0);
	return r;
}

static int span_is(const struct recording_item *it, struct recording_span sp, const char *want)
{
	return sp.len == strlen(want) && memcmp(it->line + sp.off, want, sp.len) == 0;
}

#define ASSERT_SPAN(it, sp, want)                                                         \
	do {                                                                              \
		if (!span_is((it), (sp), (want)))                                         \
			fail_msg("span '%.*s' != '%s'", (int)(sp).len, (it)->line + (sp).off, \
				 (want));                                                 \
	} while (0)

static void test_roundtrip_msg(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *w = open_memstream(&buf, &n);
	const char *m1 = "{\"T\":\"t\",\"S\":\"NVDA\",\"i\":52983525033527,\"x\":\"V\",\"p\":136.1,"
			 "\"s\":100,\"c\":[\"@\"],\"t\":\"2025-01-15T14:30:00.123456789Z\",\"z\":\"C\"}";
	/* Pretty-printed input: raw newlines are JSON whitespace; the writer keeps one line. */
	const char *m2 = "\n{\n  \"T\": \"q\",\n  \"S\": \"NVDA\",\r\n  \"bp\": 136,\n"
			 "  \"t\": \"2025-01-15T14:30:00Z\"\n}\n";
	const char *m3 = "{\"T\":\"b\",\"S\":\"NVDA\",\"o\":1,\"t\":\"2025-01-15T14:30:00Z\",\"i\":\"x\"}";
	const char *meta = "{\"format\":\"torghut-recording\",\"version\":1}";
	assert_int_equal(recording_write_meta(w, meta, strlen(meta)),
			 (int)strlen("{\"meta\":{\"format\":\"torghut-recording\",\"version\":1}}\n"));
	int rc = recording_write_msg(w, 0, m1, strlen(m1));
	assert_true(rc > (int)strlen(m1));
	assert_true(recording_write_msg(w, 1500000, m2, strlen(m2)) > 0);
	assert_true(recording_write_msg(w, INT64_MAX, m3, strlen(m3)) > 0);
	fclose(w);
	/* Exactly four lines. */
	size_t lines = 0;
	for (size_t k = 0; k < n; k++)
		lines += buf[k] == '\n';
	assert_int_equal(lines, 4);

	FILE *f;
	struct recording_reader *r = reader_on(buf, n, 0, &f);
	struct recording_item it;
	char err[128];
	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 1);
	assert_int_equal(it.kind, RECORDING_META);
	assert_int_equal(it.at_ns, -1);
	assert_int_equal(it.nmsgs, 0);
	ASSERT_SPAN(&it, it.payload, "{\"format\":\"torghut-recording\",\"version\":1}");

	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 1);
	assert_int_equal(it.kind, RECORDING_MSG);
	assert_int_equal(it.lineno, 2);
	assert_int_equal(it.at_ns, 0);
	assert_int_equal(it.nmsgs, 1);
	ASSERT_SPAN(&it, it.msgs[0].obj, m1); /* byte for byte */
	ASSERT_SPAN(&it, it.payload, m1);
	ASSERT_SPAN(&it, it.msgs[0].type, "t");
	ASSERT_SPAN(&it, it.msgs[0].sym, "NVDA");
	ASSERT_SPAN(&it, it.msgs[0].id, "52983525033527");
	ASSERT_SPAN(&it, it.msgs[0].time, "2025-01-15T14:30:00.123456789Z");
	assert_int_equal(strlen(it.line), it.line_len);

	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 1);
	assert_int_equal(it.at_ns, 1500000);
	ASSERT_SPAN(&it, it.msgs[0].type, "q");
	assert_int_equal(it.msgs[0].id.len, 0);
	json_t *j = json_loadb(it.line + it.msgs[0].obj.off, it.msgs[0].obj.len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "bp")), 136);
	json_decref(j);

	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 1);
	assert_int_equal(it.at_ns, INT64_MAX);
	ASSERT_SPAN(&it, it.msgs[0].type, "b");
	assert_int_equal(it.msgs[0].id.len, 0); /* "i" that is not a number is not an id */

	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 0);
	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 0);
	const struct recording_reader_stats *st = recording_reader_stats(r);
	assert_int_equal(st->lines, 4);
	assert_int_equal(st->items, 4);
	assert_int_equal(st->messages, 3);
	assert_int_equal(st->malformed, 0);
	recording_reader_free(r);
	fclose(f);
	free(buf);
}

static void test_roundtrip_frame(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *w = open_memstream(&buf, &n);
	const char *f1 = "[{\"T\":\"success\",\"msg\":\"connected\"}]";
	const char *f2 = "[{\"T\":\"t\",\"S\":\"AAPL\",\"i\":1,\"t\":\"2021-02-22T15:51:44.208Z\"} ,"
			 "{\"T\":\"q\",\"S\":\"AMD\",\"t\":\"2021-02-22T15:51:45.3355677Z\",\"c\":[\"R\"]},"
			 "{\"T\":\"b\",\"S\":\"SPY\",\"o\":388.985,\"t\":\"2021-02-22T19:15:00Z\","
			 "\"n\":461,\"vw\":389.062639}]";
	assert_true(recording_write_frame(w, 10, f1, strlen(f1)) > 0);
	assert_true(recording_write_frame(w, 20, f2, strlen(f2)) > 0);
	assert_true(recording_write_frame(w, 30, "[]", 2) > 0);
	fputs("{\"recv_ns\":5,\"frame\":[{\"T\":\"x\",\"S\":\"Z\",\"i\":-3}],\"at_ns\":40}\n", w);
	fclose(w);

	FILE *f;
	struct recording_reader *r = reader_on(buf, n, 0, &f);
	struct recording_item it;
	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 1);
	assert_int_equal(it.kind, RECORDING_FRAME);
	assert_int_equal(it.at_ns, 10);
	assert_int_equal(it.nmsgs, 1);
	ASSERT_SPAN(&it, it.payload, f1);
	ASSERT_SPAN(&it, it.msgs[0].type, "success");
	assert_int_equal(it.msgs[0].sym.len, 0);

	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 1);
	assert_int_equal(it.at_ns, 20);
	assert_int_equal(it.nmsgs, 3);
	ASSERT_SPAN(&it, it.payload, f2);
	ASSERT_SPAN(&it, it.msgs[0].sym, "AAPL");
	ASSERT_SPAN(&it, it.msgs[0].id, "1");
	ASSERT_SPAN(&it, it.msgs[0].time, "2021-02-22T15:51:44.208Z");
	ASSERT_SPAN(&it, it.msgs[1].sym, "AMD");
	ASSERT_SPAN(&it, it.msgs[1].obj,
		    "{\"T\":\"q\",\"S\":\"AMD\",\"t\":\"2021-02-22T15:51:45.3355677Z\",\"c\":[\"R\"]}");
	ASSERT_SPAN(&it, it.msgs[2].type, "b");
	ASSERT_SPAN(&it, it.msgs[2].time, "2021-02-22T19:15:00Z");

	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 1);
	assert_int_equal(it.kind, RECORDING_FRAME);
	assert_int_equal(it.nmsgs, 0);
	assert_null(it.msgs);

	/* Member order is free; unknown members are ignored. */
	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 1);
	assert_int_equal(it.at_ns, 40);
	ASSERT_SPAN(&it, it.msgs[0].id, "-3");
	assert_int_equal(recording_read(r, &it, NULL, 0, NULL), 0);
	recording_reader_free(r);
	fclose(f);
	free(buf);
}

static void test_writer_rejects(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *w = open_memstream(&buf, &n);
	assert_int_equal(recording_write_msg(w, 0, "{\"S\":\"X\"}", 9), -EPROTO);       /* no T */
	assert_int_equal(recording_write_msg(w, 0, "{\"T\":1}", 7), -EPROTO);           /* T not a string */
	assert_int_equal(recording_write_msg(w, 0, "[{\"T\":\"t\"}]", 11), -EPROTO);    /* not an object */
	assert_int_equal(recording_write_msg(w, 0, "{\"T\":\"t\"} x", 11), -EPROTO);    /* trailing */
	assert_int_equal(recording_write_msg(w, 0, "{\"T\":\"t\"", 8), -EPROTO);        /* truncated */
	assert_int_equal(recording_write_frame(w, 0, "{\"T\":\"t\"}", 9), -EPROTO);     /* not an array */
	assert_int_equal(recording_write_frame(w, 0, "[{\"T\":\"t\"},3]", 13), -EPROTO); /* element */
	assert_int_equal(recording_write_frame(w, 0, "[{\"T\":\"t\"}", 10), -EPROTO);
	assert_int_equal(recording_write_meta(w, "[]", 2), -EPROTO);
	assert_int_equal(recording_write_msg(w, -1, "{\"T\":\"t\"}", 9), -EINVAL);
	assert_int_equal(recording_write_msg(NULL, 0, "{\"T\":\"t\"}", 9), -EINVAL);
	assert_int_equal(recording_write_msg(w, 0, NULL, 0), -EINVAL);
	fflush(w);
	assert_int_equal(n, 0); /* nothing was written */
	fclose(w);
	free(buf);
}

struct expect {
	uint64_t line;
	int rc; /* 1 item, -EBADMSG */
	const char *why; /* substring of the error, for -EBADMSG */
};

static void run_expect(const char *text, size_t n, size_t max_line, const struct expect *ex,
		       size_t nex)
{
	FILE *f;
	struct recording_reader *r = reader_on(text, n, max_line, &f);
	struct recording_item it;
	char err[160];
	for (size_t k = 0; k < nex; k++) {
		uint64_t ln = 0;
		int rc = recording_read(r, &it, err, sizeof(err), &ln);
		if (rc != ex[k].rc || ln != ex[k].line)
			fail_msg("step %zu: rc %d line %" PRIu64 " (%s), want rc %d line %" PRIu64, k, rc,
				 ln, err, ex[k].rc, ex[k].line);
		if (rc == 1) {
			assert_int_equal(it.lineno, ex[k].line);
		} else {
			char want[32];
			snprintf(want, sizeof(want), "line %" PRIu64 ": ", ex[k].line);
			if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, ex[k].why))
				fail_msg("step %zu: error '%s', want '%s...%s'", k, err, want, ex[k].why);
		}
	}
	assert_int_equal(recording_read(r, &it, err, sizeof(err), NULL), 0);
	recording_reader_free(r);
	fclose(f);
}

static void test_malformed_lines(void **state)
{
	static const char text[] =
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"S\":\"A\"}}\n"                  /* 1 ok */
		"garbage\n"                                                         /* 2 */
		"{\"at_ns\":-1,\"msg\":{\"T\":\"t\"}}\n"                            /* 3 */
		"{\"at_ns\":1.5,\"msg\":{\"T\":\"t\"}}\n"                           /* 4 */
		"{\"at_ns\":1}\n"                                                   /* 5 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\"},\"frame\":[]}\n"                /* 6 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\"\n"                               /* 7 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"S\":\"\xff\"}}\n"              /* 8 */
		"{\"at_ns\":9223372036854775808,\"msg\":{\"T\":\"t\"}}\n"           /* 9 */
		"{\"at_ns\":1,\"msg\":[]}\n"                                        /* 10 */
		"{\"at_ns\":1,\"msg\":{\"T\":5}}\n"                                 /* 11 */
		"{\"at_ns\":1,\"frame\":[{\"T\":\"t\"},\"s\"]}\n"                   /* 12 */
		"\n"                                                                /* 13 blank */
		"   \t \r\n"                                                        /* 14 blank */
		"{\"at_ns\":2,\"frame\":[{\"T\":\"q\"}]}\r\n"                       /* 15 ok, CRLF */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\"}} x\n"                           /* 16 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"S\":\"\\ud800\"}}\n"           /* 17 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"S\":\"\\x\"}}\n"               /* 18 */
		"{\"at_ns\":01,\"msg\":{\"T\":\"t\"}}\n"                            /* 19 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"T\":\"q\"}}\n"                 /* 20 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"\"}}\n"                              /* 21 */
		"{\"at_ns\":1,\"at_ns\":2,\"msg\":{\"T\":\"t\"}}\n"                 /* 22 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"c\":[1,2,]}}\n"                /* 23 */
		"{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"S\":\"a\tb\"}}\n"              /* 24 */
		"[1,2]\n"                                                           /* 25 */
		"{\"meta\":{}}\n"                                                   /* 26 ok */
		"{\"at_ns\":3,\"msg\":{\"T\":\"t\",\"S\":\"\xc3\xa9\\u00e9\\ud83d\\ude00\",\"v\":[true,false,null,-0.5e+3]}}"; /* 27 ok, no newline */
	static const struct expect ex[] = {
		{1, 1, NULL},
		{2, -EBADMSG, "not a JSON object"},
		{3, -EBADMSG, "at_ns"},
		{4, -EBADMSG, "at_ns"},
		{5, -EBADMSG, "none of"},
		{6, -EBADMSG, "more than one"},
		{7, -EBADMSG, "unterminated"},
		{8, -EBADMSG, "UTF-8"},
		{9, -EBADMSG, "at_ns"},
		{10, -EBADMSG, "not an object"},
		{11, -EBADMSG, "not a string"},
		{12, -EBADMSG, "not an object"},
		{15, 1, NULL},
		{16, -EBADMSG, "trailing"},
		{17, -EBADMSG, "surrogate"},
		{18, -EBADMSG, "escape"},
		{19, -EBADMSG, "expected"},
		{20, -EBADMSG, "twice"},
		{21, -EBADMSG, "without"},
		{22, -EBADMSG, "twice"},
		{23, -EBADMSG, "value"},
		{24, -EBADMSG, "control"},
		{25, -EBADMSG, "not a JSON object"},
		{26, 1, NULL},
		{27, 1, NULL},
	};
	run_expect(text, sizeof(text) - 1, 0, ex, sizeof(ex) / sizeof(ex[0]));

	/* A NUL byte inside a line, and a line that is only "{". */
	static const char nul[] = "{\"at_ns\":1,\"msg\":{\"T\":\"t\"\0}}\n{\n{\"at_ns\":5,\"msg\":{\"T\":\"t\"}}\n";
	static const struct expect ex2[] = {
		{1, -EBADMSG, "line 1"},
		{2, -EBADMSG, "line 2"},
		{3, 1, NULL},
	};
	run_expect(nul, sizeof(nul) - 1, 0, ex2, 3);
}

static void test_nesting_limit(void **state)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "{\"at_ns\":1,\"msg\":{\"T\":\"t\",\"d\":");
	for (int k = 0; k < 70; k++)
		line[n++] = '[';
	for (int k = 0; k < 70; k++)
		line[n++] = ']';
	n += snprintf(line + n, sizeof(line) - (size_t)n, "}}\n");
	static const struct expect ex[] = {{1, -EBADMSG, "deep"}};
	run_expect(line, (size_t)n, 0, ex, 1);
	assert_int_equal(recording_json_valid("{\"at_ns\":1}", 11), 0);
	assert_int_equal(recording_json_valid("[1, {\"a\": \"b\"}] ", 16), 0);
	assert_int_equal(recording_json_valid("[1,]", 4), -EPROTO);
	assert_int_equal(recording_json_valid("", 0), -EPROTO);
	assert_int_equal(recording_json_valid("1 2", 3), -EPROTO);
	assert_int_equal(recording_json_valid("tru", 3), -EPROTO);
}

static void test_long_lines(void **state)
{
	/* max_line 100: a 20000-byte line (never buffered whole) between good
	 * lines, and a long last line without newline. */
	size_t big = 20000;
	size_t cap = big * 2 + 400;
	char *text = malloc(cap);
	size_t n = 0;
	n += (size_t)sprintf(text + n, "{\"at_ns\":1,\"msg\":{\"T\":\"t\"}}\n");
	memset(text + n, 'x', big);
	n += big;
	text[n++] = '\n';
	n += (size_t)sprintf(text + n, "{\"at_ns\":2,\"msg\":{\"T\":\"t\"}}\n");
	/* exactly max_line bytes is fine */
	char exact[101];
	int e = snprintf(exact, sizeof(exact), "{\"at_ns\":3,\"msg\":{\"T\":\"t\",\"pad\":\"");
	while (e < 100 - 3)
		exact[e++] = 'p';
	exact[e++] = '"';
	exact[e++] = '}';
	exact[e++] = '}';
	exact[e] = '\0';
	assert_int_equal(strlen(exact), 100);
	n += (size_t)sprintf(text + n, "%s\n", exact);
	memset(text + n, 'y', big);
	n += big;
	static const struct expect ex[] = {
		{1, 1, NULL}, {2, -EBADMSG, "longer than 100"}, {3, 1, NULL}, {4, 1, NULL},
		{5, -EBADMSG, "longer than 100"},
	};
	run_expect(text, n, 100, ex, 5);

	FILE *f;
	struct recording_reader *r = reader_on(text, n, 100, &f);
	struct recording_item it;
	while (recording_read(r, &it, NULL, 0, NULL) != 0)
		;
	assert_true(recording_reader_stats(r)->buf_cap <= 100 + 4098);
	assert_int_equal(recording_reader_stats(r)->malformed, 2);
	recording_reader_free(r);
	fclose(f);
	free(text);

	struct recording_reader *bad;
	assert_int_equal(recording_reader_new(NULL, 0, &bad), -EINVAL);
	assert_int_equal(recording_reader_new(stdin, (size_t)RECORDING_MAX_LINE_LIMIT + 1, &bad), -EINVAL);
}

/* Random bytes and mutated good lines: the reader never crashes, and every
 * line it accepts is JSON that jansson accepts too. */
static void test_garbage(void **state)
{
	struct prng g;
	prng_seed(&g, 99);
	static const char good[] =
		"{\"at_ns\":123,\"frame\":[{\"T\":\"t\",\"S\":\"NVDA\",\"i\":5,\"p\":1.5e2,\"c\":[\"@\",\"I\"],"
		"\"t\":\"2025-01-15T14:30:00Z\"},{\"T\":\"q\",\"S\":\"\\u00e9\\n\",\"x\":null}]}";
	size_t glen = sizeof(good) - 1;
	size_t cap = 4000 * (glen + 2);
	char *text = malloc(cap);
	size_t n = 0;
	for (int k = 0; k < 4000; k++) {
		size_t len;
		if (k % 2 == 0) { /* mutated good line */
			memcpy(text + n, good, glen);
			len = glen;
			int muts = 1 + (int)prng_below(&g, 3);
			for (int m = 0; m < muts; m++) {
				size_t at = prng_below(&g, len);
				static const char pick[] = "{}[]\",:\\ 0-9.eEtrufanl\x80\xc3\xff";
				text[n + at] = pick[prng_below(&g, sizeof(pick) - 1)];
			}
			if (prng_chance(&g, 0.1))
				len = prng_below(&g, len); /* truncated */
		} else { /* random bytes */
			len = prng_below(&g, 200);
			for (size_t b = 0; b < len; b++)
				text[n + b] = (char)prng_below(&g, 256);
		}
		for (size_t b = 0; b < len; b++)
			if (text[n + b] == '\n')
				text[n + b] = ' ';
		n += len;
		text[n++] = '\n';
	}
	FILE *f;
	struct recording_reader *r = reader_on(text, n, 0, &f);
	struct recording_item it;
	char err[160];
	int rc;
	size_t ok = 0, bad = 0;
	while ((rc = recording_read(r, &it, err, sizeof(err), NULL)) != 0) {
		assert_true(rc == 1 || rc == -EBADMSG);
		if (rc == 1) {
			ok++;
			json_error_t je;
			json_t *j = json_loadb(it.line, it.line_len, JSON_ALLOW_NUL, &je);
			if (!j)
				fail_msg("accepted, jansson says %s: %s", je.text, it.line);
			json_decref(j);
			for (size_t m = 0; m < it.nmsgs; m++)
				assert_true(it.msgs[m].obj.off + it.msgs[m].obj.len <= it.line_len);
		} else {
			bad++;
		}
	}
	assert_true(ok > 0 && bad > 2000);
	recording_reader_free(r);
	fclose(f);
	free(text);
}

/* Many lines through a pipe-like stream: the buffer stays at its first size. */
static void test_streaming_bounded(void **state)
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	const size_t lines = 1000000;
	for (size_t k = 0; k < lines; k++)
		fprintf(tmp, "{\"at_ns\":%zu,\"msg\":{\"T\":\"q\",\"S\":\"NVDA\",\"bp\":1,\"t\":\"x\"}}\n", k);
	rewind(tmp);
	struct recording_reader *r;
	assert_int_equal(recording_reader_new(tmp, 0, &r), 0);
	struct recording_item it;
	size_t k = 0;
	int rc;
	while ((rc = recording_read(r, &it, NULL, 0, NULL)) == 1) {
		if (it.at_ns != (int64_t)k)
			fail_msg("line %zu: at_ns %" PRId64, k + 1, it.at_ns);
		k++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(k, lines);
	const struct recording_reader_stats *st = recording_reader_stats(r);
	assert_int_equal(st->items, lines);
	assert_true(st->buf_cap <= 65536);
	assert_true(st->index_cap <= 64);
	recording_reader_free(r);
	fclose(tmp);
}

/* The generator's output reads back whole. */
static void test_reads_generated(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *w = open_memstream(&buf, &n);
	struct generate_opts o;
	generate_opts_default(&o);
	o.end_sec = 9 * 3600 + 31 * 60;
	struct generate_stats st;
	assert_int_equal(generate_run(&o, w, &st, NULL, 0), 0);
	fclose(w);
	FILE *f;
	struct recording_reader *r = reader_on(buf, n, 0, &f);
	struct recording_item it;
	while (recording_read(r, &it, NULL, 0, NULL) == 1) {
		if (it.kind == RECORDING_MSG) {
			assert_true(it.msgs[0].sym.len > 0 && it.msgs[0].time.len > 0);
			assert_int_equal(it.msgs[0].id.len > 0, span_is(&it, it.msgs[0].type, "t"));
		}
	}
	assert_int_equal(recording_reader_stats(r)->messages, st.messages);
	assert_int_equal(recording_reader_stats(r)->items, st.messages + 1);
	recording_reader_free(r);
	fclose(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_msg),     cmocka_unit_test(test_roundtrip_frame),
		cmocka_unit_test(test_writer_rejects),    cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_nesting_limit),     cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_garbage),           cmocka_unit_test(test_streaming_bounded),
		cmocka_unit_test(test_reads_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
