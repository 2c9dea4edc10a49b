/* sendlog.h - what the replay server sent, when: one CSV line per message.
 *
 * Format (RFC 4180 CSV without quoting; first line is the header):
 *
 *   send_ns,conn,frame,symbol,type,id,t
 *   1736951400123456789,1,42,NVDA,t,52983525033527,2025-01-15T14:30:00.123456789Z
 *   1736951400123456789,1,42,NVDA,q,,2025-01-15T14:30:00.123999001Z
 *
 *   send_ns  CLOCK_REALTIME ns when the frame holding the message was handed
 *            to the transport (all messages of a frame share it)
 *   conn     the server's connection number; frame: per-server frame number
 *   symbol   "S"; type: "T"; id: "i" when the message has a numeric one
 *            (trades "t", cancels "x"); t: "t" as sent. Empty when absent.
 * A test matches trades by (symbol, id) and other messages by (symbol, type,
 * t) against what the daemon produced, to count loss and measure latency.
 * Field bytes other than printable ASCII, or ',' and '"', are written as '_'
 * and fields are cut at 64 bytes, so a line never needs CSV quoting.
 *
 * Writes are buffered stdio (1 MiB buffer): a line costs a memcpy, and a
 * full buffer costs one blocking write(2) on the caller's thread. The server
 * writes it from its loop thread: call sendlog_flush off the hot path (an
 * idle or timer callback), or accept that occasional buffered write. Not
 * thread-safe; one writer. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/recording.h"

#define SENDLOG_HEADER "send_ns,conn,frame,symbol,type,id,t\n"

struct sendlog;

struct sendlog_stats {
	uint64_t lines;  /* lines written (header excluded) */
	uint64_t failed; /* lines lost to a write error */
};

/* Creates or truncates path and writes the header. 0, -EINVAL, -ENOMEM or
 * -errno from fopen. */
int sendlog_open(const char *path, struct sendlog **out);
/* Writes to the caller's FILE (not closed by sendlog_close); header included. */
int sendlog_new(FILE *f, struct sendlog **out);

/* One message of a recording item: base is the item's line, m its message.
 * Returns 0, -EINVAL or -EIO (the first error sticks; later lines count as
 * failed). */
int sendlog_write(struct sendlog *l, int64_t send_ns, uint64_t conn, uint64_t frame,
		  const char *base, const struct recording_msg *m);
/* The same from plain fields (NULL or length 0 = absent). */
int sendlog_write_fields(struct sendlog *l, int64_t send_ns, uint64_t conn, uint64_t frame,
			 const char *sym, size_t sym_len, const char *type, size_t type_len,
			 const char *id, size_t id_len, const char *t, size_t t_len);

int sendlog_flush(struct sendlog *l); /* 0 or -EIO */
const struct sendlog_stats *sendlog_stats(const struct sendlog *l);
/* Flushes, closes the file if sendlog_open opened it, frees. 0 or -EIO. */
int sendlog_close(struct sendlog *l);
