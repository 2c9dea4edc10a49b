/* tls.h - a byte stream over a TCP handle: mbedTLS (client or server) driven
 * non-blockingly by the loop, or plain, behind one interface.
 *
 * Pull/push adapter: the uv read callback puts the received bytes in a window
 * that mbedTLS's receive BIO drains (WANT_READ once it is empty); the send
 * BIO hands records to uv_try_write and queues what the kernel did not take
 * with uv_write, so mbedTLS never sees WANT_WRITE. The handshake is an
 * explicit state driven from the read callback.
 *
 * Lifetime: tls_new() -> (connect or accept tls_tcp()) -> tls_start() ->
 * tls_write()/on_read ... -> tls_close() -> on_close, after which the memory
 * is released. The owner calls tls_close() exactly once, in any state,
 * including from inside a callback. No callback but on_close runs after
 * tls_close(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define TLS_ERR_TEXT_MAX 256 /* tls_error_text() never returns more (incl. NUL) */

/* --- configuration (shared by many connections) ------------------------- */

/* Holds the mode, the certificates and a CTR_DRBG (per config, not global).
 * Creating one reads files: do it at start-up, not on the loop's hot path.
 * Free it only after every tls object that uses it has been closed. */
struct tls_config;

/* No TLS: tls objects made from it are plain TCP (ws://). */
int tls_config_new_plain(struct tls_config **out);

/* Client: verify the server chain against ca_file (PEM bundle; NULL means
 * TLS_SYSTEM_CA_FILE) and the host name given to tls_new(). TLS >= 1.2.
 * Returns 0, -ENOMEM, -EIO (unreadable file) or -EINVAL (no usable
 * certificate); err (may be NULL) gets a one-line reason. */
int tls_config_new_client(struct tls_config **out, const char *ca_file, char *err,
                          size_t err_cap);

/* Server: present cert_file (PEM leaf, then any intermediates) with the
 * private key in key_file (PEM, unencrypted). Same returns as above. */
int tls_config_new_server(struct tls_config **out, const char *cert_file,
                          const char *key_file, char *err, size_t err_cap);

void tls_config_free(struct tls_config *cfg);
bool tls_config_is_plain(const struct tls_config *cfg);

/* mbedTLS f_rng shape over the config's DRBG (p_rng is the struct
 * tls_config *): WebSocket keys and masks use it. Returns 0 on success. */
int tls_config_rng(void *p_rng, unsigned char *buf, size_t len);

/* --- one connection ------------------------------------------------------ */

struct tls;

struct tls_cbs {
	/* Handshake done (plain: at tls_start). tls_write() works from now on. */
	void (*on_ready)(void *user);
	/* Received bytes (plaintext). buf is valid only during the call. */
	void (*on_read)(void *user, const uint8_t *buf, size_t len);
	/* Input ended; called at most once, then the owner calls tls_close().
	 *   0             orderly end: TLS close_notify, or EOF on plain TCP
	 *   UV_EOF        TLS stream ended without close_notify
	 *   -EPROTO       TLS failure: handshake (certificate, host name, alert,
	 *                 not TLS at all) or a bad record; see tls_verify_flags()
	 *                 and tls_error_text()
	 *   -ETIMEDOUT    handshake deadline passed
	 *   other < 0     uv transport error (UV_ECONNRESET, ...) */
	void (*on_end)(void *user, int status);
	/* After tls_close(): both handles are closed; the object is freed when
	 * this returns. */
	void (*on_close)(void *user);
};

/* Makes a connection object and uv_tcp_init()s its embedded TCP handle.
 * hostname: client TLS only (required there): SNI and the name the
 * certificate must match; ignored otherwise. The config must outlive the
 * object. Returns 0, -EINVAL or -ENOMEM. */
int tls_new(struct tls **out, uv_loop_t *loop, struct tls_config *cfg, const char *hostname,
            const struct tls_cbs *cbs, void *user);

/* The embedded handle, to connect (dial_start) or uv_accept() into. */
uv_tcp_t *tls_tcp(struct tls *t);

/* The TCP connection is established: start reading and the handshake (a
 * client sends its ClientHello now). handshake_timeout_ms 0 = no deadline.
 * on_ready or on_end may run before this returns. Returns 0 or a negative
 * uv code. */
int tls_start(struct tls *t, uint32_t handshake_timeout_ms);

/* Stops reading (paused true) or reads again: a reader that has done enough
 * work in one loop iteration pauses and resumes on a later one, so timers
 * and other handles get their turn. Bytes already read are still delivered.
 * Does nothing before tls_start, once input ended or while closing. Returns
 * 0 or a negative uv code. */
int tls_read_pause(struct tls *t, bool paused);

/* Sends len bytes (copied if they cannot go out at once). Before on_ready
 * or after tls_close(): -ENOTCONN. Write errors: negative uv code, or
 * -EPROTO from mbedTLS. */
int tls_write(struct tls *t, const uint8_t *buf, size_t len);

/* Bytes accepted by tls_write() (after encryption) not yet handed to the
 * kernel: lets a sender notice a peer that does not read. */
size_t tls_write_queued(const struct tls *t);

/* Graceful close: close_notify (TLS, after the handshake), TCP FIN once the
 * queue has drained (at most TLS_LINGER_MS), then the handles are closed
 * and on_close runs. Idempotent. */
void tls_close(struct tls *t);

bool tls_is_secure(const struct tls *t);

/* mbedTLS verification flags (MBEDTLS_X509_BADCERT_*) of a failed
 * certificate check, 0 otherwise. */
uint32_t tls_verify_flags(const struct tls *t);

/* One-line reason for the last failure, "" if none. */
const char *tls_error_text(const struct tls *t);
