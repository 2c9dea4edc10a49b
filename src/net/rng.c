/* rng.c - per-owner CTR_DRBG (see rng.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "net/rng.h"

#define RNG_MAGIC 0x524e4721u /* "RNG!" */

struct rng {
	uint32_t magic;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

int rng_new(struct rng **out)
{
	static const unsigned char pers[] = "torghut-net";
	struct rng *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->magic = RNG_MAGIC;
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers,
	                          sizeof(pers) - 1) != 0) {
		rng_free(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

void rng_free(struct rng *r)
{
	if (!r)
		return;
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
	r->magic = 0;
	free(r);
}

int rng_bytes(struct rng *r, void *buf, size_t len)
{
	return mbedtls_ctr_drbg_random(&r->drbg, buf, len) == 0 ? 0 : -EIO;
}

int rng_mbedtls(void *p_rng, unsigned char *buf, size_t len)
{
	struct rng *r = p_rng;
	return mbedtls_ctr_drbg_random(&r->drbg, buf, len);
}
