/* seq.h - durable per (channel, symbol) sequence counters for ingest envelopes.
 *
 * wire.md: seq counts per (feed, channel, symbol) from 1 and continues after a
 * restart from the last checkpoint (upstream resets to 1, a known defect). One
 * map serves one feed. The map is part of the checkpointed state. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct seq_map;

struct seq_map *seq_map_new(void);
void seq_map_free(struct seq_map *m);

/* The counter of our connection status events (checkpoint markers
 * included), keyed by the feed: beyond every event_kind. */
#define SEQ_CHANNEL_CONN_STATUS 250u

/* Returns the next seq (1, 2, ...) for (channel, symbol), or -ENOMEM.
 * `channel` is a small id (enum event_kind works). */
int64_t seq_map_next(struct seq_map *m, unsigned channel, const char *symbol);
/* The last seq handed out for (channel, symbol); 0 if none. */
int64_t seq_map_peek(const struct seq_map *m, unsigned channel, const char *symbol);
size_t seq_map_count(const struct seq_map *m);

/* Same contract as the other snapshot codecs: save with cap 0 returns the
 * bytes needed (or writes and returns the length); load returns 0 or -EINVAL
 * on malformed input and leaves the map unchanged on error. */
int seq_map_save(const struct seq_map *m, uint8_t *out, size_t cap);
int seq_map_load(struct seq_map *m, const uint8_t *in, size_t n);
