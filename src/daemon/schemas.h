/* schemas.h - the schema registry start-up gate: before any record is
 * produced, every subject of this role (<topic>-value, TopicNameStrategy) is
 * resolved to the id of our exact schema: the TA topics' Avro schemas
 * (role ta or all) and the ingest topics' JSON Schemas (role ingest or all;
 * their records stay plain JSON, the subject documents them). If a subject
 * does not hold our schema, it is registered after a successful BACKWARD
 * check when schema.registry.auto-register=true (or for --register-schemas);
 * otherwise start-up is refused with the subject and the reason. A registry
 * that does not answer is retried until the deadline. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "sink/registry.h"

enum schemas_which {
	SCHEMAS_BARS = 0, SCHEMAS_SIGNALS, SCHEMAS_STATUS,             /* TA, Avro */
	SCHEMAS_TRADES, SCHEMAS_QUOTES, SCHEMAS_BARS_1M, SCHEMAS_RAW_STATUS, /* ingest, JSON Schema */
	SCHEMAS_COUNT
};

enum schemas_state { SCHEMAS_RESOLVING = 0, SCHEMAS_READY, SCHEMAS_FAILED };

/* Error classes counted per registry_err (REGISTRY_E_*); [0] unused. */
#define SCHEMAS_ERR_COUNT (REGISTRY_E_CANCELLED + 1)

struct schemas;
/* status 0, or -ENOENT (not registered, no auto-register), -EPERM
 * (incompatible, refused), -ETIMEDOUT (registry unreachable past the
 * deadline); why names the subject. */
typedef void (*schemas_done_fn)(void *arg, int status, const char *why);

int schemas_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct schemas **out, char *err,
		size_t errlen);
int schemas_resolve(struct schemas *s, bool force_register, int64_t deadline_ms, schemas_done_fn cb, void *arg);
/* The subject's schema id; -1 until resolved or when not in this role. */
int32_t schemas_id(const struct schemas *s, enum schemas_which w);
enum schemas_state schemas_state(const struct schemas *s);
/* The error class of the last failed registry call, or NULL. */
const char *schemas_error_class(const struct schemas *s);
/* Failed registry calls of class e since start (a retried call counts once
 * per failure the gate saw; a lookup miss before a registration does not). */
uint64_t schemas_errors(const struct schemas *s, enum registry_err e);
/* For `status` and /readyz: state, the last error class, subject ids,
 * errors by class (non-zero ones). */
json_t *schemas_status_json(const struct schemas *s);
/* "<topic>-value", or NULL when the subject is not in this role. */
const char *schemas_subject(const struct schemas *s, enum schemas_which w);
void schemas_close(struct schemas *s, void (*cb)(void *arg), void *arg);
