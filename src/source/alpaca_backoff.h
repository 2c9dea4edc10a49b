/* alpaca_backoff.h - the reconnect delay of the Alpaca session.
 *
 * Exponential from base, doubling per consecutive failed session, capped at
 * max, then +-20 % jitter so a fleet of daemons (or one daemon's sessions
 * against a restarting server) does not reconnect in lock step. After 406
 * (connection limit) or HTTP 429 at the upgrade the delay is at least
 * `contention` (15 s): the slot of a dead previous session is held ~90 s
 * server-side (alpaca-ws.md 5.1), so fast retries only add load and 429s. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct alpaca_backoff {
	int64_t base, max, contention; /* ns; 0 < base <= max */
};

/* The delay before the next attempt after `fails` (>= 1) consecutive failed
 * sessions. r is a uniform 32-bit random value: 0 gives -20 %, 2^31 exactly
 * the nominal delay, 2^32-1 nearly +20 %. The result lies in [base, max],
 * or [base, max(max, contention * 1.2)] under contention. */
int64_t alpaca_backoff_delay(const struct alpaca_backoff *b, unsigned fails, bool contention,
			     uint32_t r);
