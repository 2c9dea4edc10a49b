/* test_avro.c - sink/avro against libavro (avro-c).
 *
 * Every record is checked three ways: libavro decodes our bytes with the
 * schema from $top_srcdir/schemas and every field and null-ness is asserted;
 * libavro encodes the same record (built field by field from the struct) and
 * the bytes must be identical; and every too-small buffer gives -ENOSPC
 * without writing past its end (buffers are malloc'd to size for ASan). */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <avro.h> /* libavro */

#include "core/clock.h"
#include "sink/avro.h"

enum { SCHEMA_BAR, SCHEMA_SIGNAL, SCHEMA_STATUS, SCHEMA_COUNT };
static const char *const schema_files[SCHEMA_COUNT] = {
	"ta-bars-1s.avsc", "ta-signals.avsc", "ta-status.avsc"
};

struct fixture {
	avro_schema_t schema[SCHEMA_COUNT];
	avro_value_iface_t *iface[SCHEMA_COUNT];
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *top = getenv("top_srcdir");

	if (!fx)
		return -1;
	if (!top)
		top = ".";
	for (int i = 0; i < SCHEMA_COUNT; i++) {
		char path[4096];
		size_t len;
		char *json;

		snprintf(path, sizeof(path), "%s/schemas/%s", top, schema_files[i]);
		json = slurp(path, &len);
		if (!json) {
			fprintf(stderr, "cannot read %s\n", path);
			return -1;
		}
		if (avro_schema_from_json_length(json, len, &fx->schema[i])) {
			fprintf(stderr, "%s: %s\n", path, avro_strerror());
			free(json);
			return -1;
		}
		free(json);
		fx->iface[i] = avro_generic_class_from_schema(fx->schema[i]);
		if (!fx->iface[i])
			return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < SCHEMA_COUNT; i++) {
		avro_value_iface_decref(fx->iface[i]);
		avro_schema_decref(fx->schema[i]);
	}
	free(fx);
	return 0;
}

/* ---- one visitor, two modes: check a decoded value, or build one ---- */

enum mode { CHECK, SET };

static void v_str(enum mode m, avro_value_t *v, const char *exp)
{
	if (m == SET) {
		assert_int_equal(avro_value_set_string(v, exp), 0);
	} else {
		const char *s = NULL;
		size_t n = 0;
		assert_int_equal(avro_value_get_type(v), AVRO_STRING);
		assert_int_equal(avro_value_get_string(v, &s, &n), 0);
		assert_int_equal(n, strlen(exp) + 1); /* libavro counts the NUL */
		assert_string_equal(s, exp);
	}
}

static void v_ts(enum mode m, avro_value_t *v, int64_t ns)
{
	char t[CLOCK_RFC3339_MAX];

	assert_true(clock_format_rfc3339(ns, CLOCK_FRAC_AUTO, t, sizeof(t)) > 0);
	v_str(m, v, t);
}

static void v_long(enum mode m, avro_value_t *v, int64_t exp)
{
	if (m == SET) {
		assert_int_equal(avro_value_set_long(v, exp), 0);
	} else {
		int64_t got = 0;
		assert_int_equal(avro_value_get_type(v), AVRO_INT64);
		assert_int_equal(avro_value_get_long(v, &got), 0);
		assert_true(got == exp);
	}
}

static void v_int(enum mode m, avro_value_t *v, int32_t exp)
{
	if (m == SET) {
		assert_int_equal(avro_value_set_int(v, exp), 0);
	} else {
		int32_t got = 0;
		assert_int_equal(avro_value_get_type(v), AVRO_INT32);
		assert_int_equal(avro_value_get_int(v, &got), 0);
		assert_int_equal(got, exp);
	}
}

static void v_double(enum mode m, avro_value_t *v, double exp)
{
	if (m == SET) {
		assert_int_equal(avro_value_set_double(v, exp), 0);
	} else {
		double got = 0;
		assert_int_equal(avro_value_get_type(v), AVRO_DOUBLE);
		assert_int_equal(avro_value_get_double(v, &got), 0);
		assert_memory_equal(&got, &exp, sizeof(double)); /* bit-exact, -0.0 too */
	}
}

static void v_bool(enum mode m, avro_value_t *v, bool exp)
{
	if (m == SET) {
		assert_int_equal(avro_value_set_boolean(v, exp), 0);
	} else {
		int got = 0;
		assert_int_equal(avro_value_get_type(v), AVRO_BOOLEAN);
		assert_int_equal(avro_value_get_boolean(v, &got), 0);
		assert_int_equal(!!got, exp);
	}
}

static avro_value_t field(avro_value_t *rec, const char *name)
{
	avro_value_t f = { 0 };
	assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
	return f;
}

/* A union field: selects or checks the branch (null_idx is the index of
 * "null" in the union) and returns the branch value in *b. */
static bool u_opt(enum mode m, avro_value_t *u, bool has, int null_idx, avro_value_t *b)
{
	int want = has ? 1 - null_idx : null_idx;

	assert_int_equal(avro_value_get_type(u), AVRO_UNION);
	if (m == SET) {
		assert_int_equal(avro_value_set_branch(u, want, b), 0);
		if (!has)
			assert_int_equal(avro_value_set_null(b), 0);
	} else {
		int disc = 0;
		assert_int_equal(avro_value_get_discriminant(u, &disc), 0);
		assert_int_equal(disc, want);
		assert_int_equal(avro_value_get_current_branch(u, b), 0);
		if (!has) {
			assert_int_equal(avro_value_get_type(b), AVRO_NULL);
			assert_int_equal(avro_value_get_null(b), 0);
		}
	}
	return has;
}

static bool f_opt(enum mode m, avro_value_t *rec, const char *name, bool has, avro_value_t *b)
{
	avro_value_t f = field(rec, name);
	return u_opt(m, &f, has, 0, b);
}

static void f_str(enum mode m, avro_value_t *rec, const char *name, const char *exp)
{
	avro_value_t f = field(rec, name);
	v_str(m, &f, exp);
}

static void f_ts(enum mode m, avro_value_t *rec, const char *name, int64_t ns)
{
	avro_value_t f = field(rec, name);
	v_ts(m, &f, ns);
}

static void f_long(enum mode m, avro_value_t *rec, const char *name, int64_t exp)
{
	avro_value_t f = field(rec, name);
	v_long(m, &f, exp);
}

static void f_double(enum mode m, avro_value_t *rec, const char *name, double exp)
{
	avro_value_t f = field(rec, name);
	v_double(m, &f, exp);
}

static void f_opt_str(enum mode m, avro_value_t *rec, const char *name, const char *s)
{
	avro_value_t b;
	if (f_opt(m, rec, name, s != NULL, &b))
		v_str(m, &b, s);
}

static void f_opt_ts(enum mode m, avro_value_t *rec, const char *name, bool has, int64_t ns)
{
	avro_value_t b;
	if (f_opt(m, rec, name, has, &b))
		v_ts(m, &b, ns);
}

static void f_opt_long(enum mode m, avro_value_t *rec, const char *name, bool has, int64_t v)
{
	avro_value_t b;
	if (f_opt(m, rec, name, has, &b))
		v_long(m, &b, v);
}

static void f_opt_double(enum mode m, avro_value_t *rec, const char *name, bool has, double v)
{
	avro_value_t b;
	if (f_opt(m, rec, name, has, &b))
		v_double(m, &b, v);
}

static void f_opt_bool(enum mode m, avro_value_t *rec, const char *name, bool has, bool v)
{
	avro_value_t b;
	if (f_opt(m, rec, name, has, &b))
		v_bool(m, &b, v);
}

static void f_version(enum mode m, avro_value_t *rec, bool has, int32_t v)
{
	avro_value_t f = field(rec, "version"), b;
	if (u_opt(m, &f, has, 1, &b)) /* ["int","null"] */
		v_int(m, &b, v);
}

static void f_count(avro_value_t *rec, size_t exp)
{
	size_t n = 0;
	assert_int_equal(avro_value_get_size(rec, &n), 0);
	assert_int_equal(n, exp);
}

static void vis_head(enum mode m, avro_value_t *rec, const struct ta_rec_head *h)
{
	avro_value_t w;

	f_ts(m, rec, "ingest_ts", h->ingest_ns);
	f_ts(m, rec, "event_ts", h->event_ns);
	f_str(m, rec, "symbol", h->symbol);
	f_long(m, rec, "seq", h->seq);
	f_opt_bool(m, rec, "is_final", h->has_is_final, h->is_final);
	f_opt_str(m, rec, "source", h->source);
	if (f_opt(m, rec, "window", h->has_window, &w)) {
		if (m == CHECK)
			f_count(&w, 4);
		f_str(m, &w, "size", h->window.size);
		f_opt_str(m, &w, "step", h->window.step[0] ? h->window.step : NULL);
		f_opt_ts(m, &w, "start", h->window.has_start, h->window.start_ns);
		f_opt_ts(m, &w, "end", h->window.has_end, h->window.end_ns);
	}
}

static void vis_bar(enum mode m, avro_value_t *rec, const void *p)
{
	const struct ta_bar_rec *r = p;

	if (m == CHECK)
		f_count(rec, 15);
	vis_head(m, rec, &r->head);
	f_double(m, rec, "o", r->o);
	f_double(m, rec, "h", r->h);
	f_double(m, rec, "l", r->l);
	f_double(m, rec, "c", r->c);
	f_double(m, rec, "v", r->v);
	f_opt_double(m, rec, "vwap", r->has_vwap, r->vwap);
	f_long(m, rec, "count", r->count);
	f_version(m, rec, r->has_version, r->version);
}

static void vis_signal(enum mode m, avro_value_t *rec, const void *p)
{
	const struct ta_signal_rec *r = p;
	avro_value_t b;

	if (m == CHECK)
		f_count(rec, 16);
	vis_head(m, rec, &r->head);
	if (f_opt(m, rec, "macd", r->has_macd, &b)) {
		f_double(m, &b, "macd", r->macd.macd);
		f_double(m, &b, "signal", r->macd.signal);
		f_double(m, &b, "hist", r->macd.hist);
	}
	if (f_opt(m, rec, "ema", r->has_ema, &b)) {
		f_double(m, &b, "ema12", r->ema.ema12);
		f_double(m, &b, "ema26", r->ema.ema26);
	}
	f_opt_double(m, rec, "rsi14", r->has_rsi14, r->rsi14);
	if (f_opt(m, rec, "boll", r->has_boll, &b)) {
		f_double(m, &b, "mid", r->boll.mid);
		f_double(m, &b, "upper", r->boll.upper);
		f_double(m, &b, "lower", r->boll.lower);
	}
	if (f_opt(m, rec, "vwap", r->has_vwap, &b)) {
		f_double(m, &b, "session", r->vwap.session);
		f_opt_double(m, &b, "w5m", r->vwap.has_w5m, r->vwap.w5m);
	}
	if (f_opt(m, rec, "imbalance", r->has_imbalance, &b)) {
		f_double(m, &b, "spread", r->imbalance.spread);
		f_double(m, &b, "bid_px", r->imbalance.bid_px);
		f_double(m, &b, "ask_px", r->imbalance.ask_px);
		f_double(m, &b, "bid_sz", r->imbalance.bid_sz);
		f_double(m, &b, "ask_sz", r->imbalance.ask_sz);
	}
	if (f_opt(m, rec, "vol_realized", r->has_vol_realized, &b))
		f_double(m, &b, "w60s", r->vol_realized.w60s);
	if (f_opt(m, rec, "microstructure_signal_v1", r->micro != NULL, &b)) {
		const struct ta_micro_signal *s = r->micro;
		avro_value_t d = field(&b, "direction_probabilities");
		avro_value_t a = field(&b, "artifact");

		f_str(m, &b, "schema_version", s->schema_version);
		f_str(m, &b, "symbol", s->symbol);
		f_str(m, &b, "horizon", s->horizon);
		f_double(m, &d, "up", s->p_up);
		f_double(m, &d, "flat", s->p_flat);
		f_double(m, &d, "down", s->p_down);
		f_str(m, &b, "uncertainty_band", s->uncertainty_band);
		f_double(m, &b, "expected_spread_impact_bps", s->expected_spread_impact_bps);
		f_double(m, &b, "expected_slippage_bps", s->expected_slippage_bps);
		f_str(m, &b, "feature_quality_status", s->feature_quality_status);
		f_str(m, &a, "model_id", s->model_id);
		f_str(m, &a, "feature_schema_version", s->feature_schema_version);
		f_str(m, &a, "training_run_id", s->training_run_id);
	}
	f_version(m, rec, r->has_version, r->version);
}

static void vis_status(enum mode m, avro_value_t *rec, const void *p)
{
	const struct ta_status_rec *r = p;
	avro_value_t b;

	if (m == CHECK)
		f_count(rec, 30);
	vis_head(m, rec, &r->head);
	f_opt_long(m, rec, "watermark_lag_ms", r->has_watermark_lag_ms, r->watermark_lag_ms);
	f_opt_long(m, rec, "source_lag_ms", r->has_source_lag_ms, r->source_lag_ms);
	f_opt_ts(m, rec, "last_event_ts", r->has_last_event_ts, r->last_event_ns);
	f_opt_ts(m, rec, "last_input_event_ts", r->has_last_input_event_ts, r->last_input_event_ns);
	f_opt_ts(m, rec, "last_output_event_ts", r->has_last_output_event_ts, r->last_output_event_ns);
	f_opt_long(m, rec, "input_event_count", r->has_input_event_count, r->input_event_count);
	f_opt_long(m, rec, "output_event_count", r->has_output_event_count, r->output_event_count);
	f_opt_long(m, rec, "current_input_event_count", r->has_current_input_event_count,
		   r->current_input_event_count);
	f_opt_long(m, rec, "current_output_event_count", r->has_current_output_event_count,
		   r->current_output_event_count);
	f_opt_long(m, rec, "current_record_count", r->has_current_record_count,
		   r->current_record_count);
	f_opt_double(m, rec, "input_rate_per_second", r->has_input_rate_per_second,
		     r->input_rate_per_second);
	f_opt_double(m, rec, "output_rate_per_second", r->has_output_rate_per_second,
		     r->output_rate_per_second);
	f_opt_long(m, rec, "microbar_event_count", r->has_microbar_event_count,
		   r->microbar_event_count);
	f_opt_long(m, rec, "signal_event_count", r->has_signal_event_count, r->signal_event_count);
	f_opt_double(m, rec, "microbar_rate_per_second", r->has_microbar_rate_per_second,
		     r->microbar_rate_per_second);
	f_opt_double(m, rec, "signal_rate_per_second", r->has_signal_rate_per_second,
		     r->signal_rate_per_second);
	f_opt_bool(m, rec, "clickhouse_sink_enabled", r->has_clickhouse_sink_enabled,
		   r->clickhouse_sink_enabled);
	if (f_opt(m, rec, "per_symbol_latest_event_ts", r->has_per_symbol, &b)) {
		assert_int_equal(avro_value_get_type(&b), AVRO_MAP);
		if (m == CHECK)
			f_count(&b, r->per_symbol_n);
		for (size_t i = 0; i < r->per_symbol_n; i++) {
			avro_value_t e;
			if (m == SET) {
				int is_new = 0;
				assert_int_equal(avro_value_add(&b, r->per_symbol[i].symbol, &e, NULL,
								&is_new), 0);
				assert_true(is_new);
			} else {
				/* also checks the order: libavro keeps the wire order */
				const char *key = NULL;
				assert_int_equal(avro_value_get_by_index(&b, i, &e, &key), 0);
				assert_string_equal(key, r->per_symbol[i].symbol);
			}
			v_ts(m, &e, r->per_symbol[i].ts_ns);
		}
	}
	f_opt_str(m, rec, "market_session_state", r->market_session_state);
	f_opt_str(m, rec, "status_reason", r->status_reason);
	f_str(m, rec, "status", r->status);
	f_opt_bool(m, rec, "heartbeat", r->has_heartbeat, r->heartbeat);
	f_version(m, rec, r->has_version, r->version);
}

/* ---- the three-way check ---- */

typedef int (*enc_fn)(const void *r, uint8_t *buf, size_t cap);
typedef void (*vis_fn)(enum mode m, avro_value_t *rec, const void *r);

static int enc_bar(const void *r, uint8_t *b, size_t c) { return avro_enc_bar(r, b, c); }
static int enc_signal(const void *r, uint8_t *b, size_t c) { return avro_enc_signal(r, b, c); }
static int enc_status(const void *r, uint8_t *b, size_t c) { return avro_enc_status(r, b, c); }

/* Returns our encoding (malloc'd) and its length, after all checks pass. */
static uint8_t *roundtrip(struct fixture *fx, int which, enc_fn enc, vis_fn vis, const void *r,
			  size_t *len_out)
{
	size_t cap = 1 << 20;
	uint8_t *ours = malloc(cap), *theirs;
	int len = enc(r, ours, cap);
	avro_value_t dec, built;
	avro_reader_t rd;
	avro_writer_t wr;
	size_t sz = 0;

	assert_true(len > 0);

	/* every smaller buffer is refused, and nothing is written past it */
	for (size_t c = 0; c < (size_t)len; c += (c < 600 ? 1 : 97)) {
		uint8_t *small = c ? malloc(c) : NULL;
		assert_int_equal(enc(r, small, c), -ENOSPC);
		free(small);
	}
	{
		uint8_t *exact = malloc((size_t)len);
		assert_int_equal(enc(r, exact, (size_t)len), len);
		assert_memory_equal(exact, ours, (size_t)len);
		free(exact);
	}

	/* libavro decodes our bytes to exactly the struct's values */
	assert_int_equal(avro_generic_value_new(fx->iface[which], &dec), 0);
	rd = avro_reader_memory((const char *)ours, len);
	assert_int_equal(avro_value_read(rd, &dec), 0);
	avro_reader_free(rd);
	vis(CHECK, &dec, r);
	assert_int_equal(avro_value_sizeof(&dec, &sz), 0);
	assert_int_equal(sz, (size_t)len); /* all bytes consumed, none missing */

	/* libavro encodes the same record to the same bytes */
	assert_int_equal(avro_generic_value_new(fx->iface[which], &built), 0);
	vis(SET, &built, r);
	assert_true(avro_value_equal(&dec, &built));
	assert_int_equal(avro_value_sizeof(&built, &sz), 0);
	assert_int_equal(sz, (size_t)len);
	theirs = malloc(sz);
	wr = avro_writer_memory((const char *)theirs, (int64_t)sz);
	assert_int_equal(avro_value_write(wr, &built), 0);
	assert_int_equal(avro_writer_tell(wr), (int64_t)sz);
	avro_writer_free(wr);
	assert_memory_equal(theirs, ours, sz);
	free(theirs);

	/* a truncated body must not decode */
	if (len > 1) {
		avro_value_t t;
		assert_int_equal(avro_generic_value_new(fx->iface[which], &t), 0);
		rd = avro_reader_memory((const char *)ours, len - 1);
		assert_int_not_equal(avro_value_read(rd, &t), 0);
		avro_reader_free(rd);
		avro_value_decref(&t);
	}

	avro_value_decref(&dec);
	avro_value_decref(&built);
	*len_out = (size_t)len;
	return ours;
}

static void check(void **state, int which, enc_fn enc, vis_fn vis, const void *r)
{
	size_t len;
	free(roundtrip(*state, which, enc, vis, r, &len));
}

/* ---- fixtures ---- */

#define T0 1710167400123000000LL /* 2024-03-11T14:30:00.123Z */

static void full_head(struct ta_rec_head *h, const char *window_size)
{
	h->ingest_ns = T0 + 456789;
	h->event_ns = T0 - 123000000 + CLOCK_NS_PER_SEC;
	strcpy(h->symbol, "NVDA");
	h->seq = 42;
	h->has_is_final = true;
	h->is_final = true;
	h->source = "ta";
	h->has_window = true;
	strcpy(h->window.size, window_size);
	strcpy(h->window.step, window_size);
	h->window.has_start = h->window.has_end = true;
	h->window.start_ns = h->event_ns - CLOCK_NS_PER_SEC;
	h->window.end_ns = h->event_ns;
}

static void full_bar(struct ta_bar_rec *r)
{
	ta_bar_rec_init(r);
	full_head(&r->head, "PT1S");
	r->o = 875.25;
	r->h = 876.5;
	r->l = 874.125;
	r->c = 875.75;
	r->v = 1234.5;
	r->has_vwap = true;
	r->vwap = 875.3312;
	r->count = 17;
}

static void test_frame_header(void **state)
{
	uint8_t h[AVRO_FRAME_HEADER_LEN];
	static const uint8_t a[] = { 0x00, 0x01, 0x02, 0x03, 0x04 };
	static const uint8_t b[] = { 0x00, 0x00, 0x00, 0x00, 0x07 };
	static const uint8_t c[] = { 0x00, 0x7f, 0xff, 0xff, 0xff };

	avro_frame_header(h, 0x01020304);
	assert_memory_equal(h, a, 5);
	avro_frame_header(h, 7);
	assert_memory_equal(h, b, 5);
	avro_frame_header(h, INT32_MAX);
	assert_memory_equal(h, c, 5);
}

static void test_bar_all_present(void **state)
{
	struct ta_bar_rec r;
	size_t len;
	uint8_t *b;
	/* the first bytes by hand: ingest_ts string, then event_ts */
	static const char ingest[] = "2024-03-11T14:30:00.123456789Z";
	static const char event[] = "2024-03-11T14:30:01Z";

	full_bar(&r);
	b = roundtrip(*state, SCHEMA_BAR, enc_bar, vis_bar, &r, &len);
	assert_int_equal(b[0], (sizeof(ingest) - 1) * 2); /* zigzag length */
	assert_memory_equal(b + 1, ingest, sizeof(ingest) - 1);
	assert_int_equal(b[sizeof(ingest)], (sizeof(event) - 1) * 2);
	assert_memory_equal(b + sizeof(ingest) + 1, event, sizeof(event) - 1);
	/* the tail: count 17 -> zigzag 34, then version branch 0, int 1 -> 2 */
	assert_int_equal(b[len - 3], 34);
	assert_int_equal(b[len - 2], 0);
	assert_int_equal(b[len - 1], 2);
	free(b);
}

static void test_bar_all_null(void **state)
{
	struct ta_bar_rec r;
	size_t len;
	uint8_t *b;

	memset(&r, 0, sizeof(r)); /* version null too: branch 1 of ["int","null"] */
	r.head.ingest_ns = T0;
	r.head.event_ns = T0;
	strcpy(r.head.symbol, "A");
	b = roundtrip(*state, SCHEMA_BAR, enc_bar, vis_bar, &r, &len);
	assert_int_equal(b[len - 1], 2); /* union index 1 */
	free(b);

	ta_bar_rec_init(&r); /* the init helper gives version 1 */
	assert_true(r.has_version);
	assert_int_equal(r.version, 1);
	check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
}

static void test_bar_window_partial(void **state)
{
	struct ta_bar_rec r;

	full_bar(&r);
	r.head.window.step[0] = 0;
	r.head.window.has_start = false;
	r.head.has_is_final = true;
	r.head.is_final = false;
	r.has_vwap = false;
	check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
	full_bar(&r);
	r.head.window.has_end = false;
	r.head.source = "rest";
	r.has_version = true;
	r.version = -7;
	check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
}

static void test_longs(void **state)
{
	static const int64_t vals[] = {
		0, 1, -1, 63, -64, 64, -65, 127, 128, 8191, 8192, -8193,
		INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1,
		1LL << 53, -(1LL << 53), 1LL << 62, INT64_MAX, INT64_MIN, INT64_MIN + 1,
		1234567890123456789LL, -987654321098765432LL,
	};
	static const int32_t ints[] = { 0, 1, -1, 64, -65, INT32_MAX, INT32_MIN };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct ta_bar_rec r;
		full_bar(&r);
		r.head.seq = vals[i];
		r.count = vals[(i + 5) % (sizeof(vals) / sizeof(vals[0]))];
		r.version = ints[i % (sizeof(ints) / sizeof(ints[0]))];
		check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
	}

	/* extreme instants still format and encode */
	{
		struct ta_bar_rec r;
		full_bar(&r);
		r.head.ingest_ns = 0;
		r.head.event_ns = -1; /* 1969-12-31T23:59:59.999999999Z */
		r.head.window.start_ns = 4102444800LL * CLOCK_NS_PER_SEC; /* 2100 */
		check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
	}
}

static void test_doubles(void **state)
{
	static const double vals[] = {
		0.0, -0.0, 1.0, -1.5, 0.1, 1e-300, -1e300, DBL_MAX, -DBL_MAX, DBL_MIN,
		5e-324 /* smallest subnormal */, 123456.789, INFINITY, -INFINITY,
	};
	size_t n = sizeof(vals) / sizeof(vals[0]);

	for (size_t i = 0; i < n; i++) {
		struct ta_bar_rec r;
		full_bar(&r);
		r.o = vals[i];
		r.h = vals[(i + 1) % n];
		r.l = vals[(i + 2) % n];
		r.c = vals[(i + 3) % n];
		r.v = vals[(i + 4) % n];
		r.vwap = vals[(i + 5) % n];
		check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
	}
	/* the byte order is little-endian whatever the host: 1.0 = 3ff0... */
	{
		struct ta_bar_rec r;
		uint8_t buf[256];
		static const uint8_t one[8] = { 0, 0, 0, 0, 0, 0, 0xf0, 0x3f };
		int len;

		memset(&r, 0, sizeof(r));
		r.head.ingest_ns = r.head.event_ns = 0; /* "1970-01-01T00:00:00Z" */
		r.o = 1.0;
		len = avro_enc_bar(&r, buf, sizeof(buf));
		/* 2x(1+20) ts, symbol "" (1), seq (1), 3 null unions (3) -> o at 47 */
		assert_true(len > 55);
		assert_memory_equal(buf + 47, one, 8);
	}
}

static void test_long_strings(void **state)
{
	struct ta_bar_rec r;
	static char src[20000];
	size_t len;
	uint8_t *b;

	memset(src, 'x', sizeof(src) - 1);
	memcpy(src, "r\xc3\xa9sum\xc3\xa9 \"q\" \\ \x01", 14); /* UTF-8 and odd bytes pass as-is */
	full_bar(&r);
	strcpy(r.head.symbol, "ABCDEFGHIJKLMNOPQRSTUVW"); /* EVENT_SYMBOL_MAX - 1 */
	strcpy(r.head.window.size, "PT1000000000S"); /* 13 */
	r.head.source = src;
	b = roundtrip(*state, SCHEMA_BAR, enc_bar, vis_bar, &r, &len);
	assert_true(len > sizeof(src));
	free(b);

	/* lengths around the one/two-byte varint boundary (63/64) */
	for (size_t n = 60; n < 70; n++) {
		src[n] = 0;
		r.head.source = src;
		check(state, SCHEMA_BAR, enc_bar, vis_bar, &r);
		src[n] = 'x';
	}
}

static void test_invalid(void **state)
{
	struct ta_bar_rec r;
	struct ta_signal_rec s;
	struct ta_status_rec st;
	struct ta_micro_signal m = { 0 };
	struct ta_symbol_ts ps[2] = { { "AAPL", T0 }, { NULL, T0 } };
	uint8_t buf[512];

	full_bar(&r);
	memset(r.head.symbol, 'A', sizeof(r.head.symbol)); /* no NUL */
	assert_int_equal(avro_enc_bar(&r, buf, sizeof(buf)), -EINVAL);
	full_bar(&r);
	memset(r.head.window.size, 'P', sizeof(r.head.window.size));
	assert_int_equal(avro_enc_bar(&r, buf, sizeof(buf)), -EINVAL);

	ta_signal_rec_init(&s);
	s.micro = &m; /* required strings missing */
	assert_int_equal(avro_enc_signal(&s, buf, sizeof(buf)), -EINVAL);

	ta_status_rec_init(&st); /* status is required */
	assert_int_equal(avro_enc_status(&st, buf, sizeof(buf)), -EINVAL);
	st.status = "ok";
	assert_true(avro_enc_status(&st, buf, sizeof(buf)) > 0);
	st.has_per_symbol = true;
	st.per_symbol = ps;
	st.per_symbol_n = 2; /* a NULL key */
	assert_int_equal(avro_enc_status(&st, buf, sizeof(buf)), -EINVAL);
	st.per_symbol = NULL; /* entries without an array */
	assert_int_equal(avro_enc_status(&st, buf, sizeof(buf)), -EINVAL);
}

static void full_signal(struct ta_signal_rec *r)
{
	ta_signal_rec_init(r);
	full_head(&r->head, "PT1M");
	r->has_macd = true;
	r->macd = (struct ta_macd){ 0.125, -0.25, 0.375 };
	r->has_ema = true;
	r->ema = (struct ta_ema){ 101.5, 99.75 };
	r->has_rsi14 = true;
	r->rsi14 = 55.5;
	r->has_boll = true;
	r->boll = (struct ta_boll){ 100.0, 104.25, 95.75 };
	r->has_vwap = true;
	r->vwap = (struct ta_vwap){ 100.1, true, 100.2 };
	r->has_imbalance = true;
	r->imbalance = (struct ta_imbalance){ 0.01, 100.0, 100.01, 300.0, 500.0 };
	r->has_vol_realized = true;
	r->vol_realized.w60s = 0.000123;
}

static void test_signal_all_null(void **state)
{
	struct ta_signal_rec r;

	memset(&r, 0, sizeof(r));
	r.head.ingest_ns = T0;
	r.head.event_ns = T0;
	strcpy(r.head.symbol, "SPY");
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
	ta_signal_rec_init(&r);
	strcpy(r.head.symbol, "SPY");
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
}

static void test_signal_all_present(void **state)
{
	struct ta_signal_rec r;
	struct ta_micro_signal m = {
		.schema_version = "v1", .symbol = "NVDA", .horizon = "PT1M",
		.p_up = 0.5, .p_flat = 0.25, .p_down = 0.25,
		.uncertainty_band = "low", .expected_spread_impact_bps = 1.25,
		.expected_slippage_bps = -0.5, .feature_quality_status = "ok",
		.model_id = "m-1", .feature_schema_version = "f-2", .training_run_id = "run-3",
	};

	full_signal(&r);
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
	r.micro = &m; /* encodable, although TA sends null for now */
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
}

static void test_signal_mixed(void **state)
{
	struct ta_signal_rec r;

	/* the warm-up order: rsi first, then boll, ema, macd */
	full_signal(&r);
	r.has_macd = r.has_ema = false;
	r.vwap.has_w5m = false;
	r.has_imbalance = false;
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
	full_signal(&r);
	r.has_rsi14 = r.has_boll = r.has_vol_realized = false;
	r.head.source = "rest";
	r.head.has_window = false;
	check(state, SCHEMA_SIGNAL, enc_signal, vis_signal, &r);
}

static void full_status(struct ta_status_rec *r)
{
	ta_status_rec_init(r);
	full_head(&r->head, "PT1S");
	strcpy(r->head.symbol, "ta");
	r->has_watermark_lag_ms = true;
	r->watermark_lag_ms = 2001;
	r->has_source_lag_ms = true;
	r->source_lag_ms = -3;
	r->has_last_event_ts = r->has_last_input_event_ts = r->has_last_output_event_ts = true;
	r->last_event_ns = T0;
	r->last_input_event_ns = T0 + 1;
	r->last_output_event_ns = T0 - 1000;
	r->has_input_event_count = true;
	r->input_event_count = 10000000000LL;
	r->has_output_event_count = true;
	r->output_event_count = 12345;
	r->has_current_input_event_count = true;
	r->current_input_event_count = 0;
	r->has_current_output_event_count = true;
	r->current_output_event_count = 1;
	r->has_current_record_count = true;
	r->current_record_count = 64;
	r->has_input_rate_per_second = true;
	r->input_rate_per_second = 15234.5;
	r->has_output_rate_per_second = true;
	r->output_rate_per_second = 0.0;
	r->has_microbar_event_count = true;
	r->microbar_event_count = 999;
	r->has_signal_event_count = true;
	r->signal_event_count = 998;
	r->has_microbar_rate_per_second = true;
	r->microbar_rate_per_second = 12.75;
	r->has_signal_rate_per_second = true;
	r->signal_rate_per_second = 12.5;
	r->has_clickhouse_sink_enabled = true;
	r->clickhouse_sink_enabled = false;
	r->market_session_state = "regular";
	r->status_reason = "watermark lag 2001 ms > 2000 ms";
	r->status = "degraded";
	r->has_heartbeat = true;
	r->heartbeat = true;
}

static void test_status_all_null(void **state)
{
	struct ta_status_rec r;

	memset(&r, 0, sizeof(r));
	strcpy(r.head.symbol, "ta");
	r.status = "ok";
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);
}

static void test_status_maps(void **state)
{
	struct ta_status_rec r;
	struct ta_symbol_ts three[] = {
		{ "AAPL", T0 }, { "BRK.B", T0 + 1 }, { "\xc3\x89TF \"q\"", -1000000 },
	};
	struct ta_symbol_ts *many;
	char (*names)[16];
	const size_t n_many = 300; /* a two-byte block count */

	full_status(&r);
	r.has_per_symbol = true; /* empty map: {} rather than null */
	r.per_symbol = NULL;
	r.per_symbol_n = 0;
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);

	r.per_symbol = three;
	r.per_symbol_n = 3;
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);
	r.per_symbol_n = 1;
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);

	many = calloc(n_many, sizeof(*many));
	names = calloc(n_many, sizeof(*names));
	for (size_t i = 0; i < n_many; i++) {
		snprintf(names[i], sizeof(names[i]), "SYM%zu", i);
		many[i].symbol = names[i];
		many[i].ts_ns = T0 + (int64_t)i * 1000;
	}
	r.per_symbol = many;
	r.per_symbol_n = n_many;
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);
	free(many);
	free(names);
}

static void test_status_mixed(void **state)
{
	struct ta_status_rec r;

	full_status(&r);
	r.has_watermark_lag_ms = false;
	r.has_last_input_event_ts = false;
	r.has_output_rate_per_second = false;
	r.has_clickhouse_sink_enabled = false;
	r.status_reason = NULL;
	r.status = "ok";
	r.has_heartbeat = false;
	r.has_version = false;
	check(state, SCHEMA_STATUS, enc_status, vis_status, &r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_bar_all_present),
		cmocka_unit_test(test_bar_all_null),
		cmocka_unit_test(test_bar_window_partial),
		cmocka_unit_test(test_longs),
		cmocka_unit_test(test_doubles),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_signal_all_null),
		cmocka_unit_test(test_signal_all_present),
		cmocka_unit_test(test_signal_mixed),
		cmocka_unit_test(test_status_all_null),
		cmocka_unit_test(test_status_maps),
		cmocka_unit_test(test_status_mixed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
