/* server.h - the control socket on the loop (a Unix stream socket).
 *
 * Owns the listening pipe and the client connections; reads request lines,
 * checks the peer's access, and dispatches to the command table the owner
 * gives. Handlers may answer later (a checkpoint, a profile switch): a client
 * reads no further request until its pending call is answered, so replies
 * stay in request order. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "ctl/access.h"

struct ctl_server;
struct ctl_call;

/* `req` is borrowed for the duration of the handler call. The handler must
 * eventually answer the call exactly once with ctl_call_reply/_fail. */
typedef void (*ctl_handler_fn)(void *arg, struct ctl_call *call, json_t *req);

struct ctl_command {
	const char *name;
	bool mutating; /* needs CTL_ACCESS_ALL */
	ctl_handler_fn fn;
};

struct ctl_server_opts {
	const char *path;
	const struct ctl_command *commands;
	size_t ncommands;
	void *arg;
	uid_t daemon_uid; /* usually geteuid() */
};

/* Binds and listens. Refuses (-EADDRINUSE) when another daemon answers on the
 * path; removes a stale socket file left by a crash. `err` gets a reason. */
int ctl_server_new(uv_loop_t *loop, const struct ctl_server_opts *o, struct ctl_server **out, char *err,
		   size_t errlen);
/* Closes the listener and every client, removes the socket file, and calls
 * `cb` once all handles are closed (the server is freed then). */
void ctl_server_close(struct ctl_server *s, void (*cb)(void *arg), void *arg);

/* `fields` (may be NULL) is consumed. */
void ctl_call_reply(struct ctl_call *call, json_t *fields);
void ctl_call_fail(struct ctl_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum ctl_access ctl_call_access(const struct ctl_call *call);

struct ctl_server_stats {
	unsigned long accepted, refused, requests, errors;
	unsigned clients;
};
void ctl_server_stats(const struct ctl_server *s, struct ctl_server_stats *out);
