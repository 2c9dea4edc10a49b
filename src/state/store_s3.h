/* store_s3.h - checkpoints in an S3 bucket (s3:// store), through the S3
 * client (s3.h) on the loop.
 *
 * The layout and MANIFEST of store_fs (manifest.h), under a key prefix:
 *     <prefix>/chk-<id, 20 digits>/state.snap
 *     <prefix>/chk-<id, 20 digits>/MANIFEST      PUT last: marks it complete
 * An S3 PUT replaces an object whole, so no temporary names are needed: a
 * checkpoint without MANIFEST (a crash between the two PUTs) is ignored.
 * Jobs of one store run one at a time, in submission order.
 *
 * Retention, after a successful store_s3_write: complete checkpoints (those
 * with a MANIFEST object) beyond the newest `retain`, and incomplete ones
 * older than the newest complete one, are deleted, MANIFEST first.
 * Savepoints (store_s3_write_to) are never pruned. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "state/s3.h"
#include "state/store_types.h"

struct store_s3;

/* prefix without leading or trailing '/' ("" = the bucket's top). Checks
 * the configuration, does no I/O. 0, or -EINVAL with err, -ENOMEM. */
int store_s3_new(uv_loop_t *loop, const struct s3_config *cfg, const char *bucket,
		 const char *prefix, unsigned retain, struct store_s3 **out, char *err,
		 size_t errlen);

/* The contracts of store_fs.h; where a write fails, store_s3_last_error
 * says why during the callback. */
int store_s3_write(struct store_s3 *s, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg);
/* A savepoint: <prefix>/state.snap and <prefix>/MANIFEST in bucket. */
int store_s3_write_to(struct store_s3 *s, const char *bucket, const char *prefix, uint64_t id,
		      const void *buf, size_t n, store_write_cb cb, void *arg);
/* A network or authorization error stops the search (res->status, the
 * reason in res->error): only damage is skipped, never an outage. */
int store_s3_latest(struct store_s3 *s, uint64_t max_id, store_latest_cb cb, void *arg);
int store_s3_read_dir(struct store_s3 *s, const char *bucket, const char *prefix,
		      store_latest_cb cb, void *arg);
/* The last failed job's one-line reason ("" if none). */
const char *store_s3_last_error(const struct store_s3 *s);
void store_s3_close(struct store_s3 *s, store_close_cb cb, void *arg);

/* "<prefix>/chk-<id 20 digits>/<name>" (no leading '/' when prefix is "");
 * name NULL: the checkpoint's own prefix. The length, or -ENOSPC. */
int store_s3_key(char *out, size_t cap, const char *prefix, uint64_t id, const char *name);
