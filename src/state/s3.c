/* s3.c - the S3 client: request state machine on curlm (through curlreq),
 * SigV4 by libcurl, retries with backoff, a minimal ListObjectsV2 XML reader. */
#include "config.h"

#include "state/s3.h"
#include "net/curlreq.h"

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
	if (curl_code == CURLE_OK)
		return http_status >= 500 || http_status == 429;
	return curlreq_transient((CURLcode)curl_code);
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
	struct curlreq http;
	struct s3 *c;
	enum s3_op op;
	char *bucket, *key;     /* key: the object, or the listing's prefix */
	const void *buf;        /* PUT: the caller's bytes */
	size_t n;
	size_t max;             /* GET: the largest object accepted */
	int page_attempts;
	struct s3_list_page page;
	s3_cb cb;
	void *arg;
	char sha[65];           /* the payload's SHA-256, hex */
};

struct s3 {
	struct curlreq_pool pool;
	bool path_style;
	int max_retries, backoff_ms, list_max_keys;
	char endpoint[];        /* without a trailing '/' */
};

static void req_release(void *arg)
{
	struct s3_req *q = arg;
	s3_list_page_fini(&q->page);
	free(q->bucket);
	free(q->key);
	free(q);
}

static void deliver(struct s3_req *q, int status, long http, const char *reason)
{
	struct s3_result res = {
		.status = status, .http_status = http, .attempts = q->http.attempts,
		.reason = reason ? reason : "",
	};
	if (status == 0 && q->op == OP_GET) {
		res.body = (const uint8_t *)(q->http.body ? q->http.body : "");
		res.len = q->http.len;
	}
	if (status == 0 && q->op == OP_LIST) {
		res.objects = q->page.objects;
		res.nobjects = q->page.n;
	}
	curlreq_end(&q->http);  /* q stays valid until req_release, from the loop */
	if (q->cb)
		q->cb(&res, q->arg);
}

/* "GET s3://bucket/key: " then the rest. */
static void reasonf(char *out, size_t cap, const struct s3_req *q, const char *what, int attempts)
{
	int k = snprintf(out, cap, "%s s3://%s/%s: %s", op_names[q->op], q->bucket, q->key, what);
	if (k > 0 && (size_t)k < cap && attempts > 1)
		snprintf(out + k, cap - (size_t)k, " (%d attempts)", attempts);
}

static void req_cancel(void *arg)
{
	char why[REASON_MAX];
	reasonf(why, sizeof(why), arg, "cancelled (store closed)", 0);
	deliver(arg, -ECANCELED, 0, why);
}

static int start_attempt(struct s3_req *q);

static void req_again(void *arg)
{
	struct s3_req *q = arg;
	int rc = start_attempt(q);
	if (rc < 0) {
		char why[REASON_MAX];
		reasonf(why, sizeof(why), q, "could not start the request", q->http.attempts);
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
	curl_easy_setopt(q->http.easy, CURLOPT_URL, url);  /* curl copies it */
	q->page_attempts++;
	return curlreq_start(&q->http);
}

static void req_done(void *arg, CURLcode cc)
{
	struct s3_req *q = arg;
	struct s3 *c = q->c;
	char why[REASON_MAX], what[REASON_MAX - 64];
	long status = 0;
	curl_easy_getinfo(q->http.easy, CURLINFO_RESPONSE_CODE, &status);
	if (s3_retryable(cc, status) && q->page_attempts <= c->max_retries && !c->pool.closing) {
		curlreq_retry(&q->http, curlreq_backoff_ms(c->backoff_ms, BACKOFF_MAX_MS, q->page_attempts));
		return;
	}
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR && q->http.too_big) {
			snprintf(what, sizeof(what), "larger than %zu bytes", q->max);
			reasonf(why, sizeof(why), q, what, q->http.attempts);
			deliver(q, -EFBIG, status, why);
			return;
		}
		snprintf(what, sizeof(what), "%s", curlreq_error(&q->http, cc));
		reasonf(why, sizeof(why), q, what, q->http.attempts);
		deliver(q, transport_errno(cc), status, why);
		return;
	}
	if (status >= 200 && status < 300) {
		if (q->op != OP_LIST) {
			deliver(q, 0, status, NULL);
			return;
		}
		char perr[160];
		int rc = s3_list_parse(q->http.body, q->http.len, &q->page, perr, sizeof(perr));
		if (rc) {
			reasonf(why, sizeof(why), q, perr, q->http.attempts);
			deliver(q, rc == -EPROTO ? -EIO : rc, status, why);
			return;
		}
		if (q->page.truncated) {
			q->page_attempts = 0;
			rc = start_attempt(q);
			if (rc) {
				reasonf(why, sizeof(why), q, "could not request the next page", q->http.attempts);
				deliver(q, rc, status, why);
			}
			return;
		}
		deliver(q, 0, status, NULL);
		return;
	}
	char etext[200];
	s3_error_text(q->http.body, q->http.len, etext, sizeof(etext));
	snprintf(what, sizeof(what), "HTTP %ld%s%s", status, *etext ? " " : "", etext);
	reasonf(why, sizeof(why), q, what, q->http.attempts);
	deliver(q, s3_http_errno(status), status, why);
}

static const struct curlreq_ops req_ops = {
	.done = req_done, .again = req_again, .cancel = req_cancel, .release = req_release,
};

static int submit(struct s3 *c, enum s3_op op, const char *bucket, const char *key,
		  const void *buf, size_t n, size_t max, s3_cb cb, void *arg)
{
	if (c->pool.closing)
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
	if (!q->bucket || !q->key ||
	    curlreq_init(&q->http, &c->pool, q, op == OP_GET ? max : BODY_MAX) < 0) {
		free(q->bucket);
		free(q->key);
		free(q);
		return -ENOMEM;
	}
	/* From here q is freed by req_release once ended. */
	int rc = -ENOMEM;

	char h[128];
	sha256_hex(op == OP_PUT ? buf : "", op == OP_PUT ? n : 0, q->sha);
	snprintf(h, sizeof(h), "x-amz-content-sha256: %s", q->sha);
	if (curlreq_header(&q->http, h) < 0 || curlreq_header(&q->http, "Expect:") < 0 ||
	    (op == OP_PUT && curlreq_header(&q->http, "Content-Type: application/octet-stream") < 0))
		goto fail;
	if (op == OP_PUT)
		curlreq_method(&q->http, "PUT", n ? buf : "", n);
	else if (op == OP_DELETE)
		curlreq_method(&q->http, "DELETE", NULL, 0);
	rc = start_attempt(q);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	curlreq_end(&q->http);
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

void s3_close(struct s3 *c, void (*cb)(void *arg), void *arg)
{
	curlreq_pool_close(&c->pool, cb, arg);
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
	size_t el = strlen(ep);
	struct s3 *c = calloc(1, sizeof(*c) + el + 1);
	size_t sl = strlen(region) + sizeof("aws:amz::s3");
	char *sigv4 = malloc(sl);
	if (!c || !sigv4) {
		free(c);
		free(sigv4);
		return -ENOMEM;
	}
	snprintf(sigv4, sl, "aws:amz:%s:s3", region);
	int timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	const struct curlreq_opts ho = {
		.timeout_ms = timeout_ms, .connect_timeout_ms = timeout_ms < 5000 ? timeout_ms : 5000,
		.user = cfg->access_key, .password = cfg->secret_key, .aws_sigv4 = sigv4,
		.ca_file = cfg->ca_file && *cfg->ca_file ? cfg->ca_file : NULL, .body_max = BODY_MAX,
	};
	memcpy(c->endpoint, ep, el + 1);
	while (el > 0 && c->endpoint[el - 1] == '/')
		c->endpoint[--el] = '\0';      /* paths below start with '/' */
	c->path_style = cfg->path_style;
	c->max_retries = cfg->max_retries > 0 ? cfg->max_retries : cfg->max_retries < 0 ? 0
			 : DEFAULT_RETRIES;
	c->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : DEFAULT_BACKOFF_MS;
	c->list_max_keys = cfg->list_max_keys;
	int rc = curlreq_pool_init(&c->pool, loop, &req_ops, c, &ho);
	free(sigv4);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}
