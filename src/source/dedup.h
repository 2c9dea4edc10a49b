/* dedup.h - bounded duplicate filter for market-data events of one feed.
 *
 * Identity (wire.md "Dedup and identity"), one dedup per feed:
 *   trades (EVENT_TRADE)                  (symbol, trade id `i`)
 *   quotes, bars (EVENT_QUOTE, EVENT_BAR) (channel, symbol, `t`)
 *   updatedBars, dailyBars                (channel, symbol, `t`, hash of the raw message)
 * updatedBars and dailyBars restate the same `t` with new values (a late
 * trade; the running daily bar), so only a byte-identical repeat of one of
 * them is a duplicate. Other kinds are never duplicates and not remembered.
 *
 * Bounded in time: an entry is kept at least while it is within window_ns
 * of the event time being checked (entries leave in arrival order once
 * older than that). Event times more than DEDUP_FUTURE_SLACK_NS ahead of the
 * event's recv_real_ns do not age entries beyond that point, so one bogus
 * timestamp cannot flush the filter. Bounded in memory: at most
 * max_entries; when full the oldest entry is dropped and counted. O(1)
 * expected per check (linear-probing hash table, at most half full, plus a
 * ring in arrival order); dedup_seen never allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

#define DEDUP_FUTURE_SLACK_NS (60LL * 1000000000LL)
#define DEDUP_MAX_ENTRIES (1u << 30)
/* What torghutd uses per feed (ingest's Alpaca input, role=ta's raw-topic
 * input): Alpaca restates recent messages after a reconnect within ~2 min. */
#define DEDUP_FEED_WINDOW_NS (120LL * 1000000000LL)
#define DEDUP_FEED_ENTRIES 262144u

struct dedup;

struct dedup_stats {
	uint64_t checked;          /* events of a deduplicated kind seen by dedup_seen */
	uint64_t duplicates;       /* of those, reported as duplicates */
	uint64_t ignored;          /* events of other kinds */
	uint64_t evicted_window;   /* entries aged out by event time */
	uint64_t evicted_capacity; /* entries dropped because max_entries was reached */
	uint64_t entries;          /* entries held now */
};

/* window_ns > 0, 1 <= max_entries <= DEDUP_MAX_ENTRIES; NULL with errno
 * EINVAL or ENOMEM. Memory is 80-96 bytes per entry, all allocated here. */
struct dedup *dedup_new(int64_t window_ns, uint32_t max_entries);
void dedup_free(struct dedup *d);

/* 1 if ev is a duplicate of a remembered event, 0 if new (then it is
 * remembered) or of a kind that is not deduplicated. */
int dedup_seen(struct dedup *d, const struct event *ev);

const struct dedup_stats *dedup_stats(const struct dedup *d);

/* Checkpoint: little-endian, compact (kind, symbol length, the symbol, t,
 * trade id for trades, raw hash for updatedBars/dailyBars), entries oldest
 * first; magic, version and count in a header, no checksum of its own (the
 * snapshot container checks every section). Window and capacity are
 * configuration, not state.
 * dedup_save: cap == 0 returns the bytes needed (O(1): a running total);
 * otherwise writes and returns the bytes written, or -ENOSPC if cap is too
 * small.
 * dedup_load: replaces the remembered entries; 0, -EINVAL on malformed or
 * truncated input, or -ENOMEM (d unchanged on error). If the checkpoint holds
 * more than max_entries, the newest are kept (counted in evicted_capacity).
 * Statistics counters other than `entries` are not part of the checkpoint. */
ssize_t dedup_save(const struct dedup *d, void *buf, size_t cap);
int dedup_load(struct dedup *d, const void *buf, size_t len);

/* Cursor of a save in steps; fields private. */
struct dedup_saver {
	size_t size, off; /* the whole encoding; bytes written so far */
	uint32_t i;       /* entries written */
	bool head_done;
};

/* A save in steps, the contract of ta_engine_save_begin/step: begin returns
 * the size (dedup_save with cap 0); each step writes the next whole items
 * (the header, then entries oldest first) into buf, the same buffer of at
 * least that size on every call, until it has written at least `budget`
 * bytes or reached the end (always at least one item): 1 when complete, 0
 * when more remains, or a negative code (-EIO: d changed since begin). d must
 * not change (no dedup_seen) from begin to the last step. The bytes are
 * exactly dedup_save's. */
ssize_t dedup_save_begin(const struct dedup *d, struct dedup_saver *s);
int dedup_save_step(const struct dedup *d, struct dedup_saver *s, uint8_t *buf, size_t budget);
