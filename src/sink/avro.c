/* avro.c - Avro binary encoding of the TA records (see avro.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "core/clock.h"
#include "sink/avro.h"

/* A bounded output cursor. Writes past the end are dropped and remembered so
 * the encoders need no per-field error checks; the first error sticks. */
struct enc {
	uint8_t *p, *end, *start;
	int err;
};

static void put(struct enc *e, const void *src, size_t n)
{
	if (e->err || n == 0)
		return;
	if ((size_t)(e->end - e->p) < n) {
		e->err = -ENOSPC;
		return;
	}
	memcpy(e->p, src, n);
	e->p += n;
}

/* Avro long and int: zigzag, then a base-128 varint, low group first. */
static void put_long(struct enc *e, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
	uint8_t b[10];
	size_t n = 0;

	while (z >= 0x80) {
		b[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	b[n++] = (uint8_t)z;
	put(e, b, n);
}

static void put_bool(struct enc *e, bool v)
{
	uint8_t b = v ? 1 : 0;
	put(e, &b, 1);
}

/* Avro double: the IEEE 754 bits, little-endian, whatever the host order. */
static void put_double(struct enc *e, double v)
{
	uint64_t u;
	uint8_t b[8];

	memcpy(&u, &v, sizeof(u));
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
	put(e, b, 8);
}

static void put_strn(struct enc *e, const char *s, size_t n)
{
	put_long(e, (int64_t)n);
	put(e, s, n);
}

static void put_str(struct enc *e, const char *s)
{
	if (!s) {
		if (!e->err)
			e->err = -EINVAL;
		return;
	}
	put_strn(e, s, strlen(s));
}

/* Timestamps travel as RFC 3339 strings (see ta/record.h). */
static void put_ts(struct enc *e, int64_t ns)
{
	char t[CLOCK_RFC3339_MAX];
	int n = clock_format_rfc3339(ns, CLOCK_FRAC_AUTO, t, sizeof(t));

	if (n < 0) {
		if (!e->err)
			e->err = -EINVAL;
		return;
	}
	put_strn(e, t, (size_t)n);
}

/* Union branch indexes. Most unions are ["null", X]; version is ["int","null"]. */
static void put_null(struct enc *e) { put_long(e, 0); }
static void put_some(struct enc *e) { put_long(e, 1); }

static void put_opt_bool(struct enc *e, bool has, bool v)
{
	if (!has) {
		put_null(e);
		return;
	}
	put_some(e);
	put_bool(e, v);
}

static void put_opt_long(struct enc *e, bool has, int64_t v)
{
	if (!has) {
		put_null(e);
		return;
	}
	put_some(e);
	put_long(e, v);
}

static void put_opt_double(struct enc *e, bool has, double v)
{
	if (!has) {
		put_null(e);
		return;
	}
	put_some(e);
	put_double(e, v);
}

static void put_opt_str(struct enc *e, const char *s)
{
	if (!s) {
		put_null(e);
		return;
	}
	put_some(e);
	put_str(e, s);
}

static void put_opt_ts(struct enc *e, bool has, int64_t ns)
{
	if (!has) {
		put_null(e);
		return;
	}
	put_some(e);
	put_ts(e, ns);
}

/* version: ["int", "null"], so int is branch 0 and null is branch 1. */
static void put_version(struct enc *e, bool has, int32_t v)
{
	if (!has) {
		put_long(e, 1);
		return;
	}
	put_long(e, 0);
	put_long(e, v);
}

/* A fixed char array must hold its NUL; an unterminated one is a bug upstream. */
static void put_arr(struct enc *e, const char *a, size_t cap)
{
	size_t n = strnlen(a, cap);

	if (n == cap) {
		if (!e->err)
			e->err = -EINVAL;
		return;
	}
	put_strn(e, a, n);
}

static void put_head(struct enc *e, const struct ta_rec_head *h)
{
	const struct ta_window *w = &h->window;

	put_ts(e, h->ingest_ns);
	put_ts(e, h->event_ns);
	put_arr(e, h->symbol, sizeof(h->symbol));
	put_long(e, h->seq);
	put_opt_bool(e, h->has_is_final, h->is_final);
	put_opt_str(e, h->source);
	if (!h->has_window) {
		put_null(e);
		return;
	}
	put_some(e);
	put_arr(e, w->size, sizeof(w->size));
	if (w->step[0]) {
		put_some(e);
		put_arr(e, w->step, sizeof(w->step));
	} else {
		put_null(e);
	}
	put_opt_ts(e, w->has_start, w->start_ns);
	put_opt_ts(e, w->has_end, w->end_ns);
}

static void enc_init(struct enc *e, uint8_t *buf, size_t cap)
{
	e->start = e->p = buf;
	e->end = buf ? buf + cap : buf;
	e->err = 0;
}

static int enc_done(const struct enc *e)
{
	size_t n;

	if (e->err)
		return e->err;
	n = (size_t)(e->p - e->start);
	return n > INT_MAX ? -ERANGE : (int)n;
}

void avro_frame_header(uint8_t out[AVRO_FRAME_HEADER_LEN], int32_t schema_id)
{
	uint32_t id = (uint32_t)schema_id;

	out[0] = 0x00;
	out[1] = (uint8_t)(id >> 24);
	out[2] = (uint8_t)(id >> 16);
	out[3] = (uint8_t)(id >> 8);
	out[4] = (uint8_t)id;
}

int avro_enc_bar(const struct ta_bar_rec *r, uint8_t *buf, size_t cap)
{
	struct enc e;

	enc_init(&e, buf, cap);
	put_head(&e, &r->head);
	put_double(&e, r->o);
	put_double(&e, r->h);
	put_double(&e, r->l);
	put_double(&e, r->c);
	put_double(&e, r->v);
	put_opt_double(&e, r->has_vwap, r->vwap);
	put_long(&e, r->count);
	put_version(&e, r->has_version, r->version);
	return enc_done(&e);
}

static void put_micro(struct enc *e, const struct ta_micro_signal *m)
{
	if (!m) {
		put_null(e);
		return;
	}
	put_some(e);
	put_str(e, m->schema_version);
	put_str(e, m->symbol);
	put_str(e, m->horizon);
	put_double(e, m->p_up);
	put_double(e, m->p_flat);
	put_double(e, m->p_down);
	put_str(e, m->uncertainty_band);
	put_double(e, m->expected_spread_impact_bps);
	put_double(e, m->expected_slippage_bps);
	put_str(e, m->feature_quality_status);
	put_str(e, m->model_id);
	put_str(e, m->feature_schema_version);
	put_str(e, m->training_run_id);
}

int avro_enc_signal(const struct ta_signal_rec *r, uint8_t *buf, size_t cap)
{
	struct enc e;

	enc_init(&e, buf, cap);
	put_head(&e, &r->head);

	if (r->has_macd) {
		put_some(&e);
		put_double(&e, r->macd.macd);
		put_double(&e, r->macd.signal);
		put_double(&e, r->macd.hist);
	} else {
		put_null(&e);
	}
	if (r->has_ema) {
		put_some(&e);
		put_double(&e, r->ema.ema12);
		put_double(&e, r->ema.ema26);
	} else {
		put_null(&e);
	}
	put_opt_double(&e, r->has_rsi14, r->rsi14);
	if (r->has_boll) {
		put_some(&e);
		put_double(&e, r->boll.mid);
		put_double(&e, r->boll.upper);
		put_double(&e, r->boll.lower);
	} else {
		put_null(&e);
	}
	if (r->has_vwap) {
		put_some(&e);
		put_double(&e, r->vwap.session);
		put_opt_double(&e, r->vwap.has_w5m, r->vwap.w5m);
	} else {
		put_null(&e);
	}
	if (r->has_imbalance) {
		put_some(&e);
		put_double(&e, r->imbalance.spread);
		put_double(&e, r->imbalance.bid_px);
		put_double(&e, r->imbalance.ask_px);
		put_double(&e, r->imbalance.bid_sz);
		put_double(&e, r->imbalance.ask_sz);
	} else {
		put_null(&e);
	}
	if (r->has_vol_realized) {
		put_some(&e);
		put_double(&e, r->vol_realized.w60s);
	} else {
		put_null(&e);
	}
	put_micro(&e, r->micro);
	put_version(&e, r->has_version, r->version);
	return enc_done(&e);
}

int avro_enc_status(const struct ta_status_rec *r, uint8_t *buf, size_t cap)
{
	struct enc e;

	enc_init(&e, buf, cap);
	put_head(&e, &r->head);
	put_opt_long(&e, r->has_watermark_lag_ms, r->watermark_lag_ms);
	put_opt_long(&e, r->has_source_lag_ms, r->source_lag_ms);
	put_opt_ts(&e, r->has_last_event_ts, r->last_event_ns);
	put_opt_ts(&e, r->has_last_input_event_ts, r->last_input_event_ns);
	put_opt_ts(&e, r->has_last_output_event_ts, r->last_output_event_ns);
	put_opt_long(&e, r->has_input_event_count, r->input_event_count);
	put_opt_long(&e, r->has_output_event_count, r->output_event_count);
	put_opt_long(&e, r->has_current_input_event_count, r->current_input_event_count);
	put_opt_long(&e, r->has_current_output_event_count, r->current_output_event_count);
	put_opt_long(&e, r->has_current_record_count, r->current_record_count);
	put_opt_double(&e, r->has_input_rate_per_second, r->input_rate_per_second);
	put_opt_double(&e, r->has_output_rate_per_second, r->output_rate_per_second);
	put_opt_long(&e, r->has_microbar_event_count, r->microbar_event_count);
	put_opt_long(&e, r->has_signal_event_count, r->signal_event_count);
	put_opt_double(&e, r->has_microbar_rate_per_second, r->microbar_rate_per_second);
	put_opt_double(&e, r->has_signal_rate_per_second, r->signal_rate_per_second);
	put_opt_bool(&e, r->has_clickhouse_sink_enabled, r->clickhouse_sink_enabled);

	/* A map is a series of blocks (count, entries) ended by a 0 count; one
	 * block is enough, and an empty map is just the 0, as libavro writes it. */
	if (r->has_per_symbol) {
		put_some(&e);
		if (r->per_symbol_n > 0) {
			if (!r->per_symbol && !e.err)
				e.err = -EINVAL;
			put_long(&e, (int64_t)r->per_symbol_n);
			for (size_t i = 0; i < r->per_symbol_n && !e.err; i++) {
				put_str(&e, r->per_symbol[i].symbol);
				put_ts(&e, r->per_symbol[i].ts_ns);
			}
		}
		put_long(&e, 0);
	} else {
		put_null(&e);
	}

	put_opt_str(&e, r->market_session_state);
	put_opt_str(&e, r->status_reason);
	put_str(&e, r->status);
	put_opt_bool(&e, r->has_heartbeat, r->heartbeat);
	put_version(&e, r->has_version, r->version);
	return enc_done(&e);
}
