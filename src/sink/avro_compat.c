/* Avro schema resolution (writer vs reader), reduced to a yes/no answer and
 * a reason. Schemas are jansson trees; named types are resolved through a
 * per-schema table so references like "torghut.ta.Macd" work. */
#include "config.h"

#include "sink/avro_compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define COMPAT_MAX_DEPTH 64

struct compat {
	json_t *wnames, *rnames; /* fullname and short name -> named schema */
	char *err;
	size_t errlen;
	char path[512];
	/* (writer, reader) record pairs being compared: recursion guard */
	const json_t *stack_w[COMPAT_MAX_DEPTH], *stack_r[COMPAT_MAX_DEPTH];
	int depth;
};

static const char *const primitives[] = {
	"null", "boolean", "int", "long", "float", "double", "bytes", "string", NULL
};

static bool is_primitive(const char *t)
{
	for (int i = 0; primitives[i]; i++)
		if (strcmp(primitives[i], t) == 0)
			return true;
	return false;
}

__attribute__((format(printf, 2, 3)))
static int fail(struct compat *c, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		int n = snprintf(c->err, c->errlen, "%s%s%s", c->path[0] ? "field " : "schema",
				 c->path, c->path[0] ? ": " : ": ");
		if (n < 0)
			n = 0;
		if ((size_t)n < c->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static const char *short_name(const char *full)
{
	const char *dot = strrchr(full, '.');
	return dot ? dot + 1 : full;
}

/* Register named types (record, enum, fixed) under full and short names. */
static int collect_names(json_t *s, const char *ns, json_t *tab, int depth)
{
	if (depth > COMPAT_MAX_DEPTH)
		return -ELOOP;
	if (json_is_array(s)) {
		size_t i;
		json_t *b;
		json_array_foreach(s, i, b) {
			int rc = collect_names(b, ns, tab, depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!json_is_object(s))
		return 0;
	json_t *type = json_object_get(s, "type");
	if (!json_is_string(type))
		return collect_names(type, ns, tab, depth + 1);
	const char *t = json_string_value(type);
	const char *name = json_string_value(json_object_get(s, "name"));
	const char *own_ns = json_string_value(json_object_get(s, "namespace"));
	char full[256];
	const char *inner_ns = ns;
	if ((strcmp(t, "record") == 0 || strcmp(t, "error") == 0 || strcmp(t, "enum") == 0 ||
	     strcmp(t, "fixed") == 0)) {
		if (!name)
			return -EBADMSG;
		if (strchr(name, '.'))
			snprintf(full, sizeof(full), "%s", name);
		else if (own_ns && *own_ns)
			snprintf(full, sizeof(full), "%s.%s", own_ns, name);
		else if (ns && *ns)
			snprintf(full, sizeof(full), "%s.%s", ns, name);
		else
			snprintf(full, sizeof(full), "%s", name);
		json_object_set(tab, full, s);
		if (!json_object_get(tab, short_name(full)))
			json_object_set(tab, short_name(full), s);
		if (strchr(name, '.'))
			inner_ns = NULL; /* namespace taken from the dotted name below */
		else if (own_ns)
			inner_ns = own_ns;
	}
	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
		char nsbuf[256];
		if (strchr(name, '.')) {
			snprintf(nsbuf, sizeof(nsbuf), "%s", name);
			*strrchr(nsbuf, '.') = '\0';
			inner_ns = nsbuf;
		}
		json_t *fields = json_object_get(s, "fields");
		if (!json_is_array(fields))
			return -EBADMSG;
		size_t i;
		json_t *f;
		json_array_foreach(fields, i, f) {
			int rc = collect_names(json_object_get(f, "type"), inner_ns, tab, depth + 1);
			if (rc < 0)
				return rc;
		}
	} else if (strcmp(t, "array") == 0) {
		return collect_names(json_object_get(s, "items"), ns, tab, depth + 1);
	} else if (strcmp(t, "map") == 0) {
		return collect_names(json_object_get(s, "values"), ns, tab, depth + 1);
	}
	return 0;
}

/* Follow name references and {"type": "long", ...} wrappers. */
static json_t *resolve(json_t *s, json_t *tab)
{
	for (int i = 0; i < 8; i++) {
		if (json_is_string(s)) {
			const char *t = json_string_value(s);
			if (is_primitive(t))
				return s;
			json_t *n = json_object_get(tab, t);
			if (!n)
				n = json_object_get(tab, short_name(t));
			if (!n)
				return NULL;
			s = n;
			continue;
		}
		if (json_is_object(s)) {
			json_t *type = json_object_get(s, "type");
			if (json_is_string(type) && is_primitive(json_string_value(type)))
				return type;
			if (!json_is_string(type)) {
				s = type; /* {"type": {...}} or {"type": [...]} */
				continue;
			}
		}
		return s;
	}
	return NULL;
}

/* "long", "union", "record Macd", "enum Side" ... for messages. */
static const char *kind(const json_t *s, char *buf, size_t n)
{
	if (json_is_string(s))
		return json_string_value(s);
	if (json_is_array(s))
		return "union";
	const char *t = json_string_value(json_object_get(s, "type"));
	const char *name = json_string_value(json_object_get(s, "name"));
	if (!t)
		return "?";
	if (name) {
		snprintf(buf, n, "%s %s", t, short_name(name));
		return buf;
	}
	return t;
}

static const char *type_of(const json_t *s)
{
	if (json_is_string(s))
		return json_string_value(s);
	if (json_is_array(s))
		return "union";
	return json_string_value(json_object_get(s, "type"));
}

static bool promotable(const char *w, const char *r)
{
	if (strcmp(w, r) == 0)
		return true;
	if (strcmp(w, "int") == 0)
		return !strcmp(r, "long") || !strcmp(r, "float") || !strcmp(r, "double");
	if (strcmp(w, "long") == 0)
		return !strcmp(r, "float") || !strcmp(r, "double");
	if (strcmp(w, "float") == 0)
		return !strcmp(r, "double");
	if (strcmp(w, "string") == 0)
		return !strcmp(r, "bytes");
	if (strcmp(w, "bytes") == 0)
		return !strcmp(r, "string");
	return false;
}

static int check(struct compat *c, json_t *w, json_t *r);

/* Reader name matches the writer's (unqualified, as Avro resolution does), or
 * one of the reader's aliases does. */
static bool names_match(json_t *w, json_t *r)
{
	const char *wn = json_string_value(json_object_get(w, "name"));
	const char *rn = json_string_value(json_object_get(r, "name"));
	if (!wn || !rn)
		return false;
	if (strcmp(short_name(wn), short_name(rn)) == 0)
		return true;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(r, "aliases"), i, a)
		if (json_is_string(a) && strcmp(short_name(json_string_value(a)), short_name(wn)) == 0)
			return true;
	return false;
}

static json_t *writer_field(json_t *wfields, json_t *rf)
{
	const char *rn = json_string_value(json_object_get(rf, "name"));
	size_t i, k;
	json_t *wf, *a;
	json_array_foreach(wfields, i, wf) {
		const char *wn = json_string_value(json_object_get(wf, "name"));
		if (wn && rn && strcmp(wn, rn) == 0)
			return wf;
	}
	json_array_foreach(json_object_get(rf, "aliases"), k, a) {
		json_array_foreach(wfields, i, wf) {
			const char *wn = json_string_value(json_object_get(wf, "name"));
			if (wn && json_is_string(a) && strcmp(wn, json_string_value(a)) == 0)
				return wf;
		}
	}
	return NULL;
}

static int check_record(struct compat *c, json_t *w, json_t *r)
{
	for (int i = 0; i < c->depth; i++)
		if (c->stack_w[i] == w && c->stack_r[i] == r)
			return 0; /* recursive type: assumed compatible on this path */
	if (c->depth >= COMPAT_MAX_DEPTH)
		return fail(c, "schema nested too deeply");
	c->stack_w[c->depth] = w;
	c->stack_r[c->depth] = r;
	c->depth++;
	json_t *wfields = json_object_get(w, "fields"), *rfields = json_object_get(r, "fields");
	int rc = 0;
	if (!json_is_array(wfields) || !json_is_array(rfields)) {
		rc = fail(c, "record without fields");
		goto out;
	}
	size_t plen = strlen(c->path), i;
	json_t *rf;
	json_array_foreach(rfields, i, rf) {
		const char *name = json_string_value(json_object_get(rf, "name"));
		if (!name) {
			rc = fail(c, "field without a name");
			goto out;
		}
		snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s", plen ? "." : "", name);
		json_t *wf = writer_field(wfields, rf);
		if (!wf) {
			if (!json_object_get(rf, "default")) {
				rc = fail(c, "added without a default");
				goto out;
			}
		} else {
			rc = check(c, json_object_get(wf, "type"), json_object_get(rf, "type"));
			if (rc < 0)
				goto out;
		}
		c->path[plen] = '\0';
	}
	/* Fields only the writer has are skipped by the reader: fine. */
out:
	c->depth--;
	return rc;
}

/* Can a reader of type r read a value written as the non-union w? */
static int check_branch(struct compat *c, json_t *w, json_t *r)
{
	char b1[128], b2[128];
	const char *wt = type_of(w), *rt = type_of(r);
	if (!wt || !rt)
		return fail(c, "malformed type");
	if (json_is_array(r)) {
		/* Reader union: the first branch that can read w is used. */
		size_t i;
		json_t *rb;
		json_array_foreach(r, i, rb) {
			json_t *rr = resolve(rb, c->rnames);
			if (!rr)
				return fail(c, "unknown type in reader union");
			const char *rbt = type_of(rr);
			if (!rbt || strcmp(rbt, wt) != 0)
				continue;
			if (json_object_get(w, "name") && !names_match(w, rr))
				continue; /* named types resolve by name */
			return check(c, w, rr);
		}
		json_array_foreach(r, i, rb) {
			json_t *rr = resolve(rb, c->rnames);
			if (rr && is_primitive(wt) && json_is_string(rr) && promotable(wt, json_string_value(rr)))
				return 0;
		}
		return fail(c, "union narrowed: writer type %s not in reader union",
			    kind(w, b1, sizeof(b1)));
	}
	if (is_primitive(wt) || is_primitive(rt)) {
		if (is_primitive(wt) && is_primitive(rt) && promotable(wt, rt))
			return 0;
		return fail(c, "type changed %s -> %s", kind(w, b1, sizeof(b1)), kind(r, b2, sizeof(b2)));
	}
	if (strcmp(wt, rt) != 0)
		return fail(c, "type changed %s -> %s", kind(w, b1, sizeof(b1)), kind(r, b2, sizeof(b2)));
	if (strcmp(wt, "record") == 0 || strcmp(wt, "error") == 0) {
		if (!names_match(w, r))
			return fail(c, "record name changed %s -> %s", kind(w, b1, sizeof(b1)),
				    kind(r, b2, sizeof(b2)));
		return check_record(c, w, r);
	}
	if (strcmp(wt, "enum") == 0) {
		if (!names_match(w, r))
			return fail(c, "enum name changed %s -> %s", kind(w, b1, sizeof(b1)),
				    kind(r, b2, sizeof(b2)));
		if (json_object_get(r, "default"))
			return 0; /* unknown writer symbols map to the reader default */
		size_t i, k;
		json_t *ws, *rs;
		json_array_foreach(json_object_get(w, "symbols"), i, ws) {
			bool found = false;
			json_array_foreach(json_object_get(r, "symbols"), k, rs)
				if (json_equal(ws, rs))
					found = true;
			if (!found)
				return fail(c, "enum symbol %s removed without a reader default",
					    json_is_string(ws) ? json_string_value(ws) : "?");
		}
		return 0;
	}
	if (strcmp(wt, "fixed") == 0) {
		if (!names_match(w, r))
			return fail(c, "fixed name changed %s -> %s", kind(w, b1, sizeof(b1)),
				    kind(r, b2, sizeof(b2)));
		json_int_t ws = json_integer_value(json_object_get(w, "size"));
		json_int_t rs = json_integer_value(json_object_get(r, "size"));
		if (ws != rs)
			return fail(c, "fixed size changed %lld -> %lld", (long long)ws, (long long)rs);
		return 0;
	}
	if (strcmp(wt, "array") == 0) {
		size_t plen = strlen(c->path);
		snprintf(c->path + plen, sizeof(c->path) - plen, "[]");
		int rc = check(c, json_object_get(w, "items"), json_object_get(r, "items"));
		if (rc == 0)
			c->path[plen] = '\0';
		return rc;
	}
	if (strcmp(wt, "map") == 0) {
		size_t plen = strlen(c->path);
		snprintf(c->path + plen, sizeof(c->path) - plen, "{}");
		int rc = check(c, json_object_get(w, "values"), json_object_get(r, "values"));
		if (rc == 0)
			c->path[plen] = '\0';
		return rc;
	}
	return fail(c, "unknown type %s", wt);
}

static int check(struct compat *c, json_t *w0, json_t *r0)
{
	json_t *w = resolve(w0, c->wnames), *r = resolve(r0, c->rnames);
	if (!w)
		return fail(c, "unknown type in the old schema");
	if (!r)
		return fail(c, "unknown type in the new schema");
	if (json_is_array(w)) {
		/* Every branch the writer may have used must stay readable. */
		size_t i;
		json_t *wb;
		json_array_foreach(w, i, wb) {
			json_t *wr = resolve(wb, c->wnames);
			if (!wr)
				return fail(c, "unknown type in the old union");
			if (json_is_array(wr))
				return fail(c, "nested union");
			int rc = check_branch(c, wr, r);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return check_branch(c, w, r);
}

static json_t *parse(const char *text, const char *which, char *err, size_t errlen)
{
	json_error_t je;
	json_t *s = json_loads(text ? text : "", JSON_DECODE_ANY, &je);
	if (!s && err && errlen)
		snprintf(err, errlen, "%s schema: line %d: %s", which, je.line, je.text);
	return s;
}

int avro_compat_check(const char *writer_json, const char *reader_json, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	json_t *w = parse(writer_json, "old", err, errlen);
	if (!w)
		return -EBADMSG;
	json_t *r = parse(reader_json, "new", err, errlen);
	if (!r) {
		json_decref(w);
		return -EBADMSG;
	}
	struct compat c = { .wnames = json_object(), .rnames = json_object(), .err = err, .errlen = errlen };
	int rc = -ENOMEM;
	if (!c.wnames || !c.rnames)
		goto out;
	if (collect_names(w, NULL, c.wnames, 0) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "old schema: malformed named type");
		rc = -EBADMSG;
		goto out;
	}
	if (collect_names(r, NULL, c.rnames, 0) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "new schema: malformed named type");
		rc = -EBADMSG;
		goto out;
	}
	rc = check(&c, w, r);
out:
	json_decref(c.wnames);
	json_decref(c.rnames);
	json_decref(w);
	json_decref(r);
	return rc;
}
