/* tls.c - mbedTLS over a uv TCP stream, pull/push adapter (see tls.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "net/rng.h"
#include "net/tls.h"

#define TLS_CONFIG_MAGIC 0x544c5343u /* "TLSC" */
#define TLS_MAGIC 0x544c5321u        /* "TLS!" */
#define TLS_LINGER_MS 2000           /* bound on flushing the queue at close */
#define TLS_RBUF_SIZE 65536          /* one uv read */
#define TLS_PBUF_SIZE 16384          /* one TLS record of plaintext */

enum tls_mode { TLS_MODE_PLAIN, TLS_MODE_CLIENT, TLS_MODE_SERVER };

struct tls_config {
	uint32_t magic;
	enum tls_mode mode;
	struct rng *rng;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;  /* client trust anchors */
	mbedtls_x509_crt own; /* server chain */
	mbedtls_pk_context key;
};

struct tls {
	uint32_t magic;
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake deadline, then the close linger */
	uv_shutdown_t shutdown_req;
	struct tls_config *cfg;
	mbedtls_ssl_context ssl;
	bool secure;
	bool started;
	bool ready;
	bool ended;
	bool paused;          /* tls_read_pause(): reading stopped by the owner */           /* on_end delivered: no more input */
	bool broken;          /* TLS or transport failure: no close_notify */
	bool closing;         /* tls_close() called */
	bool handles_closing; /* uv_close() issued */
	int handles_open;
	int write_err; /* first uv write error, reported instead of -EPROTO */
	const uint8_t *win; /* the pull window mbedTLS reads from */
	size_t win_len;
	size_t queued;
	uint32_t verify_flags;
	char err[TLS_ERR_TEXT_MAX];
	struct tls_cbs cbs;
	void *user;
	uint8_t rbuf[TLS_RBUF_SIZE];
	uint8_t pbuf[TLS_PBUF_SIZE];
};

/* A queued write owns a copy of its bytes, allocated with the request. */
struct tls_wreq {
	uv_write_t req;
	struct tls *t;
	size_t len;
	uint8_t data[];
};

/* --- configuration ------------------------------------------------------- */

static void tls_set_err(char *err, size_t cap, const char *what, const char *file, int mbed)
{
	if (!err || cap == 0)
		return;
	char detail[160];
	mbedtls_strerror(mbed, detail, sizeof(detail));
	snprintf(err, cap, "%s %s: %s", what, file, detail);
}

static int tls_file_errno(int mbed)
{
	if (mbed == MBEDTLS_ERR_X509_FILE_IO_ERROR || mbed == MBEDTLS_ERR_PK_FILE_IO_ERROR)
		return -EIO;
	if (mbed == MBEDTLS_ERR_X509_ALLOC_FAILED || mbed == MBEDTLS_ERR_PK_ALLOC_FAILED)
		return -ENOMEM;
	return -EINVAL;
}

static int tls_config_alloc(struct tls_config **out, enum tls_mode mode)
{
	struct tls_config *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->magic = TLS_CONFIG_MAGIC;
	c->mode = mode;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->own);
	mbedtls_pk_init(&c->key);
	int r = rng_new(&c->rng);
	if (r < 0) {
		tls_config_free(c);
		return r;
	}
	*out = c;
	return 0;
}

static int tls_config_defaults(struct tls_config *c, int endpoint)
{
	if (mbedtls_ssl_config_defaults(&c->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -ENOMEM;
	mbedtls_ssl_conf_rng(&c->conf, rng_mbedtls, c->rng);
	/* TLS 1.2 is the newest mbedTLS 2.28 speaks; refuse anything older. */
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	return 0;
}

int tls_config_new_plain(struct tls_config **out)
{
	if (!out)
		return -EINVAL;
	return tls_config_alloc(out, TLS_MODE_PLAIN);
}

int tls_config_new_client(struct tls_config **out, const char *ca_file, char *err, size_t err_cap)
{
	if (!out)
		return -EINVAL;
	if (!ca_file || !*ca_file)
		ca_file = TLS_SYSTEM_CA_FILE;
	struct tls_config *c;
	int r = tls_config_alloc(&c, TLS_MODE_CLIENT);
	if (r < 0)
		return r;
	/* A positive return counts certificates that failed to parse: system
	 * bundles can carry some mbedTLS does not support; the rest still count. */
	int m = mbedtls_x509_crt_parse_file(&c->ca, ca_file);
	if (m < 0 || c->ca.version == 0) {
		tls_set_err(err, err_cap, "CA file", ca_file, m < 0 ? m : MBEDTLS_ERR_X509_INVALID_FORMAT);
		tls_config_free(c);
		return m < 0 ? tls_file_errno(m) : -EINVAL;
	}
	r = tls_config_defaults(c, MBEDTLS_SSL_IS_CLIENT);
	if (r < 0) {
		tls_config_free(c);
		return r;
	}
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	*out = c;
	return 0;
}

int tls_config_new_server(struct tls_config **out, const char *cert_file, const char *key_file,
                          char *err, size_t err_cap)
{
	if (!out || !cert_file || !key_file)
		return -EINVAL;
	struct tls_config *c;
	int r = tls_config_alloc(&c, TLS_MODE_SERVER);
	if (r < 0)
		return r;
	int m = mbedtls_x509_crt_parse_file(&c->own, cert_file);
	if (m != 0) {
		tls_set_err(err, err_cap, "certificate file", cert_file,
		            m < 0 ? m : MBEDTLS_ERR_X509_INVALID_FORMAT);
		tls_config_free(c);
		return m < 0 ? tls_file_errno(m) : -EINVAL;
	}
	m = mbedtls_pk_parse_keyfile(&c->key, key_file, NULL);
	if (m != 0) {
		tls_set_err(err, err_cap, "key file", key_file, m);
		tls_config_free(c);
		return tls_file_errno(m);
	}
	r = tls_config_defaults(c, MBEDTLS_SSL_IS_SERVER);
	if (r < 0) {
		tls_config_free(c);
		return r;
	}
	m = mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key);
	if (m != 0) {
		tls_set_err(err, err_cap, "certificate/key pair", cert_file, m);
		tls_config_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void tls_config_free(struct tls_config *c)
{
	if (!c)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->own);
	mbedtls_pk_free(&c->key);
	rng_free(c->rng);
	c->magic = 0;
	free(c);
}

bool tls_config_is_plain(const struct tls_config *c)
{
	return c->mode == TLS_MODE_PLAIN;
}

int tls_config_rng(void *p_rng, unsigned char *buf, size_t len)
{
	struct tls_config *c = p_rng;
	if (!c || c->magic != TLS_CONFIG_MAGIC)
		return MBEDTLS_ERR_ERROR_GENERIC_ERROR;
	return rng_mbedtls(c->rng, buf, len);
}

/* --- raw transport ------------------------------------------------------- */

static void tls_write_done(uv_write_t *req, int status);

/* Ordered, never-blocking send: what the kernel does not take now is copied
 * and queued. uv_try_write itself refuses while older writes are queued. */
static int tls_raw_write(struct tls *t, const uint8_t *buf, size_t len)
{
	if (t->handles_closing || t->write_err)
		return t->write_err ? t->write_err : UV_EPIPE;
	size_t off = 0;
	if (t->queued == 0) {
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
		int n = uv_try_write((uv_stream_t *)&t->tcp, &b, 1);
		if (n >= 0)
			off = (size_t)n;
		else if (n != UV_EAGAIN && n != UV_ENOSYS)
			return t->write_err = n;
	}
	if (off == len)
		return 0;
	size_t rest = len - off;
	struct tls_wreq *w = malloc(sizeof(*w) + rest);
	if (!w)
		return -ENOMEM;
	w->t = t;
	w->len = rest;
	memcpy(w->data, buf + off, rest);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)rest);
	int r = uv_write(&w->req, (uv_stream_t *)&t->tcp, &b, 1, tls_write_done);
	if (r < 0) {
		free(w);
		return t->write_err = r;
	}
	t->queued += rest;
	return 0;
}

/* Input is over: report once, stop reading and the handshake deadline. */
static void tls_end(struct tls *t, int status)
{
	if (t->ended || t->closing)
		return;
	t->ended = true;
	t->broken = status < 0 && status != UV_EOF;
	uv_read_stop((uv_stream_t *)&t->tcp);
	uv_timer_stop(&t->timer);
	t->cbs.on_end(t->user, status);
}

static void tls_write_done(uv_write_t *req, int status)
{
	struct tls_wreq *w = (struct tls_wreq *)req;
	struct tls *t = w->t;
	t->queued -= w->len;
	free(w);
	if (status < 0 && status != UV_ECANCELED) {
		if (!t->write_err)
			t->write_err = status;
		tls_end(t, status);
	}
}

/* mbedTLS BIOs: recv drains the window, send pushes to the socket. */
static int tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	if (t->win_len == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	size_t n = len < t->win_len ? len : t->win_len;
	memcpy(buf, t->win, n);
	t->win += n;
	t->win_len -= n;
	return (int)n;
}

static int tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	if (tls_raw_write(t, buf, len) < 0)
		return MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)len;
}

static void tls_mbed_err(struct tls *t, const char *what, int mbed)
{
	char detail[160];
	mbedtls_strerror(mbed, detail, sizeof(detail));
	snprintf(t->err, sizeof(t->err), "%s: %s (-0x%04x)", what, detail, (unsigned)-mbed);
}

/* A transport error that broke mbedTLS's send is reported as itself. */
static int tls_fail_status(const struct tls *t)
{
	return t->write_err ? t->write_err : -EPROTO;
}

/* Runs the handshake as far as the window allows. Returns 0 while it
 * continues or has finished, -1 once it failed (on_end delivered). */
static int tls_handshake_step(struct tls *t)
{
	int r = mbedtls_ssl_handshake(&t->ssl);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return 0;
	if (r == 0) {
		t->ready = true;
		uv_timer_stop(&t->timer);
		t->cbs.on_ready(t->user);
		return 0;
	}
	if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		t->verify_flags = mbedtls_ssl_get_verify_result(&t->ssl);
		int n = snprintf(t->err, sizeof(t->err), "certificate verification failed:");
		/* verify_info writes one line per flag; make it one line. */
		mbedtls_x509_crt_verify_info(t->err + n, sizeof(t->err) - (size_t)n, " ",
		                             t->verify_flags);
		for (char *p = t->err; *p; p++)
			if (*p == '\n')
				*p = (p[1] ? ';' : '\0');
	} else {
		tls_mbed_err(t, "TLS handshake", r);
	}
	tls_end(t, tls_fail_status(t));
	return -1;
}

/* Decrypts everything the window holds. Stops early only if a callback
 * closed or ended the stream. */
static void tls_pump(struct tls *t)
{
	if (!t->ready) {
		if (tls_handshake_step(t) < 0 || !t->ready || t->closing || t->ended)
			return;
	}
	for (;;) {
		int n = mbedtls_ssl_read(&t->ssl, t->pbuf, sizeof(t->pbuf));
		if (n > 0) {
			t->cbs.on_read(t->user, t->pbuf, (size_t)n);
			if (t->closing || t->ended)
				return;
			continue;
		}
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			tls_end(t, 0);
			return;
		}
		tls_mbed_err(t, "TLS read", n);
		tls_end(t, tls_fail_status(t));
		return;
	}
}

static void tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	/* One buffer suffices: every read is consumed before the next alloc. */
	struct tls *t = h->data;
	*buf = uv_buf_init((char *)t->rbuf, sizeof(t->rbuf));
}

static void tls_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tls *t = s->data;
	if (t->closing || t->ended || nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			snprintf(t->err, sizeof(t->err), "read: %s", uv_strerror((int)nread));
			tls_end(t, (int)nread);
		} else if (!t->secure) {
			tls_end(t, 0);
		} else if (!t->ready) {
			snprintf(t->err, sizeof(t->err), "peer closed the connection during the TLS handshake");
			tls_end(t, -EPROTO);
		} else {
			snprintf(t->err, sizeof(t->err), "peer closed the connection without close_notify");
			tls_end(t, UV_EOF);
		}
		return;
	}
	if (!t->secure) {
		t->cbs.on_read(t->user, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	t->win = (const uint8_t *)buf->base;
	t->win_len = (size_t)nread;
	tls_pump(t);
	t->win_len = 0; /* left over only if the stream was closed meanwhile */
}

/* --- lifecycle ----------------------------------------------------------- */

int tls_new(struct tls **out, uv_loop_t *loop, struct tls_config *cfg, const char *hostname,
            const struct tls_cbs *cbs, void *user)
{
	if (!out || !loop || !cfg || cfg->magic != TLS_CONFIG_MAGIC || !cbs || !cbs->on_ready ||
	    !cbs->on_read || !cbs->on_end || !cbs->on_close)
		return -EINVAL;
	if (cfg->mode == TLS_MODE_CLIENT && (!hostname || !*hostname))
		return -EINVAL;
	struct tls *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->magic = TLS_MAGIC;
	t->cfg = cfg;
	t->cbs = *cbs;
	t->user = user;
	t->secure = cfg->mode != TLS_MODE_PLAIN;
	mbedtls_ssl_init(&t->ssl);
	if (t->secure) {
		int m = mbedtls_ssl_setup(&t->ssl, &cfg->conf);
		if (m == 0 && cfg->mode == TLS_MODE_CLIENT)
			m = mbedtls_ssl_set_hostname(&t->ssl, hostname);
		if (m != 0) {
			mbedtls_ssl_free(&t->ssl);
			free(t);
			return m == MBEDTLS_ERR_SSL_ALLOC_FAILED ? -ENOMEM : -EINVAL;
		}
		mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
	}
	int r = uv_tcp_init(loop, &t->tcp);
	if (r < 0) {
		mbedtls_ssl_free(&t->ssl);
		free(t);
		return r;
	}
	uv_timer_init(loop, &t->timer);
	t->tcp.data = t;
	t->timer.data = t;
	t->shutdown_req.data = t;
	t->handles_open = 2;
	*out = t;
	return 0;
}

uv_tcp_t *tls_tcp(struct tls *t)
{
	return &t->tcp;
}

static void tls_handshake_expired(uv_timer_t *timer)
{
	struct tls *t = timer->data;
	snprintf(t->err, sizeof(t->err), "TLS handshake timed out");
	tls_end(t, -ETIMEDOUT);
}

int tls_read_pause(struct tls *t, bool paused)
{
	if (!t || t->magic != TLS_MAGIC || !t->started || t->ended || t->closing || t->paused == paused)
		return 0;
	t->paused = paused;
	if (paused)
		return uv_read_stop((uv_stream_t *)&t->tcp);
	return uv_read_start((uv_stream_t *)&t->tcp, tls_alloc, tls_read);
}

int tls_start(struct tls *t, uint32_t handshake_timeout_ms)
{
	if (!t || t->magic != TLS_MAGIC || t->started || t->closing)
		return -EINVAL;
	t->started = true;
	/* Market data is many small messages: latency over coalescing. */
	uv_tcp_nodelay(&t->tcp, 1);
	int r = uv_read_start((uv_stream_t *)&t->tcp, tls_alloc, tls_read);
	if (r < 0)
		return r;
	if (!t->secure) {
		t->ready = true;
		t->cbs.on_ready(t->user);
		return 0;
	}
	if (handshake_timeout_ms)
		uv_timer_start(&t->timer, tls_handshake_expired, handshake_timeout_ms, 0);
	tls_handshake_step(t); /* the client's ClientHello goes out now */
	return 0;
}

int tls_write(struct tls *t, const uint8_t *buf, size_t len)
{
	if (!t->ready || t->closing)
		return -ENOTCONN;
	if (!t->secure)
		return tls_raw_write(t, buf, len);
	size_t off = 0;
	while (off < len) {
		int n = mbedtls_ssl_write(&t->ssl, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (!t->write_err)
			tls_mbed_err(t, "TLS write", n);
		return tls_fail_status(t);
	}
	return 0;
}

size_t tls_write_queued(const struct tls *t)
{
	return t->queued;
}

static void tls_handle_closed(uv_handle_t *h)
{
	struct tls *t = h->data;
	if (--t->handles_open > 0)
		return;
	t->cbs.on_close(t->user);
	mbedtls_ssl_free(&t->ssl);
	t->magic = 0;
	free(t);
}

static void tls_close_handles(struct tls *t)
{
	if (t->handles_closing)
		return;
	t->handles_closing = true;
	uv_close((uv_handle_t *)&t->tcp, tls_handle_closed);
	uv_close((uv_handle_t *)&t->timer, tls_handle_closed);
}

static void tls_shutdown_done(uv_shutdown_t *req, int status)
{
	tls_close_handles(req->data);
}

static void tls_linger_expired(uv_timer_t *timer)
{
	tls_close_handles(timer->data);
}

void tls_close(struct tls *t)
{
	if (!t || t->magic != TLS_MAGIC || t->closing)
		return;
	t->closing = true;
	uv_timer_stop(&t->timer);
	if (t->secure && t->ready && !t->broken && !t->write_err)
		mbedtls_ssl_close_notify(&t->ssl); /* queued like any record */
	/* FIN only after the queue (close_notify included) has drained, bounded
	 * by the linger timer in case the peer stopped reading. */
	if (t->started && !t->write_err &&
	    uv_shutdown(&t->shutdown_req, (uv_stream_t *)&t->tcp, tls_shutdown_done) == 0) {
		uv_timer_start(&t->timer, tls_linger_expired, TLS_LINGER_MS, 0);
		return;
	}
	tls_close_handles(t);
}

bool tls_is_secure(const struct tls *t)
{
	return t->secure;
}

uint32_t tls_verify_flags(const struct tls *t)
{
	return t->verify_flags;
}

const char *tls_error_text(const struct tls *t)
{
	return t->err;
}
