/* watermark.h - the event-time watermark of one source (one feed).
 *
 * Pure logic: no loop, no clock reads. The loop owner passes CLOCK_MONOTONIC
 * times in (event.recv_mono_ns), which keeps this deterministic to test and
 * makes a paced replay of an old session behave like the live feed: event
 * times are never compared with the wall-clock date.
 *
 * Definitions (all int64 ns):
 *   slack  = watermark.max-out-of-orderness
 *   E      = the newest (largest) event time observed so far
 *   M      = the monotonic time at which E arrived
 *   x      = now - M, the wall time the feed has gone without a newer event
 *            (clamped at 0 if `now` runs backwards)
 *
 *   W(now) = max(F, E - slack)        while x <  slack   (active feed)
 *   W(now) = max(F, E - slack + x)    once  x >= slack   (idle feed)
 *
 * where F is the floor: the watermark reached just before the current E was
 * observed. F keeps W monotone when the feed resumes after an idle period
 * behind the wall-clock estimate (a stall longer than slack).
 *
 * Why the wall-clock advance waits for `slack`: with the naive
 * W = E - slack + x, every microsecond after E arrived would close seconds
 * that hold trades within slack of E, so an out-of-order trade arriving a
 * moment after a newer one (e.g. E = 10.5 s, then t = 8.6 s 0.6 s later)
 * would be late although plain event time allows it. Here:
 *
 *  1. A trade with t >= E - slack that arrives less than `slack` (wall time)
 *     after E arrived is never late, whatever the wall clock did, unless F
 *     (an earlier idle period) had already passed its second.
 *  2. A bar that holds the newest event (end b > E) closes exactly when the
 *     estimated event time E + x reaches b + slack, i.e. `slack` after its
 *     end, even if nothing else arrives: x = b - E + slack > slack, so the
 *     idle formula is in force by then.
 *  3. An older open bar (end <= E) closes when E - slack passes its end, and
 *     at the latest `slack` after E arrived (the jump of W from E - slack to
 *     E at x = slack).
 *  4. A trade that arrives later than that is late (its second closed).
 *
 * Silent symbols: W follows the newest event of the whole feed (a max, not a
 * min over symbols), so a silent symbol can never hold the others back;
 * table.exec.source.idle-timeout therefore needs no per-symbol state here
 * (the status code derives idle symbols from microbar's last event times).
 *
 * Feed the watermark every event that carries a live event time (trades, and
 * quotes if wanted); never minute bars, whose `t` is the minute start.
 * A bar [s, s+1 s) closes when W >= s + 1 s; a trade is late when the end of
 * its second is <= W at the time it is processed. */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define WATERMARK_NONE INT64_MIN /* no event observed yet: nothing may close */

struct watermark;

/* slack_ns >= 0. Returns NULL on ENOMEM or EINVAL (errno set). */
struct watermark *watermark_new(int64_t slack_ns);
void watermark_free(struct watermark *w);

/* Notes one event time (> 0) that arrived at now_mono_ns. Returns 1 if it is
 * the new newest event, 0 if not (out of order), -EINVAL if event_ns <= 0. */
int watermark_observe(struct watermark *w, int64_t event_ns, int64_t now_mono_ns);

/* W(now) as defined above; WATERMARK_NONE before the first event. Does not
 * change state; monotone in now_mono_ns for nondecreasing arguments. */
int64_t watermark_current(const struct watermark *w, int64_t now_mono_ns);

/* The newest event time observed (E), or WATERMARK_NONE. */
int64_t watermark_max_event(const struct watermark *w);

/* The earliest monotonic time at which W >= end_ns if no newer event
 * arrives: the loop arms its close timer at it (rounding UP to the timer's
 * resolution, then calls microbar_close_until(watermark_current(now))).
 * A result <= now means "already due". INT64_MAX if no event was observed
 * yet (nothing can close) or end_ns == INT64_MAX. */
int64_t watermark_next_deadline(const struct watermark *w, int64_t end_ns);

/* Snapshot: little-endian, self-checking. The elapsed idle time x is stored
 * relative to now_mono_ns at save and rebased on the now_mono_ns given to
 * load, so downtime does not count as feed silence (a restarted `ta` role
 * re-reads its input and must not find it late) and save/load at the same
 * now equals never stopping. slack is configuration, not state.
 * watermark_save: cap == 0 returns the bytes needed; otherwise writes and
 * returns the bytes written, or -ENOSPC if cap is too small.
 * watermark_load: 0, or -EINVAL on malformed/truncated input (w unchanged). */
ssize_t watermark_save(const struct watermark *w, int64_t now_mono_ns, void *buf, size_t cap);
int watermark_load(struct watermark *w, int64_t now_mono_ns, const void *buf, size_t len);
