/* envelope_in.h - ingest envelopes (wire.md) read back into events: the
 * input of role=ta, the inverse of sink/envelope's envelope_write.
 *
 * Read from the envelope: channel, symbol, eventTs, isFinal, payload; every
 * other key is ignored whatever its value (wire.md: consumers tolerate
 * unknown fields). Read from the payload, per channel (Alpaca's short keys,
 * any order, unknown keys ignored):
 *   trades                 i p s, t optional  -> u.trade {id=i, price=p, size=s}
 *   quotes                 bp bs ap as, t optional -> u.quote
 *   bars, updatedBars      o h l c v, t vw n optional -> u.bar (vw NaN, n -1 when absent or null)
 * Values are checked where TA depends on them: symbol non-empty, at most
 * EVENT_SYMBOL_MAX-1 bytes, no control bytes; trade and bar prices (p o h l
 * c) finite and > 0; quote prices (bp ap) finite and >= 0, since Alpaca
 * sends 0 for an empty book side; sizes, v and vw finite and >= 0; i and n
 * integers >= 0; times RFC 3339 and after 1970. A key we read that appears
 * twice is refused (parsers disagree on which one counts).
 *
 * Time: payload.t wins over eventTs when present. It is Alpaca's value as
 * sent, full precision, the one the in-process frame parser turns into
 * t_ns; eventTs is a producer's re-formatting of it (equal for ours, an
 * upstream-compatible producer may round it). eventTs is still required and
 * checked, as wire.md has it in every envelope.
 *
 * The whole record is checked to be one JSON object (RFC 8259 syntax;
 * not checked: UTF-8 validity and raw control bytes inside strings other
 * than the symbol). Numbers read exactly as strtod reads them: short
 * decimals by one exact division, the rest by strtod, which assumes the
 * "C" locale's decimal point (the daemon never calls setlocale; under
 * another locale those are refused, never misread). Stateless, no
 * allocation, a few hundred bytes of stack per nesting level. About 1.6 us
 * a trade envelope (430 bytes) at -O2. */
#pragma once

#include <stddef.h>

#include "event.h"

/* How deep unknown values may nest (ours: 2); deeper records are refused,
 * which bounds the scanner's recursion. */
#define ENVELOPE_IN_DEPTH_MAX 32

/* Decodes one ingest envelope (a Kafka record value; need not be
 * NUL-terminated) into *ev: kind from `channel` (trades, quotes, bars,
 * updatedBars; bars with isFinal false are EVENT_UPDATED_BAR), symbol, t_ns,
 * u, and raw = the payload object inside json (valid while json is;
 * type_off = type_len = 0: it has no "T" member). recv_real_ns and
 * recv_mono_ns are left as they were, for the caller. *ev is written only
 * on success. Returns
 *   0         decoded
 *   -ENOTSUP  a channel TA does not use (status, dailyBars, ...), for the
 *             caller to count and skip (err says so)
 *   -EINVAL   err says what is wrong, "field: problem", e.g.
 *             "eventTs: not an RFC 3339 time", "payload.p: missing"
 * err (errlen bytes, NUL-terminated, truncated) may be NULL. */
int envelope_in_decode(const char *json, size_t len, struct event *ev, char *err, size_t errlen);
