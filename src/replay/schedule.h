/* schedule.h - replay pacing: which pending messages go in the next frame, and when.
 *
 * Pure arithmetic on times the caller passes in (any one clock, normally
 * CLOCK_MONOTONIC ns), so it is tested without sleeping. The unit of pacing
 * is a message (or, to keep recorded frame boundaries, a recorded frame:
 * pass one unit per "frame" line and batch 1).
 *
 * Unit k (0-based over the whole replay) with recorded offset at_k is due at
 *   RECORDED  start + max(0, at_k - origin) / speed     (speed 0 = as MAX)
 *   RATE      start + k / rate                           (at_k ignored)
 *   MAX       start
 * Due times are absolute from start, so pacing does not drift however late
 * individual frames go out; a replayer that falls behind sends full batches
 * until it has caught up. Units go out in input order: a unit whose offset
 * went backwards is sent together with the unit before it.
 *
 * A frame holds up to `batch` consecutive units that are due. With linger_ns
 * > 0 a frame that is not full may wait until linger_ns after its first
 * unit's due time for later units to become due (fuller frames at moderate
 * rates); with 0 a frame goes out with whatever is due. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum schedule_mode {
	SCHEDULE_RECORDED = 0, /* recorded time / speed */
	SCHEDULE_RATE,         /* fixed rate */
	SCHEDULE_MAX           /* as fast as possible */
};

struct schedule_opts {
	enum schedule_mode mode;
	double speed;      /* RECORDED: > 0 (2 = twice as fast), or 0 = as fast as possible */
	double rate;       /* RATE: units per second, > 0 */
	uint32_t batch;    /* units per frame at most, >= 1 */
	int64_t linger_ns; /* >= 0 */
};

/* Plain data; fields are read-only for the caller. */
struct schedule {
	struct schedule_opts o;
	int64_t start_ns;  /* clock time of unit 0's origin */
	int64_t origin_ns; /* recorded offset that maps to start_ns (RECORDED) */
	uint64_t sent;     /* units committed so far */
	uint64_t frames;   /* frames committed so far */
};

/* origin_ns: the recorded offset to start from, normally the first unit's
 * at_ns (units before it are due at once). Returns 0 or -EINVAL (speed < 0
 * or not finite, rate <= 0 in RATE mode, batch 0, linger < 0, bad mode). */
int schedule_init(struct schedule *s, const struct schedule_opts *o, int64_t start_ns,
		  int64_t origin_ns);

/* Due time of unit k with recorded offset at_ns (saturates at INT64_MAX). */
int64_t schedule_due(const struct schedule *s, uint64_t k, int64_t at_ns);

/* at[0..n) are the recorded offsets of the next pending units (units
 * s->sent, s->sent+1, ...). Pass at least `batch` units unless the input has
 * ended: n < batch means no more units follow. Returns how many of them to
 * send now as one frame (0..min(n, batch)); when 0, *wake_ns is when to ask
 * again (INT64_MAX if n == 0), otherwise *wake_ns = now. Does not change s:
 * call schedule_commit once the frame is queued. */
size_t schedule_next(const struct schedule *s, const int64_t *at, size_t n, int64_t now,
		     int64_t *wake_ns);

/* Records that `count` units went out in one frame. */
void schedule_commit(struct schedule *s, size_t count);

/* How far behind the schedule the next unit (offset at_ns) is at now:
 * max(0, now - due). */
int64_t schedule_lag(const struct schedule *s, int64_t at_ns, int64_t now);
