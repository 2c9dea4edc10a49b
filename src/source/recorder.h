/* recorder.h - alpaca.record.file: every received frame as a recording line
 * {"at_ns":N,"frame":[...]} (src/replay/recording.h), so a real session can
 * be replayed with torghut-replay.
 *
 * The file is written with uv_fs_write from a double buffer, never with a
 * blocking call on the loop. If the disk falls behind and both buffers are
 * full, frames are dropped and counted (recording is best effort; the data
 * path is never slowed by it). */
#pragma once

#include <stdint.h>
#include <stddef.h>

#include <uv.h>

struct recorder;

struct recorder_stats {
	uint64_t frames, bytes, dropped_frames, write_errors;
};

/* Opens (creates, appends) the file; called at start-up. 0 or -errno. */
int recorder_new(uv_loop_t *loop, const char *path, struct recorder **out);
/* Appends one frame; `frame` must be a JSON array (checked by the parser). */
void recorder_frame(struct recorder *r, int64_t recv_real_ns, const char *frame, size_t len);
/* Starts writing what is buffered (call it from a periodic timer). */
void recorder_flush(struct recorder *r);
const struct recorder_stats *recorder_stats(const struct recorder *r);
/* Writes what is buffered, closes the file, frees; cb when done. */
void recorder_close(struct recorder *r, void (*cb)(void *arg), void *arg);
