/* Confluent/Karapace schema registry client on the loop: libcurl's multi
 * interface driven by uv_poll/uv_timer, so no call ever blocks the loop.
 * Every operation is asynchronous; its callback runs on the loop thread with
 * a result that is valid only during the callback. Failed attempts (connection
 * errors, timeouts, HTTP 5xx/429) are retried with exponential backoff. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct registry;

struct registry_opts {
	const char *url;      /* base URL, e.g. "https://registry:8081" (required) */
	const char *user;     /* basic auth; NULL for none */
	const char *password;
	const char *ca_file;  /* CA bundle for https; NULL for the system default */
	long timeout_ms;      /* per attempt; 0 = 10000 */
	long connect_timeout_ms; /* 0 = min(timeout, 5000) */
	int max_retries;      /* retries after the first attempt; < 0 = 3 */
	long backoff_ms;      /* first retry delay, doubled per retry (+-25 % jitter); 0 = 200 */
	long backoff_max_ms;  /* cap; 0 = 5000 */
};

/* Error classes; registry_err_class() gives the stable string. */
enum registry_err {
	REGISTRY_OK = 0,
	REGISTRY_E_UNREACHABLE,  /* "schema_registry_unreachable" */
	REGISTRY_E_TIMEOUT,      /* "schema_registry_timeout" */
	REGISTRY_E_TLS,          /* "schema_registry_tls" */
	REGISTRY_E_AUTH,         /* "schema_registry_auth" (401/403) */
	REGISTRY_E_NOT_FOUND,    /* "schema_not_found" (404: subject, version, schema) */
	REGISTRY_E_INCOMPATIBLE, /* "schema_incompatible" (409, or a check said no) */
	REGISTRY_E_INVALID,      /* "schema_invalid" (422, other 4xx) */
	REGISTRY_E_SERVER,       /* "schema_registry_error" (5xx after the retries) */
	REGISTRY_E_PROTOCOL,     /* "schema_registry_protocol" (unparsable answer) */
	REGISTRY_E_CANCELLED,    /* "schema_registry_cancelled" (registry closed) */
};

const char *registry_err_class(enum registry_err e);

/* The schema language of a subject's versions. The registry defaults to
 * Avro when a request or answer carries no schemaType. */
enum registry_type { REGISTRY_AVRO = 0, REGISTRY_JSON };

/* "AVRO", "JSON". */
const char *registry_type_name(enum registry_type t);

/* The body of lookup, register and check: {"schema": text} for Avro (the
 * registry's default, so schemaType is left out), {"schema": text,
 * "schemaType": "JSON"} for JSON Schema. NULL for a NULL schema or on ENOMEM;
 * free() it. Public so the request bodies can be tested without a socket. */
char *registry_schema_body(enum registry_type t, const char *schema);

#define REGISTRY_MAX_VERSIONS 64

struct registry_result {
	int rc;                 /* 0, or -ENOENT, -EINVAL, -ETIMEDOUT, -ECONNREFUSED,
				   -EACCES, -EIO, -EPROTO, -ECANCELED, -ENOMEM */
	enum registry_err err;
	const char *err_class;  /* registry_err_class(err) */
	long http_status;       /* last attempt; 0 when no HTTP answer */
	int error_code;         /* registry error_code (40401, 409, 42201...), 0 if none */
	const char *message;    /* registry message(s) or transport error; "" if none */
	int attempts;
	int id;                 /* lookup, register, get_version: schema id; else -1 */
	int version;            /* lookup, get_version: subject version; else -1 */
	bool compatible;        /* check: the registry's verdict */
	const char *level;      /* get_config/set_config: "BACKWARD"... */
	const char *schema;     /* get_version: the schema text */
	const char *schema_type; /* lookup, get_version: the answer's schemaType,
				    "AVRO" when the answer has none; else NULL */
	int versions[REGISTRY_MAX_VERSIONS]; /* versions(): ascending */
	int n_versions;
};

typedef void (*registry_cb)(struct registry *r, const struct registry_result *res, void *arg);

/* Options are copied. Returns 0 or -EINVAL/-ENOMEM. */
int registry_new(struct registry **out, uv_loop_t *loop, const struct registry_opts *o);
/* Cancels pending operations (their callbacks run with -ECANCELED, possibly
 * from within this call), then frees everything once the handles are closed;
 * `done` (may be NULL) runs after that. Safe to call from a callback. */
void registry_close(struct registry *r, void (*done)(void *arg), void *arg);
/* Operations in flight or waiting to retry. */
int registry_pending(const struct registry *r);

/* The three calls below send `schema` as type `type` (registry_schema_body).
 *
 * POST /subjects/{subject}: id and version of an already registered schema
 * (the registry matches text and type); -ENOENT (schema_not_found) when the
 * subject or the schema is unknown. */
int registry_lookup(struct registry *r, const char *subject, enum registry_type type,
		    const char *schema, registry_cb cb, void *arg);
/* POST /subjects/{subject}/versions: id (existing one if already there);
 * -EINVAL with schema_incompatible and the registry's message when refused. */
int registry_register(struct registry *r, const char *subject, enum registry_type type,
		      const char *schema, registry_cb cb, void *arg);
/* POST /compatibility/subjects/{subject}/versions/latest?verbose=true:
 * rc 0 with compatible set (and err = schema_incompatible plus the registry's
 * messages when false); -ENOENT when the subject has no version yet. */
int registry_check(struct registry *r, const char *subject, enum registry_type type,
		   const char *schema, registry_cb cb, void *arg);
/* GET /subjects/{subject}/versions. */
int registry_versions(struct registry *r, const char *subject, registry_cb cb, void *arg);
/* GET /subjects/{subject}/versions/{version}; version <= 0 means "latest". */
int registry_get_version(struct registry *r, const char *subject, int version,
			 registry_cb cb, void *arg);
/* GET /config/{subject}: the subject's compatibility level. */
int registry_get_config(struct registry *r, const char *subject, registry_cb cb, void *arg);
/* PUT /config/{subject} {"compatibility": level}, e.g. "BACKWARD". */
int registry_set_config(struct registry *r, const char *subject, const char *level,
			registry_cb cb, void *arg);
