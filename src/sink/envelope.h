/* envelope.h - the JSON ingest envelope (wire.md), written without a DOM.
 *
 * Keys are written in the order of the wire.md table, every key present,
 * null where empty:
 *   ingestTs eventTs feed channel symbol seq payload accountLabel isFinal
 *   source window version provider marketSession delayClass
 * Times are RFC 3339 UTC with CLOCK_FRAC_AUTO fractional digits. Every string
 * we write is JSON-escaped; invalid UTF-8 becomes U+FFFD so the output is
 * always valid JSON. The payload is copied verbatim from the frame (the
 * parser has validated it), minus the `"T":"x"` member. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum envelope_source {
	ENVELOPE_SOURCE_WS = 0, /* "ws": live WebSocket */
	ENVELOPE_SOURCE_REST    /* "rest": backfill */
};

/* What the envelope needs besides the event. */
/* A writer's memory between envelopes (zero-initialize, one per writer):
 * the date of the last UTC day and the market session of the last UTC
 * minute written, so times of the same day and minute skip the calendar.
 * The output is the same with or without it. */
struct envelope_cache {
	bool have_day, have_minute;
	int64_t day, minute;
	int session;   /* enum clock_session of `minute` */
	char date[11]; /* "YYYY-MM-DDT" of `day` */
};

struct envelope_meta {
	int64_t ingest_ns;   /* ingestTs: the wall clock now (clock_real_ns()) */
	const char *feed;    /* required: "iex", "sip", "delayed_sip", "test", ... */
	const char *channel; /* NULL: envelope_channel(ev->kind) */
	int64_t seq;         /* the durable per (feed, channel, symbol) counter */
	enum envelope_source source;
	struct envelope_cache *cache; /* optional: NULL works, one saves ~1/3 of the work */
};

/* Writes the envelope of a market-data event into buf, NUL-terminated, and
 * returns its length without the NUL; -ENOSPC if cap is too small; -EINVAL
 * for a control event, a NULL feed or a T range outside raw. eventTs and
 * marketSession are null when ev->t_ns is 0 (absent); symbol is null when
 * empty; payload is null when raw is empty. isFinal is false only for
 * EVENT_UPDATED_BAR. */
int envelope_write(const struct event *ev, const struct envelope_meta *m, char *buf, size_t cap);

/* The envelope channel of an event kind: event_channel(), except Alpaca
 * trading statuses, which share channel "status" (and the status topic) with
 * our connection status events. NULL for control messages. */
const char *envelope_channel(enum event_kind k);

/* iex real_time_exchange_only; sip real_time_consolidated; delayed_sip
 * delayed_15m_consolidated; anything else (or NULL) NULL, written as null. */
const char *envelope_delay_class(const char *feed);

enum envelope_conn_state {
	ENVELOPE_CONN_CONNECTING = 0,
	ENVELOPE_CONN_AUTHENTICATED,
	ENVELOPE_CONN_SUBSCRIBED,
	ENVELOPE_CONN_DISCONNECTED,
	ENVELOPE_CONN_ERROR,
	ENVELOPE_CONN_GAP,
	ENVELOPE_CONN_CHECKPOINT, /* our addition: the marker of a committed checkpoint */
	ENVELOPE_CONN_COUNT
};

/* "connecting", "authenticated", ...; NULL if out of range. */
const char *envelope_conn_state_name(enum envelope_conn_state s);

/* Our connection status event (channel "status", symbol = feed id, source
 * "ws"). Absent values (has_X false, NULL strings) are written as null. */
struct envelope_conn_status {
	int64_t ingest_ns;            /* ingestTs */
	int64_t event_ns;             /* eventTs: when the state changed; 0 = null */
	const char *feed;             /* required: feed, and symbol (the record key) */
	int64_t seq;
	enum envelope_conn_state status;
	bool has_error_code;
	int64_t error_code;           /* e.g. Alpaca's 406 */
	const char *error_class;      /* "alpaca_auth", "tls", ... (wire.md) */
	const char *detail;           /* free text, e.g. the server's message */
	bool has_attempt;
	int64_t attempt;              /* reconnect attempt number */
	bool has_gap_start, has_gap_end;
	int64_t gap_start_ns, gap_end_ns; /* RFC 3339 in the payload */
	bool has_dropped;
	int64_t dropped;              /* messages lost (backpressure, rejects) */
};

/* Payload: {component:"torghutd", status, error_code, error_class, detail,
 * attempt, gap_start, gap_end, dropped, schema_version:1}. Same return
 * convention as envelope_write; -EINVAL for a NULL feed or a bad status. */
int envelope_write_conn_status(const struct envelope_conn_status *s, char *buf, size_t cap);
/* The checkpoint marker (status `checkpoint`, attempt = id, detail as given)
 * of a feed, stamped now; same return convention. */
int envelope_write_marker(const char *feed, int64_t seq, uint64_t id, const char *detail, char *buf, size_t cap);
