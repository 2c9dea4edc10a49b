/* Tests of the Avro BACKWARD compatibility checker. With arguments
 * (`test_avro_compat OLD.avsc NEW.avsc`) it is the checker CLI that
 * test_schema_compat.sh runs: exit 0 compatible, 1 not, 2 usage/IO error. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sink/avro_compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":[" fields "]}"

struct rule {
	const char *what, *old_s, *new_s;
	int rc;
	const char *reason; /* substring of the error text */
};

static const struct rule rules[] = {
	{ "identical", REC("{\"name\":\"a\",\"type\":\"int\"}"), REC("{\"name\":\"a\",\"type\":\"int\"}"), 0, NULL },
	{ "added field with default", REC("{\"name\":\"a\",\"type\":\"int\"}"),
	  REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":[\"null\",\"string\"],\"default\":null}"), 0, NULL },
	{ "added field without default", REC("{\"name\":\"a\",\"type\":\"int\"}"),
	  REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"), -EINVAL,
	  "field b: added without a default" },
	{ "removed field", REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"),
	  REC("{\"name\":\"a\",\"type\":\"int\"}"), 0, NULL },
	{ "int -> long", REC("{\"name\":\"a\",\"type\":\"int\"}"), REC("{\"name\":\"a\",\"type\":\"long\"}"), 0, NULL },
	{ "int -> double", REC("{\"name\":\"a\",\"type\":\"int\"}"), REC("{\"name\":\"a\",\"type\":\"double\"}"), 0, NULL },
	{ "float -> double", REC("{\"name\":\"a\",\"type\":\"float\"}"), REC("{\"name\":\"a\",\"type\":\"double\"}"), 0, NULL },
	{ "string -> bytes", REC("{\"name\":\"a\",\"type\":\"string\"}"), REC("{\"name\":\"a\",\"type\":\"bytes\"}"), 0, NULL },
	{ "long -> int", REC("{\"name\":\"a\",\"type\":\"long\"}"), REC("{\"name\":\"a\",\"type\":\"int\"}"), -EINVAL,
	  "field a: type changed long -> int" },
	{ "double -> float", REC("{\"name\":\"a\",\"type\":\"double\"}"), REC("{\"name\":\"a\",\"type\":\"float\"}"), -EINVAL,
	  "type changed double -> float" },
	{ "double -> string", REC("{\"name\":\"a\",\"type\":\"double\"}"), REC("{\"name\":\"a\",\"type\":\"string\"}"), -EINVAL,
	  "field a: type changed double -> string" },
	{ "union widening", REC("{\"name\":\"a\",\"type\":[\"null\",\"string\"],\"default\":null}"),
	  REC("{\"name\":\"a\",\"type\":[\"null\",\"string\",\"long\"],\"default\":null}"), 0, NULL },
	{ "union narrowing", REC("{\"name\":\"a\",\"type\":[\"null\",\"string\",\"long\"],\"default\":null}"),
	  REC("{\"name\":\"a\",\"type\":[\"null\",\"string\"],\"default\":null}"), -EINVAL,
	  "field a: union narrowed: writer type long not in reader union" },
	{ "plain -> nullable", REC("{\"name\":\"a\",\"type\":\"double\"}"),
	  REC("{\"name\":\"a\",\"type\":[\"null\",\"double\"],\"default\":null}"), 0, NULL },
	{ "nullable -> plain", REC("{\"name\":\"a\",\"type\":[\"null\",\"double\"],\"default\":null}"),
	  REC("{\"name\":\"a\",\"type\":\"double\"}"), -EINVAL, "field a: type changed null -> double" },
	{ "union branch promoted", REC("{\"name\":\"a\",\"type\":[\"null\",\"int\"]}"),
	  REC("{\"name\":\"a\",\"type\":[\"null\",\"long\"]}"), 0, NULL },
	{ "nested record type change",
	  REC("{\"name\":\"macd\",\"default\":null,\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Macd\",\"fields\":[{\"name\":\"signal\",\"type\":\"double\"}]}]}"),
	  REC("{\"name\":\"macd\",\"default\":null,\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Macd\",\"fields\":[{\"name\":\"signal\",\"type\":\"string\"}]}]}"),
	  -EINVAL, "field macd.signal: type changed double -> string" },
	{ "nested record added field without default",
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"x\",\"type\":\"double\"}]}}"),
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"x\",\"type\":\"double\"},{\"name\":\"y\",\"type\":\"double\"}]}}"),
	  -EINVAL, "field m.y: added without a default" },
	{ "nested record renamed",
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":[]}}"),
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"N\",\"fields\":[]}}"),
	  -EINVAL, "field m: record name changed record M -> record N" },
	{ "named reference resolved",
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}},{\"name\":\"n\",\"type\":\"t.M\"}"),
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"x\",\"type\":\"long\"}]}},{\"name\":\"n\",\"type\":\"M\"}"),
	  0, NULL },
	{ "enum symbol added", REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}}"),
	  REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}}"), 0, NULL },
	{ "enum symbol removed", REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}}"),
	  REC("{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}}"), -EINVAL,
	  "field e: enum symbol B removed" },
	{ "map values promoted", REC("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}}"),
	  REC("{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"}}"), 0, NULL },
	{ "array items changed", REC("{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}"),
	  REC("{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"int\"}}"), -EINVAL,
	  "field l[]: type changed string -> int" },
	{ "fixed size changed", REC("{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}}"),
	  REC("{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":16}}"), -EINVAL,
	  "fixed size changed 8 -> 16" },
	{ "renamed field via alias", REC("{\"name\":\"a\",\"type\":\"int\"}"),
	  REC("{\"name\":\"b\",\"aliases\":[\"a\"],\"type\":\"int\"}"), 0, NULL },
	{ "logical type wrapper", REC("{\"name\":\"t\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}}"),
	  REC("{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}"), 0, NULL },
	{ "top-level primitive", "\"int\"", "\"string\"", -EINVAL, "schema: type changed int -> string" },
};

static void test_rule_table(void **state)
{
	char err[256];
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		int rc = avro_compat_backward(r->old_s, r->new_s, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("%s: rc %d, want %d (%s)", r->what, rc, r->rc, err);
		if (r->reason && !strstr(err, r->reason))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", r->what, err, r->reason);
		if (r->rc == 0)
			assert_string_equal(err, "");
	}
}

static void test_malformed(void **state)
{
	char err[128];
	assert_int_equal(avro_compat_check("{", REC(""), err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "old schema"));
	assert_int_equal(avro_compat_check(REC(""), "nope", err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "new schema"));
	assert_int_equal(avro_compat_check(REC("{\"name\":\"a\",\"type\":\"Nope\"}"),
					   REC("{\"name\":\"a\",\"type\":\"int\"}"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown type"));
	/* err may be NULL */
	assert_int_equal(avro_compat_check("\"long\"", "\"int\"", NULL, 0), -EINVAL);
}

static void test_real_schemas(void **state)
{
	const char *top = getenv("top_srcdir");
	const char *names[] = { "ta-bars-1s", "ta-signals", "ta-status" };
	char path[1024], err[256];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/schemas/%s.avsc", top ? top : ".", names[i]);
		char *s = slurp(path);
		assert_non_null(s);
		if (avro_compat_backward(s, s, err, sizeof(err)) != 0)
			fail_msg("%s not compatible with itself: %s", names[i], err);
		free(s);
	}
	/* A real nested change is caught with its path. */
	snprintf(path, sizeof(path), "%s/schemas/ta-signals.avsc", top ? top : ".");
	char *s = slurp(path);
	assert_non_null(s);
	char *broken = strdup(s);
	char *at = strstr(broken, "{\"name\": \"signal\", \"type\": \"double\"}");
	assert_non_null(at);
	memcpy(strstr(at, "\"double\""), "\"string\"", 8);
	assert_int_equal(avro_compat_backward(s, broken, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "field macd.signal: type changed double -> string");
	free(broken);
	free(s);
}

static int cli(const char *old_path, const char *new_path)
{
	char *o = slurp(old_path), *n = slurp(new_path), err[512];
	if (!o || !n) {
		fprintf(stderr, "cannot read %s\n", !o ? old_path : new_path);
		free(o);
		free(n);
		return 2;
	}
	int rc = avro_compat_backward(o, n, err, sizeof(err));
	free(o);
	free(n);
	if (rc == 0)
		return 0;
	fprintf(stderr, "%s -> %s: not BACKWARD compatible: %s\n", old_path, new_path, err);
	return rc == -EINVAL ? 1 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 3)
		return cli(argv[1], argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_real_schemas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
