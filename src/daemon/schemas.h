/* schemas.h - the schema registry start-up gate: before any TA record is
 * produced, every TA subject (<topic>-value, TopicNameStrategy) is resolved
 * to the id of our exact schema. If the subject does not hold it, the schema
 * is registered after a successful BACKWARD check when
 * schema.registry.auto-register=true (or for --register-schemas); otherwise
 * start-up is refused with the subject and the reason. A registry that does
 * not answer is retried until the deadline. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"

enum schemas_which { SCHEMAS_BARS = 0, SCHEMAS_SIGNALS, SCHEMAS_STATUS, SCHEMAS_COUNT };

struct schemas;
/* status 0, or -ENOENT (not registered, no auto-register), -EPERM
 * (incompatible, refused), -ETIMEDOUT (registry unreachable past the
 * deadline); why names the subject. */
typedef void (*schemas_done_fn)(void *arg, int status, const char *why);

int schemas_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct schemas **out, char *err,
		size_t errlen);
int schemas_resolve(struct schemas *s, bool force_register, int64_t deadline_ms, schemas_done_fn cb, void *arg);
int32_t schemas_id(const struct schemas *s, enum schemas_which w);
/* For `status`: state, the last error class while retrying, subject ids. */
json_t *schemas_status_json(const struct schemas *s);
const char *schemas_subject(const struct schemas *s, enum schemas_which w);
void schemas_close(struct schemas *s, void (*cb)(void *arg), void *arg);
