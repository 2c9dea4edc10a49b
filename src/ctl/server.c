#include "config.h"

#include "ctl/server.h"
#include "ctl/proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WRITE_QUEUE_MAX (4u << 20) /* a client that stops reading is dropped */

struct ctl_client;

struct ctl_call {
	struct ctl_client *client;
};

struct ctl_client {
	uv_pipe_t pipe; /* first member: handle->data not needed for the cast */
	struct ctl_server *srv;
	struct ctl_client *next;
	enum ctl_access access;
	struct ctl_peer peer;
	char *buf;
	size_t len, cap;
	bool busy;       /* a call is pending */
	bool reading;
	bool in_dispatch; /* a handler answering synchronously must not re-enter process_lines */
	bool closing;
	bool handle_closed; /* freed once the pending call (if any) is answered */
	bool close_after_write;
	struct ctl_call call;
};

struct ctl_server {
	uv_pipe_t listener;
	uv_loop_t *loop;
	char *path;
	gid_t sock_gid;
	uid_t daemon_uid;
	const struct ctl_command *commands;
	size_t ncommands;
	void *arg;
	struct ctl_client *clients;
	int open_handles;
	bool closing;
	void (*closed_cb)(void *);
	void *closed_arg;
	struct ctl_server_stats stats;
};

struct wreq {
	uv_write_t req;
	struct ctl_client *client;
	char *data;
};

static void maybe_finish_close(struct ctl_server *s)
{
	if (s->closing && s->open_handles == 0) {
		void (*cb)(void *) = s->closed_cb;
		void *arg = s->closed_arg;
		free(s->path);
		free(s);
		if (cb)
			cb(arg);
	}
}

static void client_free(struct ctl_client *c)
{
	struct ctl_server *s = c->srv;
	free(c->buf);
	free(c);
	s->open_handles--;
	maybe_finish_close(s);
}

static void client_closed(uv_handle_t *h)
{
	struct ctl_client *c = (struct ctl_client *)h;
	struct ctl_server *s = c->srv;
	struct ctl_client **pp;

	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->stats.clients--;
	c->handle_closed = true;
	if (!c->busy) /* else a handler still holds the call: free on its answer */
		client_free(c);
}

static void client_close(struct ctl_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, client_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct ctl_client *c = w->client;
	free(w->data);
	free(w);
	if ((status < 0 || c->close_after_write) && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0)
		client_close(c);
}

static void client_send(struct ctl_client *c, char *line, size_t len)
{
	struct wreq *w;

	if (!line)
		return;
	if (c->closing || uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > WRITE_QUEUE_MAX) {
		free(line);
		client_close(c);
		return;
	}
	w = malloc(sizeof(*w));
	if (!w) {
		free(line);
		client_close(c);
		return;
	}
	w->client = c;
	w->data = line;
	uv_buf_t b = uv_buf_init(line, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
		free(line);
		free(w);
		client_close(c);
	}
}

static void client_send_error(struct ctl_client *c, const char *msg)
{
	size_t len = 0;
	c->srv->stats.errors++;
	char *line = ctl_proto_reply_error(msg, &len); /* sets len: call it first */
	client_send(c, line, len);
}

static void process_lines(struct ctl_client *c);
static void client_start_reading(struct ctl_client *c);

static void call_done(struct ctl_client *c)
{
	c->busy = false;
	if (c->handle_closed) {
		client_free(c);
		return;
	}
	if (c->closing || c->in_dispatch) /* the peer went away, or the caller loops on */
		return;
	process_lines(c);
}

void ctl_call_reply(struct ctl_call *call, json_t *fields)
{
	struct ctl_client *c = call->client;
	size_t len = 0;
	if (!c->closing) {
		char *line = ctl_proto_reply_ok(fields, &len);
		client_send(c, line, len);
	}
	else
		json_decref(fields);
	call_done(c);
}

void ctl_call_fail(struct ctl_call *call, const char *fmt, ...)
{
	struct ctl_client *c = call->client;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->closing)
		client_send_error(c, msg);
	call_done(c);
}

enum ctl_access ctl_call_access(const struct ctl_call *call)
{
	return call->client->access;
}

static void dispatch(struct ctl_client *c, const char *line, size_t n)
{
	struct ctl_server *s = c->srv;
	char err[512];
	const char *cmd;
	json_t *req;

	s->stats.requests++;
	if (ctl_proto_parse_request(line, n, &req, &cmd, err, sizeof(err)) < 0) {
		client_send_error(c, err);
		return;
	}
	const struct ctl_command *k = NULL;
	for (size_t i = 0; i < s->ncommands; i++)
		if (strcmp(s->commands[i].name, cmd) == 0)
			k = &s->commands[i];
	if (!k) {
		snprintf(err, sizeof(err), "unknown command \"%.64s\"", cmd);
		client_send_error(c, err);
	} else if (k->mutating && c->access != CTL_ACCESS_ALL) {
		snprintf(err, sizeof(err),
			 "permission denied: \"%s\" changes the daemon; uid %u may only run read-only commands",
			 k->name, (unsigned)c->peer.uid);
		client_send_error(c, err);
	} else {
		c->busy = true;
		c->call.client = c;
		c->in_dispatch = true;
		k->fn(s->arg, &c->call, req);
		c->in_dispatch = false;
	}
	json_decref(req);
}

/* Handles complete lines until a call is pending or the buffer is drained. */
static void process_lines(struct ctl_client *c)
{
	size_t start = 0;

	while (!c->busy && !c->closing && start < c->len) {
		char *nl = memchr(c->buf + start, '\n', c->len - start);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (c->buf + start));
		if (n > 0)
			dispatch(c, c->buf + start, n);
		start += n + 1;
	}
	if (start > 0) {
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
	}
	if (c->closing)
		return;
	if (c->len > CTL_LINE_MAX) {
		char err[128];
		snprintf(err, sizeof(err), "request line exceeds %d bytes", CTL_LINE_MAX);
		client_send_error(c, err);
		c->close_after_write = true;
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = false;
		return;
	}
	if (c->busy && c->reading) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = false;
	} else if (!c->busy && !c->reading && !c->close_after_write) {
		client_start_reading(c);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ctl_client *c = (struct ctl_client *)h;
	size_t want = c->len + 4096;
	if (want > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8192;
		while (ncap < want)
			ncap *= 2;
		char *nb = realloc(c->buf, ncap);
		if (!nb) {
			*b = uv_buf_init(NULL, 0);
			return;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	*b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct ctl_client *c = (struct ctl_client *)st;

	if (nread < 0) {
		/* EOF: answer what is complete, then close once writes drain. */
		uv_read_stop(st);
		c->reading = false;
		if (c->busy || uv_stream_get_write_queue_size(st) > 0)
			c->close_after_write = true;
		else
			client_close(c);
		return;
	}
	c->len += (size_t)nread;
	process_lines(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ctl_server *s = (struct ctl_server *)server;
	struct ctl_client *c;
	uv_os_fd_t fd;

	if (status < 0 || s->closing)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	uv_pipe_init(s->loop, &c->pipe, 0);
	s->open_handles++;
	s->stats.clients++;
	c->next = s->clients;
	s->clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 || ctl_access_peer(fd, &c->peer) < 0) {
		client_close(c);
		return;
	}
	c->access = ctl_access_decide(&c->peer, s->daemon_uid, s->sock_gid);
	if (c->access == CTL_ACCESS_NONE) {
		char err[256];
		s->stats.refused++;
		snprintf(err, sizeof(err),
			 "permission denied: uid %u is not root, the daemon's user or in the socket's group",
			 (unsigned)c->peer.uid);
		c->close_after_write = true;
		client_send_error(c, err);
		return;
	}
	s->stats.accepted++;
	client_start_reading(c);
}

static void client_start_reading(struct ctl_client *c)
{
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
		c->reading = true;
}

static void listener_closed(uv_handle_t *h)
{
	struct ctl_server *s = (struct ctl_server *)h;
	s->open_handles--;
	maybe_finish_close(s);
}

/* A socket file that nobody answers on is a leftover of a crash. */
static int remove_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 ? -errno : 0;
}

int ctl_server_new(uv_loop_t *loop, const struct ctl_server_opts *o, struct ctl_server **out, char *err,
		   size_t errlen)
{
	struct ctl_server *s;
	struct stat st;
	int rc;

	if (strlen(o->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "%s: the path is too long for a Unix socket", o->path);
		return -ENAMETOOLONG;
	}
	rc = remove_stale(o->path);
	if (rc == -EADDRINUSE) {
		snprintf(err, errlen, "%s: another daemon is answering on this socket", o->path);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot replace the existing file: %s", o->path, strerror(-rc));
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->path = strdup(o->path);
	s->commands = o->commands;
	s->ncommands = o->ncommands;
	s->arg = o->arg;
	s->daemon_uid = o->daemon_uid;
	uv_pipe_init(loop, &s->listener, 0);
	s->open_handles = 1;
	if ((rc = uv_pipe_bind(&s->listener, o->path)) < 0) {
		snprintf(err, errlen, "%s: cannot bind: %s", o->path, uv_strerror(rc));
		goto fail;
	}
	/* 0660: the group may connect (read-only commands), others may not. */
	if (chmod(o->path, 0660) < 0 || stat(o->path, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot set the mode: %s", o->path, strerror(errno));
		goto fail;
	}
	s->sock_gid = st.st_gid;
	if ((rc = uv_listen((uv_stream_t *)&s->listener, 16, on_connection)) < 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", o->path, uv_strerror(rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	unlink(o->path);
	s->closing = true; /* freed by listener_closed when the loop runs */
	uv_close((uv_handle_t *)&s->listener, listener_closed);
	return rc;
}

void ctl_server_close(struct ctl_server *s, void (*cb)(void *arg), void *arg)
{
	s->closing = true;
	s->closed_cb = cb;
	s->closed_arg = arg;
	unlink(s->path);
	for (struct ctl_client *c = s->clients; c; c = c->next) {
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > 0) {
			/* let a last reply (e.g. to `drain`) reach the peer */
			c->close_after_write = true;
			uv_read_stop((uv_stream_t *)&c->pipe);
			c->reading = false;
		} else {
			client_close(c);
		}
	}
	uv_close((uv_handle_t *)&s->listener, listener_closed);
}

void ctl_server_stats(const struct ctl_server *s, struct ctl_server_stats *out)
{
	*out = s->stats;
}
