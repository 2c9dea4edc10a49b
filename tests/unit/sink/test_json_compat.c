/* Tests of the JSON Schema BACKWARD compatibility checker. With arguments
 * (`test_json_compat OLD.json NEW.json`) it is the checker CLI that
 * test_schema_compat.sh runs: exit 0 compatible, 1 not, 2 usage/IO error. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sink/json_compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* old, new, expected rc, expected reason ("" for none) */
struct rule {
	const char *old, *new;
	int rc;
	const char *why;
};

#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"

static const struct rule rules[] = {
	/* the same schema */
	{OBJ("\"a\":{\"type\":\"string\"}", "\"a\""), OBJ("\"a\":{\"type\":\"string\"}", "\"a\""), 0, ""},
	/* annotations do not matter */
	{"{\"type\":\"string\",\"title\":\"x\"}", "{\"type\":\"string\",\"description\":\"y\",\"$comment\":\"z\"}", 0, ""},
	/* an optional property added */
	{OBJ("\"a\":{\"type\":\"string\"}", "\"a\""),
	 OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"a\""), 0, ""},
	/* a new required property */
	{OBJ("\"a\":{\"type\":\"string\"}", "\"a\""),
	 OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"a\",\"b\""), -EINVAL,
	 "schema: new property b is required"},
	/* an optional property made required */
	{OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"a\""),
	 OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"a\",\"b\""), -EINVAL,
	 "schema: property b became required"},
	/* a required property made optional: accepts more */
	{OBJ("\"a\":{\"type\":\"string\"}", "\"a\""), OBJ("\"a\":{\"type\":\"string\"}", ""), 0, ""},
	/* a property removed */
	{OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"a\""),
	 OBJ("\"a\":{\"type\":\"string\"}", "\"a\""), -EINVAL, "schema: property b removed"},
	/* type changes, nested */
	{OBJ("\"p\":" OBJ("\"x\":{\"type\":\"number\"}", ""), ""),
	 OBJ("\"p\":" OBJ("\"x\":{\"type\":\"string\"}", ""), ""), -EINVAL, "p.x: type changed number -> string"},
	{"{\"type\":\"integer\"}", "{\"type\":\"number\"}", 0, ""},
	{"{\"type\":\"number\"}", "{\"type\":\"integer\"}", -EINVAL, "schema: type changed number -> integer"},
	{"{\"type\":\"string\"}", "{\"type\":[\"string\",\"null\"]}", 0, ""},
	{"{\"type\":[\"string\",\"null\"]}", "{\"type\":\"string\"}", -EINVAL,
	 "schema: type changed [string,null] -> string"},
	{"{}", "{\"type\":\"string\"}", -EINVAL, "schema: type changed any -> string"},
	{"{\"type\":\"string\"}", "{}", 0, ""},
	/* enum */
	{"{\"enum\":[\"a\",\"b\"]}", "{\"enum\":[\"a\",\"b\",\"c\"]}", 0, ""},
	{"{\"enum\":[\"a\",\"b\"]}", "{\"enum\":[\"a\"]}", -EINVAL, "schema: enum value \"b\" removed"},
	{"{\"const\":\"a\"}", "{\"enum\":[\"a\",\"b\"]}", 0, ""},
	{"{\"type\":\"string\"}", "{\"type\":\"string\",\"enum\":[\"a\"]}", -EINVAL, "schema: values restricted to an enum"},
	{"{\"enum\":[\"a\",null]}", "{\"enum\":[\"a\"]}", -EINVAL, "schema: enum value null removed"},
	/* additionalProperties */
	{"{\"type\":\"object\"}", "{\"type\":\"object\",\"additionalProperties\":false}", -EINVAL,
	 "schema: additionalProperties became false"},
	{"{\"type\":\"object\",\"additionalProperties\":false}", "{\"type\":\"object\"}", 0, ""},
	{"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"additionalProperties\":{\"type\":\"number\"}}", -EINVAL,
	 "additionalProperties: type changed string -> number"},
	/* items */
	{"{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
	 -EINVAL, "[]: type changed string -> integer"},
	{OBJ("\"c\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", ""),
	 OBJ("\"c\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", ""), -EINVAL,
	 "c[]: type changed string -> integer"},
	{"{\"type\":\"array\"}", "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", -EINVAL,
	 "schema: items constrained"},
	/* anyOf: a branch added, a branch removed, a branch narrowed */
	{"{\"anyOf\":[{\"type\":\"string\"}]}", "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", 0, ""},
	{"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "{\"anyOf\":[{\"type\":\"string\"}]}", -EINVAL,
	 "anyOf[1]: no branch of the new anyOf/oneOf accepts it (first branch: anyOf[1]: type changed null -> string)"},
	{"{\"type\":\"string\"}", "{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", 0, ""},
	{"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "{\"type\":[\"string\",\"number\"]}", 0, ""},
	/* constraints we do not analyse: may go, may not come or change */
	{"{\"type\":\"integer\",\"minimum\":1}", "{\"type\":\"integer\"}", 0, ""},
	{"{\"type\":\"integer\"}", "{\"type\":\"integer\",\"minimum\":1}", -EINVAL,
	 "schema: constraint minimum added (not analysed)"},
	{"{\"type\":\"string\",\"pattern\":\"^a\"}", "{\"type\":\"string\",\"pattern\":\"^b\"}", -EINVAL,
	 "schema: constraint pattern changed (not analysed)"},
	/* boolean schemas */
	{"true", "{}", 0, ""},
	{"false", "{\"type\":\"string\"}", 0, ""},
	{"true", "{\"type\":\"string\"}", -EINVAL, "schema: schema constrained where it accepted anything"},
	{"{\"type\":\"string\"}", "false", -EINVAL, "schema: schema became false"},
};

static void test_rule_table(void **state)
{
	char err[512];
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		err[0] = '\0';
		int rc = json_compat_backward(r->old, r->new, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("rule %zu: %s -> %s: rc %d, want %d (%s)", i, r->old, r->new, rc, r->rc, err);
		if (rc < 0 && strcmp(err, r->why) != 0)
			fail_msg("rule %zu: reason \"%s\", want \"%s\"", i, err, r->why);
	}
}

static void test_malformed(void **state)
{
	char err[256];
	assert_int_equal(json_compat_backward("{", "{}", err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "old schema"));
	assert_int_equal(json_compat_backward("{}", "[1]", err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "new schema: not a JSON Schema (object or boolean)");
	assert_int_equal(json_compat_backward(NULL, "{}", err, sizeof(err)), -EBADMSG);
	/* err may be NULL */
	assert_int_equal(json_compat_backward("{\"type\":\"string\"}", "{\"type\":\"null\"}", NULL, 0), -EINVAL);
	/* deep nesting is refused, not a stack overflow */
	char deep[8192] = "", tail[8192] = "";
	for (int i = 0; i < 100; i++) {
		strcat(deep, "{\"items\":");
		strcat(tail, "}");
	}
	strcat(deep, "{}");
	strcat(deep, tail);
	assert_int_equal(json_compat_backward(deep, deep, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nested too deeply"));
}

/* A shipped schema file as compact text; NULL if unreadable. */
static char *schema_text(const char *name, json_t **tree)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/schemas/%s", top ? top : ".", name);
	json_t *j = json_load_file(path, JSON_PRESERVE_ORDER, &je);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (tree)
		*tree = j;
	else
		json_decref(j);
	return s;
}

static char *dump(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static const char *const shipped[] = {"ingest-trades.json", "ingest-quotes.json", "ingest-bars-1m.json",
				      "ingest-status.json"};

static void test_real_schemas(void **state)
{
	char err[512];
	for (size_t i = 0; i < 4; i++) {
		char *s = schema_text(shipped[i], NULL);
		assert_non_null(s);
		if (json_compat_backward(s, s, err, sizeof(err)) != 0)
			fail_msg("%s not compatible with itself: %s", shipped[i], err);
		free(s);
	}

	/* Changes to the trades schema, each caught with its path (or not). */
	json_t *t;
	char *old = schema_text("ingest-trades.json", &t);
	assert_non_null(old);

	json_t *n = json_deep_copy(t); /* the price becomes a string */
	json_t *ntrade = json_array_get(json_object_get(json_object_get(json_object_get(n, "properties"), "payload"), "anyOf"), 0);
	json_object_set_new(json_object_get(ntrade, "properties"), "p", json_pack("{s:s}", "type", "string"));
	char *s = dump(n);
	assert_int_equal(json_compat_backward(old, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "payload.anyOf[0]: no branch of the new anyOf/oneOf accepts it"));
	assert_non_null(strstr(err, "(first branch: payload.anyOf[0].p: type changed number -> string)"));
	free(s);
	json_decref(n);

	n = json_deep_copy(t); /* an envelope key removed */
	json_object_del(json_object_get(n, "properties"), "delayClass");
	s = dump(n);
	assert_int_equal(json_compat_backward(old, s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "schema: property delayClass removed");
	free(s);
	json_decref(n);

	n = json_deep_copy(t); /* a new required envelope key */
	json_object_set_new(json_object_get(n, "properties"), "region", json_pack("{s:s}", "type", "string"));
	json_array_append_new(json_object_get(n, "required"), json_string("region"));
	s = dump(n);
	assert_int_equal(json_compat_backward(old, s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "schema: new property region is required");
	/* the same key optional: compatible */
	json_array_remove(json_object_get(n, "required"), json_array_size(json_object_get(n, "required")) - 1);
	free(s);
	s = dump(n);
	assert_int_equal(json_compat_backward(old, s, err, sizeof(err)), 0);
	free(s);
	json_decref(n);

	n = json_deep_copy(t); /* a channel added to the enum: compatible; removed: not */
	json_array_append_new(json_object_get(json_object_get(json_object_get(n, "properties"), "channel"), "enum"),
			      json_string("tradeFixes"));
	s = dump(n);
	assert_int_equal(json_compat_backward(old, s, err, sizeof(err)), 0);
	assert_int_equal(json_compat_backward(s, old, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "channel: enum value \"tradeFixes\" removed");
	free(s);
	json_decref(n);

	free(old);
	json_decref(t);
}

static int cli(const char *old_path, const char *new_path)
{
	json_error_t je;
	json_t *o = json_load_file(old_path, 0, &je);
	json_t *n = o ? json_load_file(new_path, 0, &je) : NULL;
	char *os = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *ns = n ? json_dumps(n, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char err[512];
	int rc = 2;
	json_decref(o);
	json_decref(n);
	if (!os || !ns) {
		fprintf(stderr, "cannot read %s: %s\n", !os ? old_path : new_path, je.text);
	} else if ((rc = json_compat_backward(os, ns, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s -> %s: not BACKWARD compatible: %s\n", old_path, new_path, err);
		rc = rc == -EINVAL ? 1 : 2;
	}
	free(os);
	free(ns);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_real_schemas),
	};
	/* test_schema_compat.sh: test_json_compat OLD NEW */
	return argc == 3 ? cli(argv[1], argv[2]) : cmocka_run_group_tests(tests, NULL, NULL);
}
