/* session.c - per-connection Alpaca protocol rules (see session.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "replay/session.h"

#define RS_DEFAULT_AUTH_TIMEOUT_MS 10000u

/* --- registry ------------------------------------------------------------ */

struct rs_key {
	char *key, *secret, *feeds; /* feeds NULL: all */
};

/* A taken connection slot: live (owner set) or held until expires_ms. */
struct rs_slot {
	struct rs_slot *next;
	struct replay_session *owner;
	uint64_t expires_ms;
	char *key, *endpoint;
};

struct replay_session_reg {
	struct rs_key *keys;
	size_t n_keys, cap_keys;
	struct rs_slot *slots;
	uint32_t conn_limit;
	uint64_t dead_hold_ms;
};

static void rs_slot_free(struct rs_slot *sl)
{
	free(sl->key);
	free(sl->endpoint);
	free(sl);
}

int replay_session_reg_new(struct replay_session_reg **out, const struct replay_session_reg_opts *o)
{
	if (!out)
		return -EINVAL;
	struct replay_session_reg *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->conn_limit = o && o->conn_limit ? o->conn_limit : 1;
	reg->dead_hold_ms = o ? o->dead_hold_ms : 0;
	*out = reg;
	return 0;
}

void replay_session_reg_free(struct replay_session_reg *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n_keys; i++) {
		/* Secrets do not linger in freed memory. */
		memset(reg->keys[i].secret, 0, strlen(reg->keys[i].secret));
		free(reg->keys[i].key);
		free(reg->keys[i].secret);
		free(reg->keys[i].feeds);
	}
	free(reg->keys);
	while (reg->slots) {
		struct rs_slot *sl = reg->slots;
		reg->slots = sl->next;
		rs_slot_free(sl);
	}
	free(reg);
}

int replay_session_reg_add_key(struct replay_session_reg *reg, const char *key, const char *secret,
                               const char *feeds)
{
	if (!reg || !key || !*key || !secret || !*secret)
		return -EINVAL;
	if (reg->n_keys == reg->cap_keys) {
		size_t cap = reg->cap_keys ? reg->cap_keys * 2 : 4;
		struct rs_key *k = realloc(reg->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		reg->keys = k;
		reg->cap_keys = cap;
	}
	struct rs_key k = {strdup(key), strdup(secret),
	                   feeds && strcmp(feeds, "*") != 0 ? strdup(feeds) : NULL};
	if (!k.key || !k.secret || (feeds && strcmp(feeds, "*") != 0 && !k.feeds)) {
		free(k.key);
		free(k.secret);
		free(k.feeds);
		return -ENOMEM;
	}
	reg->keys[reg->n_keys++] = k;
	return 0;
}

int replay_session_reg_load_keys(struct replay_session_reg *reg, const char *path, char *err,
                                 size_t errcap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		if (err)
			snprintf(err, errcap, "%s: %s", path, strerror(e));
		return -EIO;
	}
	char line[1024];
	unsigned lineno = 0;
	int r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			if (err)
				snprintf(err, errcap, "%s: line %u: too long", path, lineno);
			r = -EINVAL;
			break;
		}
		char *save = NULL;
		char *k = strtok_r(line, " \t\r\n", &save);
		if (!k || *k == '#')
			continue;
		char *s = strtok_r(NULL, " \t\r\n", &save);
		char *feeds = strtok_r(NULL, " \t\r\n", &save);
		char *extra = strtok_r(NULL, " \t\r\n", &save);
		if (!s || extra) {
			if (err)
				snprintf(err, errcap, "%s: line %u: expected KEY SECRET [FEEDS]", path,
				         lineno);
			r = -EINVAL;
			break;
		}
		r = replay_session_reg_add_key(reg, k, s, feeds);
		if (r < 0 && err)
			snprintf(err, errcap, "%s: line %u: %s", path, lineno, strerror(-r));
	}
	if (r == 0 && ferror(f)) {
		if (err)
			snprintf(err, errcap, "%s: read error", path);
		r = -EIO;
	}
	memset(line, 0, sizeof(line));
	fclose(f);
	return r;
}

/* Drops expired holds, then counts. */
uint32_t replay_session_reg_count(struct replay_session_reg *reg, const char *key,
                                  const char *endpoint, uint64_t now_ms)
{
	uint32_t n = 0;
	struct rs_slot **pp = &reg->slots;
	while (*pp) {
		struct rs_slot *sl = *pp;
		if (!sl->owner && sl->expires_ms <= now_ms) {
			*pp = sl->next;
			rs_slot_free(sl);
			continue;
		}
		if (strcmp(sl->key, key) == 0 && strcmp(sl->endpoint, endpoint) == 0)
			n++;
		pp = &sl->next;
	}
	return n;
}

static bool rs_feed_granted(const char *feeds, const char *feed)
{
	if (!feeds)
		return true;
	size_t n = strlen(feed);
	for (const char *p = feeds; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, feed, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* --- session ------------------------------------------------------------- */

enum rs_state { RS_NEW, RS_OPEN, RS_AUTHED, RS_CLOSING };

struct rs_sym {
	char *s;
	uint8_t len;
	uint16_t mask; /* channels subscribed; 0: entry unused */
};

struct replay_session {
	struct replay_session_reg *reg;
	replay_session_emit_fn emit;
	void *ctx;
	char *endpoint;
	const char *feed; /* last segment of endpoint */
	uint64_t auth_timeout_ms;
	uint32_t symbol_limit;
	bool reject_auth, omit_empty;

	enum rs_state state;
	bool started;
	uint64_t open_ms;
	struct rs_slot *slot;
	char *key;

	/* Subscriptions: entries in first-subscribed order, indexed by an open
	 * addressing table of entry index + 1 (0 = empty). */
	uint16_t star;
	struct rs_sym *syms;
	size_t n_syms, cap_syms, live;
	uint32_t *idx;
	size_t idx_cap; /* power of two, >= 2 * n_syms */

	char *out;
	size_t out_len, out_cap;
	bool out_err;
};

static const char *const rs_chan_names[REPLAY_CH_COUNT] = {
	"trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances",
};

const char *replay_session_chan_name(int ch)
{
	return ch >= 0 && ch < REPLAY_CH_COUNT ? rs_chan_names[ch] : NULL;
}

int replay_session_new(struct replay_session **out, struct replay_session_reg *reg,
                       const struct replay_session_opts *o, replay_session_emit_fn emit, void *ctx)
{
	if (!out || !reg || !o || !o->endpoint || !emit)
		return -EINVAL;
	struct replay_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->endpoint = strdup(o->endpoint);
	if (!s->endpoint) {
		free(s);
		return -ENOMEM;
	}
	const char *slash = strrchr(s->endpoint, '/');
	s->feed = slash ? slash + 1 : s->endpoint;
	s->reg = reg;
	s->emit = emit;
	s->ctx = ctx;
	s->auth_timeout_ms = o->auth_timeout_ms ? o->auth_timeout_ms : RS_DEFAULT_AUTH_TIMEOUT_MS;
	s->symbol_limit = o->symbol_limit;
	s->reject_auth = o->reject_auth;
	s->omit_empty = o->omit_empty;
	*out = s;
	return 0;
}

static void rs_release(struct replay_session *s, bool clean, uint64_t now_ms)
{
	struct rs_slot *sl = s->slot;
	if (!sl)
		return;
	s->slot = NULL;
	sl->owner = NULL;
	if (clean || !s->reg->dead_hold_ms) {
		for (struct rs_slot **pp = &s->reg->slots; *pp; pp = &(*pp)->next) {
			if (*pp == sl) {
				*pp = sl->next;
				break;
			}
		}
		rs_slot_free(sl);
		return;
	}
	sl->expires_ms = now_ms + s->reg->dead_hold_ms;
}

static void rs_syms_clear(struct replay_session *s)
{
	for (size_t i = 0; i < s->n_syms; i++)
		free(s->syms[i].s);
	s->n_syms = 0;
	s->live = 0;
	if (s->idx)
		memset(s->idx, 0, s->idx_cap * sizeof(*s->idx));
}

void replay_session_free(struct replay_session *s, bool clean, uint64_t now_ms)
{
	if (!s)
		return;
	rs_release(s, clean, now_ms);
	rs_syms_clear(s);
	free(s->syms);
	free(s->idx);
	free(s->key);
	free(s->endpoint);
	free(s->out);
	free(s);
}

/* --- output -------------------------------------------------------------- */

static void rs_put(struct replay_session *s, const char *p, size_t n)
{
	if (s->out_err)
		return;
	if (s->out_len + n + 1 > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 256;
		while (cap < s->out_len + n + 1)
			cap *= 2;
		char *b = realloc(s->out, cap);
		if (!b) {
			s->out_err = true;
			return;
		}
		s->out = b;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, p, n);
	s->out_len += n;
	s->out[s->out_len] = '\0';
}

static void rs_puts(struct replay_session *s, const char *p)
{
	rs_put(s, p, strlen(p));
}

/* Emits the frame built in out; -ENOMEM if building it failed. */
static int rs_flush(struct replay_session *s)
{
	int r = 0;
	if (s->out_err)
		r = -ENOMEM;
	else if (s->out_len)
		s->emit(s->ctx, s->out, s->out_len);
	s->out_len = 0;
	s->out_err = false;
	return r;
}

static int rs_success(struct replay_session *s, const char *msg)
{
	rs_puts(s, "[{\"T\":\"success\",\"msg\":\"");
	rs_puts(s, msg);
	rs_puts(s, "\"}]");
	return rs_flush(s);
}

static const char *rs_error_text(int code)
{
	switch (code) {
	case 400: return "invalid syntax";
	case 401: return "not authenticated";
	case 402: return "auth failed";
	case 403: return "already authenticated";
	case 404: return "auth timeout";
	case 405: return "symbol limit exceeded";
	case 406: return "connection limit exceeded";
	case 407: return "slow client";
	case 409: return "insufficient subscription";
	case 410: return "invalid subscribe action for this feed";
	default: return "internal error";
	}
}

static int rs_error(struct replay_session *s, int code)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "[{\"T\":\"error\",\"code\":%d,\"msg\":\"%s\"}]", code,
	         rs_error_text(code));
	rs_puts(s, buf);
	return rs_flush(s);
}

/* --- symbol table -------------------------------------------------------- */

static uint32_t rs_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static const struct rs_sym *rs_find(const struct replay_session *s, const char *p, size_t n,
                                    size_t *slot)
{
	if (!s->idx_cap)
		return NULL;
	size_t m = s->idx_cap - 1;
	for (size_t i = rs_hash(p, n) & m;; i = (i + 1) & m) {
		uint32_t e = s->idx[i];
		if (!e) {
			if (slot)
				*slot = i;
			return NULL;
		}
		const struct rs_sym *y = &s->syms[e - 1];
		if (y->len == n && memcmp(y->s, p, n) == 0) {
			if (slot)
				*slot = i;
			return y;
		}
	}
}

static int rs_reindex(struct replay_session *s, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	free(s->idx);
	s->idx = idx;
	s->idx_cap = cap;
	for (size_t k = 0; k < s->n_syms; k++) {
		size_t slot;
		rs_find(s, s->syms[k].s, s->syms[k].len, &slot);
		s->idx[slot] = (uint32_t)k + 1;
	}
	return 0;
}

/* The entry for a symbol, created (mask 0) if new. */
static struct rs_sym *rs_intern(struct replay_session *s, const char *p, size_t n)
{
	if (2 * (s->n_syms + 1) > s->idx_cap &&
	    rs_reindex(s, s->idx_cap ? s->idx_cap * 2 : 16) < 0)
		return NULL;
	size_t slot;
	struct rs_sym *y = (struct rs_sym *)rs_find(s, p, n, &slot);
	if (y)
		return y;
	if (s->n_syms == s->cap_syms) {
		size_t cap = s->cap_syms ? s->cap_syms * 2 : 8;
		struct rs_sym *v = realloc(s->syms, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->syms = v;
		s->cap_syms = cap;
	}
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, p, n);
	copy[n] = '\0';
	y = &s->syms[s->n_syms];
	*y = (struct rs_sym){copy, (uint8_t)n, 0};
	s->idx[slot] = (uint32_t)++s->n_syms;
	return y;
}

static bool rs_symbol_valid(const char *p, size_t n)
{
	if (n == 0 || n > REPLAY_SESSION_SYMBOL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',')
			return false;
	}
	return true;
}

static int rs_chan_parse(const char *name)
{
	for (int ch = 0; ch < REPLAY_CH_COUNT; ch++)
		if (strcmp(name, rs_chan_names[ch]) == 0)
			return ch;
	return -1;
}

/* --- auth ---------------------------------------------------------------- */

/* Returns 0 (authenticated) or the error code to answer. */
static int rs_check_auth(struct replay_session *s, const char *key, const char *secret,
                         uint64_t now_ms)
{
	if (s->reject_auth || !*key || !*secret)
		return 402;
	struct replay_session_reg *reg = s->reg;
	const struct rs_key *k = NULL;
	for (size_t i = 0; i < reg->n_keys; i++) {
		if (strcmp(reg->keys[i].key, key) == 0) {
			k = &reg->keys[i];
			break;
		}
	}
	if (reg->n_keys && (!k || strcmp(k->secret, secret) != 0))
		return 402;
	if (k && !rs_feed_granted(k->feeds, s->feed))
		return 409;
	if (replay_session_reg_count(reg, key, s->endpoint, now_ms) >= reg->conn_limit)
		return 406;
	return 0;
}

static int rs_auth(struct replay_session *s, const char *key, const char *secret, uint64_t now_ms)
{
	if (s->state == RS_AUTHED)
		return rs_error(s, 403);
	int code = rs_check_auth(s, key, secret, now_ms);
	if (code)
		return rs_error(s, code);
	struct rs_slot *sl = calloc(1, sizeof(*sl));
	char *k = strdup(key);
	if (sl) {
		sl->key = strdup(key);
		sl->endpoint = strdup(s->endpoint);
	}
	if (!sl || !k || !sl->key || !sl->endpoint) {
		if (sl)
			rs_slot_free(sl);
		free(k);
		rs_error(s, 500);
		return -ENOMEM;
	}
	sl->owner = s;
	sl->next = s->reg->slots;
	s->reg->slots = sl;
	s->slot = sl;
	s->key = k;
	s->state = RS_AUTHED;
	return rs_success(s, "authenticated");
}

/* --- subscriptions ------------------------------------------------------- */

static void rs_put_list(struct replay_session *s, const char *name, int ch, bool *first)
{
	uint16_t bit = (uint16_t)(1u << ch);
	bool empty = !(s->star & bit);
	for (size_t i = 0; empty && i < s->n_syms; i++)
		if (s->syms[i].mask & bit)
			empty = false;
	if (empty && s->omit_empty)
		return;
	rs_puts(s, *first ? "\"" : ",\"");
	*first = false;
	rs_puts(s, name);
	rs_puts(s, "\":[");
	bool sep = false;
	if (s->star & bit) {
		rs_puts(s, "\"*\"");
		sep = true;
	}
	for (size_t i = 0; i < s->n_syms; i++) {
		if (!(s->syms[i].mask & bit))
			continue;
		rs_puts(s, sep ? ",\"" : "\"");
		rs_put(s, s->syms[i].s, s->syms[i].len);
		rs_puts(s, "\"");
		sep = true;
	}
	rs_puts(s, "]");
}

static int rs_snapshot(struct replay_session *s)
{
	bool first = true; /* no channel key written yet */
	rs_puts(s, "[{\"T\":\"subscription\",");
	for (int ch = 0; ch < REPLAY_CH_COUNT; ch++)
		rs_put_list(s, rs_chan_names[ch], ch, &first);
	rs_put_list(s, "corrections", REPLAY_CH_TRADES, &first);
	rs_put_list(s, "cancelErrors", REPLAY_CH_TRADES, &first);
	if (first && !s->out_err) /* every key omitted: drop the trailing comma */
		s->out_len--;
	rs_puts(s, "}]");
	return rs_flush(s);
}

static size_t rs_count_live(const struct replay_session *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_syms; i++)
		if (s->syms[i].mask)
			n++;
	return n;
}

/* Checks the whole message before changing anything: returns 0 or the error
 * code (400, 410). */
static int rs_sub_validate(json_t *root)
{
	const char *name;
	json_t *v;
	json_object_foreach(root, name, v) {
		if (strcmp(name, "action") == 0)
			continue;
		if (rs_chan_parse(name) < 0)
			return json_is_array(v) ? 410 : 400;
		if (!json_is_array(v))
			return 400;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) ||
			    !rs_symbol_valid(json_string_value(e), json_string_length(e)))
				return 400;
		}
	}
	return 0;
}

static int rs_subscribe(struct replay_session *s, json_t *root, bool add)
{
	if (s->state != RS_AUTHED)
		return rs_error(s, 401);
	int code = rs_sub_validate(root);
	if (code)
		return rs_error(s, code);

	/* Apply, remembering enough to undo on 405. */
	size_t old_n = s->n_syms;
	uint16_t old_star = s->star;
	uint16_t *old_masks = NULL;
	if (old_n && !(old_masks = malloc(old_n * sizeof(*old_masks))))
		goto nomem;
	for (size_t i = 0; i < old_n; i++)
		old_masks[i] = s->syms[i].mask;

	const char *name;
	json_t *v;
	json_object_foreach(root, name, v) {
		int ch = rs_chan_parse(name);
		if (ch < 0)
			continue; /* "action" */
		uint16_t bit = (uint16_t)(1u << ch);
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			const char *sym = json_string_value(e);
			size_t n = json_string_length(e);
			if (n == 1 && sym[0] == '*') {
				s->star = add ? (uint16_t)(s->star | bit) : (uint16_t)(s->star & ~bit);
				continue;
			}
			if (!add) {
				struct rs_sym *y = (struct rs_sym *)rs_find(s, sym, n, NULL);
				if (y)
					y->mask &= (uint16_t)~bit;
				continue;
			}
			struct rs_sym *y = rs_intern(s, sym, n);
			if (!y)
				goto undo_nomem;
			y->mask |= bit;
		}
	}
	size_t live = rs_count_live(s);
	if (add && s->symbol_limit && live > s->symbol_limit) {
		code = 405;
		goto undo;
	}
	s->live = live;
	free(old_masks);
	int r = rs_snapshot(s);
	if (r < 0)
		return r;
	if (!s->started && (s->star || s->live)) {
		s->started = true;
		return REPLAY_SESSION_ACT_START | REPLAY_SESSION_ACT_SUBS;
	}
	return REPLAY_SESSION_ACT_SUBS;

undo_nomem:
	code = 500;
undo:
	for (size_t i = old_n; i < s->n_syms; i++)
		free(s->syms[i].s);
	s->n_syms = old_n;
	for (size_t i = 0; i < old_n; i++)
		s->syms[i].mask = old_masks[i];
	s->star = old_star;
	free(old_masks);
	if (rs_reindex(s, s->idx_cap ? s->idx_cap : 16) < 0)
		code = 500;
	rs_error(s, code);
	return code == 500 ? -ENOMEM : 0;
nomem:
	rs_error(s, 500);
	return -ENOMEM;
}

/* --- inputs -------------------------------------------------------------- */

int replay_session_open(struct replay_session *s, uint64_t now_ms, const char *hdr_key,
                        const char *hdr_secret)
{
	if (s->state != RS_NEW)
		return 0;
	s->state = RS_OPEN;
	s->open_ms = now_ms;
	int r = rs_success(s, "connected");
	if (r == 0 && hdr_key && hdr_secret)
		r = rs_auth(s, hdr_key, hdr_secret, now_ms);
	return r;
}

int replay_session_message(struct replay_session *s, const char *msg, size_t len, uint64_t now_ms)
{
	if (s->state == RS_NEW || s->state == RS_CLOSING)
		return 0;
	int r = replay_session_tick(s, now_ms);
	if (r != 0)
		return r;
	json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *action = root ? json_object_get(root, "action") : NULL;
	const char *a = json_is_string(action) ? json_string_value(action) : "";
	if (strcmp(a, "auth") == 0) {
		json_t *k = json_object_get(root, "key"), *sec = json_object_get(root, "secret");
		if (s->state == RS_AUTHED)
			r = rs_error(s, 403);
		else if (!json_is_string(k) || !json_is_string(sec))
			r = rs_error(s, 400);
		else
			r = rs_auth(s, json_string_value(k), json_string_value(sec), now_ms);
	} else if (strcmp(a, "subscribe") == 0 || strcmp(a, "unsubscribe") == 0) {
		r = rs_subscribe(s, root, a[0] == 's');
	} else {
		r = rs_error(s, 400); /* not JSON, not an object, no or unknown action */
	}
	json_decref(root);
	return r;
}

int replay_session_tick(struct replay_session *s, uint64_t now_ms)
{
	if (s->state != RS_OPEN || now_ms < s->open_ms + s->auth_timeout_ms)
		return 0;
	s->state = RS_CLOSING;
	int r = rs_error(s, 404);
	return r < 0 ? r : (int)REPLAY_SESSION_ACT_CLOSE;
}

uint64_t replay_session_deadline(const struct replay_session *s)
{
	return s->state == RS_OPEN ? s->open_ms + s->auth_timeout_ms : UINT64_MAX;
}

int replay_session_slow(struct replay_session *s)
{
	if (s->state != RS_CLOSING) {
		s->state = RS_CLOSING;
		rs_error(s, 407);
	}
	return REPLAY_SESSION_ACT_CLOSE;
}

static int rs_type_chan(const char *t, size_t n)
{
	if (n != 1)
		return -1;
	switch (t[0]) {
	case 't': case 'c': case 'x': return REPLAY_CH_TRADES;
	case 'q': return REPLAY_CH_QUOTES;
	case 'b': return REPLAY_CH_BARS;
	case 'u': return REPLAY_CH_UPDATED_BARS;
	case 'd': return REPLAY_CH_DAILY_BARS;
	case 's': return REPLAY_CH_STATUSES;
	case 'l': return REPLAY_CH_LULDS;
	case 'i': return REPLAY_CH_IMBALANCES;
	default: return -1;
	}
}

static bool rs_is_control(const char *t, size_t n)
{
	return (n == 7 && memcmp(t, "success", 7) == 0) || (n == 5 && memcmp(t, "error", 5) == 0) ||
	       (n == 12 && memcmp(t, "subscription", 12) == 0);
}

bool replay_session_wants(const struct replay_session *s, const char *type, size_t type_len,
                          const char *sym, size_t sym_len)
{
	if (s->state != RS_AUTHED || rs_is_control(type, type_len))
		return false;
	int ch = rs_type_chan(type, type_len);
	uint16_t bits = ch < 0 ? (uint16_t)0xffff : (uint16_t)(1u << ch);
	if (s->star & bits)
		return true;
	const struct rs_sym *y = sym_len ? rs_find(s, sym, sym_len, NULL) : NULL;
	return y && (y->mask & bits);
}

bool replay_session_authenticated(const struct replay_session *s)
{
	return s->state == RS_AUTHED;
}

bool replay_session_closing(const struct replay_session *s)
{
	return s->state == RS_CLOSING;
}

const char *replay_session_key(const struct replay_session *s)
{
	return s->key ? s->key : "";
}

size_t replay_session_symbol_count(const struct replay_session *s)
{
	return s->live;
}
