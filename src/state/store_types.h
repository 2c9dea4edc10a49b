/* store_types.h - results and callbacks shared by the checkpoint stores
 * (store_fs, store_s3) and their facade (store.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define STORE_REASON_MAX 200

/* A checkpoint a search passed over, and why. */
struct store_skip {
	uint64_t id;
	char reason[STORE_REASON_MAX];
};

/* What a latest/read_dir search found. Valid only during the callback: copy
 * or load what is needed before returning. */
struct store_latest {
	int status;             /* 0, -ENOENT (no complete checkpoint), -EPROTO, or -errno */
	uint64_t id;
	const uint8_t *buf;     /* the validated snapshot bytes */
	size_t len;
	const struct store_skip *skipped;       /* newest first */
	size_t nskipped;
	/* status < 0: one line saying why when the skipped list does not
	 * (an I/O, network or authorization error); "" otherwise. */
	const char *error;
};

typedef void (*store_write_cb)(int status, void *arg);
typedef void (*store_latest_cb)(const struct store_latest *res, void *arg);
typedef void (*store_close_cb)(void *arg);
