/* s3.c - the S3 client: request state machine on curlm, SigV4 by libcurl,
 * retries with backoff, a minimal ListObjectsV2 XML reader. */
#include "config.h"

#include "state/s3.h"
#include "net/curlm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mbedtls/md.h>

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_RETRIES 5
#define DEFAULT_BACKOFF_MS 100
#define BACKOFF_MAX_MS 5000
#define BODY_MAX (16u << 20)    /* error documents and listing pages */
#define REASON_MAX 320

/* ---- pure parts ---- */

static bool unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

int s3_encode(char *out, size_t cap, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			if (k + 1 >= cap)
				return -ENOSPC;
			out[k++] = (char)*p;
		} else {
			if (k + 3 >= cap)
				return -ENOSPC;
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	if (k >= cap)
		return -ENOSPC;
	out[k] = '\0';
	return (int)k;
}

int s3_url(char *out, size_t cap, const char *endpoint, const char *bucket, bool path_style,
	   const char *key, const char *query)
{
	const char *sep = strstr(endpoint, "://");
	if (!sep || !bucket || !*bucket)
		return -EINVAL;
	const char *host = sep + 3;
	char ekey[3 * 1024 + 1] = "";
	if (key && *key && s3_encode(ekey, sizeof(ekey), key, true) < 0)
		return -ENOSPC;
	char ebucket[3 * 64 + 1];
	if (s3_encode(ebucket, sizeof(ebucket), bucket, false) < 0)
		return -EINVAL;
	int k;
	if (path_style)
		k = snprintf(out, cap, "%s/%s/%s%s%s", endpoint, ebucket, ekey, query ? "?" : "",
			     query ? query : "");
	else    /* scheme://bucket.host[:port][/base]/key */
		k = snprintf(out, cap, "%.*s%s.%s/%s%s%s", (int)(host - endpoint), endpoint, ebucket,
			     host, ekey, query ? "?" : "", query ? query : "");
	if (k < 0 || (size_t)k >= cap)
		return -ENOSPC;
	return k;
}

bool s3_retryable(int curl_code, long http_status)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return http_status >= 500 || http_status == 429;
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

int s3_http_errno(long http_status)
{
	if (http_status == 401 || http_status == 403)
		return -EACCES;
	if (http_status == 404)
		return -ENOENT;
	if (http_status >= 500 || http_status == 429)
		return -EIO;
	if (http_status >= 400)
		return -EINVAL;
	return -EIO;    /* 3xx: S3 redirects to another region; not followed */
}

static int transport_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -ECONNABORTED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* The next element at or after p (text, comments and <?...?> skipped).
 * 1 with its name and content; 0 at the end; -1 when malformed or cut
 * short. Elements of one name do not nest in S3's documents, so the
 * content ends at the first matching close tag. */
static int xml_next(const char **pp, const char *end, const char **name, size_t *nlen,
		    const char **content, size_t *clen)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && *p != '<')
			p++;
		if (p >= end) {
			*pp = end;
			return 0;
		}
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *q = p + 4;
			while (q + 3 <= end && memcmp(q, "-->", 3) != 0)
				q++;
			if (q + 3 > end)
				return -1;
			p = q + 3;
			continue;
		}
		if (end - p >= 2 && (p[1] == '?' || p[1] == '!')) {
			const char *q = memchr(p, '>', (size_t)(end - p));
			if (!q)
				return -1;
			p = q + 1;
			continue;
		}
		break;
	}
	if (end - p >= 2 && p[1] == '/')
		return -1;      /* a close tag where an element should start */
	const char *n = ++p;
	while (p < end && *p != '>' && *p != '/' && *p != ' ' && *p != '\t' && *p != '\r' &&
	       *p != '\n')
		p++;
	if (p == n || p >= end)
		return -1;
	*name = n;
	*nlen = (size_t)(p - n);
	char quote = 0;         /* attributes: skip, minding quoted '>' */
	while (p < end && (quote || (*p != '>'))) {
		if (quote && *p == quote)
			quote = 0;
		else if (!quote && (*p == '"' || *p == '\''))
			quote = *p;
		p++;
	}
	if (p >= end)
		return -1;
	if (p[-1] == '/') {     /* <Name/> */
		*content = p + 1;
		*clen = 0;
		*pp = p + 1;
		return 1;
	}
	const char *c = ++p;
	for (; p + 2 + *nlen < end; p++) {
		if (p[0] == '<' && p[1] == '/' && memcmp(p + 2, n, *nlen) == 0) {
			const char *q = p + 2 + *nlen;
			while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
				q++;
			if (q < end && *q == '>') {
				*content = c;
				*clen = (size_t)(p - c);
				*pp = q + 1;
				return 1;
			}
		}
	}
	return -1;
}

static bool name_is(const char *n, size_t nl, const char *want)
{
	return nl == strlen(want) && memcmp(n, want, nl) == 0;
}

static void put_utf8(char *o, size_t *k, unsigned long cp)
{
	if (cp < 0x80) {
		o[(*k)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*k)++] = (char)(0xc0 | (cp >> 6));
		o[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*k)++] = (char)(0xe0 | (cp >> 12));
		o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*k)++] = (char)(0xf0 | (cp >> 18));
		o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*k)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Text content with the XML entities decoded (a CDATA section taken as is):
 * a new string, or NULL (*bad set when malformed, else out of memory). */
static char *xml_text(const char *s, size_t n, bool *bad)
{
	if (n >= 12 && memcmp(s, "<![CDATA[", 9) == 0 && memcmp(s + n - 3, "]]>", 3) == 0) {
		s += 9;
		n -= 12;
		char *o = malloc(n + 1);
		if (o) {
			memcpy(o, s, n);
			o[n] = '\0';
		}
		return o;
	}
	char *o = malloc(n + 1);       /* decoding only shrinks */
	if (!o)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] == '<') {
			*bad = true;    /* markup inside a text element */
			free(o);
			return NULL;
		}
		if (s[i] != '&') {
			o[k++] = s[i++];
			continue;
		}
		const char *semi = memchr(s + i, ';', n - i);
		size_t el = semi ? (size_t)(semi - (s + i)) + 1 : 0;
		static const struct { const char *e; char c; } ents[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
		};
		bool done = false;
		for (size_t e = 0; semi && e < sizeof(ents) / sizeof(ents[0]); e++)
			if (el == strlen(ents[e].e) && memcmp(s + i, ents[e].e, el) == 0) {
				o[k++] = ents[e].c;
				done = true;
			}
		if (!done && semi && el >= 4 && el <= 12 && s[i + 1] == '#') {
			char num[12];
			memcpy(num, s + i + 2, el - 3);
			num[el - 3] = '\0';
			char *end;
			bool hexa = num[0] == 'x' || num[0] == 'X';
			unsigned long cp = strtoul(num + hexa, &end, hexa ? 16 : 10);
			/* Each form is at least as long as its UTF-8 bytes. */
			if (*end == '\0' && end != num + hexa && cp > 0 && cp <= 0x10ffff &&
			    !(cp >= 0xd800 && cp <= 0xdfff)) {
				put_utf8(o, &k, cp);
				done = true;
			}
		}
		if (!done) {
			*bad = true;
			free(o);
			return NULL;
		}
		i += el;
	}
	o[k] = '\0';
	return o;
}

static int parse_contents(const char *p, const char *end, struct s3_list_page *pg, char *why,
			  size_t whylen)
{
	const char *n, *c;
	size_t nl, cl;
	char *key = NULL;
	bool have_size = false, bad = false;
	uint64_t size = 0;
	int r;
	while ((r = xml_next(&p, end, &n, &nl, &c, &cl)) == 1) {
		if (name_is(n, nl, "Key")) {
			free(key);
			key = xml_text(c, cl, &bad);
			if (!key) {
				snprintf(why, whylen, "ListObjectsV2: %s Key", bad ? "malformed" : "no memory for a");
				return bad ? -EPROTO : -ENOMEM;
			}
		} else if (name_is(n, nl, "Size")) {
			char num[24];
			char *e;
			if (cl == 0 || cl >= sizeof(num) || c[0] < '0' || c[0] > '9')
				goto bad_size;
			memcpy(num, c, cl);
			num[cl] = '\0';
			errno = 0;
			unsigned long long v = strtoull(num, &e, 10);
			if (*e || errno)
				goto bad_size;
			size = v;
			have_size = true;
		}
	}
	if (r < 0 || !key || !have_size || !*key || strlen(key) > 1024) {
		snprintf(why, whylen, "ListObjectsV2: a Contents entry without a valid Key and Size");
		free(key);
		return -EPROTO;
	}
	if (pg->n == pg->cap) {
		size_t cap = pg->cap ? pg->cap * 2 : 16;
		struct s3_object *g = realloc(pg->objects, cap * sizeof(*g));
		if (!g) {
			free(key);
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		pg->objects = g;
		pg->cap = cap;
	}
	pg->objects[pg->n++] = (struct s3_object){ .key = key, .size = size };
	return 0;
bad_size:
	free(key);
	snprintf(why, whylen, "ListObjectsV2: a Contents entry with a bad Size");
	return -EPROTO;
}

int s3_list_parse(const char *xml, size_t len, struct s3_list_page *pg, char *why, size_t whylen)
{
	const char *p = xml, *end = xml + len, *n, *c;
	size_t nl, cl;
	pg->truncated = false;
	free(pg->next_token);
	pg->next_token = NULL;
	int r = xml_next(&p, end, &n, &nl, &c, &cl);
	if (r <= 0 || !name_is(n, nl, "ListBucketResult")) {
		snprintf(why, whylen, "ListObjectsV2: %s", r < 0 ? "malformed or truncated XML"
			 : r == 0 ? "empty answer" : "not a ListBucketResult");
		return -EPROTO;
	}
	const char *q = c, *qend = c + cl;
	bool saw_truncated = false, bad = false;
	size_t first = pg->n;
	while ((r = xml_next(&q, qend, &n, &nl, &c, &cl)) == 1) {
		if (name_is(n, nl, "Contents")) {
			r = parse_contents(c, c + cl, pg, why, whylen);
			if (r)
				goto fail_r;
		} else if (name_is(n, nl, "IsTruncated")) {
			saw_truncated = true;
			if (cl == 4 && memcmp(c, "true", 4) == 0)
				pg->truncated = true;
			else if (!(cl == 5 && memcmp(c, "false", 5) == 0))
				saw_truncated = false;
		} else if (name_is(n, nl, "NextContinuationToken")) {
			free(pg->next_token);
			pg->next_token = xml_text(c, cl, &bad);
			if (!pg->next_token) {
				snprintf(why, whylen, "ListObjectsV2: %s NextContinuationToken",
					 bad ? "malformed" : "no memory for the");
				r = bad ? -EPROTO : -ENOMEM;
				goto fail_r;
			}
		}
	}
	if (r < 0) {
		snprintf(why, whylen, "ListObjectsV2: malformed or truncated XML");
		r = -EPROTO;
		goto fail_r;
	}
	if (!saw_truncated) {
		snprintf(why, whylen, "ListObjectsV2: no valid IsTruncated");
		r = -EPROTO;
		goto fail_r;
	}
	if (pg->truncated && (!pg->next_token || !*pg->next_token)) {
		snprintf(why, whylen, "ListObjectsV2: truncated listing without a NextContinuationToken");
		r = -EPROTO;
		goto fail_r;
	}
	if (!pg->truncated) {
		free(pg->next_token);
		pg->next_token = NULL;
	}
	return 0;
fail_r:
	/* Nothing of a bad page is kept. */
	while (pg->n > first)
		free(pg->objects[--pg->n].key);
	free(pg->next_token);
	pg->next_token = NULL;
	pg->truncated = false;
	return r;
}

void s3_list_page_fini(struct s3_list_page *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		free(pg->objects[i].key);
	free(pg->objects);
	free(pg->next_token);
	memset(pg, 0, sizeof(*pg));
}

void s3_error_text(const char *xml, size_t len, char *out, size_t cap)
{
	const char *p = xml, *end = xml + len, *n, *c;
	size_t nl, cl;
	out[0] = '\0';
	if (xml_next(&p, end, &n, &nl, &c, &cl) != 1 || !name_is(n, nl, "Error"))
		return;
	char *code = NULL, *msg = NULL;
	bool bad = false;
	const char *q = c, *qend = c + cl;
	while (xml_next(&q, qend, &n, &nl, &c, &cl) == 1) {
		if (name_is(n, nl, "Code") && !code)
			code = xml_text(c, cl, &bad);
		else if (name_is(n, nl, "Message") && !msg)
			msg = xml_text(c, cl, &bad);
	}
	if (code || msg)
		snprintf(out, cap, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	/* One line: a reason goes into a log line. */
	for (char *o = out; *o; o++)
		if (*o == '\n' || *o == '\r')
			*o = ' ';
	free(code);
	free(msg);
}

/* ---- the client ---- */

enum s3_op { OP_PUT, OP_GET, OP_DELETE, OP_LIST };
static const char *const op_names[] = { "PUT", "GET", "DELETE", "LIST" };

struct s3_req {
	uv_timer_t backoff;     /* embedded; the request is freed in its close callback */
	struct s3 *c;
	struct s3_req *next, *prev;
	enum s3_op op;
	char *bucket, *key;     /* key: the object, or the listing's prefix */
	const void *buf;        /* PUT: the caller's bytes */
	size_t n;
	size_t max;             /* GET: the largest object accepted */
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	uint8_t *resp;
	size_t resp_len, resp_cap;
	bool too_big, in_flight, done;
	int attempts, page_attempts;
	struct s3_list_page page;
	s3_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	char sha[65];           /* the payload's SHA-256, hex */
};

struct s3 {
	uv_loop_t *loop;
	struct curlm *m;
	struct s3_req *reqs;
	char *endpoint, *region, *sigv4, *access, *secret, *ca_file;
	bool path_style;
	long timeout_ms;
	int max_retries, backoff_ms, list_max_keys;
	int open;               /* the curlm plus request timers not yet closed */
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;
};

static void client_free(struct s3 *c)
{
	void (*cb)(void *) = c->close_cb;
	void *arg = c->close_arg;
	free(c->endpoint);
	free(c->region);
	free(c->sigv4);
	if (c->secret)
		memset(c->secret, 0, strlen(c->secret));
	free(c->access);
	free(c->secret);
	free(c->ca_file);
	free(c);
	if (cb)
		cb(arg);
}

static void opened_closed(struct s3 *c)
{
	if (--c->open == 0 && c->closing)
		client_free(c);
}

static void req_closed(uv_handle_t *h)
{
	struct s3_req *q = h->data;
	struct s3 *c = q->c;
	free(q);
	opened_closed(c);
}

static void req_free(struct s3_req *q)
{
	struct s3 *c = q->c;
	if (q->in_flight)
		curlm_remove(c->m, q->easy);
	if (q->prev)
		q->prev->next = q->next;
	else
		c->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	s3_list_page_fini(&q->page);
	free(q->url);
	free(q->resp);
	free(q->bucket);
	free(q->key);
	uv_timer_stop(&q->backoff);
	uv_close((uv_handle_t *)&q->backoff, req_closed);
}

static void deliver(struct s3_req *q, int status, long http, const char *reason)
{
	struct s3_result res = {
		.status = status, .http_status = http, .attempts = q->attempts,
		.reason = reason ? reason : "",
	};
	if (status == 0 && q->op == OP_GET) {
		res.body = q->resp ? q->resp : (const uint8_t *)"";
		res.len = q->resp_len;
	}
	if (status == 0 && q->op == OP_LIST) {
		res.objects = q->page.objects;
		res.nobjects = q->page.n;
	}
	q->done = true;
	if (q->cb)
		q->cb(&res, q->arg);
	req_free(q);
}

/* "GET s3://bucket/key: " then the rest. */
static void reasonf(char *out, size_t cap, const struct s3_req *q, const char *what, int attempts)
{
	int k = snprintf(out, cap, "%s s3://%s/%s: %s", op_names[q->op], q->bucket, q->key, what);
	if (k > 0 && (size_t)k < cap && attempts > 1)
		snprintf(out + k, cap - (size_t)k, " (%d attempts)", attempts);
}

static int start_attempt(struct s3_req *q);

static void backoff_fired(uv_timer_t *t)
{
	struct s3_req *q = t->data;
	int rc = start_attempt(q);
	if (rc < 0) {
		char why[REASON_MAX];
		reasonf(why, sizeof(why), q, "could not start the request", q->attempts);
		deliver(q, rc, 0, why);
	}
}

static void sha256_hex(const void *buf, size_t n, char out[65])
{
	unsigned char d[32];
	static const char hex[] = "0123456789abcdef";
	mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), buf, n, d);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

/* ListObjectsV2's query in SigV4 canonical form: names sorted, values
 * encoded. */
static int list_query(const struct s3_req *q, char *out, size_t cap)
{
	char tok[3 * 1024 + 1] = "", pre[3 * 1024 + 1];
	if (q->page.next_token && s3_encode(tok, sizeof(tok), q->page.next_token, false) < 0)
		return -ENOSPC;
	if (s3_encode(pre, sizeof(pre), q->key, false) < 0)
		return -ENOSPC;
	char mk[32] = "";
	if (q->c->list_max_keys > 0)
		snprintf(mk, sizeof(mk), "&max-keys=%d", q->c->list_max_keys);
	int k = snprintf(out, cap, "%s%s%slist-type=2%s&prefix=%s",
			 *tok ? "continuation-token=" : "", tok, *tok ? "&" : "", mk, pre);
	return k < 0 || (size_t)k >= cap ? -ENOSPC : 0;
}

static void on_done(CURL *easy, CURLcode cc, void *arg);

static int start_attempt(struct s3_req *q)
{
	struct s3 *c = q->c;
	char url[8192], query[7000];
	const char *key = q->op == OP_LIST ? NULL : q->key;
	if (q->op == OP_LIST && list_query(q, query, sizeof(query)) < 0)
		return -ENAMETOOLONG;
	if (s3_url(url, sizeof(url), c->endpoint, q->bucket, c->path_style, key,
		   q->op == OP_LIST ? query : NULL) < 0)
		return -ENAMETOOLONG;
	free(q->url);
	q->url = strdup(url);
	if (!q->url)
		return -ENOMEM;
	curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
	q->resp_len = 0;
	q->too_big = false;
	q->errbuf[0] = '\0';
	q->attempts++;
	q->page_attempts++;
	int rc = curlm_add(c->m, q->easy, on_done, q);
	if (rc == 0)
		q->in_flight = true;
	return rc;
}

static long backoff_delay(const struct s3 *c, int attempt)
{
	long d = c->backoff_ms;
	for (int i = 1; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* 75..125 %: stores restarted together do not retry in lockstep */
	return d * 3 / 4 + (long)(uv_hrtime() / 1000 % (uint64_t)(d / 2 + 1));
}

static void on_done(CURL *easy, CURLcode cc, void *arg)
{
	struct s3_req *q = arg;
	struct s3 *c = q->c;
	char why[REASON_MAX], what[REASON_MAX - 64];
	long status = 0;
	q->in_flight = false;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_ABORTED_BY_CALLBACK && c->closing) {
		reasonf(why, sizeof(why), q, "cancelled (store closed)", 0);
		deliver(q, -ECANCELED, 0, why);
		return;
	}
	if (s3_retryable(cc, status) && q->page_attempts <= c->max_retries && !c->closing) {
		q->backoff.data = q;
		uv_timer_start(&q->backoff, backoff_fired, (uint64_t)backoff_delay(c, q->page_attempts), 0);
		return;
	}
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR && q->too_big) {
			snprintf(what, sizeof(what), "larger than %zu bytes", q->max);
			reasonf(why, sizeof(why), q, what, q->attempts);
			deliver(q, -EFBIG, status, why);
			return;
		}
		snprintf(what, sizeof(what), "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(cc));
		reasonf(why, sizeof(why), q, what, q->attempts);
		deliver(q, transport_errno(cc), status, why);
		return;
	}
	if (status >= 200 && status < 300) {
		if (q->op != OP_LIST) {
			deliver(q, 0, status, NULL);
			return;
		}
		char perr[160];
		int rc = s3_list_parse((const char *)q->resp, q->resp_len, &q->page, perr, sizeof(perr));
		if (rc) {
			reasonf(why, sizeof(why), q, perr, q->attempts);
			deliver(q, rc == -EPROTO ? -EIO : rc, status, why);
			return;
		}
		if (q->page.truncated) {
			q->page_attempts = 0;
			rc = start_attempt(q);
			if (rc) {
				reasonf(why, sizeof(why), q, "could not request the next page", q->attempts);
				deliver(q, rc, status, why);
			}
			return;
		}
		deliver(q, 0, status, NULL);
		return;
	}
	char etext[200];
	s3_error_text((const char *)q->resp, q->resp_len, etext, sizeof(etext));
	snprintf(what, sizeof(what), "HTTP %ld%s%s", status, *etext ? " " : "", etext);
	reasonf(why, sizeof(why), q, what, q->attempts);
	deliver(q, s3_http_errno(status), status, why);
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct s3_req *q = userp;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	size_t limit = q->op == OP_GET && status >= 200 && status < 300 ? q->max : BODY_MAX;
	if (q->resp_len + len > limit) {
		q->too_big = true;
		return 0;
	}
	if (q->resp_len + len + 1 > q->resp_cap) {
		size_t cap = q->resp_cap ? q->resp_cap : 4096;
		while (cap < q->resp_len + len + 1)
			cap *= 2;
		uint8_t *g = realloc(q->resp, cap);
		if (!g)
			return 0;
		q->resp = g;
		q->resp_cap = cap;
	}
	memcpy(q->resp + q->resp_len, p, len);
	q->resp_len += len;
	q->resp[q->resp_len] = '\0';
	return len;
}

static int submit(struct s3 *c, enum s3_op op, const char *bucket, const char *key,
		  const void *buf, size_t n, size_t max, s3_cb cb, void *arg)
{
	if (c->closing)
		return -ECANCELED;
	if (!bucket || !*bucket || !key || (op != OP_LIST && !*key) || (!buf && n))
		return -EINVAL;
	struct s3_req *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->op = op;
	q->buf = buf;
	q->n = n;
	q->max = max;
	q->cb = cb;
	q->arg = arg;
	q->bucket = strdup(bucket);
	q->key = strdup(key);
	q->easy = curl_easy_init();
	int rc = -ENOMEM;
	if (!q->bucket || !q->key || !q->easy)
		goto fail;

	char h[128];
	sha256_hex(op == OP_PUT ? buf : "", op == OP_PUT ? n : 0, q->sha);
	snprintf(h, sizeof(h), "x-amz-content-sha256: %s", q->sha);
	const char *hs[] = { h, "Expect:", op == OP_PUT ? "Content-Type: application/octet-stream" : NULL };
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]) && hs[i]; i++) {
		struct curl_slist *g = curl_slist_append(q->hdrs, hs[i]);
		if (!g)
			goto fail;
		q->hdrs = g;
	}
	CURL *e = q->easy;
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
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 5000 ? c->timeout_ms : 5000L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "torghut/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
	/* Separate options, so a ':' in a key cannot split them wrongly. */
	curl_easy_setopt(e, CURLOPT_USERNAME, c->access);
	curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (op == OP_PUT) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, n ? buf : "");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (op == OP_DELETE) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	}

	uv_timer_init(c->loop, &q->backoff);
	q->backoff.data = q;
	c->open++;
	q->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = q;
	c->reqs = q;
	rc = start_attempt(q);
	if (rc < 0) {
		q->cb = NULL;
		req_free(q);
		return rc;
	}
	return 0;
fail:
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->bucket);
	free(q->key);
	free(q);
	return rc;
}

int s3_put(struct s3 *c, const char *bucket, const char *key, const void *buf, size_t n,
	   s3_cb cb, void *arg)
{
	return submit(c, OP_PUT, bucket, key, buf, n, 0, cb, arg);
}

int s3_get(struct s3 *c, const char *bucket, const char *key, size_t max, s3_cb cb, void *arg)
{
	return submit(c, OP_GET, bucket, key, NULL, 0, max, cb, arg);
}

int s3_delete(struct s3 *c, const char *bucket, const char *key, s3_cb cb, void *arg)
{
	return submit(c, OP_DELETE, bucket, key, NULL, 0, 0, cb, arg);
}

int s3_list(struct s3 *c, const char *bucket, const char *prefix, s3_cb cb, void *arg)
{
	return submit(c, OP_LIST, bucket, prefix ? prefix : "", NULL, 0, 0, cb, arg);
}

static void curlm_closed(void *arg)
{
	opened_closed(arg);
}

void s3_close(struct s3 *c, void (*cb)(void *arg), void *arg)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_cb = cb;
	c->close_arg = arg;
	/* Requests waiting for a backoff end here; those in flight end in
	 * curlm_close's done(CURLE_ABORTED_BY_CALLBACK). */
	for (struct s3_req *q = c->reqs, *next; q; q = next) {
		next = q->next;
		if (!q->in_flight && !q->done) {
			char why[REASON_MAX];
			reasonf(why, sizeof(why), q, "cancelled (store closed)", 0);
			deliver(q, -ECANCELED, 0, why);
		}
	}
	curlm_close(c->m, curlm_closed, c);
}

static char *dup_or(const char *s, const char *def, bool *oom)
{
	char *d = strdup(s ? s : def);
	if (!d)
		*oom = true;
	return d;
}

int s3_new(uv_loop_t *loop, const struct s3_config *cfg, struct s3 **out, char *err,
	   size_t errlen)
{
	*out = NULL;
	if (!loop || !cfg) {
		snprintf(err, errlen, "no configuration");
		return -EINVAL;
	}
	const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
	for (const char *p = region; *p; p++)
		if (!unreserved((unsigned char)*p)) {
			snprintf(err, errlen, "s3.region: not a region name");
			return -EINVAL;
		}
	if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key) {
		snprintf(err, errlen, "S3 credentials missing (s3.access.key.file, s3.secret.key.file)");
		return -EINVAL;
	}
	char def[128];
	const char *ep = cfg->endpoint;
	if (!ep || !*ep) {
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com", region);
		ep = def;
	}
	if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
		snprintf(err, errlen, "s3.endpoint: expected http://host[:port] or https://..., got \"%s\"", ep);
		return -EINVAL;
	}
	const char *host = strstr(ep, "://") + 3;
	if (!*host || *host == '/' || strchr(ep, '?') || strchr(ep, '#') || strchr(host, '@')) {
		snprintf(err, errlen, "s3.endpoint: expected http://host[:port] or https://..., got \"%s\"", ep);
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	struct s3 *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	bool oom = false;
	c->loop = loop;
	c->endpoint = dup_or(ep, NULL, &oom);
	if (c->endpoint) {      /* paths below start with '/' */
		size_t l = strlen(c->endpoint);
		while (l > 0 && c->endpoint[l - 1] == '/')
			c->endpoint[--l] = '\0';
	}
	c->region = dup_or(region, NULL, &oom);
	c->access = dup_or(cfg->access_key, NULL, &oom);
	c->secret = dup_or(cfg->secret_key, NULL, &oom);
	c->ca_file = cfg->ca_file && *cfg->ca_file ? dup_or(cfg->ca_file, NULL, &oom) : NULL;
	size_t sl = strlen(region) + sizeof("aws:amz::s3");
	c->sigv4 = malloc(sl);
	if (c->sigv4)
		snprintf(c->sigv4, sl, "aws:amz:%s:s3", region);
	else
		oom = true;
	c->path_style = cfg->path_style;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->max_retries = cfg->max_retries > 0 ? cfg->max_retries : cfg->max_retries < 0 ? 0
			 : DEFAULT_RETRIES;
	c->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : DEFAULT_BACKOFF_MS;
	c->list_max_keys = cfg->list_max_keys;
	if (oom || curlm_new(loop, &c->m) < 0) {
		c->close_cb = NULL;
		client_free(c);
		return -ENOMEM;
	}
	c->open = 1;
	*out = c;
	return 0;
}
