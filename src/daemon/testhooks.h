/* testhooks.h - control commands that exist only for tests (debug.test-hooks). */
#pragma once

#include <jansson.h>

#include "ctl/server.h"

/* debug-stall {"ms": N}: blocks the loop for N ms (1..60000), then answers.
 * Refused unless the daemon runs with debug.test-hooks = true. */
void testhooks_cmd_stall(void *arg, struct ctl_call *call, json_t *req);
