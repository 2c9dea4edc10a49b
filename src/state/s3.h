/* s3.h - a small S3 client on the loop: PUT, GET, DELETE and ListObjectsV2
 * through curlm, signed by libcurl's own SigV4 (CURLOPT_AWS_SIGV4), with
 * retries and exponential backoff.
 *
 * URLs: path style <endpoint>/<bucket>/<key>, or virtual-host style
 * <scheme>://<bucket>.<endpoint host>/<key>. Keys are sent percent-encoded
 * (RFC 3986 unreserved characters and '/' kept), the ListObjectsV2 query
 * already in SigV4 canonical form (sorted, encoded), so the signature does
 * not depend on how a libcurl version canonicalizes. Every request carries
 * x-amz-content-sha256 (the payload's SHA-256), which S3 requires.
 *
 * Retries: connection errors, timeouts, HTTP 5xx and 429 (503 SlowDown is a
 * 5xx) are retried up to max_retries times after 100 ms, 200 ms, ... (at most
 * 5 s, +-25 % jitter); any other 4xx is final. Errors are negative errno
 * codes with a one-line reason that never holds a credential:
 *   -EACCES 401/403, -ENOENT 404, -EIO 5xx/429 after the retries or a bad
 *   answer, -EINVAL other 4xx, -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (DNS),
 *   -ECONNABORTED (TLS), -EFBIG (a GET larger than asked for),
 *   -ECANCELED (s3_close). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct s3;

struct s3_config {
	const char *endpoint;   /* "http://127.0.0.1:4568", "https://host[:port][/base]";
				 * NULL = https://s3.<region>.amazonaws.com */
	const char *region;     /* NULL = "us-east-1" */
	bool path_style;
	const char *access_key, *secret_key;
	const char *ca_file;    /* NULL = the system store */
	int timeout_ms;         /* per attempt; 0 = 30 s */
	int max_retries;        /* 0 = 5; negative = no retry */
	int backoff_ms;         /* the first retry's delay; 0 = 100 ms */
	int list_max_keys;      /* ListObjectsV2 page size; 0 = the server's */
};

struct s3_object {
	char *key;
	uint64_t size;
};

/* Valid only during the callback. */
struct s3_result {
	int status;             /* 0 or -errno (above) */
	long http_status;       /* of the last answer; 0 if none came */
	int attempts;           /* requests sent (all pages of a listing) */
	const char *reason;     /* status < 0: one line; "" otherwise */
	const uint8_t *body;    /* s3_get: the object */
	size_t len;
	const struct s3_object *objects;        /* s3_list: every page, in key order */
	size_t nobjects;
};

typedef void (*s3_cb)(const struct s3_result *res, void *arg);

/* Checks the configuration, does no I/O. 0, or -EINVAL with err naming the
 * problem, -ENOMEM. */
int s3_new(uv_loop_t *loop, const struct s3_config *cfg, struct s3 **out, char *err,
	   size_t errlen);

/* Each returns 0 (cb will run on the loop) or -ECANCELED after s3_close,
 * -EINVAL, -ENOMEM (cb will not run). Requests run concurrently. */

/* buf must stay valid and unchanged until cb runs. */
int s3_put(struct s3 *c, const char *bucket, const char *key, const void *buf, size_t n,
	   s3_cb cb, void *arg);
/* An object larger than max bytes: -EFBIG. */
int s3_get(struct s3 *c, const char *bucket, const char *key, size_t max, s3_cb cb, void *arg);
/* Deleting a missing key succeeds (S3 semantics). */
int s3_delete(struct s3 *c, const char *bucket, const char *key, s3_cb cb, void *arg);
/* Every key starting with prefix, following continuation tokens. */
int s3_list(struct s3 *c, const char *bucket, const char *prefix, s3_cb cb, void *arg);

/* Requests in flight end with -ECANCELED (their callbacks run from inside
 * this call, as curlm_close does); later calls
 * get -ECANCELED; then cb runs from the loop and the client is freed. */
void s3_close(struct s3 *c, void (*cb)(void *arg), void *arg);

/* ---- pure parts, exposed for tests ---- */

/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash).
 * The length written, or -ENOSPC. */
int s3_encode(char *out, size_t cap, const char *s, bool keep_slash);

/* The URL of key in bucket (key NULL or "": the bucket itself), query
 * appended after '?' as given (NULL: none). endpoint as in s3_config (not
 * NULL here, no trailing '/'). The length, -ENOSPC or -EINVAL. */
int s3_url(char *out, size_t cap, const char *endpoint, const char *bucket, bool path_style,
	   const char *key, const char *query);

/* Should this outcome be retried? curl_code is a CURLcode (0 = an answer
 * came, http_status is its status). */
bool s3_retryable(int curl_code, long http_status);

/* -errno for a final HTTP status >= 300. */
int s3_http_errno(long http_status);

/* One ListObjectsV2 answer. */
struct s3_list_page {
	struct s3_object *objects;
	size_t n, cap;
	bool truncated;
	char *next_token;       /* NULL unless truncated */
};

/* Parses a ListBucketResult document, appending its keys to pg (so pages
 * accumulate). 0, or -EPROTO with why (not XML we understand, truncated,
 * IsTruncated without a token, a Contents without Key or Size), -ENOMEM. */
int s3_list_parse(const char *xml, size_t len, struct s3_list_page *pg, char *why,
		  size_t whylen);
void s3_list_page_fini(struct s3_list_page *pg);

/* From an S3 <Error> document: "Code: Message" into out (empty when xml is
 * not one). */
void s3_error_text(const char *xml, size_t len, char *out, size_t cap);
