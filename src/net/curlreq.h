/* curlreq.h - the request side every HTTP client on curlm shares: the pool
 * of a client's requests, which holds the client's connection options
 * (timeouts, credentials, CA file), cancels the requests on close and says
 * when the last handle is closed, so the client can be freed; and per
 * request an easy handle with those and the house options (http/https only,
 * no signals, user agent), its headers, the answer's body in a growing
 * buffer with a size limit, curl's error text, a retry timer with backoff.
 * The client keeps its URLs, methods, retry policy and results.
 *
 * A request: curlreq_init (listed in its pool), set up, curlreq_start; each
 * attempt ends in ops->done; from there curlreq_start again (the next page),
 * curlreq_retry (ops->again after the delay) or curlreq_end. Ended, it is
 * out of the pool at once, and its memory (the body too) stays valid until
 * ops->release, which runs from the loop once its timer is closed.
 *
 * struct curlreq is embedded in the client's request and must not move
 * (curl and uv hold pointers into it). Callbacks run on the loop thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <uv.h>

/* Each gets the owner given to curlreq_init. */
struct curlreq_ops {
	/* An attempt ended: CURLE_OK (the HTTP status is CURLINFO_RESPONSE_CODE)
	 * or curl's error. */
	void (*done)(void *owner, CURLcode cc);
	void (*again)(void *owner);     /* the retry delay is over */
	/* The pool is closing and the request is waiting for a retry, or curl
	 * aborted it (done is not called then): end it (curlreq_end) as
	 * cancelled. */
	void (*cancel)(void *owner);
	void (*release)(void *owner);   /* ended and closed: free it (NULL: free()) */
	/* After curlreq_pool_close, every handle closed: free the client
	 * given to curlreq_pool_init, the pool with it (NULL: free()). */
	void (*release_client)(void *client);
};

/* Every request of a pool gets these; the strings are copied. */
struct curlreq_opts {
	long timeout_ms;          /* per attempt */
	long connect_timeout_ms;
	const char *user;         /* NULL: no credentials */
	const char *password;     /* NULL with a user: ""; wiped when freed */
	const char *aws_sigv4;    /* with a user: CURLOPT_AWS_SIGV4's provider; NULL: basic auth */
	const char *ca_file;      /* NULL: the system store */
	size_t body_max;          /* the largest answer body accepted (a 2xx one: curlreq_init) */
};

struct curlm;
struct curlreq;

/* The fields of both structs are curlreq's; a client reads pool.closing and
 * a request's easy, body, len, too_big and attempts. */
struct curlreq_pool {
	uv_loop_t *loop;
	struct curlm *m;
	const struct curlreq_ops *ops;
	struct curlreq *reqs;   /* not ended */
	long timeout_ms, connect_timeout_ms;
	char *user, *password, *aws_sigv4, *ca_file;
	size_t body_max;
	int open;               /* the curlm plus request timers not yet closed */
	bool closing;
	void *client;
	void (*closed)(void *arg);
	void *closed_arg;
};

struct curlreq {
	uv_timer_t timer;         /* the retry delay */
	struct curlreq_pool *pool;
	void *owner;
	struct curlreq *next, *prev;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;               /* the answer so far, '\0'-terminated; NULL if none came */
	size_t len, cap;
	size_t ok_body_max, body_max;
	int attempts;             /* started so far */
	bool in_flight;
	bool too_big;             /* over the limit: the transfer ends in CURLE_WRITE_ERROR */
	char errbuf[CURL_ERROR_SIZE];
};

/* 0, -ENOMEM. */
int curlreq_pool_init(struct curlreq_pool *p, uv_loop_t *loop, const struct curlreq_ops *ops,
		      void *client, const struct curlreq_opts *o);

/* Requests waiting for a retry get ops->cancel from inside this call, those
 * in flight from curlm_close (inside this call, or right after the callback
 * this is called from); later curlreq_init calls get -ECANCELED. Once every
 * handle is closed: ops->release_client, then closed(arg) (may be NULL),
 * from the loop. A second call does nothing. */
void curlreq_pool_close(struct curlreq_pool *p, void (*closed)(void *arg), void *arg);

/* Lists q in p; ok_body_max: the largest body of a 2xx answer accepted.
 * 0, or -ECANCELED (p is closing), -ENOMEM with nothing held. From here q
 * leaves only through curlreq_end. */
int curlreq_init(struct curlreq *q, struct curlreq_pool *p, void *owner, size_t ok_body_max);

/* Adds a header line ("Name: value"; "Name:" drops one curl would send).
 * 0 or -ENOMEM. */
int curlreq_header(struct curlreq *q, const char *line);

/* body: sent as is (not copied: it must stay valid until the request is
 * released), n bytes; NULL for none. method: NULL for curl's choice (POST
 * with a body, else GET). */
void curlreq_method(struct curlreq *q, const char *method, const void *body, size_t n);

/* An attempt: forgets the last answer, counts the attempt, hands the handle
 * to curlm. 0, or curlm_add's error. */
int curlreq_start(struct curlreq *q);

/* ops->again after delay_ms. */
void curlreq_retry(struct curlreq *q, long delay_ms);

/* Out of the pool now; ops->release later, from the loop. */
void curlreq_end(struct curlreq *q);

/* Did the attempt fail on the way (connect, DNS, timeout, a connection
 * that broke), so that trying again may work? TLS trust, protocol and our
 * own aborts are final. */
bool curlreq_transient(CURLcode cc);

/* One line for an attempt that failed with cc. */
const char *curlreq_error(const struct curlreq *q, CURLcode cc);

/* The wait before retrying once `attempt` attempts have failed: first_ms,
 * doubled per further attempt up to max_ms, then 75..125 % of that, so
 * clients restarted together do not retry in lockstep. */
long curlreq_backoff_ms(long first_ms, long max_ms, int attempt);
