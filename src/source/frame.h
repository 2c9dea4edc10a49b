/* frame.h - zero-copy parser of one Alpaca market-data frame.
 *
 * A frame is a JSON array of message objects, each with a "T" type member
 * (alpaca-ws.md section 3). frame_parse reads a compact frame (what Alpaca
 * sends) in one pass; anything else it tokenizes with jsmn. Either way it
 * checks that it is well-formed JSON (what jsmn lets through included:
 * separators, literals, number grammar, raw control bytes), and only then
 * calls the callback once per message it understands, in frame order, with
 * an event whose string fields are slices of the caller's buffer (event.h).
 * So raw minus [type_off, type_off + type_len) is always valid JSON. A frame
 * that is not a well-formed JSON array delivers nothing. A message that
 * cannot be used (not an object, no T, a required field missing or
 * malformed) is skipped and counted by reason; a message with an unknown T
 * is skipped and counted. Unknown fields are ignored. The parser keeps its
 * token and event arrays between frames and does not allocate per message.
 * Not checked: UTF-8 validity of string bytes (passed through as sent).
 *
 * Fields per kind (required unless marked optional; numbers must be JSON
 * numbers, ids non-negative integers <= 2^63-1):
 *   t  trade         S t i p s        -> u.trade {id=i, price=p, size=s}
 *   q  quote         S t bp ap bs as  -> u.quote
 *   b/u/d bars       S t o h l c v, vw (NaN if absent), n (-1 if absent) -> u.bar
 *   c  correction    S t, ci cp cs optional -> u.trade (corrected trade; -1/NaN if absent)
 *   x  cancel/error  S t i, p s optional    -> u.trade (NaN if absent)
 *   s l i            S t              -> raw only
 *   success          msg optional     -> u.ctl.msg
 *   error            code msg optional -> u.ctl {code (0 if absent), msg}
 *   subscription     -                -> raw only
 * Control messages have an empty symbol and t_ns 0. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Why a message was skipped. */
enum frame_reject {
	FRAME_REJ_NOT_OBJECT = 0, /* array element is not an object */
	FRAME_REJ_NO_TYPE,        /* "T" absent, not a string, or present twice */
	FRAME_REJ_MISSING_FIELD,  /* a required field is absent */
	FRAME_REJ_BAD_SYMBOL,     /* "S" not a string, empty, > EVENT_SYMBOL_MAX-1 bytes, control chars */
	FRAME_REJ_BAD_TIME,       /* "t" not a string holding an RFC 3339 time in int64 ns */
	FRAME_REJ_BAD_NUMBER,     /* a numeric field of the wrong type or out of range */
	FRAME_REJ_COUNT
};

struct frame_stats {
	uint64_t frames;       /* frames that were a well-formed JSON array */
	uint64_t frames_bad;   /* frames rejected whole (frame_parse returned < 0) */
	uint64_t frames_general; /* frames the single pass handed to the jsmn path (see frame.c) */
	uint64_t messages;     /* array elements seen in good frames */
	uint64_t events;       /* events delivered */
	uint64_t unknown_type; /* messages skipped for an unknown "T" */
	uint64_t rejected;     /* messages skipped for a frame_reject reason (sum of by_reason) */
	uint64_t by_reason[FRAME_REJ_COUNT];
};

struct frame_parser;

/* Called once per event, in frame order. ev and its slices are valid only
 * during the call (the slices: as long as the frame buffer lives). */
typedef void (*frame_cb)(void *arg, const struct event *ev);

struct frame_parser *frame_parser_new(void); /* NULL on ENOMEM */
void frame_parser_free(struct frame_parser *p);

/* Parses one complete frame (buf need not be NUL-terminated). Returns the
 * number of events delivered, or before delivering any:
 *   -EPROTO   not well-formed JSON, not an array, or trailing bytes
 *             (also nesting deeper than 64, which Alpaca never sends)
 *   -EMSGSIZE len >= 2^31 (jsmn offsets are int)
 *   -ENOMEM   the token array could not grow
 *   -EINVAL   NULL p, buf or cb */
int frame_parse(struct frame_parser *p, const char *buf, size_t len, int64_t recv_real_ns,
		int64_t recv_mono_ns, frame_cb cb, void *arg);

const struct frame_stats *frame_parser_stats(const struct frame_parser *p);

/* Stable lowercase names for metrics labels ("not_object", ...). */
const char *frame_reject_name(enum frame_reject r);
