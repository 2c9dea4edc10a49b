/* alpaca_backoff.c - exponential backoff with jitter (see the header). */
#include "config.h"

#include "source/alpaca_backoff.h"

int64_t alpaca_backoff_delay(const struct alpaca_backoff *b, unsigned fails, bool contention,
			     uint32_t r)
{
	int64_t d = b->base;
	for (unsigned i = 1; i < fails && d < b->max; i++)
		d = d > b->max / 2 ? b->max : d * 2;
	if (d > b->max)
		d = b->max;
	int64_t hi = b->max;
	if (contention && d < b->contention)
		d = b->contention;
	if (contention && hi < b->contention + b->contention / 5)
		hi = b->contention + b->contention / 5;
	/* double is exact enough here: delays are far below 2^53 ns. */
	double j = ((double)r / 4294967296.0 * 2.0 - 1.0) * 0.2;
	int64_t out = d + (int64_t)((double)d * j);
	if (out < b->base)
		out = b->base;
	if (out > hi)
		out = hi;
	return out;
}
