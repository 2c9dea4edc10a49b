/* notify.h - systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING, RELOADING).
 *
 * Sends are no-ops outside systemd (no $NOTIFY_SOCKET). The watchdog interval
 * comes from $WATCHDOG_USEC; the loop owner runs the timer that pings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct notify {
	bool enabled;           /* $NOTIFY_SOCKET is set */
	uint64_t watchdog_usec; /* 0: no watchdog requested */
};

void notify_init(struct notify *n);
int notify_ready(struct notify *n);
int notify_reloading(struct notify *n);
int notify_stopping(struct notify *n);
int notify_watchdog(struct notify *n);
int notify_status(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
