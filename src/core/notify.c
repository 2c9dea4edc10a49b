#include "config.h"

#include "core/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

void notify_init(struct notify *n)
{
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	n->watchdog_usec = 0;
	/* sd_watchdog_enabled checks WATCHDOG_PID too, so a child that inherited
	 * the environment does not ping on our behalf. */
	if (sd_watchdog_enabled(0, &n->watchdog_usec) <= 0)
		n->watchdog_usec = 0;
}

static int send_state(struct notify *n, const char *state)
{
	if (!n->enabled)
		return 0;
	int rc = sd_notify(0, state);
	return rc < 0 ? rc : 0;
}

int notify_ready(struct notify *n)
{
	return send_state(n, "READY=1");
}

int notify_reloading(struct notify *n)
{
	return send_state(n, "RELOADING=1");
}

int notify_stopping(struct notify *n)
{
	return send_state(n, "STOPPING=1");
}

int notify_watchdog(struct notify *n)
{
	return n->watchdog_usec ? send_state(n, "WATCHDOG=1") : 0;
}

int notify_status(struct notify *n, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int len;

	if (!n->enabled)
		return 0;
	len = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + len, sizeof(buf) - (size_t)len, fmt, ap);
	va_end(ap);
	return send_state(n, buf);
}
