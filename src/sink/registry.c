/* Schema registry client on curlm (through curlreq): one easy handle per
 * operation, retried in place after a backoff timer. */
#include "config.h"

#include "sink/registry.h"
#include "net/curlreq.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define ANSWER_MAX (16u << 20) /* a registry answer is never this large */

enum reg_op { OP_LOOKUP, OP_REGISTER, OP_CHECK, OP_VERSIONS, OP_GET_VERSION, OP_GET_CONFIG, OP_SET_CONFIG };

struct reg_req {
	struct curlreq http;
	struct registry *r;
	enum reg_op op;
	registry_cb cb;
	void *arg;
};

struct registry {
	struct curlreq_pool pool;
	long backoff_ms, backoff_max_ms;
	int max_retries;
	int pending;
	char url[];       /* the base, without a trailing '/' */
};

static const char *const err_classes[] = {
	[REGISTRY_OK] = "ok",
	[REGISTRY_E_UNREACHABLE] = "schema_registry_unreachable",
	[REGISTRY_E_TIMEOUT] = "schema_registry_timeout",
	[REGISTRY_E_TLS] = "schema_registry_tls",
	[REGISTRY_E_AUTH] = "schema_registry_auth",
	[REGISTRY_E_NOT_FOUND] = "schema_not_found",
	[REGISTRY_E_INCOMPATIBLE] = "schema_incompatible",
	[REGISTRY_E_INVALID] = "schema_invalid",
	[REGISTRY_E_SERVER] = "schema_registry_error",
	[REGISTRY_E_PROTOCOL] = "schema_registry_protocol",
	[REGISTRY_E_CANCELLED] = "schema_registry_cancelled",
};

const char *registry_err_class(enum registry_err e)
{
	if ((unsigned)e >= sizeof(err_classes) / sizeof(err_classes[0]) || !err_classes[e])
		return "schema_registry_error";
	return err_classes[e];
}

int registry_pending(const struct registry *r)
{
	return r->pending;
}

/* ---- close ------------------------------------------------------------- */

static void deliver(struct reg_req *q, struct registry_result *res);

static void req_cancel(void *arg)
{
	struct registry_result res = { .rc = -ECANCELED, .err = REGISTRY_E_CANCELLED,
				       .message = "registry closed", .id = -1, .version = -1 };
	deliver(arg, &res);
}

void registry_close(struct registry *r, void (*done)(void *), void *arg)
{
	if (r)
		curlreq_pool_close(&r->pool, done, arg);
}

/* ---- results ----------------------------------------------------------- */

static void deliver(struct reg_req *q, struct registry_result *res)
{
	struct registry *r = q->r;
	res->err_class = registry_err_class(res->err);
	if (!res->message)
		res->message = "";
	res->attempts = q->http.attempts;
	curlreq_end(&q->http);  /* q stays valid until curlreq frees it, from the loop */
	if (q->cb)
		q->cb(r, res, q->arg);
	r->pending--;
}

/* The registry's error body: {"error_code": 40401, "message": "..."}. */
static void parse_error(json_t *j, struct registry_result *res, char *buf, size_t n)
{
	if (!json_is_object(j))
		return;
	res->error_code = (int)json_integer_value(json_object_get(j, "error_code"));
	const char *m = json_string_value(json_object_get(j, "message"));
	if (m) {
		snprintf(buf, n, "%s", m);
		res->message = buf;
	}
}

/* {"is_compatible": false, "messages": ["...", ...]} -> "a; b". */
static void join_messages(json_t *msgs, char *buf, size_t n)
{
	size_t i, len = 0;
	json_t *m;
	buf[0] = '\0';
	json_array_foreach(msgs, i, m) {
		const char *s = json_is_string(m) ? json_string_value(m) : NULL;
		char *dump = s ? NULL : json_dumps(m, JSON_COMPACT);
		int k = snprintf(buf + len, n - len, "%s%s", len ? "; " : "", s ? s : dump ? dump : "");
		free(dump);
		if (k < 0 || (size_t)k >= n - len)
			break;
		len += (size_t)k;
	}
}

static void finish_http(struct reg_req *q, long status)
{
	struct registry_result res = { .http_status = status, .id = -1, .version = -1 };
	char msg[1024] = "";
	json_error_t je;
	json_t *j = q->http.len ? json_loadb(q->http.body, q->http.len, JSON_DECODE_ANY, &je) : NULL;

	if (status >= 200 && status < 300) {
		switch (q->op) {
		case OP_LOOKUP:
		case OP_REGISTER:
		case OP_GET_VERSION: {
			json_t *id = json_object_get(j, "id");
			if (!json_is_integer(id))
				goto proto;
			res.id = (int)json_integer_value(id);
			json_t *v = json_object_get(j, "version");
			if (json_is_integer(v))
				res.version = (int)json_integer_value(v);
			res.schema = json_string_value(json_object_get(j, "schema"));
			if (q->op != OP_REGISTER) {
				/* Confluent leaves schemaType out for Avro */
				const char *t = json_string_value(json_object_get(j, "schemaType"));
				res.schema_type = t ? t : "AVRO";
			}
			break;
		}
		case OP_CHECK: {
			json_t *c = json_object_get(j, "is_compatible");
			if (!json_is_boolean(c))
				goto proto;
			res.compatible = json_is_true(c);
			if (!res.compatible) {
				res.err = REGISTRY_E_INCOMPATIBLE;
				join_messages(json_object_get(j, "messages"), msg, sizeof(msg));
				res.message = msg;
			}
			break;
		}
		case OP_VERSIONS: {
			if (!json_is_array(j))
				goto proto;
			size_t i;
			json_t *v;
			json_array_foreach(j, i, v) {
				if (!json_is_integer(v))
					goto proto;
				if (res.n_versions < REGISTRY_MAX_VERSIONS)
					res.versions[res.n_versions++] = (int)json_integer_value(v);
			}
			break;
		}
		case OP_GET_CONFIG:
		case OP_SET_CONFIG: {
			/* GET answers compatibilityLevel, PUT echoes compatibility */
			const char *l = json_string_value(json_object_get(j, "compatibilityLevel"));
			if (!l)
				l = json_string_value(json_object_get(j, "compatibility"));
			if (!l)
				goto proto;
			res.level = l;
			break;
		}
		}
		deliver(q, &res);
		json_decref(j);
		return;
	}

	parse_error(j, &res, msg, sizeof(msg));
	if (status == 401 || status == 403) {
		res.rc = -EACCES;
		res.err = REGISTRY_E_AUTH;
	} else if (status == 404) {
		res.rc = -ENOENT;
		res.err = REGISTRY_E_NOT_FOUND;
	} else if (status == 409) {
		res.rc = -EINVAL;
		res.err = REGISTRY_E_INCOMPATIBLE;
	} else if (status >= 500 || status == 429 || status == 408) {
		res.rc = -EIO;
		res.err = REGISTRY_E_SERVER;
	} else {
		res.rc = -EINVAL;
		res.err = REGISTRY_E_INVALID;
	}
	if (!res.message) {
		snprintf(msg, sizeof(msg), "HTTP %ld", status);
		res.message = msg;
	}
	deliver(q, &res);
	json_decref(j);
	return;
proto:
	res.rc = -EPROTO;
	res.err = REGISTRY_E_PROTOCOL;
	snprintf(msg, sizeof(msg), "unexpected answer to HTTP %ld", status);
	res.message = msg;
	deliver(q, &res);
	json_decref(j);
}

static void finish_transport(struct reg_req *q, CURLcode cc)
{
	struct registry_result res = { .id = -1, .version = -1 };
	char msg[CURL_ERROR_SIZE + 64];
	snprintf(msg, sizeof(msg), "%s", curlreq_error(&q->http, cc));
	res.message = msg;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		res.rc = -ETIMEDOUT;
		res.err = REGISTRY_E_TIMEOUT;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		res.rc = -EPROTO;
		res.err = REGISTRY_E_TLS;
		break;
	default:
		res.rc = -ECONNREFUSED;
		res.err = REGISTRY_E_UNREACHABLE;
		break;
	}
	deliver(q, &res);
}

static bool retryable(CURLcode cc, long status)
{
	if (cc == CURLE_OK)
		return status >= 500 || status == 429 || status == 408;
	return cc == CURLE_COULDNT_RESOLVE_PROXY || curlreq_transient(cc);
}

static void req_again(void *arg)
{
	struct reg_req *q = arg;
	if (curlreq_start(&q->http) < 0) {
		struct registry_result res = { .rc = -EIO, .err = REGISTRY_E_UNREACHABLE,
					       .message = "curl_multi_add_handle failed",
					       .id = -1, .version = -1 };
		deliver(q, &res);
	}
}

static void req_done(void *arg, CURLcode cc)
{
	struct reg_req *q = arg;
	struct registry *r = q->r;
	long status = 0;
	if (r->pool.closing) {  /* whatever came: every operation pending at close is cancelled */
		req_cancel(q);
		return;
	}
	curl_easy_getinfo(q->http.easy, CURLINFO_RESPONSE_CODE, &status);
	if (retryable(cc, status) && q->http.attempts <= r->max_retries) {
		curlreq_retry(&q->http, curlreq_backoff_ms(r->backoff_ms, r->backoff_max_ms,
							   q->http.attempts));
		return;
	}
	if (cc != CURLE_OK)
		finish_transport(q, cc);
	else
		finish_http(q, status);
}

/* ---- set-up ------------------------------------------------------------ */

static const struct curlreq_ops req_ops = {
	.done = req_done, .again = req_again, .cancel = req_cancel,
};

int registry_new(struct registry **out, uv_loop_t *loop, const struct registry_opts *o)
{
	*out = NULL;
	if (!loop || !o || !o->url || !*o->url)
		return -EINVAL;
	size_t ul = strlen(o->url);
	struct registry *r = calloc(1, sizeof(*r) + ul + 1);
	if (!r)
		return -ENOMEM;
	memcpy(r->url, o->url, ul + 1);
	if (r->url[ul - 1] == '/')
		r->url[ul - 1] = '\0'; /* paths below start with '/' */
	long timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	const struct curlreq_opts ho = {
		.timeout_ms = timeout_ms,
		.connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
				      : timeout_ms < 5000 ? timeout_ms : 5000,
		.user = o->user, .password = o->password, .ca_file = o->ca_file,
		.body_max = ANSWER_MAX,
	};
	r->max_retries = o->max_retries >= 0 ? o->max_retries : 3;
	r->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 200;
	r->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 5000;
	if (curlreq_pool_init(&r->pool, loop, &req_ops, r, &ho) < 0) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

/* The easy handle of q: URL = base + pre + escaped subject + post. */
static int req_setup(struct reg_req *q, const char *subject, const char *pre, const char *post,
		     const char *method, const char *body)
{
	char *esc = curl_easy_escape(q->http.easy, subject, 0);
	if (!esc)
		return -ENOMEM;
	const char *base = q->r->url;
	size_t n = strlen(base) + strlen(pre) + strlen(esc) + strlen(post) + 1;
	char *url = malloc(n);
	if (url)
		snprintf(url, n, "%s%s%s%s", base, pre, esc, post);
	curl_free(esc);
	/* curl copies both */
	CURLcode cc = url ? curl_easy_setopt(q->http.easy, CURLOPT_URL, url) : CURLE_OUT_OF_MEMORY;
	free(url);
	if (cc == CURLE_OK && body)
		cc = curl_easy_setopt(q->http.easy, CURLOPT_COPYPOSTFIELDS, body);
	if (cc != CURLE_OK)
		return -ENOMEM;
	curlreq_method(&q->http, method, NULL, 0);
	if (curlreq_header(&q->http, "Accept: application/vnd.schemaregistry.v1+json, application/json") < 0 ||
	    (body && curlreq_header(&q->http, "Content-Type: application/vnd.schemaregistry.v1+json") < 0))
		return -ENOMEM;
	return 0;
}

/* method NULL = GET, or POST with a body. Takes body (may be NULL). */
static int submit(struct registry *r, enum reg_op op, const char *subject, const char *pre,
		  const char *post, const char *method, char *body, registry_cb cb, void *arg)
{
	if (r->pool.closing || !subject || !*subject) {
		free(body);
		return r->pool.closing ? -ECANCELED : -EINVAL;
	}
	struct reg_req *q = calloc(1, sizeof(*q));
	if (!q || curlreq_init(&q->http, &r->pool, q, ANSWER_MAX) < 0) {
		free(q);
		free(body);
		return -ENOMEM;
	}
	q->r = r;
	q->op = op;
	q->cb = cb;
	q->arg = arg;
	/* From here q is freed by curlreq once ended. */
	int rc = req_setup(q, subject, pre, post, method, body);
	free(body);
	if (rc == 0)
		rc = curlreq_start(&q->http);
	if (rc < 0) {
		curlreq_end(&q->http);
		return rc;
	}
	r->pending++;
	return 0;
}

const char *registry_type_name(enum registry_type t)
{
	return t == REGISTRY_JSON ? "JSON" : "AVRO";
}

char *registry_schema_body(enum registry_type t, const char *schema)
{
	if (!schema)
		return NULL;
	json_t *j = t == REGISTRY_AVRO ? json_pack("{s:s}", "schema", schema)
				       : json_pack("{s:s,s:s}", "schema", schema, "schemaType", registry_type_name(t));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static int schema_op(struct registry *r, enum reg_op op, const char *subject, enum registry_type type,
		     const char *schema, const char *pre, const char *post, registry_cb cb, void *arg)
{
	if (!schema || (type != REGISTRY_AVRO && type != REGISTRY_JSON))
		return -EINVAL;
	char *body = registry_schema_body(type, schema);
	if (!body)
		return -ENOMEM;
	return submit(r, op, subject, pre, post, NULL, body, cb, arg);
}

int registry_lookup(struct registry *r, const char *subject, enum registry_type type,
		    const char *schema, registry_cb cb, void *arg)
{
	return schema_op(r, OP_LOOKUP, subject, type, schema, "/subjects/", "", cb, arg);
}

int registry_register(struct registry *r, const char *subject, enum registry_type type,
		      const char *schema, registry_cb cb, void *arg)
{
	return schema_op(r, OP_REGISTER, subject, type, schema, "/subjects/", "/versions", cb, arg);
}

int registry_check(struct registry *r, const char *subject, enum registry_type type,
		   const char *schema, registry_cb cb, void *arg)
{
	return schema_op(r, OP_CHECK, subject, type, schema,
			 "/compatibility/subjects/", "/versions/latest?verbose=true", cb, arg);
}

int registry_versions(struct registry *r, const char *subject, registry_cb cb, void *arg)
{
	return submit(r, OP_VERSIONS, subject, "/subjects/", "/versions", NULL, NULL, cb, arg);
}

int registry_get_version(struct registry *r, const char *subject, int version,
			 registry_cb cb, void *arg)
{
	char post[48];
	if (version > 0)
		snprintf(post, sizeof(post), "/versions/%d", version);
	else
		snprintf(post, sizeof(post), "/versions/latest");
	return submit(r, OP_GET_VERSION, subject, "/subjects/", post, NULL, NULL, cb, arg);
}

int registry_get_config(struct registry *r, const char *subject, registry_cb cb, void *arg)
{
	return submit(r, OP_GET_CONFIG, subject, "/config/", "", NULL, NULL, cb, arg);
}

int registry_set_config(struct registry *r, const char *subject, const char *level,
			registry_cb cb, void *arg)
{
	if (!level || !*level)
		return -EINVAL;
	json_t *j = json_pack("{s:s}", "compatibility", level);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return -ENOMEM;
	return submit(r, OP_SET_CONFIG, subject, "/config/", "", "PUT", body, cb, arg);
}
