/* looplag.h - how late the loop runs: a stall probe on the loop itself.
 *
 * Lag: a one-shot uv timer re-armed every interval_ms; each firing records
 * how long after its due time it ran (uv_hrtime against the due time in the
 * loop's own clock, so a stall of a callback shows up in full). uv timers
 * have millisecond resolution, so the floor of this histogram is ~0-2 ms.
 *
 * Busy (optional): a uv_prepare handle runs once per loop iteration just
 * before the loop waits for I/O; the time since the previous iteration minus
 * the time the loop spent waiting in epoll (uv_metrics_idle_time) is the
 * time callbacks ran in that iteration, at nanosecond resolution.
 *
 * Both go into histograms (hist.h); the caller usually passes the registry's
 * torghut_loop_lag_seconds / torghut_loop_busy_seconds. The handles are
 * unreferenced: the probe never keeps the loop alive, but the owner must
 * still looplag_close() it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "core/hist.h"

struct looplag;

struct looplag_opts {
	uint32_t interval_ms; /* timer period; 0 means 10 */
	uint32_t window_ms;   /* the "recent" window of looplag_stats; 0 means 60000 */
	bool busy;            /* also measure per-iteration callback time (configures
			       * UV_METRICS_IDLE_TIME on the loop) */
	struct hist *lag;     /* where to record; NULL: an internal histogram */
	struct hist *busy_hist;
};

/* Starts the probe. 0, -EINVAL or -ENOMEM, or a negative uv code. */
int looplag_new(uv_loop_t *loop, const struct looplag_opts *o, struct looplag **out);
/* Stops and closes the handles; `cb` (may be NULL) runs once they are closed
 * and the probe is freed. */
void looplag_close(struct looplag *l, void (*cb)(void *arg), void *arg);

struct looplag_stats {
	uint64_t lag_samples;       /* since start */
	uint64_t lag_max_ns;        /* since start, exact */
	uint64_t lag_p99_ns, lag_p999_ns;
	uint64_t recent_lag_max_ns; /* over the last complete window and the current one, exact */
	uint64_t recent_lag_p999_ns; /* over the last complete window (since start until one completes) */
	uint64_t busy_samples;      /* loop iterations measured */
	uint64_t busy_max_ns, busy_p99_ns, busy_p999_ns;
	uint64_t recent_busy_max_ns;
	uint64_t recent_busy_p999_ns;
};

void looplag_stats(const struct looplag *l, struct looplag_stats *out);

/* recent_lag_max_ns in seconds; a metrics_fn for torghut_loop_lag_max_seconds
 * (arg: the struct looplag). */
double looplag_recent_max_seconds(void *arg);
