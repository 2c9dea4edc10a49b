/* proto.h - the control protocol, shared by torghutd and torghutctl.
 *
 * One JSON object per line each way (socat-friendly). Request:
 * {"cmd":"status"} with optional "v" (protocol version) and arguments.
 * Reply: {"ok":true,"v":1,...} or {"ok":false,"v":1,"error":"..."}. */
#pragma once

#include <stddef.h>

#include <jansson.h>

#define CTL_PROTO_VERSION 1
#define CTL_LINE_MAX 65536 /* a request line longer than this is refused */

/* Parses one request line (without the newline). On success returns 0, sets
 * *req (caller decrefs) and *cmd (points into *req). On failure returns
 * -EINVAL and writes a reason for the peer into err. */
int ctl_proto_parse_request(const char *line, size_t n, json_t **req, const char **cmd, char *err,
			    size_t errlen);

/* Serializes a reply line (with trailing newline). `fields` may be NULL and
 * is consumed. Returns a malloc'd string, or NULL on allocation failure. */
char *ctl_proto_reply_ok(json_t *fields, size_t *len);
char *ctl_proto_reply_error(const char *msg, size_t *len);

/* Builds a request from command-line words: `subscribe NVDA AAPL`,
 * `log-level debug`, `profile low-latency`, `savepoint /dir`. Returns the
 * request (caller decrefs) or NULL with a usage message in err. */
json_t *ctl_proto_request_from_argv(int argc, char *const *argv, char *err, size_t errlen);
