/* rng.h - a CTR_DRBG seeded from the system entropy source.
 *
 * One per owner (the TLS config holds one), never global. The WebSocket layer
 * takes randomness through the mbedTLS f_rng shape so tests can inject a
 * deterministic source instead. */
#pragma once

#include <stddef.h>

struct rng;

/* Seeds a new generator (reads the kernel entropy source once; call at start
 * up or per connection, not per message). Returns 0, -ENOMEM or -EIO. */
int rng_new(struct rng **out);
void rng_free(struct rng *r);

/* Fills buf with len random bytes. Returns 0 or -EIO. */
int rng_bytes(struct rng *r, void *buf, size_t len);

/* mbedTLS f_rng shape: p_rng is a struct rng *. Returns 0 or an mbedTLS
 * error code, as mbedtls_ssl_conf_rng expects. */
int rng_mbedtls(void *p_rng, unsigned char *buf, size_t len);
