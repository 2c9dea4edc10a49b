/* recording.h - the replay recording format (JSONL): streaming reader, writer.
 *
 * Format, version 1. UTF-8 text, one JSON object per line ("\n" or "\r\n";
 * blank lines are skipped). Three line forms:
 *
 *   {"at_ns":1250000,"msg":{"T":"t","S":"NVDA","i":52983525033527,...}}
 *   {"at_ns":1250000,"frame":[{"T":"q","S":"NVDA",...},{"T":"t",...}]}
 *   {"meta":{"format":"torghut-recording","version":1,...}}
 *
 * - at_ns: send offset of the line in nanoseconds from the session start, a
 *   JSON integer in [0, 2^63-1]. Required on msg and frame lines. Writers emit
 *   lines in non-decreasing at_ns; a reader does not enforce it (a pacer
 *   sends a line whose offset went backwards as soon as it is reached).
 * - msg: one Alpaca message object (alpaca-ws.md section 3), sent as is. It
 *   must be an object with a string "T". Consecutive msg lines may be batched
 *   into one WebSocket frame by the replayer.
 * - frame: one WebSocket frame exactly as received (a JSON array of message
 *   objects, each with a string "T"; control messages such as "success" or
 *   "subscription" may occur, a replayer skips them). torghutd's recorder
 *   (alpaca.record.file) writes this form so frame boundaries survive.
 * - meta: free-form description (generator, seed, session start); optional,
 *   normally the first line; at_ns is optional on it.
 * - Other top-level members are ignored (e.g. a recorder may add "recv_ns").
 *   A line holding both or none of msg/frame/meta, or a member twice, is
 *   malformed. Messages are replayed byte for byte as they appear in the
 *   line, so number spellings and member order are preserved.
 *
 * The reader is streaming: it holds one line at a time (a buffer that grows
 * up to max_line bytes) plus an index of that line's messages, so any number
 * of lines is read in bounded memory. Lines are checked with a strict JSON
 * grammar (RFC 8259, valid UTF-8, nesting <= 64); a malformed line is
 * reported with its 1-based line number and skipped, and reading continues.
 * The reader uses blocking stdio: run it off the loop thread (a worker that
 * fills a queue) or read ahead before serving. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RECORDING_MAX_LINE_DEFAULT (64u << 20) /* 64 MiB: a whole recorded frame */
#define RECORDING_MAX_LINE_LIMIT (1u << 31)    /* offsets are 32-bit */

/* A byte range of the current line; len 0 means absent. */
struct recording_span {
	uint32_t off, len;
};

/* One Alpaca message of a line, located for filtering and the send log. */
struct recording_msg {
	struct recording_span obj;  /* the whole object "{...}", to send as is */
	struct recording_span type; /* "T" value, without quotes (raw, escapes not decoded) */
	struct recording_span sym;  /* "S" value without quotes; absent on control messages */
	struct recording_span id;   /* "i" value when it is a JSON number (trades, cancels) */
	struct recording_span time; /* "t" value without quotes */
};

enum recording_kind {
	RECORDING_MSG = 1, /* "msg" line: nmsgs == 1 */
	RECORDING_FRAME,   /* "frame" line: nmsgs >= 0 (a recorded "[]" is kept) */
	RECORDING_META     /* "meta" line: nmsgs == 0, payload is the meta object */
};

/* One line. Pointers and spans are valid until the next recording_read or
 * recording_reader_free. Spans are offsets into `line`. */
struct recording_item {
	enum recording_kind kind;
	uint64_t lineno;               /* 1-based */
	int64_t at_ns;                 /* -1 on a meta line without at_ns */
	const char *line;              /* the line, NUL-terminated, without the newline */
	size_t line_len;
	struct recording_span payload; /* the msg object, the frame array, or the meta object */
	size_t nmsgs;
	const struct recording_msg *msgs;
};

struct recording_reader_stats {
	uint64_t lines;      /* lines read, blank and malformed included */
	uint64_t items;      /* lines returned as items */
	uint64_t messages;   /* messages in those items */
	uint64_t malformed;  /* lines reported as malformed (-EBADMSG) */
	size_t buf_cap;      /* current line buffer size: bounded by max_line + 1 */
	size_t index_cap;    /* current message index capacity (entries) */
};

struct recording_reader;

/* Reads from f, which the caller keeps open and closes after
 * recording_reader_free. max_line: 0 means RECORDING_MAX_LINE_DEFAULT; a
 * longer line is malformed (read past, never buffered whole). Returns 0,
 * -EINVAL (NULL f, max_line > RECORDING_MAX_LINE_LIMIT) or -ENOMEM. */
int recording_reader_new(FILE *f, size_t max_line, struct recording_reader **out);
void recording_reader_free(struct recording_reader *r);

/* Reads the next non-blank line. Returns
 *   1         an item was stored in *it
 *   0         end of input
 *   -EBADMSG  the line was malformed and skipped: err (if non-NULL) holds
 *             "line N: reason"; *lineno_out (if non-NULL) holds N. Call again
 *             to continue with the next line.
 *   -EIO      read error (ferror on the stream); later calls return -EIO too
 *   -ENOMEM   the message index could not grow (the line is skipped) */
int recording_read(struct recording_reader *r, struct recording_item *it, char *err, size_t errcap,
		   uint64_t *lineno_out);

const struct recording_reader_stats *recording_reader_stats(const struct recording_reader *r);

/* Writers. Each writes one complete line with fwrite (buffered stdio; the
 * caller owns the FILE and decides when to flush). The JSON is checked with
 * the same grammar as the reader and its shape (msg: an object with a string
 * "T"; frame: an array of such objects; meta: an object); raw CR/LF bytes
 * (only possible as JSON whitespace) are written as spaces so the line stays
 * one line. Returns the bytes written, -EINVAL (NULL arguments, at_ns < 0),
 * -EPROTO (not valid JSON of the right shape; nothing written) or -EIO. A
 * frame recorder on the loop thread should hand lines to a worker, or accept
 * that a full stdio buffer costs one blocking write(2). */
int recording_write_msg(FILE *f, int64_t at_ns, const char *json, size_t len);
int recording_write_frame(FILE *f, int64_t at_ns, const char *json, size_t len);
int recording_write_meta(FILE *f, const char *json, size_t len);

/* Checks that buf[0..len) is exactly one JSON value under the reader's
 * grammar (whitespace around it allowed). Returns 0 or -EPROTO. */
int recording_json_valid(const char *buf, size_t len);
