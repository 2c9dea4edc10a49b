/* Schema registry client: curl multi on uv (socket + timer callbacks), one
 * easy handle per operation, retried in place after a backoff timer. */
#include "config.h"

#include "sink/registry.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

enum reg_op { OP_LOOKUP, OP_REGISTER, OP_CHECK, OP_VERSIONS, OP_GET_VERSION, OP_GET_CONFIG, OP_SET_CONFIG };

struct reg_sock {
	uv_poll_t poll;
	struct registry *r;
	curl_socket_t fd;
	struct reg_sock *next;
};

struct reg_req {
	struct registry *r;
	struct reg_req *next, *prev;
	enum reg_op op;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url, *body;
	char *resp;
	size_t resp_len, resp_cap;
	int attempts;
	bool in_multi, done;
	uv_timer_t backoff; /* embedded; the request is freed in its close callback */
	registry_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

struct registry {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer; /* curl's timeout */
	struct reg_sock *socks;
	struct reg_req *reqs;
	char *url, *user, *password, *ca_file;
	long timeout_ms, connect_timeout_ms, backoff_ms, backoff_max_ms;
	int max_retries;
	int pending;
	int open_handles; /* uv handles not yet closed */
	int busy;         /* inside a dispatch: teardown deferred */
	bool closing, torn_down;
	void (*done)(void *);
	void *done_arg;
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

/* ---- teardown ---------------------------------------------------------- */

static void maybe_free(struct registry *r)
{
	if (!r->torn_down || r->open_handles > 0)
		return;
	void (*done)(void *) = r->done;
	void *arg = r->done_arg;
	free(r->url);
	free(r->user);
	free(r->password);
	free(r->ca_file);
	free(r);
	if (done)
		done(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct registry *r = h->data;
	r->open_handles--;
	maybe_free(r);
}

static void sock_closed(uv_handle_t *h)
{
	struct reg_sock *s = (struct reg_sock *)h;
	struct registry *r = s->r;
	free(s);
	r->open_handles--;
	maybe_free(r);
}

static void req_closed(uv_handle_t *h)
{
	struct reg_req *q = h->data;
	struct registry *r = q->r;
	free(q);
	r->open_handles--;
	maybe_free(r);
}

static void req_free(struct reg_req *q)
{
	struct registry *r = q->r;
	if (q->in_multi)
		curl_multi_remove_handle(r->multi, q->easy);
	q->in_multi = false;
	if (q->prev)
		q->prev->next = q->next;
	else
		r->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	r->pending--;
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->url);
	free(q->body);
	free(q->resp);
	q->backoff.data = q;
	uv_close((uv_handle_t *)&q->backoff, req_closed);
}

static void sock_close(struct reg_sock *s)
{
	struct registry *r = s->r;
	for (struct reg_sock **pp = &r->socks; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void deliver(struct reg_req *q, struct registry_result *res);

static void teardown(struct registry *r)
{
	r->busy++;
	while (r->reqs) {
		struct reg_req *q = r->reqs;
		struct registry_result res = { .rc = -ECANCELED, .err = REGISTRY_E_CANCELLED,
					       .message = "registry closed", .id = -1, .version = -1,
					       .attempts = q->attempts };
		deliver(q, &res);
	}
	r->busy--;
	r->torn_down = true; /* from here curl's callbacks only release sockets */
	curl_multi_cleanup(r->multi); /* may report CURL_POLL_REMOVE for cached connections */
	r->multi = NULL;
	while (r->socks)
		sock_close(r->socks);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, handle_closed);
}

static void leave(struct registry *r)
{
	if (--r->busy == 0 && r->closing && !r->torn_down)
		teardown(r);
}

void registry_close(struct registry *r, void (*done)(void *), void *arg)
{
	if (!r || r->closing)
		return;
	r->closing = true;
	r->done = done;
	r->done_arg = arg;
	if (r->busy == 0)
		teardown(r);
}

/* ---- results ----------------------------------------------------------- */

static void deliver(struct reg_req *q, struct registry_result *res)
{
	struct registry *r = q->r;
	res->err_class = registry_err_class(res->err);
	if (!res->message)
		res->message = "";
	res->attempts = q->attempts;
	q->done = true;
	r->busy++;
	if (q->cb)
		q->cb(r, res, q->arg);
	req_free(q);
	leave(r);
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
	json_t *j = q->resp_len ? json_loadb(q->resp, q->resp_len, JSON_DECODE_ANY, &je) : NULL;

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
	snprintf(msg, sizeof(msg), "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(cc));
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
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

static int start_attempt(struct reg_req *q)
{
	q->resp_len = 0;
	q->errbuf[0] = '\0';
	q->attempts++;
	CURLMcode mc = curl_multi_add_handle(q->r->multi, q->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	q->in_multi = true;
	return 0;
}

static void backoff_fired(uv_timer_t *t)
{
	struct reg_req *q = t->data;
	struct registry *r = q->r;
	r->busy++;
	if (start_attempt(q) < 0) {
		struct registry_result res = { .rc = -EIO, .err = REGISTRY_E_UNREACHABLE,
					       .message = "curl_multi_add_handle failed",
					       .id = -1, .version = -1 };
		deliver(q, &res);
	}
	leave(r);
}

static void completed(struct reg_req *q, CURLcode cc)
{
	struct registry *r = q->r;
	long status = 0;
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(r->multi, q->easy);
	q->in_multi = false;
	if (retryable(cc, status) && q->attempts <= r->max_retries && !r->closing) {
		long delay = r->backoff_ms;
		for (int i = 1; i < q->attempts && delay < r->backoff_max_ms; i++)
			delay *= 2;
		if (delay > r->backoff_max_ms)
			delay = r->backoff_max_ms;
		/* 75..125 %: clients restarted together do not retry in lockstep */
		delay = delay * 3 / 4 + (long)(uv_hrtime() / 1000 % (uint64_t)(delay / 2 + 1));
		q->backoff.data = q;
		uv_timer_start(&q->backoff, backoff_fired, (uint64_t)delay, 0);
		return;
	}
	if (cc != CURLE_OK)
		finish_transport(q, cc);
	else
		finish_http(q, status);
}

static void check_multi_info(struct registry *r)
{
	CURLMsg *m;
	int left;
	while (!r->closing && r->multi && (m = curl_multi_info_read(r->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct reg_req *q = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (q)
			completed(q, m->data.result);
	}
}

/* ---- curl <-> uv glue -------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
	struct registry *r = t->data;
	int running;
	r->busy++;
	curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(r);
	leave(r);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct registry *r = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&r->timer);
	else /* 0: on the next loop iteration, never from inside curl */
		uv_timer_start(&r->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct reg_sock *s = (struct reg_sock *)h;
	struct registry *r = s->r;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	r->busy++;
	curl_multi_socket_action(r->multi, s->fd, flags, &running);
	check_multi_info(r);
	leave(r);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct registry *r = userp;
	struct reg_sock *s = socketp;
	if (what == CURL_POLL_REMOVE || r->torn_down) {
		if (s) {
			if (!r->torn_down)
				curl_multi_assign(r->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		if (uv_poll_init_socket(r->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->r = r;
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
		r->open_handles++;
		curl_multi_assign(r->multi, fd, s);
	}
	int ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

static char *dup_opt(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int registry_new(struct registry **out, uv_loop_t *loop, const struct registry_opts *o)
{
	*out = NULL;
	if (!loop || !o || !o->url || !*o->url)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* ref-counted; cheap after the first */
		return -ENOMEM;
	struct registry *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	bool oom = false;
	size_t ul = strlen(o->url);
	r->url = dup_opt(o->url, &oom);
	if (r->url && ul > 0 && r->url[ul - 1] == '/')
		r->url[ul - 1] = '\0'; /* paths below start with '/' */
	r->user = dup_opt(o->user, &oom);
	r->password = dup_opt(o->password, &oom);
	r->ca_file = dup_opt(o->ca_file, &oom);
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	r->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
			       : r->timeout_ms < 5000 ? r->timeout_ms : 5000;
	r->max_retries = o->max_retries >= 0 ? o->max_retries : 3;
	r->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 200;
	r->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 5000;
	r->loop = loop;
	r->multi = oom ? NULL : curl_multi_init();
	if (!r->multi) {
		free(r->url);
		free(r->user);
		free(r->password);
		free(r->ca_file);
		free(r);
		return -ENOMEM;
	}
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	r->open_handles = 1;
	curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
	curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
	*out = r;
	return 0;
}

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
	struct reg_req *q = userp;
	size_t len = size * n;
	if (q->resp_len + len + 1 > q->resp_cap) {
		size_t cap = q->resp_cap ? q->resp_cap : 1024;
		while (cap < q->resp_len + len + 1)
			cap *= 2;
		if (cap > (1u << 24))
			return 0; /* a registry answer is never this large */
		char *nb = realloc(q->resp, cap);
		if (!nb)
			return 0;
		q->resp = nb;
		q->resp_cap = cap;
	}
	memcpy(q->resp + q->resp_len, p, len);
	q->resp_len += len;
	q->resp[q->resp_len] = '\0';
	return len;
}

/* URL = base + pre + escaped subject + post. method NULL = GET, or POST with a body. */
static int submit(struct registry *r, enum reg_op op, const char *subject, const char *pre,
		  const char *post, const char *method, char *body, registry_cb cb, void *arg)
{
	if (r->closing) {
		free(body);
		return -ECANCELED;
	}
	if (!subject || !*subject) {
		free(body);
		return -EINVAL;
	}
	struct reg_req *q = calloc(1, sizeof(*q));
	if (!q) {
		free(body);
		return -ENOMEM;
	}
	q->r = r;
	q->op = op;
	q->cb = cb;
	q->arg = arg;
	q->body = body;
	q->easy = curl_easy_init();
	char *esc = q->easy ? curl_easy_escape(q->easy, subject, 0) : NULL;
	int rc = -ENOMEM;
	if (!esc)
		goto fail;
	size_t n = strlen(r->url) + strlen(pre) + strlen(esc) + strlen(post) + 1;
	q->url = malloc(n);
	if (!q->url) {
		curl_free(esc);
		goto fail;
	}
	snprintf(q->url, n, "%s%s%s%s", r->url, pre, esc, post);
	curl_free(esc);

	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json, application/json");
	if (h)
		q->hdrs = h;
	if (h && body)
		h = curl_slist_append(q->hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
	if (!h)
		goto fail;

	CURL *e = q->easy;
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "torghut/" PACKAGE_VERSION);
	if (r->user) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	if (r->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (method)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);

	uv_timer_init(r->loop, &q->backoff);
	q->backoff.data = q;
	r->open_handles++;
	q->next = r->reqs;
	if (r->reqs)
		r->reqs->prev = q;
	r->reqs = q;
	r->pending++;
	rc = start_attempt(q);
	if (rc < 0) {
		q->cb = NULL;
		req_free(q);
		return rc;
	}
	return 0;
fail:
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->url);
	free(q->body);
	free(q);
	return rc;
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
