/* JSON Schema BACKWARD check (see json_compat.h): "does the new schema accept
 * every document the old one accepted", answered conservatively: when in
 * doubt the change is refused, so CI errs towards a deliberate release. */
#include "config.h"

#include "sink/json_compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define JC_MAX_DEPTH 64

struct jc {
	char *err;
	size_t errlen;
	char path[512];
	int depth;
};

/* Keywords that do not change which documents validate. */
static const char *const annotations[] = {
	"$schema", "$id", "$comment", "title", "description", "examples", "default",
	"readOnly", "writeOnly", "deprecated", NULL
};
/* Keywords the rules analyse; anything else must not be added or changed. */
static const char *const analysed[] = {
	"type", "enum", "const", "properties", "required", "additionalProperties", "items",
	"anyOf", "oneOf", NULL
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* "path: reason" into the caller's buffer; always -EINVAL. */
__attribute__((format(printf, 2, 3)))
static int fail(struct jc *c, const char *fmt, ...)
{
	char why[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: %s", c->path[0] ? c->path : "schema", why);
	return -EINVAL;
}

/* Appends ".name", ".name[idx]" (idx >= 0) or "[]"; returns the old length
 * for path_pop. */
static size_t path_push(struct jc *c, const char *name, long idx)
{
	size_t len = strlen(c->path);
	const char *dot = len && name[0] != '[' ? "." : "";
	if (idx >= 0)
		snprintf(c->path + len, sizeof(c->path) - len, "%s%s[%ld]", dot, name, idx);
	else
		snprintf(c->path + len, sizeof(c->path) - len, "%s%s", dot, name);
	return len;
}

static void path_pop(struct jc *c, size_t len)
{
	c->path[len] = '\0';
}

static int check(struct jc *c, json_t *o, json_t *n);

/* true (or {}) accepts anything; false nothing. */
static bool accepts_all(json_t *s)
{
	if (json_is_true(s))
		return true;
	if (!json_is_object(s))
		return false;
	const char *k;
	json_t *v;
	json_object_foreach(s, k, v)
		if (!in_list(annotations, k))
			return false;
	return true;
}

/* The schema with one anyOf/oneOf branch folded into its siblings (the
 * branch's keywords win): accepts at least what siblings AND branch accept,
 * so using it for the old side stays conservative. New reference. */
static json_t *fold_branch(json_t *s, json_t *branch)
{
	json_t *m = json_copy(s);
	json_object_del(m, "anyOf");
	json_object_del(m, "oneOf");
	if (json_is_object(branch))
		json_object_update(m, branch);
	return m;
}

static json_t *branches(json_t *s)
{
	json_t *b = json_object_get(s, "anyOf");
	return b ? b : json_object_get(s, "oneOf");
}

static void type_text(json_t *t, char *buf, size_t n)
{
	if (!t) {
		snprintf(buf, n, "any");
		return;
	}
	char *d = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t w = 0;
	for (const char *p = d ? d : "?"; *p && w + 1 < n; p++)
		if (*p != '"') /* ["string","null"] -> [string,null] */
			buf[w++] = *p;
	buf[w] = '\0';
	free(d);
}

/* t is "name" or an array holding "name" ("type", "required"). */
static bool names_has(json_t *t, const char *name)
{
	if (json_is_string(t))
		return strcmp(json_string_value(t), name) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(t, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static int check_type(struct jc *c, json_t *o, json_t *n)
{
	json_t *to = json_object_get(o, "type"), *tn = json_object_get(n, "type");
	char a[128], b[128];
	if (!tn)
		return 0;
	type_text(to, a, sizeof(a));
	type_text(tn, b, sizeof(b));
	if (!to)
		return fail(c, "type changed %s -> %s", a, b);
	json_t *list = json_is_array(to) ? json_incref(to) : json_pack("[O]", to);
	size_t i;
	json_t *v;
	int rc = 0;
	json_array_foreach(list, i, v) {
		const char *t = json_string_value(v);
		if (!t || names_has(tn, t) || (strcmp(t, "integer") == 0 && names_has(tn, "number")))
			continue;
		rc = fail(c, "type changed %s -> %s", a, b);
		break;
	}
	json_decref(list);
	return rc;
}

/* enum/const as one array of allowed values, or NULL (unconstrained). */
static json_t *values(json_t *s)
{
	json_t *e = json_object_get(s, "enum"), *k = json_object_get(s, "const");
	if (json_is_array(e))
		return json_incref(e);
	return k ? json_pack("[O]", k) : NULL;
}

static bool contains(json_t *arr, json_t *v)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
		if (json_equal(x, v))
			return true;
	return false;
}

static int check_enum(struct jc *c, json_t *o, json_t *n)
{
	json_t *vo = values(o), *vn = values(n);
	int rc = 0;
	if (vn && !vo) {
		rc = fail(c, "values restricted to an enum");
	} else if (vn) {
		size_t i;
		json_t *v;
		json_array_foreach(vo, i, v) {
			if (contains(vn, v))
				continue;
			char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			rc = fail(c, "enum value %s removed", d ? d : "?");
			free(d);
			break;
		}
	}
	json_decref(vo);
	json_decref(vn);
	return rc;
}

static int check_object(struct jc *c, json_t *o, json_t *n)
{
	json_t *po = json_object_get(o, "properties"), *pn = json_object_get(n, "properties");
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(po, k, v) {
		json_t *nv = json_object_get(pn, k);
		if (!nv)
			return fail(c, "property %s removed", k);
		size_t len = path_push(c, k, -1);
		rc = check(c, v, nv);
		path_pop(c, len);
		if (rc < 0)
			return rc;
	}
	size_t i;
	json_array_foreach(json_object_get(n, "required"), i, v) {
		k = json_string_value(v);
		if (!k || names_has(json_object_get(o, "required"), k))
			continue;
		return fail(c, json_object_get(po, k) ? "property %s became required" : "new property %s is required", k);
	}
	json_t *ao = json_object_get(o, "additionalProperties"), *an = json_object_get(n, "additionalProperties");
	if (!an || json_is_true(an) || json_is_false(ao))
		return 0;
	if (json_is_false(an))
		return fail(c, "additionalProperties became false");
	if (!json_is_object(ao))
		return fail(c, "additionalProperties constrained");
	size_t len = path_push(c, "additionalProperties", -1);
	rc = check(c, ao, an);
	path_pop(c, len);
	return rc;
}

static int check_items(struct jc *c, json_t *o, json_t *n)
{
	json_t *io = json_object_get(o, "items"), *in = json_object_get(n, "items");
	if (!in)
		return 0;
	if (!io)
		return fail(c, "items constrained");
	if (json_is_array(io) || json_is_array(in)) /* tuples: not analysed */
		return json_equal(io, in) ? 0 : fail(c, "tuple items changed (not analysed)");
	size_t len = path_push(c, "[]", -1);
	int rc = check(c, io, in);
	path_pop(c, len);
	return rc;
}

/* Neither side's anyOf/oneOf (handled by check). */
static int check_node(struct jc *c, json_t *o, json_t *n)
{
	int rc;
	if ((rc = check_type(c, o, n)) < 0 || (rc = check_enum(c, o, n)) < 0 ||
	    (rc = check_object(c, o, n)) < 0 || (rc = check_items(c, o, n)) < 0)
		return rc;
	const char *k;
	json_t *v;
	json_object_foreach(n, k, v) {
		if (in_list(annotations, k) || in_list(analysed, k))
			continue;
		json_t *ov = json_object_get(o, k);
		if (!ov)
			return fail(c, "constraint %s added (not analysed)", k);
		if (!json_equal(ov, v))
			return fail(c, "constraint %s changed (not analysed)", k);
	}
	return 0;
}

static int check(struct jc *c, json_t *o, json_t *n)
{
	if (++c->depth > JC_MAX_DEPTH) {
		c->depth--;
		return fail(c, "nested too deeply");
	}
	int rc = 0;
	json_t *ob, *nb, *b;
	size_t i;

	if (accepts_all(n) || json_is_false(o))
		goto out;
	if (json_is_false(n)) {
		rc = fail(c, "schema became false");
		goto out;
	}
	if (json_is_true(o)) {
		rc = fail(c, "schema constrained where it accepted anything");
		goto out;
	}
	if ((ob = branches(o))) {
		/* old = siblings AND (b0 OR b1 ...): each branch must fit */
		const char *kw = json_object_get(o, "anyOf") ? "anyOf" : "oneOf";
		json_array_foreach(ob, i, b) {
			if (json_is_false(b))
				continue; /* accepts nothing */
			size_t len = path_push(c, kw, (long)i);
			json_t *m = fold_branch(o, b);
			rc = check(c, m, n);
			json_decref(m);
			path_pop(c, len);
			if (rc < 0)
				goto out;
		}
		goto out;
	}
	if ((nb = branches(n))) {
		/* new = siblings AND (b0 OR ...): old must fit the siblings and one branch */
		json_t *sib = json_copy(n);
		json_object_del(sib, "anyOf");
		json_object_del(sib, "oneOf");
		rc = check(c, o, sib);
		json_decref(sib);
		if (rc < 0)
			goto out;
		char first[512] = "";
		json_array_foreach(nb, i, b) {
			rc = check(c, o, b);
			if (rc == 0)
				goto out;
			if (!first[0] && c->err)
				snprintf(first, sizeof(first), "%s", c->err);
		}
		rc = fail(c, "no branch of the new anyOf/oneOf accepts it%s%s", first[0] ? " (first branch: " : "",
			  first[0] ? first : "");
		if (first[0] && c->err && strlen(c->err) + 1 < c->errlen)
			strcat(c->err, ")");
		goto out;
	}
	rc = check_node(c, o, n);
out:
	c->depth--;
	return rc;
}

static json_t *parse(const char *text, const char *which, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
	if (!j || (!json_is_object(j) && !json_is_boolean(j))) {
		if (err && errlen)
			snprintf(err, errlen, "%s schema: %s", which, j ? "not a JSON Schema (object or boolean)"
					      : text ? je.text : "missing");
		json_decref(j);
		return NULL;
	}
	return j;
}

int json_compat_backward(const char *old_json, const char *new_json, char *err, size_t errlen)
{
	json_t *o = parse(old_json, "old", err, errlen);
	if (!o)
		return -EBADMSG;
	json_t *n = parse(new_json, "new", err, errlen);
	if (!n) {
		json_decref(o);
		return -EBADMSG;
	}
	struct jc c = {.err = err, .errlen = errlen};
	if (err && errlen)
		err[0] = '\0';
	int rc = check(&c, o, n);
	json_decref(o);
	json_decref(n);
	return rc;
}
