/* dial.c - async resolve + connect with a deadline (see dial.h). */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dial.h"

#define DIAL_MAGIC 0x4449414cu /* "DIAL" */

struct dial {
	uint32_t magic;
	uv_loop_t *loop;
	uv_tcp_t *tcp;
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	uv_timer_t timer;
	bool gai_pending;
	bool conn_pending;
	bool timer_open;
	bool done; /* callback delivered or cancelled: report nothing more */
	dial_cb cb;
	void *user;
};

/* Memory goes only when nothing of libuv still points into it. */
static void dial_maybe_free(struct dial *d)
{
	if (d->done && !d->gai_pending && !d->conn_pending && !d->timer_open) {
		d->magic = 0;
		free(d);
	}
}

static void dial_timer_closed(uv_handle_t *h)
{
	struct dial *d = h->data;
	d->timer_open = false;
	dial_maybe_free(d);
}

static void dial_finish(struct dial *d, int status)
{
	if (d->done)
		return;
	d->done = true;
	if (!uv_is_closing((uv_handle_t *)&d->timer))
		uv_close((uv_handle_t *)&d->timer, dial_timer_closed);
	d->cb(d->user, status);
}

static void dial_connected(uv_connect_t *req, int status)
{
	struct dial *d = req->data;
	d->conn_pending = false;
	/* UV_ECANCELED after a timeout or cancel: the caller closed the handle. */
	dial_finish(d, status);
	dial_maybe_free(d);
}

static const struct addrinfo *dial_pick(const struct addrinfo *ai)
{
	for (const struct addrinfo *p = ai; p; p = p->ai_next)
		if (p->ai_family == AF_INET)
			return p;
	return ai;
}

static void dial_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct dial *d = req->data;
	d->gai_pending = false;
	if (d->done) {
		uv_freeaddrinfo(res);
		dial_maybe_free(d);
		return;
	}
	if (status < 0) {
		dial_finish(d, status);
		dial_maybe_free(d);
		return;
	}
	const struct addrinfo *ai = dial_pick(res);
	int r = ai ? uv_tcp_connect(&d->conn, d->tcp, ai->ai_addr, dial_connected) : UV_EAI_NONAME;
	uv_freeaddrinfo(res);
	if (r < 0) {
		dial_finish(d, r);
		dial_maybe_free(d);
		return;
	}
	d->conn_pending = true;
}

static void dial_timeout(uv_timer_t *t)
{
	struct dial *d = t->data;
	/* A resolution running in the thread pool cannot be stopped; its result
	 * is dropped when it arrives. A connect ends when the caller closes tcp. */
	if (d->gai_pending)
		uv_cancel((uv_req_t *)&d->gai);
	dial_finish(d, UV_ETIMEDOUT);
}

int dial_start(struct dial **out, uv_loop_t *loop, uv_tcp_t *tcp, const char *host,
               uint16_t port, uint32_t timeout_ms, dial_cb cb, void *user)
{
	if (!out || !loop || !tcp || !host || !*host || port == 0 || timeout_ms == 0 || !cb)
		return -EINVAL;
	struct dial *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->magic = DIAL_MAGIC;
	d->loop = loop;
	d->tcp = tcp;
	d->cb = cb;
	d->user = user;
	d->gai.data = d;
	d->conn.data = d;

	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	int r = uv_getaddrinfo(loop, &d->gai, dial_resolved, host, service, &hints);
	if (r < 0) {
		free(d);
		return r;
	}
	d->gai_pending = true;
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	d->timer_open = true;
	uv_timer_start(&d->timer, dial_timeout, timeout_ms, 0);
	*out = d;
	return 0;
}

void dial_cancel(struct dial *d)
{
	if (!d || d->magic != DIAL_MAGIC || d->done)
		return;
	d->done = true;
	if (d->gai_pending)
		uv_cancel((uv_req_t *)&d->gai);
	uv_close((uv_handle_t *)&d->timer, dial_timer_closed);
	dial_maybe_free(d);
}
