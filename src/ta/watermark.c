/* watermark.c - event-time watermark with a delayed wall-clock advance. */
#include "config.h"

#include "core/bytes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ta/watermark.h"

struct watermark {
	int64_t slack;
	int64_t max_event; /* E, or WATERMARK_NONE */
	int64_t mono_at_max; /* M */
	int64_t floor;       /* F, or WATERMARK_NONE */
};

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

struct watermark *watermark_new(int64_t slack_ns)
{
	if (slack_ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	struct watermark *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->slack = slack_ns;
	w->max_event = WATERMARK_NONE;
	w->floor = WATERMARK_NONE;
	return w;
}

void watermark_free(struct watermark *w)
{
	free(w);
}

static int64_t elapsed(const struct watermark *w, int64_t now)
{
	int64_t x = sat_sub(now, w->mono_at_max);
	return x < 0 ? 0 : x;
}

int64_t watermark_current(const struct watermark *w, int64_t now_mono_ns)
{
	if (w->max_event == WATERMARK_NONE)
		return WATERMARK_NONE;
	int64_t x = elapsed(w, now_mono_ns);
	int64_t v = sat_sub(w->max_event, w->slack);
	if (x >= w->slack)
		v = sat_add(v, x);
	return v > w->floor ? v : w->floor;
}

int watermark_observe(struct watermark *w, int64_t event_ns, int64_t now_mono_ns)
{
	if (event_ns <= 0)
		return -EINVAL;
	if (w->max_event != WATERMARK_NONE && event_ns <= w->max_event)
		return 0;
	/* Freeze what the old anchor reached so W never goes back. */
	w->floor = watermark_current(w, now_mono_ns);
	w->max_event = event_ns;
	w->mono_at_max = now_mono_ns;
	return 1;
}

int64_t watermark_max_event(const struct watermark *w)
{
	return w->max_event;
}

int64_t watermark_next_deadline(const struct watermark *w, int64_t end_ns)
{
	if (w->max_event == WATERMARK_NONE || end_ns == INT64_MAX)
		return INT64_MAX;
	if (w->floor >= end_ns || sat_sub(w->max_event, w->slack) >= end_ns)
		return w->mono_at_max;
	/* Need x >= slack (idle formula) and E - slack + x >= end. */
	int64_t x = sat_sub(sat_add(end_ns, w->slack), w->max_event);
	if (x < w->slack)
		x = w->slack;
	return sat_add(w->mono_at_max, x);
}

/* ---- snapshot ---------------------------------------------------------- */

#define WM_MAGIC "TGWM"
#define WM_VERSION 1u
#define WM_SNAP_LEN (4 + 4 + 4 + 8 + 8 + 8)

ssize_t watermark_save(const struct watermark *w, int64_t now_mono_ns, void *buf, size_t cap)
{
	if (cap == 0)
		return WM_SNAP_LEN;
	if (cap < WM_SNAP_LEN || !buf)
		return -ENOSPC;
	uint8_t *p = buf;
	bool have = w->max_event != WATERMARK_NONE;
	memcpy(p, WM_MAGIC, 4);
	bytes_put_u32(p + 4, WM_VERSION);
	bytes_put_u32(p + 8, have ? 1u : 0u);
	bytes_put_u64(p + 12, (uint64_t)w->max_event);
	bytes_put_u64(p + 20, (uint64_t)w->floor);
	bytes_put_u64(p + 28, (uint64_t)(have ? elapsed(w, now_mono_ns) : 0));
	return WM_SNAP_LEN;
}

int watermark_load(struct watermark *w, int64_t now_mono_ns, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (!p || len != WM_SNAP_LEN || memcmp(p, WM_MAGIC, 4) != 0 || bytes_get_u32(p + 4) != WM_VERSION)
		return -EINVAL;
	uint32_t have = bytes_get_u32(p + 8);
	int64_t max_event = (int64_t)bytes_get_u64(p + 12);
	int64_t floor = (int64_t)bytes_get_u64(p + 20);
	int64_t x = (int64_t)bytes_get_u64(p + 28);
	if (have > 1 || x < 0)
		return -EINVAL;
	if (have) {
		if (max_event <= 0)
			return -EINVAL;
	} else if (max_event != WATERMARK_NONE || floor != WATERMARK_NONE || x != 0) {
		return -EINVAL;
	}
	w->max_event = max_event;
	w->floor = floor;
	w->mono_at_max = have ? sat_sub(now_mono_ns, x) : 0;
	return 0;
}
