/* event.h - the normalized market-data events passed from source to ta and sink.
 *
 * Events are produced by the frame parser (source/frame) from one Alpaca
 * WebSocket frame. String fields are slices into the frame buffer: they are
 * valid only until the frame buffer is released, so a consumer that keeps
 * anything copies it (symbols are short and are copied into the event). */
#pragma once

#include <stdint.h>
#include <stddef.h>

#define EVENT_SYMBOL_MAX 24 /* Alpaca symbols are <= 11 chars; crypto pairs a bit more */

/* A byte range inside a frame buffer; not NUL-terminated. */
struct event_slice {
	const char *p;
	uint32_t n;
};

enum event_kind {
	EVENT_NONE = 0,
	EVENT_TRADE,          /* T=t  channel trades */
	EVENT_QUOTE,          /* T=q  channel quotes */
	EVENT_BAR,            /* T=b  channel bars (final minute bar) */
	EVENT_UPDATED_BAR,    /* T=u  channel updatedBars */
	EVENT_DAILY_BAR,      /* T=d  channel dailyBars */
	EVENT_TRADING_STATUS, /* T=s  channel statuses */
	EVENT_LULD,           /* T=l  channel lulds */
	EVENT_CORRECTION,     /* T=c  follows trades */
	EVENT_CANCEL_ERROR,   /* T=x  follows trades */
	EVENT_IMBALANCE,      /* T=i  channel imbalances */
	EVENT_CTL_SUCCESS,    /* T=success  {"msg":"connected"|"authenticated"} */
	EVENT_CTL_ERROR,      /* T=error    {"code":N,"msg":"..."} */
	EVENT_CTL_SUBSCRIPTION, /* T=subscription: raw holds the object; parse it off the hot path */
	EVENT_KIND_COUNT
};

struct event_trade {
	int64_t id;   /* Alpaca `i`; exchange trade ids exceed 2^32 */
	double price; /* `p` */
	double size;  /* `s` */
};

struct event_quote {
	double bid_px, ask_px; /* `bp`, `ap` */
	double bid_sz, ask_sz; /* `bs`, `as` */
};

struct event_bar {
	double o, h, l, c, v; /* `o h l c v` */
	double vw;            /* `vw`; NaN when absent */
	int64_t n;            /* `n` trade count; -1 when absent */
};

struct event_ctl {
	int code;               /* error code for EVENT_CTL_ERROR, else 0 */
	struct event_slice msg; /* `msg` text (unescaped only if it had no escapes) */
};

struct event {
	enum event_kind kind;
	uint8_t symbol_len;
	char symbol[EVENT_SYMBOL_MAX]; /* `S`, NUL-terminated copy; empty for control messages */
	int64_t t_ns;                  /* `t` as UTC nanoseconds since the epoch; 0 if absent */
	int64_t recv_real_ns;          /* CLOCK_REALTIME when the frame was read from the socket */
	int64_t recv_mono_ns;          /* CLOCK_MONOTONIC when the frame was read from the socket */
	/* The whole message object `{...}` as it appeared in the frame, and the
	 * byte range inside it to cut to drop the `"T":"x"` member (including one
	 * adjacent comma), so the envelope payload is `raw` minus that range. */
	struct event_slice raw;
	uint32_t type_off, type_len;
	union {
		struct event_trade trade;
		struct event_quote quote;
		struct event_bar bar;
		struct event_ctl ctl;
	} u;
};

/* The Alpaca channel name an event kind belongs to ("trades", "quotes", ...),
 * or NULL for control messages. */
static inline const char *event_channel(enum event_kind k)
{
	switch (k) {
	case EVENT_TRADE: return "trades";
	case EVENT_QUOTE: return "quotes";
	case EVENT_BAR: return "bars";
	case EVENT_UPDATED_BAR: return "updatedBars";
	case EVENT_DAILY_BAR: return "dailyBars";
	case EVENT_TRADING_STATUS: return "statuses";
	case EVENT_LULD: return "lulds";
	case EVENT_CORRECTION: return "corrections";
	case EVENT_CANCEL_ERROR: return "cancelErrors";
	case EVENT_IMBALANCE: return "imbalances";
	default: return NULL;
	}
}
