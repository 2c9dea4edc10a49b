/* alpaca_subs.c - symbol sets, subscription messages and replies. */
#include "config.h"

#include "source/alpaca_subs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void alpaca_symset_fini(struct alpaca_symset *set)
{
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}

static int reserve(struct alpaca_symset *set, size_t n)
{
	if (n <= set->cap)
		return 0;
	size_t cap = set->cap ? set->cap : 8;
	while (cap < n)
		cap *= 2;
	void *v = realloc(set->v, cap * sizeof(*set->v));
	if (!v)
		return -ENOMEM;
	set->v = v;
	set->cap = cap;
	return 0;
}

int alpaca_symset_push(struct alpaca_symset *set, const char *sym, size_t n)
{
	if (n == 0 || n >= EVENT_SYMBOL_MAX)
		return -EINVAL;
	if (reserve(set, set->n + 1) < 0)
		return -ENOMEM;
	memcpy(set->v[set->n], sym, n);
	set->v[set->n][n] = '\0';
	set->n++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

void alpaca_symset_sort(struct alpaca_symset *set)
{
	if (set->n == 0)
		return;
	qsort(set->v, set->n, sizeof(*set->v), cmp);
	size_t w = 1;
	for (size_t i = 1; i < set->n; i++)
		if (strcmp(set->v[i], set->v[w - 1]) != 0)
			memcpy(set->v[w++], set->v[i], sizeof(*set->v));
	set->n = w;
	/* "*" sorts before letters and digits, so it is first if present. */
	if (strcmp(set->v[0], "*") == 0)
		set->n = 1;
}

bool alpaca_symset_has(const struct alpaca_symset *set, const char *sym)
{
	return set->n && bsearch(sym, set->v, set->n, sizeof(*set->v), cmp) != NULL;
}

bool alpaca_symset_equal(const struct alpaca_symset *a, const struct alpaca_symset *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

int alpaca_symset_copy(struct alpaca_symset *dst, const struct alpaca_symset *src)
{
	if (reserve(dst, src->n) < 0)
		return -ENOMEM;
	if (src->n)
		memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	dst->n = src->n;
	return 0;
}

int alpaca_symset_diff(struct alpaca_symset *dst, const struct alpaca_symset *a,
		       const struct alpaca_symset *b)
{
	if (reserve(dst, a->n) < 0)
		return -ENOMEM;
	size_t i = 0, j = 0, w = 0;
	while (i < a->n) {
		int c = j < b->n ? strcmp(a->v[i], b->v[j]) : -1;
		if (c < 0)
			memcpy(dst->v[w++], a->v[i++], sizeof(*a->v));
		else if (c == 0)
			i++, j++;
		else
			j++;
	}
	dst->n = w;
	return 0;
}

int alpaca_symset_merge(struct alpaca_symset *dst, const struct alpaca_symset *src)
{
	if (reserve(dst, dst->n + src->n) < 0)
		return -ENOMEM;
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	alpaca_symset_sort(dst);
	return 0;
}

void alpaca_symset_remove(struct alpaca_symset *dst, const struct alpaca_symset *src)
{
	size_t w = 0;
	for (size_t i = 0; i < dst->n; i++)
		if (!alpaca_symset_has(src, dst->v[i]))
			memmove(dst->v[w++], dst->v[i], sizeof(*dst->v));
	dst->n = w;
}

bool alpaca_symbol_plain(const char *s, size_t n)
{
	if (n == 0 || n >= EVENT_SYMBOL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',')
			return false;
	}
	return true;
}

char *alpaca_subs_message(const char *action, const struct alpaca_symset *sets, size_t *len)
{
	size_t need = strlen("{\"action\":\"\"}") + strlen(action) + 1;
	bool any = false;
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		if (!sets[ch].n)
			continue;
		any = true;
		need += strlen(alpaca_channel_name(ch)) + 6; /* ,"name":[] */
		for (size_t i = 0; i < sets[ch].n; i++)
			need += strlen(sets[ch].v[i]) + 3; /* "sym", */
	}
	*len = 0;
	if (!any)
		return NULL;
	char *buf = malloc(need);
	if (!buf) {
		*len = 1;
		return NULL;
	}
	/* Symbols are plain (alpaca_symbol_plain): no escaping needed. */
	size_t w = (size_t)sprintf(buf, "{\"action\":\"%s\"", action);
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		if (!sets[ch].n)
			continue;
		w += (size_t)sprintf(buf + w, ",\"%s\":[", alpaca_channel_name(ch));
		for (size_t i = 0; i < sets[ch].n; i++)
			w += (size_t)sprintf(buf + w, "%s\"%s\"", i ? "," : "", sets[ch].v[i]);
		buf[w++] = ']';
	}
	buf[w++] = '}';
	buf[w] = '\0';
	*len = w;
	return buf;
}

int alpaca_subs_parse_reply(const char *p, size_t n, struct alpaca_symset *out, unsigned *bad)
{
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++)
		alpaca_symset_clear(&out[ch]);
	*bad = 0;
	json_t *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return -EPROTO;
	}
	int rc = 0;
	for (int ch = 0; ch < ALPACA_CH_COUNT && rc == 0; ch++) {
		json_t *arr = json_object_get(root, alpaca_channel_name(ch));
		if (!arr || json_is_null(arr))
			continue; /* missing key: empty (alpaca-ws.md 2.4) */
		if (!json_is_array(arr)) {
			(*bad)++;
			continue;
		}
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v) {
			const char *s = json_string_value(v);
			size_t len = s ? json_string_length(v) : 0;
			if (!s || !alpaca_symbol_plain(s, len)) {
				(*bad)++;
				continue;
			}
			if (alpaca_symset_push(&out[ch], s, len) < 0) {
				rc = -ENOMEM;
				break;
			}
		}
		alpaca_symset_sort(&out[ch]);
	}
	json_decref(root);
	return rc;
}
