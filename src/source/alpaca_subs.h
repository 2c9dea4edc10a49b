/* alpaca_subs.h - subscription bookkeeping for the Alpaca session: symbol
 * sets per channel, the delta between two sets, the subscribe/unsubscribe
 * message, and the server's `subscription` reply.
 *
 * Off the hot path (runs on subscription changes and replies only), so it
 * allocates freely. Sets are sorted and duplicate-free after
 * alpaca_symset_sort; every other operation keeps them so. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "source/alpaca.h"

struct alpaca_symset {
	char (*v)[EVENT_SYMBOL_MAX]; /* NUL-terminated symbols */
	size_t n, cap;
};

void alpaca_symset_fini(struct alpaca_symset *set);
static inline void alpaca_symset_clear(struct alpaca_symset *set) { set->n = 0; }

/* Appends without keeping order (call alpaca_symset_sort once after a batch
 * of pushes: inserting in order one by one is quadratic for `*`-sized
 * lists). 0, -EINVAL (empty or too long) or -ENOMEM. */
int alpaca_symset_push(struct alpaca_symset *set, const char *sym, size_t n);
/* Sorts and drops duplicates; a set holding "*" becomes {"*"}, since the
 * wildcard already covers every symbol. */
void alpaca_symset_sort(struct alpaca_symset *set);

bool alpaca_symset_has(const struct alpaca_symset *set, const char *sym);
bool alpaca_symset_equal(const struct alpaca_symset *a, const struct alpaca_symset *b);
int alpaca_symset_copy(struct alpaca_symset *dst, const struct alpaca_symset *src);
/* dst = a - b (dst distinct from a and b). 0 or -ENOMEM. */
int alpaca_symset_diff(struct alpaca_symset *dst, const struct alpaca_symset *a,
		       const struct alpaca_symset *b);
/* dst += src, dst -= src. 0 or -ENOMEM. */
int alpaca_symset_merge(struct alpaca_symset *dst, const struct alpaca_symset *src);
void alpaca_symset_remove(struct alpaca_symset *dst, const struct alpaca_symset *src);

/* Printable ASCII without space, quote, backslash or comma, 1..23 bytes:
 * safe to write into JSON unescaped. Used for what the server echoes, which
 * we keep even if our own stricter rule (conf_symbol_valid) would refuse it. */
bool alpaca_symbol_plain(const char *s, size_t n);

/* `{"action":"<action>","trades":[...],...}` listing only the non-empty
 * channels of sets[ALPACA_CH_SUB_COUNT], NUL-terminated, malloc'd, length in
 * *len. NULL when every set is empty (nothing to send) or on ENOMEM (then
 * *len is 1). */
char *alpaca_subs_message(const char *action, const struct alpaca_symset *sets, size_t *len);

/* Parses a `subscription` object into out[ALPACA_CH_COUNT] (cleared first).
 * A missing or null channel key is an empty list (the server omits keys);
 * a non-array value or a non-string / unusable symbol is skipped and
 * counted in *bad. Unknown keys (other feeds' channels) are ignored.
 * 0, -EPROTO (not a JSON object) or -ENOMEM. */
int alpaca_subs_parse_reply(const char *p, size_t n, struct alpaca_symset *out, unsigned *bad);
