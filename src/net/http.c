#include "config.h"

#include "net/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#define IN_CAP 16384              /* unparsed input; the parser streams, so this only bounds one read */
#define WRITE_QUEUE_MAX (1u << 20) /* a pipelining client that does not read stalls here */
#define LINGER_MS 2000            /* after our FIN, read and discard this long (RFC 9112 9.6) */
#define CTYPE_MAX 128
#define DEFAULT_CTYPE "text/plain; charset=utf-8"

struct http_response {
	int status;
	char ctype[CTYPE_MAX];
	char *body;
	size_t len, cap;
	bool oom;
};

struct http_conn {
	uv_tcp_t tcp; /* first: the handle casts back to the connection */
	uv_timer_t timer;     /* request/idle timeout, then the linger time */
	uv_shutdown_t shutdown;
	struct http_server *srv;
	struct http_conn *next, **pprev;
	http_parser parser;
	int open_handles;
	bool refused;   /* over max_conns: answered 503, not counted in conns */
	bool reading;
	bool stalled;   /* input left unparsed while the write queue drains */
	bool finishing; /* no more requests: FIN after the queued writes, then linger */
	bool shut_done; /* our FIN is out: lingering */
	bool closing;   /* uv_close called */
	bool peer_eof;
	/* the request being parsed */
	bool headers_done, keep_alive, body_too_large;
	size_t head_bytes, body_bytes;
	size_t url_len;
	char *url;      /* max_head bytes */
	size_t in_off, in_len;
	char in[IN_CAP];
};

struct http_server {
	uv_tcp_t listener;
	uv_loop_t *loop;
	const struct http_route *routes;
	size_t nroutes;
	void *arg;
	unsigned max_conns;
	uint32_t idle_ms;
	size_t max_head;
	http_parser_settings settings;
	struct http_conn *conns;
	bool listener_open;
	bool closing;
	void (*closed_cb)(void *);
	void *closed_arg;
	struct http_server_stats stats;
};

struct wreq {
	uv_write_t req;
	struct http_conn *c;
	char *head, *body;
};

/* ---- response builder ---- */

void http_response_status(struct http_response *r, int status)
{
	if (status >= 100 && status <= 999)
		r->status = status;
}

void http_response_type(struct http_response *r, const char *content_type)
{
	size_t n = strlen(content_type);
	/* a header value: no CR/LF (response splitting), bounded */
	if (n == 0 || n >= CTYPE_MAX || strpbrk(content_type, "\r\n"))
		return;
	memcpy(r->ctype, content_type, n + 1);
}

static int reserve(struct http_response *r, size_t more)
{
	if (r->len + more <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap : 1024;
	while (cap < r->len + more)
		cap *= 2;
	char *b = realloc(r->body, cap);
	if (!b) {
		r->oom = true;
		return -ENOMEM;
	}
	r->body = b;
	r->cap = cap;
	return 0;
}

int http_response_append(struct http_response *r, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (reserve(r, len) < 0)
		return -ENOMEM;
	memcpy(r->body + r->len, data, len);
	r->len += len;
	return 0;
}

int http_response_printf(struct http_response *r, const char *fmt, ...)
{
	va_list ap;
	char tmp[256];

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(tmp))
		return http_response_append(r, tmp, (size_t)n);
	if (reserve(r, (size_t)n + 1) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(r->body + r->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->len += (size_t)n;
	return 0;
}

void http_response_adopt(struct http_response *r, char *data, size_t len)
{
	free(r->body);
	r->body = data;
	r->len = r->cap = len;
}

/* ---- connection lifetime ---- */

static void maybe_finish_close(struct http_server *s)
{
	if (!s->closing || s->listener_open || s->conns)
		return;
	void (*cb)(void *) = s->closed_cb;
	void *arg = s->closed_arg;
	free(s);
	if (cb)
		cb(arg);
}

static void conn_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct http_server *s = c->srv;

	if (--c->open_handles > 0)
		return;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	if (!c->refused)
		s->stats.conns--;
	free(c->url);
	free(c);
	maybe_finish_close(s);
}

static void conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void on_timer(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	if (!c->finishing)
		c->srv->stats.timeouts++;
	conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;
	if (c->closing)
		return;
	/* A refused connection does not linger: bounded work under a flood. */
	if (status < 0 || c->peer_eof || c->refused) {
		conn_close(c);
		return;
	}
	c->shut_done = true;
	/* Closing now with unread request bytes would send a RST that can
	 * destroy our last response in the client's buffers; wait for its FIN. */
	uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
}

static void read_stop(struct http_conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void read_start(struct http_conn *c);
static void process(struct http_conn *c);

/* No further requests: the queued responses go out, then FIN, then close. */
static void conn_finish(struct http_conn *c)
{
	if (c->finishing || c->closing)
		return;
	c->finishing = true;
	c->stalled = false;
	c->in_off = c->in_len = 0;
	/* bounds the wait for the queued writes (a peer that does not read) */
	uv_timer_start(&c->timer, on_timer, c->srv->idle_ms, 0);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		conn_close(c);
		return;
	}
	if (!c->peer_eof && !c->refused)
		read_start(c); /* to discard, see on_shutdown */
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct http_conn *c = w->c;
	free(w->head);
	free(w->body);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->stalled && !c->finishing &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= WRITE_QUEUE_MAX / 2) {
		c->stalled = false;
		process(c);
		if (!c->closing && !c->finishing && !c->stalled) {
			if (c->peer_eof)
				conn_finish(c);
			else
				read_start(c);
		}
	}
}

/* Queues one response; takes `body` (malloc'ed or NULL). */
static void send_response(struct http_conn *c, int status, const char *ctype, char *body, size_t len,
			  bool head_only, bool last, const char *extra)
{
	struct wreq *w = malloc(sizeof(*w));
	char *hdr = malloc(512);
	int n;

	if (!w || !hdr) {
		free(w);
		free(hdr);
		free(body);
		conn_close(c);
		return;
	}
	const char *conn_hdr = "";
	if (last)
		conn_hdr = "Connection: close\r\n";
	else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
		conn_hdr = "Connection: keep-alive\r\n"; /* HTTP/1.0 keep-alive is opt-in both ways */
	n = snprintf(hdr, 512,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
		     status, http_status_str((enum http_status)status), ctype, len, extra ? extra : "", conn_hdr);
	if (n < 0 || n >= 512) {
		free(w);
		free(hdr);
		free(body);
		conn_close(c);
		return;
	}
	w->c = c;
	w->head = hdr;
	w->body = body;
	uv_buf_t bufs[2] = {uv_buf_init(hdr, (unsigned)n), uv_buf_init(body, (unsigned)len)};
	unsigned nbufs = head_only || len == 0 ? 1 : 2;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nbufs, on_written) < 0) {
		free(w->head);
		free(w->body);
		free(w);
		conn_close(c);
	}
}

/* An error answer that ends the connection. */
static void send_error(struct http_conn *c, int status)
{
	const char *reason = http_status_str((enum http_status)status);
	size_t len = strlen(reason) + 1;
	char *body = malloc(len + 1);
	if (body)
		snprintf(body, len + 1, "%s\n", reason);
	else
		len = 0;
	c->srv->stats.requests++;
	c->srv->stats.bad += status == 400 || status == 413 || status == 431;
	send_response(c, status, DEFAULT_CTYPE, body, len, false, true, NULL);
	conn_finish(c);
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;
	c->url_len = 0;
	c->body_bytes = 0;
	c->headers_done = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (len > c->srv->max_head - c->url_len) /* cannot happen within max_head; be safe */
		return -1;
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	c->headers_done = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	c->body_bytes += len;
	if (c->body_bytes > c->srv->max_head) {
		c->body_too_large = true;
		return -1;
	}
	return 0; /* no route takes a body: discard it */
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	c->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	/* Stop here so the request is answered before the next one is parsed:
	 * execute() returns the bytes of this message only. */
	http_parser_pause(p, 1);
	return 0;
}

/* ---- requests ---- */

static const struct http_route *route_find(const struct http_server *s, const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return &s->routes[i];
	return NULL;
}

static void handle_request(struct http_conn *c)
{
	struct http_server *s = c->srv;
	http_parser *p = &c->parser;
	struct http_parser_url u;
	struct http_request req = {0};
	struct http_response r = {.status = 200, .ctype = DEFAULT_CTYPE};
	bool last = !c->keep_alive;
	const char *extra = NULL;
	char path[512];
	char query[512];

	if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
		r.status = 405;
		extra = "Allow: GET, HEAD\r\n";
	} else {
		http_parser_url_init(&u);
		if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0) {
			send_error(c, 400);
			return;
		}
		const char *ps = "/";
		size_t pl = 1;
		if (u.field_set & (1 << UF_PATH)) {
			ps = c->url + u.field_data[UF_PATH].off;
			pl = u.field_data[UF_PATH].len;
		}
		if (ps[0] != '/') { /* "*" (asterisk-form) names no resource */
			send_error(c, 400);
			return;
		}
		size_t ql = u.field_set & (1 << UF_QUERY) ? u.field_data[UF_QUERY].len : 0;
		if (pl >= sizeof(path))
			pl = sizeof(path) - 1; /* longer than any route: still a 404 */
		if (ql >= sizeof(query))
			ql = sizeof(query) - 1;
		memcpy(path, ps, pl);
		path[pl] = '\0';
		if (ql)
			memcpy(query, c->url + u.field_data[UF_QUERY].off, ql);
		query[ql] = '\0';

		const struct http_route *rt = route_find(s, path);
		if (!rt) {
			r.status = 404;
		} else {
			req.method = http_method_str((enum http_method)p->method);
			req.head = p->method == HTTP_HEAD;
			req.path = path;
			req.query = query;
			req.http_major = p->http_major;
			req.http_minor = p->http_minor;
			rt->fn(s->arg, &req, &r);
			if (r.oom) {
				free(r.body);
				r = (struct http_response){.status = 500, .ctype = DEFAULT_CTYPE};
			}
		}
	}
	if (r.status != 200 && r.len == 0 && !r.body) {
		const char *reason = http_status_str((enum http_status)r.status);
		if (http_response_printf(&r, "%s\n", reason) < 0)
			r.len = 0;
	}
	s->stats.requests++;
	send_response(c, r.status, r.ctype, r.body, r.len, p->method == HTTP_HEAD, last, extra);
}

static void reset_message(struct http_conn *c)
{
	c->head_bytes = 0;
	c->headers_done = false;
	c->body_bytes = 0;
	c->url_len = 0;
}

/* Feeds buffered input to the parser and answers complete requests, in
 * order, until the input is used up, the connection ends, or the write
 * queue is too long (then it stalls with the rest kept in `in`). */
static void process(struct http_conn *c)
{
	struct http_server *s = c->srv;

	while (!c->closing && !c->finishing && c->in_off < c->in_len) {
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
			c->stalled = true;
			read_stop(c);
			return;
		}
		size_t avail = c->in_len - c->in_off, n = avail;
		if (!c->headers_done) {
			/* never let the parser see more head than allowed */
			if (c->head_bytes >= s->max_head) {
				send_error(c, 431);
				return;
			}
			if (n > s->max_head - c->head_bytes)
				n = s->max_head - c->head_bytes;
		}
		bool was_done = c->headers_done;
		size_t used = http_parser_execute(&c->parser, &s->settings, c->in + c->in_off, n);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (!was_done && !c->headers_done)
			c->head_bytes += used;
		c->in_off += used;
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			handle_request(c);
			if (c->closing || c->finishing)
				return;
			if (!c->keep_alive) {
				conn_finish(c);
				return;
			}
			reset_message(c);
			uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
		} else if (e != HPE_OK) {
			send_error(c, c->body_too_large ? 413 : 400);
			return;
		} else if (used < n) {
			send_error(c, 400); /* not expected without an error; do not spin */
			return;
		}
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct http_conn *c = h->data;
	if (c->in_off > 0 && c->in_off < c->in_len)
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
	c->in_len -= c->in_off;
	c->in_off = 0;
	*b = uv_buf_init(c->in + c->in_len, (unsigned)(IN_CAP - c->in_len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct http_conn *c = (struct http_conn *)st;

	if (c->closing)
		return;
	if (nread == UV_EOF) {
		c->peer_eof = true;
		read_stop(c);
		if (c->finishing) {
			if (c->shut_done) /* else on_shutdown closes once our writes are out */
				conn_close(c);
			return;
		}
		if (!c->stalled) /* a partial request can never complete */
			conn_finish(c);
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (c->finishing) { /* lingering: discard */
		c->in_off = c->in_len = 0;
		return;
	}
	c->in_len += (size_t)nread;
	process(c);
}

static void read_start(struct http_conn *c)
{
	if (!c->reading && !c->closing && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *s = (struct http_server *)server;
	struct http_conn *c;

	if (status < 0 || s->closing)
		return;
	if (!(c = calloc(1, sizeof(*c))))
		return;
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	c->refused = s->stats.conns >= s->max_conns;
	if (!c->refused)
		s->stats.conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (c->refused) {
		s->stats.refused++;
		send_response(c, 503, DEFAULT_CTYPE, NULL, 0, false, true, NULL);
		conn_finish(c);
		return;
	}
	s->stats.accepted++;
	if (!(c->url = malloc(s->max_head))) {
		conn_close(c);
		return;
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	uv_timer_start(&c->timer, on_timer, s->idle_ms, 0);
	read_start(c);
}

/* ---- server ---- */

static void listener_closed(uv_handle_t *h)
{
	struct http_server *s = (struct http_server *)h;
	s->listener_open = false;
	maybe_finish_close(s);
}

/* "HOST:PORT", "[V6]:PORT"; "*" or an empty host is every IPv4 address. */
static int parse_listen(const char *v, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[64];
	const char *colon, *hs = v;
	size_t hl;
	long port = 0;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		hs = v + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		if (!(colon = strrchr(v, ':')))
			goto bad;
		hl = (size_t)(colon - v);
	}
	if (hl >= sizeof(host) || !colon[1] || strlen(colon + 1) > 5)
		goto bad;
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		goto bad;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (hl == 0 || strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	else if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (v[0] == '[' ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0
			: uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
bad:
	snprintf(err, errlen, "http.listen: expected IPV4:PORT or [IPV6]:PORT with a numeric address, got \"%s\"",
		 v);
	return -EINVAL;
}

int http_server_new(uv_loop_t *loop, const struct http_server_opts *o, struct http_server **out, char *err,
		    size_t errlen)
{
	struct sockaddr_storage ss;
	struct http_server *s;
	int rc;

	if (!o->listen || (o->nroutes && !o->routes)) {
		snprintf(err, errlen, "http: no listen address or routes");
		return -EINVAL;
	}
	if ((rc = parse_listen(o->listen, &ss, err, errlen)) < 0)
		return rc;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->loop = loop;
	s->routes = o->routes;
	s->nroutes = o->nroutes;
	s->arg = o->arg;
	s->max_conns = o->max_conns ? o->max_conns : 64;
	s->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 30000;
	s->max_head = o->max_head ? o->max_head : 8192;
	http_parser_settings_init(&s->settings);
	s->settings.on_message_begin = on_message_begin;
	s->settings.on_url = on_url;
	s->settings.on_headers_complete = on_headers_complete;
	s->settings.on_body = on_body;
	s->settings.on_message_complete = on_message_complete;
	uv_tcp_init(loop, &s->listener);
	s->listener_open = true;
	if ((rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) < 0) {
		snprintf(err, errlen, "http.listen %s: %s", o->listen, uv_strerror(rc));
		s->closing = true; /* freed by listener_closed when the loop runs */
		uv_close((uv_handle_t *)&s->listener, listener_closed);
		return rc;
	}
	*out = s;
	return 0;
}

int http_server_port(const struct http_server *s)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) < 0)
		return -EINVAL;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EINVAL;
}

void http_server_close(struct http_server *s, void (*cb)(void *arg), void *arg)
{
	s->closing = true;
	s->closed_cb = cb;
	s->closed_arg = arg;
	for (struct http_conn *c = s->conns; c; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&s->listener, listener_closed);
}

void http_server_stats(const struct http_server *s, struct http_server_stats *out)
{
	*out = s->stats;
}
