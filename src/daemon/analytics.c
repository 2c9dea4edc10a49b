/* analytics.c - the TA engine on the loop (see analytics.h). */
#include "config.h"

#include "daemon/analytics.h"

#include "core/clock.h"
#include "core/hist.h"
#include "sink/avro.h"
#include "state/snapshot.h"
#include "ta/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One encoded TA record. The status heartbeat carries a map entry per symbol
 * (~17 bytes each): 64 KiB failed every heartbeat above ~3800 symbols. 1 MiB
 * is about Kafka's default message.max.bytes; pages are touched only as used. */
#define REC_BUF (1 << 20)
#define MARKET_MAX 4096 /* symbols kept for `torghutctl market`/`top` */

/* The last 1 s bar and signal of a symbol, for operators (not on the wire). */
struct market_row {
	char symbol[EVENT_SYMBOL_MAX];
	int64_t end_ns, bars;
	double o, h, l, c, v;
	bool has_rsi, has_macd, has_spread, has_vwap;
	double rsi, macd_hist, spread, vwap;
};

struct analytics {
	uv_loop_t *loop;
	struct log *log;
	struct outputs *out;
	struct ta_engine *eng;
	uv_timer_t close_timer; /* at ta_engine_next_deadline */
	uv_timer_t heartbeat;
	int64_t heartbeat_ms;
	int handles;
	void (*closed_cb)(void *);
	void *closed_arg;
	uint8_t buf[REC_BUF];
	uint64_t encode_errors, produce_refused;
	int64_t slack_ns;
	int64_t armed_mono; /* the close deadline the timer is armed for */
	int64_t due_mono;   /* when the bars being closed now became closable */
	struct hist *close_to_signal, *event_to_signal;
	bool framed;                 /* Confluent framing with these ids */
	int32_t schema_id[3];        /* bars, signals, status */
	struct market_row *market; /* open addressing by symbol, MARKET_MAX slots */
	size_t market_n;
	/* analytics_hold: the timers' work waits (the engine is being saved) */
	bool held, close_due, heartbeat_due;
	struct ta_engine_saver saver;
	ssize_t save_len;
	int64_t save_off;
};

static struct market_row *market_row(struct analytics *a, const char *sym)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = sym; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (size_t i = 0; i < MARKET_MAX; i++) {
		struct market_row *r = &a->market[(h + i) % MARKET_MAX];
		if (r->symbol[0] == '\0') {
			if (a->market_n >= MARKET_MAX * 3 / 4)
				return NULL; /* full: operators see the first symbols only */
			snprintf(r->symbol, sizeof(r->symbol), "%s", sym);
			a->market_n++;
			return r;
		}
		if (strcmp(r->symbol, sym) == 0)
			return r;
	}
	return NULL;
}

static int64_t mono(void)
{
	return (int64_t)uv_hrtime();
}

/* Where the Avro body goes: after the 5-byte Confluent header when a
 * registry is configured (wire.md), else at the start (bare Avro). */
static uint8_t *body(struct analytics *a)
{
	return a->framed ? a->buf + AVRO_FRAME_HEADER_LEN : a->buf;
}

static size_t body_cap(const struct analytics *a)
{
	return sizeof(a->buf) - (a->framed ? AVRO_FRAME_HEADER_LEN : 0);
}

static void produce(struct analytics *a, enum outputs_topic t, const char *key, int n)
{
	if (n < 0) {
		a->encode_errors++;
		return;
	}
	size_t len = (size_t)n;
	if (a->framed && t != OUT_TA_LATE) {
		int which = t == OUT_TA_BARS ? 0 : t == OUT_TA_SIGNALS ? 1 : 2;
		avro_frame_header(a->buf, a->schema_id[which]);
		len += AVRO_FRAME_HEADER_LEN;
	}
	if (outputs_produce(a->out, t, key, strlen(key), a->buf, len) == -ENOBUFS)
		a->produce_refused++;
}

static void on_bar(void *arg, const struct ta_bar_rec *r)
{
	struct analytics *a = arg;
	produce(a, OUT_TA_BARS, r->head.symbol, avro_enc_bar(r, body(a), body_cap(a)));
	struct market_row *m = market_row(a, r->head.symbol);
	if (m) {
		m->end_ns = r->head.event_ns;
		m->o = r->o, m->h = r->h, m->l = r->l, m->c = r->c, m->v = r->v;
		m->bars++;
	}
}

static void on_signal(void *arg, const struct ta_signal_rec *r)
{
	struct analytics *a = arg;
	produce(a, OUT_TA_SIGNALS, r->head.symbol, avro_enc_signal(r, body(a), body_cap(a)));
	struct market_row *m = r->head.has_window && strcmp(r->head.window.size, "PT1S") == 0 ?
		market_row(a, r->head.symbol) : NULL;
	if (m) {
		m->has_rsi = r->has_rsi14, m->rsi = r->rsi14;
		m->has_macd = r->has_macd, m->macd_hist = r->macd.hist;
		m->has_spread = r->has_imbalance, m->spread = r->imbalance.spread;
		m->has_vwap = r->has_vwap, m->vwap = r->vwap.session;
	}
	if (a->close_to_signal && r->head.has_window && strcmp(r->head.window.size, "PT1S") == 0) {
		/* Measured on the monotonic clock from the moment the watermark
		 * passed end + slack, so a replay of an old session measures the
		 * same thing as a live feed. event_to_signal is upstream's
		 * definition (wall clock - bar end): meaningful on a live feed only. */
		hist_record(a->close_to_signal, mono() - a->due_mono);
		hist_record(a->event_to_signal, clock_real_ns() - r->head.window.end_ns);
	}
}

static void on_status(void *arg, const struct ta_status_rec *r)
{
	struct analytics *a = arg;
	produce(a, OUT_TA_STATUS, "ta", avro_enc_status(r, body(a), body_cap(a)));
}

/* A late trade as a small JSON record: the second it missed is closed. */
static void on_late(void *arg, const char *symbol, int64_t t_ns, double price, double size)
{
	struct analytics *a = arg;
	char ts[CLOCK_RFC3339_MAX];
	if (!outputs_topic_enabled(a->out, OUT_TA_LATE))
		return;
	clock_format_rfc3339(t_ns, CLOCK_FRAC_AUTO, ts, sizeof(ts));
	int n = snprintf((char *)a->buf, sizeof(a->buf),
			 "{\"symbol\":\"%s\",\"eventTs\":\"%s\",\"p\":%.17g,\"s\":%.17g,\"reason\":\"late\"}",
			 symbol, ts, price, size);
	produce(a, OUT_TA_LATE, symbol, n);
}

static void arm(struct analytics *a);

static void on_close_timer(uv_timer_t *t)
{
	struct analytics *a = t->data;
	if (a->held) {
		a->close_due = true;
		return;
	}
	a->due_mono = a->armed_mono;
	ta_engine_advance(a->eng, mono(), clock_real_ns());
	arm(a);
}

static void arm(struct analytics *a)
{
	int64_t dl = ta_engine_next_deadline(a->eng);
	if (dl == INT64_MAX) {
		uv_timer_stop(&a->close_timer);
		return;
	}
	a->armed_mono = dl;
	int64_t d = dl - mono();
	/* Rounded up to the next millisecond: a bar closes at, never before,
	 * the moment the watermark passes its end. */
	uv_timer_start(&a->close_timer, on_close_timer, d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000), 0);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct analytics *a = t->data;
	if (a->held) {
		a->heartbeat_due = true;
		return;
	}
	ta_engine_status(a->eng, mono(), clock_real_ns(), NULL);
}

int analytics_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		  struct analytics **res)
{
	struct analytics *a = calloc(1, sizeof(*a));
	struct ta_engine_opts o;

	if (!a)
		return -ENOMEM;
	ta_engine_opts_default(&o);
	o.slack_ns = c->max_out_of_orderness;
	o.quote_stale_after_ns = c->quote_stale_after;
	o.arg = a;
	o.on_bar = on_bar;
	o.on_signal = on_signal;
	o.on_late = on_late;
	o.on_status = on_status;
	a->eng = ta_engine_new(&o);
	a->market = calloc(MARKET_MAX, sizeof(*a->market));
	if (!a->eng || !a->market) {
		if (a->eng)
			ta_engine_free(a->eng);
		free(a->market);
		free(a);
		return -ENOMEM;
	}
	a->loop = loop;
	a->log = log;
	a->out = out;
	a->heartbeat_ms = c->checkpoint_interval / 1000000;
	a->slack_ns = c->max_out_of_orderness;
	uv_timer_init(loop, &a->close_timer);
	uv_timer_init(loop, &a->heartbeat);
	a->close_timer.data = a->heartbeat.data = a;
	a->handles = 2;
	*res = a;
	return 0;
}

void analytics_start(struct analytics *a)
{
	uv_timer_start(&a->heartbeat, on_heartbeat, 0, (uint64_t)a->heartbeat_ms);
	arm(a); /* bars restored from a checkpoint close on time */
}

void analytics_on_event(struct analytics *a, const struct event *ev)
{
	/* A bar closed by this event's watermark advance was closable when the
	 * event arrived; one whose deadline passed earlier, since then. */
	a->due_mono = ev->recv_mono_ns;
	if (a->armed_mono && a->armed_mono < a->due_mono && uv_is_active((uv_handle_t *)&a->close_timer))
		a->due_mono = a->armed_mono;
	if (ta_engine_on_event(a->eng, ev, ev->recv_mono_ns ? ev->recv_mono_ns : mono(),
			       ev->recv_real_ns ? ev->recv_real_ns : clock_real_ns()) < 0)
		a->encode_errors++;
	arm(a);
}

static void closed(uv_handle_t *h)
{
	struct analytics *a = h->data;
	if (--a->handles > 0)
		return;
	void (*cb)(void *) = a->closed_cb;
	void *arg = a->closed_arg;
	ta_engine_free(a->eng);
	free(a->market);
	free(a);
	if (cb)
		cb(arg);
}

void analytics_close(struct analytics *a, void (*cb)(void *arg), void *arg)
{
	a->closed_cb = cb;
	a->closed_arg = arg;
	/* What the watermark allows now, and a last heartbeat. Open bars stay
	 * open: they belong in the checkpoint, not closed early. */
	ta_engine_advance(a->eng, mono(), clock_real_ns());
	ta_engine_status(a->eng, mono(), clock_real_ns(), NULL);
	uv_close((uv_handle_t *)&a->close_timer, closed);
	uv_close((uv_handle_t *)&a->heartbeat, closed);
}

void analytics_set_schema_ids(struct analytics *a, int32_t bars, int32_t signals, int32_t status)
{
	a->framed = true;
	a->schema_id[0] = bars;
	a->schema_id[1] = signals;
	a->schema_id[2] = status;
}

void analytics_set_hists(struct analytics *a, struct hist *close_to_signal, struct hist *event_to_signal)
{
	a->close_to_signal = close_to_signal;
	a->event_to_signal = event_to_signal;
}

uint64_t analytics_late_trades(const struct analytics *a)
{
	struct ta_engine_stats s;
	ta_engine_stats(a->eng, &s);
	return s.trades_late;
}

static json_t *num_or_null(bool has, double v)
{
	return has ? json_real(v) : json_null();
}

json_t *analytics_market_json(const struct analytics *a, size_t limit)
{
	json_t *arr = json_array();
	char ts[CLOCK_RFC3339_MAX];
	for (size_t i = 0; i < MARKET_MAX && json_array_size(arr) < limit; i++) {
		const struct market_row *m = &a->market[i];
		if (m->symbol[0] == '\0' || m->bars == 0)
			continue;
		clock_format_rfc3339(m->end_ns, CLOCK_FRAC_AUTO, ts, sizeof(ts));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:o,s:o,s:o,s:o}",
			"symbol", m->symbol, "bar_end", ts, "bars", (json_int_t)m->bars,
			"o", m->o, "h", m->h, "l", m->l, "c", m->c, "v", m->v,
			"rsi14", num_or_null(m->has_rsi, m->rsi), "macd_hist", num_or_null(m->has_macd, m->macd_hist),
			"spread", num_or_null(m->has_spread, m->spread), "vwap", num_or_null(m->has_vwap, m->vwap)));
	}
	return arr;
}

json_t *analytics_status_json(const struct analytics *a)
{
	struct ta_engine_stats s;
	ta_engine_stats(a->eng, &s);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"trades_in", (json_int_t)s.trades_in, "trades_accepted", (json_int_t)s.trades_accepted,
		"trades_rejected", (json_int_t)s.trades_rejected, "trades_late", (json_int_t)s.trades_late,
		"quotes_in", (json_int_t)s.quotes_in, "bars_1s", (json_int_t)s.bars,
		"signals_1s", (json_int_t)s.signals_1s, "signals_1m", (json_int_t)s.signals_1m,
		"heartbeats", (json_int_t)s.heartbeats, "symbols", (json_int_t)s.symbols,
		"mem_bytes", (json_int_t)s.mem_bytes, "encode_errors", (json_int_t)a->encode_errors,
		"kafka_refused", (json_int_t)a->produce_refused);
}

void analytics_hold(struct analytics *a, bool hold)
{
	if (a->held == hold)
		return;
	a->held = hold;
	if (hold)
		return;
	/* Released: what the timers would have done meanwhile, late by the
	 * hold (bars close on event time, so only their latency shows it). */
	if (a->close_due) {
		a->close_due = false;
		on_close_timer(&a->close_timer);
	}
	if (a->heartbeat_due) {
		a->heartbeat_due = false;
		on_heartbeat(&a->heartbeat);
	}
}

ssize_t analytics_state_save_begin(struct analytics *a)
{
	a->save_len = ta_engine_save_begin(a->eng, mono(), &a->saver);
	return a->save_len < 0 ? a->save_len : SNAPSHOT_SECTION_HDR + a->save_len;
}

int analytics_state_save_reserve(struct analytics *a, struct snapshot_writer *w)
{
	if (a->save_len < 0)
		return (int)a->save_len;
	a->save_off = snapshot_writer_reserve_off(w, SNAPSHOT_SEC_TA_ENGINE, (size_t)a->save_len);
	return a->save_off < 0 ? (int)a->save_off : 0;
}

int analytics_state_save_step(struct analytics *a, struct snapshot_writer *w, size_t budget)
{
	return ta_engine_save_step(a->eng, &a->saver, snapshot_writer_at(w, (size_t)a->save_off), budget);
}

int analytics_state_load(struct analytics *a, const struct snapshot *snap)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (snapshot_section(snap, SNAPSHOT_SEC_TA_ENGINE, &p, &n) < 0)
		return 0; /* written by role=ingest: nothing of ours */
	if ((rc = ta_engine_load(a->eng, mono(), p, n)) < 0)
		return rc;
	if (uv_is_active((uv_handle_t *)&a->heartbeat))
		arm(a); /* running (an in-process restore): the restored bars' deadlines */
	return 0;
}
