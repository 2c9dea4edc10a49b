/* curlm.c - curl multi on uv: socket and timer callbacks, per-transfer
 * completion, teardown after the last uv handle is closed. */
#include "config.h"

#include "net/curlm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct cm_sock {
	uv_poll_t poll;         /* first: the close callback gets this pointer */
	struct curlm *m;
	curl_socket_t fd;
	struct cm_sock *next;
};

struct cm_xfer {
	CURL *easy;
	curlm_done_cb done;
	void *arg;
	struct cm_xfer *next;
};

struct curlm {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;       /* curl's timeout */
	struct cm_sock *socks;
	struct cm_xfer *xfers;
	int open_handles;       /* uv handles not yet closed */
	int busy;               /* inside a dispatch: teardown deferred */
	bool closing, torn_down;
	curlm_close_cb close_cb;
	void *close_arg;
};

/* ---- teardown ---- */

static void maybe_free(struct curlm *m)
{
	if (!m->torn_down || m->open_handles > 0)
		return;
	curlm_close_cb cb = m->close_cb;
	void *arg = m->close_arg;
	free(m);
	if (cb)
		cb(arg);
}

static void timer_closed(uv_handle_t *h)
{
	struct curlm *m = h->data;
	m->open_handles--;
	maybe_free(m);
}

static void sock_closed(uv_handle_t *h)
{
	struct cm_sock *s = (struct cm_sock *)h;
	struct curlm *m = s->m;
	free(s);
	m->open_handles--;
	maybe_free(m);
}

static void sock_close(struct cm_sock *s)
{
	struct curlm *m = s->m;
	for (struct cm_sock **pp = &m->socks; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* Unlinks the transfer of easy; NULL if there is none. */
static struct cm_xfer *xfer_take(struct curlm *m, CURL *easy)
{
	for (struct cm_xfer **pp = &m->xfers; *pp; pp = &(*pp)->next)
		if ((*pp)->easy == easy) {
			struct cm_xfer *x = *pp;
			*pp = x->next;
			return x;
		}
	return NULL;
}

static void finish(struct curlm *m, struct cm_xfer *x, CURLcode rc)
{
	curl_multi_remove_handle(m->multi, x->easy);
	curlm_done_cb done = x->done;
	CURL *easy = x->easy;
	void *arg = x->arg;
	free(x);
	if (done)
		done(easy, rc, arg);
}

static void teardown(struct curlm *m)
{
	m->busy++;
	while (m->xfers) {
		struct cm_xfer *x = m->xfers;
		m->xfers = x->next;
		finish(m, x, CURLE_ABORTED_BY_CALLBACK);
	}
	m->busy--;
	m->torn_down = true;    /* from here curl's callbacks only release sockets */
	curl_multi_cleanup(m->multi);   /* may report CURL_POLL_REMOVE for cached connections */
	m->multi = NULL;
	while (m->socks)
		sock_close(m->socks);
	uv_timer_stop(&m->timer);
	uv_close((uv_handle_t *)&m->timer, timer_closed);
}

static void leave(struct curlm *m)
{
	if (--m->busy == 0 && m->closing && !m->torn_down)
		teardown(m);
}

void curlm_close(struct curlm *m, curlm_close_cb cb, void *arg)
{
	if (!m || m->closing)
		return;
	m->closing = true;
	m->close_cb = cb;
	m->close_arg = arg;
	if (m->busy == 0)
		teardown(m);
}

/* ---- curl <-> uv ---- */

static void check_done(struct curlm *m)
{
	CURLMsg *msg;
	int left;
	while (!m->torn_down && (msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode rc = msg->data.result;
		struct cm_xfer *x = xfer_take(m, msg->easy_handle);
		if (x)
			finish(m, x, rc);       /* msg is invalid from here */
	}
}

static void on_timeout(uv_timer_t *t)
{
	struct curlm *m = t->data;
	int running;
	m->busy++;
	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(m);
	leave(m);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct curlm *m = userp;
	if (m->torn_down)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&m->timer);
	else    /* 0: on the next loop iteration, never from inside curl */
		uv_timer_start(&m->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct cm_sock *s = (struct cm_sock *)h;
	struct curlm *m = s->m;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	m->busy++;
	curl_multi_socket_action(m->multi, s->fd, flags, &running);
	check_done(m);
	leave(m);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	struct curlm *m = userp;
	struct cm_sock *s = socketp;
	if (what == CURL_POLL_REMOVE || m->torn_down) {
		if (s) {
			if (!m->torn_down)
				curl_multi_assign(m->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		if (uv_poll_init_socket(m->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->m = m;
		s->fd = fd;
		s->next = m->socks;
		m->socks = s;
		m->open_handles++;
		curl_multi_assign(m->multi, fd, s);
	}
	int ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

/* ---- API ---- */

int curlm_new(uv_loop_t *loop, struct curlm **out)
{
	*out = NULL;
	if (!loop)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* ref-counted; cheap after the first */
		return -ENOMEM;
	struct curlm *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->multi = curl_multi_init();
	if (!m->multi) {
		free(m);
		return -ENOMEM;
	}
	m->loop = loop;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	m->open_handles = 1;
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	*out = m;
	return 0;
}

int curlm_add(struct curlm *m, CURL *easy, curlm_done_cb done, void *arg)
{
	if (m->closing)
		return -ECANCELED;
	if (!easy)
		return -EINVAL;
	for (struct cm_xfer *x = m->xfers; x; x = x->next)
		if (x->easy == easy)
			return -EEXIST;
	struct cm_xfer *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	CURLMcode mc = curl_multi_add_handle(m->multi, easy);
	if (mc != CURLM_OK) {
		free(x);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	x->next = m->xfers;
	m->xfers = x;
	return 0;
}

int curlm_remove(struct curlm *m, CURL *easy)
{
	struct cm_xfer *x = m->torn_down ? NULL : xfer_take(m, easy);
	if (!x)
		return -ENOENT;
	curl_multi_remove_handle(m->multi, easy);
	free(x);
	return 0;
}
