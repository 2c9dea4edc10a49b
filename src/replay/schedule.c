/* schedule.c - replay pacing (see schedule.h). */
#include "config.h"

#include "replay/schedule.h"

#include <errno.h>
#include <math.h>

int schedule_init(struct schedule *s, const struct schedule_opts *o, int64_t start_ns,
		  int64_t origin_ns)
{
	if (!s || !o || o->batch == 0 || o->linger_ns < 0)
		return -EINVAL;
	switch (o->mode) {
	case SCHEDULE_RECORDED:
		if (!isfinite(o->speed) || o->speed < 0)
			return -EINVAL;
		break;
	case SCHEDULE_RATE:
		if (!isfinite(o->rate) || o->rate <= 0)
			return -EINVAL;
		break;
	case SCHEDULE_MAX:
		break;
	default:
		return -EINVAL;
	}
	s->o = *o;
	s->start_ns = start_ns;
	s->origin_ns = origin_ns;
	s->sent = 0;
	s->frames = 0;
	return 0;
}

/* start + offset_ns, saturating. */
static int64_t add_sat(int64_t start, double offset_ns)
{
	if (!(offset_ns > 0))
		return start;
	if (offset_ns >= (double)INT64_MAX - (double)start)
		return INT64_MAX;
	return start + (int64_t)offset_ns;
}

int64_t schedule_due(const struct schedule *s, uint64_t k, int64_t at_ns)
{
	switch (s->o.mode) {
	case SCHEDULE_RECORDED: {
		if (s->o.speed == 0)
			return s->start_ns;
		/* Subtract in integers first: offsets are large, their difference small. */
		if (at_ns <= s->origin_ns)
			return s->start_ns;
		uint64_t d = (uint64_t)at_ns - (uint64_t)s->origin_ns;
		if (s->o.speed == 1.0)
			return d >= (uint64_t)(INT64_MAX - s->start_ns) ? INT64_MAX : s->start_ns + (int64_t)d;
		return add_sat(s->start_ns, (double)d / s->o.speed);
	}
	case SCHEDULE_RATE:
		return add_sat(s->start_ns, (double)k * 1e9 / s->o.rate);
	default:
		return s->start_ns;
	}
}

size_t schedule_next(const struct schedule *s, const int64_t *at, size_t n, int64_t now,
		     int64_t *wake_ns)
{
	int64_t dummy;
	if (!wake_ns)
		wake_ns = &dummy;
	if (!s || !at || n == 0) {
		*wake_ns = INT64_MAX;
		return 0;
	}
	size_t limit = n < s->o.batch ? n : s->o.batch;
	int64_t due0 = schedule_due(s, s->sent, at[0]);
	if (due0 > now) {
		*wake_ns = due0;
		return 0;
	}
	size_t c = 1;
	int64_t due_c = due0;
	while (c < limit) {
		due_c = schedule_due(s, s->sent + c, at[c]);
		if (due_c > now)
			break;
		c++;
	}
	if (c < limit && s->o.linger_ns > 0) {
		int64_t deadline = due0 > INT64_MAX - s->o.linger_ns ? INT64_MAX : due0 + s->o.linger_ns;
		if (now < deadline && due_c <= deadline) {
			*wake_ns = due_c; /* the next unit can still join this frame */
			return 0;
		}
	}
	*wake_ns = now;
	return c;
}

void schedule_commit(struct schedule *s, size_t count)
{
	if (!s || count == 0)
		return;
	s->sent += count;
	s->frames++;
}

int64_t schedule_lag(const struct schedule *s, int64_t at_ns, int64_t now)
{
	int64_t due = schedule_due(s, s->sent, at_ns);
	return now > due ? now - due : 0;
}
