/* testhooks.c - control commands that break the daemon on purpose, so tests
 * can prove the safety nets (the systemd watchdog kills a stalled loop).
 * They exist only with debug.test-hooks = true, which no production config
 * sets: an accidental `debug-stall` against a live daemon is refused. */
#include "config.h"

#include "daemon/testhooks.h"
#include "daemon/daemon_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define STALL_MAX_MS 60000

void testhooks_cmd_stall(void *arg, struct ctl_call *call, json_t *req)
{
	struct daemon *d = arg;
	json_t *ms = json_object_get(req, "ms");
	struct timespec ts;
	json_int_t n;

	if (!d || d->magic != DAEMON_MAGIC)
		abort(); /* a corrupted callback argument: nothing safe to do */
	if (!d->conf->debug_test_hooks) {
		ctl_call_fail(call, "debug-stall is a test hook: refused unless debug.test-hooks = true");
		return;
	}
	if (!json_is_integer(ms) || (n = json_integer_value(ms)) < 1 || n > STALL_MAX_MS) {
		ctl_call_fail(call, "\"ms\" must be an integer in 1..%d", STALL_MAX_MS);
		return;
	}
	log_warn(d->log, LOG_SUB_CTL, "test hook: stalling the loop for %lld ms", (long long)n);
	/* The blocking sleep on the loop thread is the point: nothing else
	 * runs meanwhile, the watchdog pings included. */
	ts.tv_sec = (time_t)(n / 1000);
	ts.tv_nsec = (long)(n % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	ctl_call_reply(call, json_pack("{s:I}", "stalled_ms", n));
}
