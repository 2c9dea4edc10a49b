/* client.h - the control client used by torghutctl and the tests. It blocks
 * (with a timeout): it never runs inside the daemon's loop. */
#pragma once

#include <stdio.h>

#include <jansson.h>

/* Connects to `path`, sends `req` as one line and reads one reply line.
 * Returns 0 with *reply set (caller decrefs), or -errno with a message. */
int ctl_client_call(const char *path, json_t *req, int timeout_ms, json_t **reply, char *err, size_t errlen);

void ctl_client_print_json(FILE *f, json_t *reply);
/* `key: value` lines, nested objects indented, the error on one line. */
void ctl_client_print_human(FILE *f, json_t *reply);
