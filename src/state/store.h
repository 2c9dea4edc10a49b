/* store.h - the checkpoint store the daemon uses, backend chosen by URL:
 *     file:///abs/dir or /abs/dir     -> store_fs (threadpool)
 *     s3://bucket/prefix, s3a://...   -> store_s3 (curl multi on the loop)
 * Both keep the layout of manifest.h and the contracts of store_fs.h:
 * callbacks on the loop thread, never from inside the call that queued
 * them; buffers valid until the callback; jobs run in submission order. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "state/store_types.h"

struct store;

struct store_config {
	const char *url;          /* state.checkpoints.dir */
	unsigned retain;          /* >= 1 */
	const char *s3_endpoint;  /* "http://127.0.0.1:4568" or "https://..."; NULL = https://s3.<region>.amazonaws.com */
	const char *s3_region;    /* "us-east-1" */
	bool s3_path_style;
	const char *s3_access_key, *s3_secret_key; /* already read from their files */
	const char *s3_ca_file;   /* NULL = system store */
	int timeout_ms;           /* per request; 0 = 30 s */
	int max_retries;          /* 0 = 5 */
};

/* Checks the URL and the S3 settings; does no I/O. 0, or -EINVAL with err
 * naming the problem (never a secret), -ENOMEM. */
int store_new(uv_loop_t *loop, const struct store_config *cfg, struct store **out, char *err,
	      size_t errlen);

/* Writes checkpoint `id`; cb(0) once it is durable and complete, or
 * cb(-errno) with store_last_error saying why. Then prunes to `retain`.
 * Returns 0 (cb will run) or -ECANCELED, -EINVAL, -ENOMEM. */
int store_write(struct store *s, uint64_t id, const void *buf, size_t n, store_write_cb cb,
		void *arg);

/* savepoint into a directory or URL of the same kind (file path or s3://bucket/prefix); never pruned */
int store_write_to(struct store *s, const char *where, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg);

/* The newest complete, intact checkpoint with id <= max_id (UINT64_MAX: no
 * bound); see store_fs_latest for the skipping and -EPROTO rules. */
int store_latest(struct store *s, uint64_t max_id, store_latest_cb cb, void *arg);

/* one checkpoint/savepoint */
int store_read_dir(struct store *s, const char *where, store_latest_cb cb, void *arg);

/* "file:///x" or "s3://b/p" without secrets */
const char *store_describe(const struct store *s);

/* The one-line reason of the last failed write ("" if none); meant for the
 * write callback. */
const char *store_last_error(const struct store *s);

/* Queued jobs finish (their callbacks run), later calls get -ECANCELED;
 * then cb runs from the loop and the store is freed. cb may be NULL. */
void store_close(struct store *s, store_close_cb cb, void *arg);

/* ---- URL parsing, exposed for tests ---- */

/* 1 for a store_fs location (the absolute path into path), 2 for S3 (bucket
 * and prefix, without leading or trailing '/'), or -EINVAL. */
int store_parse_url(const char *url, char *path, size_t pathcap, char *bucket, size_t bcap,
		    char *prefix, size_t pcap);
