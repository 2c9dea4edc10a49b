/* store_fs.h - checkpoints in a local directory (the file:// store).
 *
 * Layout and MANIFEST format: manifest.h. Every file is written as
 * <name>.tmp, fsynced, renamed, and the directory fsynced, so after a crash
 * a checkpoint is either complete or has no MANIFEST (and is ignored). All
 * file work runs on the uv threadpool; the loop thread only queues jobs and
 * receives results in after-work callbacks. Jobs of one store run one at a
 * time, in submission order.
 *
 * Retention: after a successful store_fs_write, complete checkpoints beyond
 * the newest `retain`, and incomplete ones older than the newest complete one
 * (crash leftovers), are deleted, MANIFEST first. Savepoints
 * (store_fs_write_to) live elsewhere and are never pruned. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "state/store_types.h"

struct store_fs;

/* Does no I/O: the directory is created by the first write. retain >= 1.
 * 0, -EINVAL, -ENOMEM. */
int store_fs_new(uv_loop_t *loop, const char *dir, unsigned retain, struct store_fs **out);

/* Writes checkpoint `id` (buf holds a snapshot); cb(0) once it is durable and
 * complete, or cb(-errno). buf must stay valid and unchanged until cb runs
 * (the worker reads it; no copy is made). -EEXIST if a complete checkpoint
 * with that id exists. Returns 0 (cb will run) or -ECANCELED after
 * store_fs_close, -ENOMEM (cb will not run). */
int store_fs_write(struct store_fs *s, uint64_t id, const void *buf, size_t n,
		   store_write_cb cb, void *arg);

/* A savepoint: the same two files written directly into `dir` (created if
 * missing, its parent must exist), never pruned. Same contract otherwise. */
int store_fs_write_to(struct store_fs *s, const char *dir, uint64_t id, const void *buf,
		      size_t n, store_write_cb cb, void *arg);

/* Finds the newest complete checkpoint with id <= max_id (UINT64_MAX: no
 * bound) whose MANIFEST is intact and whose snapshot matches it (size, CRC)
 * and passes snapshot_read; newer ones that are incomplete, damaged or
 * truncated are passed over and reported in res->skipped (newest first; ids
 * above max_id are not looked at). An intact snapshot in a format version
 * this build cannot read stops the search: res->status -EPROTO, the
 * explanation is the last entry of res->skipped (falling back past it would
 * silently regress the state). No checkpoint at all: -ENOENT.
 * Returns 0 (cb will run) or -ECANCELED, -ENOMEM. */
int store_fs_latest(struct store_fs *s, uint64_t max_id, store_latest_cb cb, void *arg);

/* Same checks on one checkpoint or savepoint directory. */
int store_fs_read_dir(struct store_fs *s, const char *dir, store_latest_cb cb, void *arg);

/* Jobs already queued finish (their callbacks run), later calls get
 * -ECANCELED; then cb runs and the store is freed. cb may be NULL. */
void store_fs_close(struct store_fs *s, store_close_cb cb, void *arg);
