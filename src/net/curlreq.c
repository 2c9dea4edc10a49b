/* curlreq.c - HTTP requests on curlm: house options, headers, the answer's
 * body with a limit, retry timer; the pool that closes them with the multi. */
#include "config.h"

#include "net/curlreq.h"
#include "net/curlm.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pool ---- */

static void opts_free(struct curlreq_pool *p)
{
	if (p->password)
		memset(p->password, 0, strlen(p->password));
	free(p->user);
	free(p->password);
	free(p->aws_sigv4);
	free(p->ca_file);
}

static void opened_closed(struct curlreq_pool *p)
{
	if (--p->open > 0 || !p->closing)
		return;
	void (*closed)(void *) = p->closed;
	void *arg = p->closed_arg;
	void (*release)(void *) = p->ops->release_client ? p->ops->release_client : free;
	opts_free(p);
	release(p->client);     /* p is gone from here */
	if (closed)
		closed(arg);
}

static void curlm_closed(void *arg)
{
	opened_closed(arg);
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

int curlreq_pool_init(struct curlreq_pool *p, uv_loop_t *loop, const struct curlreq_ops *ops,
		      void *client, const struct curlreq_opts *o)
{
	memset(p, 0, sizeof(*p));
	bool oom = false;
	p->user = dup_opt(o->user, &oom);
	p->password = dup_opt(o->user && !o->password ? "" : o->password, &oom);
	p->aws_sigv4 = dup_opt(o->aws_sigv4, &oom);
	p->ca_file = dup_opt(o->ca_file, &oom);
	if (oom || curlm_new(loop, &p->m) < 0) {
		opts_free(p);
		return -ENOMEM;
	}
	p->timeout_ms = o->timeout_ms;
	p->connect_timeout_ms = o->connect_timeout_ms;
	p->body_max = o->body_max;
	p->loop = loop;
	p->ops = ops;
	p->client = client;
	p->open = 1;
	return 0;
}

void curlreq_pool_close(struct curlreq_pool *p, void (*closed)(void *arg), void *arg)
{
	if (p->closing)
		return;
	p->closing = true;
	p->closed = closed;
	p->closed_arg = arg;
	for (struct curlreq *q = p->reqs, *next; q; q = next) {
		next = q->next;
		if (!q->in_flight)
			p->ops->cancel(q->owner);
	}
	curlm_close(p->m, curlm_closed, p);
}

/* ---- a request ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct curlreq *q = userp;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	size_t limit = status >= 200 && status < 300 ? q->ok_body_max : q->body_max;
	if (len > limit || q->len > limit - len) {
		q->too_big = true;
		return 0;
	}
	if (q->len + len + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->len + len + 1)
			cap *= 2;
		char *g = realloc(q->body, cap);
		if (!g)
			return 0;
		q->body = g;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, len);
	q->len += len;
	q->body[q->len] = '\0';
	return len;
}

int curlreq_init(struct curlreq *q, struct curlreq_pool *p, void *owner, size_t ok_body_max)
{
	memset(q, 0, sizeof(*q));
	if (p->closing)
		return -ECANCELED;
	q->easy = curl_easy_init();
	if (!q->easy)
		return -ENOMEM;
	q->pool = p;
	q->owner = owner;
	q->ok_body_max = ok_body_max;
	q->body_max = p->body_max;
	CURL *e = q->easy;
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "torghut/" PACKAGE_VERSION);
	if (p->user) {
		if (p->aws_sigv4)
			curl_easy_setopt(e, CURLOPT_AWS_SIGV4, p->aws_sigv4);
		else
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		/* Separate options, so a ':' in a user name cannot split them wrongly. */
		curl_easy_setopt(e, CURLOPT_USERNAME, p->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, p->password);
	}
	if (p->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, p->ca_file);
	uv_timer_init(p->loop, &q->timer);
	q->timer.data = q;
	p->open++;
	q->next = p->reqs;
	if (p->reqs)
		p->reqs->prev = q;
	p->reqs = q;
	return 0;
}

int curlreq_header(struct curlreq *q, const char *line)
{
	struct curl_slist *h = curl_slist_append(q->hdrs, line);
	if (!h)
		return -ENOMEM;
	q->hdrs = h;
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
	return 0;
}

void curlreq_method(struct curlreq *q, const char *method, const void *body, size_t n)
{
	if (body) {
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, body);
	}
	if (method)
		curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, method);
}

static void on_done(CURL *easy, CURLcode cc, void *arg)
{
	(void)easy;
	struct curlreq *q = arg;
	q->in_flight = false;
	if (cc == CURLE_ABORTED_BY_CALLBACK && q->pool->closing)
		q->pool->ops->cancel(q->owner);
	else
		q->pool->ops->done(q->owner, cc);
}

int curlreq_start(struct curlreq *q)
{
	q->len = 0;
	if (q->body)
		q->body[0] = '\0';
	q->too_big = false;
	q->errbuf[0] = '\0';
	q->attempts++;
	int rc = curlm_add(q->pool->m, q->easy, on_done, q);
	if (rc == 0)
		q->in_flight = true;
	return rc;
}

static void timer_fired(uv_timer_t *t)
{
	struct curlreq *q = t->data;
	q->pool->ops->again(q->owner);
}

void curlreq_retry(struct curlreq *q, long delay_ms)
{
	uv_timer_start(&q->timer, timer_fired, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
}

static void timer_closed(uv_handle_t *h)
{
	struct curlreq *q = h->data;
	struct curlreq_pool *p = q->pool;
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->body);
	void (*release)(void *) = p->ops->release ? p->ops->release : free;
	release(q->owner);      /* q is gone from here */
	opened_closed(p);
}

void curlreq_end(struct curlreq *q)
{
	struct curlreq_pool *p = q->pool;
	if (q->in_flight)
		curlm_remove(p->m, q->easy);
	q->in_flight = false;
	if (q->prev)
		q->prev->next = q->next;
	else
		p->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, timer_closed);
}

bool curlreq_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
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

const char *curlreq_error(const struct curlreq *q, CURLcode cc)
{
	return q->errbuf[0] ? q->errbuf : curl_easy_strerror(cc);
}

long curlreq_backoff_ms(long first_ms, long max_ms, int attempt)
{
	long d = first_ms;
	for (int i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d * 3 / 4 + (long)(uv_hrtime() / 1000 % (uint64_t)(d / 2 + 1));
}
