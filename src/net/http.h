/* http.h - a small HTTP/1.1 server on the loop for /metrics, /healthz and
 * /readyz (http.listen).
 *
 * Requests are parsed by http-parser (libhttp-parser); the owner gives a
 * route table (exact path -> handler) and each handler fills a response
 * synchronously. GET and HEAD only (405 otherwise), 404 for an unknown path,
 * 400 for a malformed request, 431 when the request head exceeds max_head,
 * 413 for a body (which these routes never take) over max_head; each of
 * those errors closes the connection. Keep-alive and pipelining: responses
 * go out in request order; "Connection: close" and HTTP/1.0 without
 * keep-alive are honoured. A connection gets idle_timeout_ms for each whole
 * request (also a slow-sender guard); past max_conns a new connection gets
 * 503 and is closed.
 *
 * Lifetime: every connection handle is embedded in its connection and freed
 * in its close callback; http_server_close() calls back once the listener
 * and every connection are closed, then frees the server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct http_server;
struct http_response;

struct http_request {
	const char *method; /* "GET" or "HEAD" */
	bool head;          /* HEAD: the body is measured, not sent */
	const char *path;   /* NUL-terminated, not decoded, without the query */
	const char *query;  /* after '?', "" without one */
	unsigned short http_major, http_minor;
};

/* Sets the status (default 200) and Content-Type (default text/plain). */
void http_response_status(struct http_response *r, int status);
void http_response_type(struct http_response *r, const char *content_type);
/* Appends to the body; 0 or -ENOMEM (then the client gets a 500). */
int http_response_append(struct http_response *r, const void *data, size_t len);
int http_response_printf(struct http_response *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the body with a malloc'ed buffer the response takes over. */
void http_response_adopt(struct http_response *r, char *data, size_t len);

typedef void (*http_handler_fn)(void *arg, const struct http_request *req, struct http_response *resp);

struct http_route {
	const char *path; /* exact match, e.g. "/metrics" */
	http_handler_fn fn;
};

struct http_server_opts {
	const char *listen; /* "HOST:PORT" (numeric IPv4, or [IPv6]); port 0 picks a free port */
	const struct http_route *routes;
	size_t nroutes;
	void *arg;                /* passed to every handler */
	unsigned max_conns;       /* 0 means 64 */
	uint32_t idle_timeout_ms; /* 0 means 30000 */
	size_t max_head;          /* request line + headers; 0 means 8192 */
};

/* Binds and listens (may block only in bind, like the control socket). 0, or
 * -EINVAL (a bad listen address, err says why) or a negative uv code. */
int http_server_new(uv_loop_t *loop, const struct http_server_opts *o, struct http_server **out, char *err,
		    size_t errlen);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Closes the listener and every connection (responses not yet written are
 * dropped), then calls cb(arg) and frees the server. */
void http_server_close(struct http_server *s, void (*cb)(void *arg), void *arg);

struct http_server_stats {
	unsigned long accepted;  /* connections */
	unsigned long refused;   /* over max_conns */
	unsigned long requests;  /* complete requests answered, errors included */
	unsigned long bad;       /* 400, 413 and 431 */
	unsigned long timeouts;  /* connections closed by the idle timeout */
	unsigned conns;          /* open now */
};
void http_server_stats(const struct http_server *s, struct http_server_stats *out);
