#include "config.h"

#include "core/looplag.h"

#include <errno.h>
#include <stdlib.h>

#define NS_PER_MS 1000000ull

/* One measured quantity: the histogram it feeds and its recent window. */
struct track {
	struct hist *h;
	struct hist mark;   /* h at the start of the current window */
	struct hist window; /* the last complete window */
	bool have_window;
	uint64_t cur_max, prev_max; /* exact maxima of the current and last window */
};

struct looplag {
	uv_timer_t timer;
	uv_prepare_t prepare;
	uv_loop_t *loop;
	uint32_t interval_ms, window_ms;
	bool busy;
	int open_handles;
	uint64_t due_ms;   /* in the loop's clock (uv_now) */
	uint64_t win_start; /* uv_hrtime */
	bool have_prev;
	uint64_t prev_t, prev_idle;
	struct track lag, bsy;
	struct hist own_lag, own_busy;
	void (*closed_cb)(void *);
	void *closed_arg;
};

static void track_record(struct track *t, uint64_t ns)
{
	hist_record(t->h, (int64_t)ns);
	if (ns > t->cur_max)
		t->cur_max = ns;
}

static void track_rotate(struct track *t)
{
	hist_since(t->h, &t->mark, &t->window);
	t->have_window = true;
	t->prev_max = t->cur_max;
	t->cur_max = 0;
}

static void on_timer(uv_timer_t *h)
{
	struct looplag *l = h->data;
	uint64_t now = uv_hrtime();
	uint64_t due = l->due_ms * NS_PER_MS;

	/* The loop clock (coarse, truncated to ms) never runs ahead of
	 * uv_hrtime, so a timer is never early; clamp anyway. */
	track_record(&l->lag, now > due ? now - due : 0);
	if (now - l->win_start >= (uint64_t)l->window_ms * NS_PER_MS) {
		track_rotate(&l->lag);
		if (l->busy)
			track_rotate(&l->bsy);
		l->win_start = now;
	}
	l->due_ms = uv_now(l->loop) + l->interval_ms;
	uv_timer_start(&l->timer, on_timer, l->interval_ms, 0);
}

static void on_prepare(uv_prepare_t *h)
{
	struct looplag *l = h->data;
	uint64_t t = uv_hrtime();
	uint64_t idle = uv_metrics_idle_time(l->loop);

	if (l->have_prev) {
		uint64_t span = t - l->prev_t, waited = idle - l->prev_idle;
		track_record(&l->bsy, span > waited ? span - waited : 0);
	}
	l->have_prev = true;
	l->prev_t = t;
	l->prev_idle = idle;
}

int looplag_new(uv_loop_t *loop, const struct looplag_opts *o, struct looplag **out)
{
	struct looplag *l;
	int rc;

	if (!loop || !o || !out)
		return -EINVAL;
	if (!(l = calloc(1, sizeof(*l))))
		return -ENOMEM;
	l->loop = loop;
	l->interval_ms = o->interval_ms ? o->interval_ms : 10;
	l->window_ms = o->window_ms ? o->window_ms : 60000;
	l->busy = o->busy;
	l->lag.h = o->lag ? o->lag : &l->own_lag;
	l->bsy.h = o->busy_hist ? o->busy_hist : &l->own_busy;
	l->lag.mark = *l->lag.h;
	l->bsy.mark = *l->bsy.h;
	if (l->busy && (rc = uv_loop_configure(loop, UV_METRICS_IDLE_TIME)) < 0) {
		free(l);
		return rc;
	}
	uv_timer_init(loop, &l->timer);
	uv_prepare_init(loop, &l->prepare);
	l->timer.data = l->prepare.data = l;
	l->open_handles = 2;
	l->win_start = uv_hrtime();
	uv_update_time(loop); /* arm against the current time, not the iteration's start */
	l->due_ms = uv_now(loop) + l->interval_ms;
	uv_timer_start(&l->timer, on_timer, l->interval_ms, 0);
	uv_unref((uv_handle_t *)&l->timer);
	if (l->busy) {
		uv_prepare_start(&l->prepare, on_prepare);
		uv_unref((uv_handle_t *)&l->prepare);
	}
	*out = l;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct looplag *l = h->data;
	if (--l->open_handles > 0)
		return;
	void (*cb)(void *) = l->closed_cb;
	void *arg = l->closed_arg;
	free(l);
	if (cb)
		cb(arg);
}

void looplag_close(struct looplag *l, void (*cb)(void *arg), void *arg)
{
	l->closed_cb = cb;
	l->closed_arg = arg;
	uv_close((uv_handle_t *)&l->timer, on_closed);
	uv_close((uv_handle_t *)&l->prepare, on_closed);
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void looplag_stats(const struct looplag *l, struct looplag_stats *out)
{
	const struct hist *lw = l->lag.have_window ? &l->lag.window : l->lag.h;
	const struct hist *bw = l->bsy.have_window ? &l->bsy.window : l->bsy.h;

	out->lag_samples = hist_count(l->lag.h);
	out->lag_max_ns = hist_max(l->lag.h);
	out->lag_p99_ns = hist_quantile(l->lag.h, 0.99);
	out->lag_p999_ns = hist_quantile(l->lag.h, 0.999);
	out->recent_lag_max_ns = max_u64(l->lag.prev_max, l->lag.cur_max);
	out->recent_lag_p999_ns = hist_quantile(lw, 0.999);
	out->busy_samples = hist_count(l->bsy.h);
	out->busy_max_ns = hist_max(l->bsy.h);
	out->busy_p99_ns = hist_quantile(l->bsy.h, 0.99);
	out->busy_p999_ns = hist_quantile(l->bsy.h, 0.999);
	out->recent_busy_max_ns = max_u64(l->bsy.prev_max, l->bsy.cur_max);
	out->recent_busy_p999_ns = hist_quantile(bw, 0.999);
}

double looplag_recent_max_seconds(void *arg)
{
	const struct looplag *l = arg;
	return (double)max_u64(l->lag.prev_max, l->lag.cur_max) / 1e9;
}
