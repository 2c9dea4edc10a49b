/* ingest.c - Alpaca frames in, envelopes out (see ingest.h). */
#include "config.h"

#include "daemon/ingest.h"

#include "core/clock.h"
#include "core/hist.h"
#include "net/tls.h"
#include "net/wsconn.h"
#include "sink/envelope.h"
#include "sink/seq.h"
#include "source/alpaca.h"
#include "source/dedup.h"
#include "source/frame.h"
#include "source/recorder.h"
#include "state/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_BUF_MIN 65536
#define GAP_REPORT_MS 1000     /* backpressure drops are reported at most this often */
/* Frames handled per loop iteration stop (reading pauses) once this much
 * time has gone into them, so timers and Kafka's queue are served between
 * slices instead of after a whole socket backlog (libuv reads up to 32
 * buffers per wake-up). */
#define INGEST_SLICE_NS (500 * 1000)

struct ingest {
	uv_loop_t *loop;
	struct log *log;
	const struct conf *conf; /* the conf at start; feed and URL do not change live */
	struct outputs *out;
	struct ingest_hooks hooks;

	struct alpaca *sess;
	struct tls_config *tls;
	struct wsconn *ws;
	struct frame_parser *parser;
	struct dedup *dedup;
	struct seq_map *seq;
	struct recorder *rec; /* alpaca.record.file, or NULL */
	struct hist *lat;     /* frame read -> produce(), or NULL */
	char *feed, *url;
	struct ws_header headers[2];
	size_t n_headers;

	uv_timer_t sess_timer; /* alpaca_next_deadline */
	uv_timer_t gap_timer;  /* backpressure gap reports */
	uv_check_t slice_check; /* after each iteration's I/O: a new slice, reading resumed */
	int64_t slice_start;    /* mono ns of the slice's first frame; 0 = none yet */
	bool read_paused;
	/* ingest_hold: frames that arrive are kept here, in order, until release */
	bool held;
	struct held_frame *held_head, **held_tail;
	uv_idle_t drain_idle;        /* kept frames handled a slice per iteration */
	ssize_t dd_len;
	struct dedup_saver dd_saver; /* the checkpoint's dedup save in steps */
	int64_t dd_off;              /* its section in the writer */
	char *env;             /* envelope scratch */
	struct envelope_cache env_cache;
	size_t env_cap;

	bool closing;
	int handles;
	void (*closed_cb)(void *);
	void *closed_arg;

	/* backpressure losses not yet reported as a gap event */
	uint64_t drop_pending, drops_total, duplicates, produce_errors;
	int64_t drop_first_t, drop_last_t;
	uint64_t frames, frame_errors, events, frames_held, held_oom;

	/* Per channel: the newest event time accepted (checkpointed: where a
	 * gap after a restore starts, and what a backfill would need). */
	int64_t last_t[EVENT_CTL_SUCCESS];
	/* After a restore: the gap to report at the first live event. */
	bool recover_pending;
	uint64_t recover_id;
	int64_t recover_start_ns;
	char recover_why[192];

	struct pending_sub {
		uint32_t req;
		void (*done)(void *, int, const char *);
		void *arg;
	} pending[16];
};

static int64_t now_mono(void)
{
	return (int64_t)uv_hrtime();
}

static void on_sess_timer(uv_timer_t *t);
static void maybe_free(struct ingest *in);

static void arm_session_timer(struct ingest *in)
{
	if (in->closing)
		return;
	int64_t dl = alpaca_next_deadline(in->sess);
	if (dl == INT64_MAX) {
		uv_timer_stop(&in->sess_timer);
		return;
	}
	int64_t d = dl - now_mono();
	/* rounded up: uv timers count milliseconds, and early is too early */
	uv_timer_start(&in->sess_timer, on_sess_timer, d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000), 0);
}

static void on_sess_timer(uv_timer_t *t)
{
	struct ingest *in = t->data;
	alpaca_on_timer(in->sess, now_mono());
	arm_session_timer(in);
}

/* ------------------------------------------------------------ output */

static char *env_buf(struct ingest *in, size_t need)
{
	if (need > in->env_cap) {
		size_t cap = in->env_cap ? in->env_cap : ENV_BUF_MIN;
		while (cap < need)
			cap *= 2;
		char *b = realloc(in->env, cap);
		if (!b)
			return NULL;
		in->env = b;
		in->env_cap = cap;
	}
	return in->env;
}

static enum outputs_topic topic_for(enum event_kind k)
{
	switch (k) {
	case EVENT_TRADE:
	case EVENT_CORRECTION:
	case EVENT_CANCEL_ERROR:
		return OUT_TRADES;
	case EVENT_QUOTE:
		return OUT_QUOTES;
	case EVENT_BAR:
	case EVENT_UPDATED_BAR:
	case EVENT_DAILY_BAR:
		return OUT_BARS;
	default:
		return OUT_STATUS;
	}
}

static void count_drop(struct ingest *in, int64_t t_ns)
{
	if (in->drop_pending++ == 0)
		in->drop_first_t = t_ns;
	in->drop_last_t = t_ns;
	in->drops_total++;
}

static void produce_event(struct ingest *in, const struct event *ev)
{
	enum outputs_topic t = topic_for(ev->kind);
	int64_t seq = seq_map_next(in->seq, (unsigned)ev->kind, ev->symbol);
	/* ingestTs: when the frame was read (one clock read per frame, not per
	 * event: the clock was ~10 % of the loop's CPU at 450 k msgs/s) */
	struct envelope_meta m = {.ingest_ns = ev->recv_real_ns ? ev->recv_real_ns : clock_real_ns(),
				  .feed = in->feed, .seq = seq, .source = ENVELOPE_SOURCE_WS,
				  .cache = &in->env_cache};
	int n;

	if (seq < 0) {
		in->produce_errors++;
		return;
	}
	for (size_t need = (size_t)ev->raw.n + 1024;; need *= 2) {
		char *b = env_buf(in, need);
		if (!b) {
			in->produce_errors++;
			return;
		}
		n = envelope_write(ev, &m, b, in->env_cap);
		if (n != -ENOSPC)
			break;
	}
	if (n < 0) {
		in->produce_errors++;
		return;
	}
	int rc = outputs_produce(in->out, t, ev->symbol, strlen(ev->symbol), in->env, (size_t)n);
	if (rc == -ENOBUFS)
		count_drop(in, ev->t_ns); /* never silent: reported as a gap event */
	else if (rc < 0)
		in->produce_errors++;
}

static int produce_status(struct ingest *in, const struct envelope_conn_status *cs)
{
	char *b = env_buf(in, 8192);
	if (!b)
		return -ENOMEM;
	int n = envelope_write_conn_status(cs, b, in->env_cap);
	if (n >= 0)
		n = outputs_produce(in->out, OUT_STATUS, in->feed, strlen(in->feed), b, (size_t)n);
	if (n < 0)
		log_warn(in->log, LOG_SUB_ALPACA, "could not write a connection status event (%s) to Kafka",
			 envelope_conn_state_name(cs->status));
	return n < 0 ? n : 0;
}

static void on_gap_timer(uv_timer_t *t)
{
	struct ingest *in = t->data;
	if (in->rec)
		recorder_flush(in->rec);
	if (in->drop_pending == 0)
		return;
	struct envelope_conn_status cs = {
		.ingest_ns = clock_real_ns(), .event_ns = clock_real_ns(), .feed = in->feed,
		.seq = seq_map_next(in->seq, SEQ_CHANNEL_CONN_STATUS, in->feed), .status = ENVELOPE_CONN_GAP,
		.error_class = "kafka_produce", .detail = "records refused by Kafka backpressure",
		.has_gap_start = true, .gap_start_ns = in->drop_first_t, .has_gap_end = true,
		.gap_end_ns = in->drop_last_t, .has_dropped = true, .dropped = (int64_t)in->drop_pending};
	log_warn(in->log, LOG_SUB_KAFKA, "gap: %llu records refused by Kafka backpressure",
		 (unsigned long long)in->drop_pending);
	/* Kafka refusing records refuses this event too: keep counting, so the
	 * event that gets through covers the whole gap. */
	if (produce_status(in, &cs) == 0)
		in->drop_pending = 0;
}

/* The live stream cannot be rewound: what arrived between the restored
 * state and the first live event is a gap (a REST backfill would fill it
 * from the checkpoint's per-channel times). */
static void report_recovery_gap(struct ingest *in, int64_t first_live_ns)
{
	in->recover_pending = false;
	/* A restored state that had seen no data does not know where the loss
	 * began (the run before it may have streamed without committing): the
	 * gap then has no start, meaning "anything before its end". */
	struct envelope_conn_status cs = {
		.ingest_ns = clock_real_ns(), .event_ns = clock_real_ns(), .feed = in->feed,
		.seq = seq_map_next(in->seq, SEQ_CHANNEL_CONN_STATUS, in->feed), .status = ENVELOPE_CONN_GAP,
		.error_class = "recovery", .detail = in->recover_why,
		.has_gap_start = in->recover_start_ns != 0, .gap_start_ns = in->recover_start_ns, .has_gap_end = true,
		.gap_end_ns = first_live_ns};
	log_warn(in->log, LOG_SUB_ALPACA, "gap after recovery: %s", in->recover_why);
	produce_status(in, &cs);
}

/* ------------------------------------------------------------ session callbacks */

static int cb_send_text(void *arg, const char *json, size_t n)
{
	struct ingest *in = arg;
	return in->ws ? wsconn_send_text(in->ws, json, n) : -ENOTCONN;
}

static void ws_on_open(void *user);
static void ws_on_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len);
static void ws_on_close(void *user, const struct wsconn_end *end);

static int cb_connect(void *arg)
{
	struct ingest *in = arg;
	struct wsconn_opts o = {.url = in->url};
	o.ws.headers = in->headers;
	o.ws.n_headers = in->n_headers;
	o.ws.ping_interval_ms = 10000; /* issue 3: ping every 10 s with a pong deadline */
	o.ws.pong_timeout_ms = 10000;
	static const struct wsconn_cbs cbs = {.on_open = ws_on_open, .on_message = ws_on_message,
					      .on_close = ws_on_close};
	int rc = wsconn_connect(&in->ws, in->loop, in->tls, &o, &cbs, in);
	if (rc < 0)
		in->ws = NULL;
	return rc;
}

static void cb_disconnect(void *arg, uint16_t code)
{
	struct ingest *in = arg;
	if (in->ws)
		wsconn_close(in->ws, code);
}

static void cb_status(void *arg, const struct alpaca_status_ev *ev)
{
	struct ingest *in = arg;
	static const enum envelope_conn_state map[ALPACA_STATUS_COUNT] = {
		[ALPACA_STATUS_CONNECTING] = ENVELOPE_CONN_CONNECTING,
		[ALPACA_STATUS_AUTHENTICATED] = ENVELOPE_CONN_AUTHENTICATED,
		[ALPACA_STATUS_SUBSCRIBED] = ENVELOPE_CONN_SUBSCRIBED,
		[ALPACA_STATUS_DISCONNECTED] = ENVELOPE_CONN_DISCONNECTED,
		[ALPACA_STATUS_ERROR] = ENVELOPE_CONN_ERROR,
		[ALPACA_STATUS_GAP] = ENVELOPE_CONN_GAP};
	struct envelope_conn_status cs = {
		.ingest_ns = clock_real_ns(), .event_ns = clock_real_ns(), .feed = in->feed,
		.seq = seq_map_next(in->seq, SEQ_CHANNEL_CONN_STATUS, in->feed), .status = map[ev->status],
		.has_error_code = ev->error_code != 0, .error_code = ev->error_code,
		.error_class = ev->error_class_name, .detail = ev->detail, .has_attempt = true,
		.attempt = ev->attempt, .has_gap_start = ev->gap_start_ns != 0, .gap_start_ns = ev->gap_start_ns,
		.has_gap_end = ev->gap_end_ns != 0, .gap_end_ns = ev->gap_end_ns};
	enum log_level lv = ev->status == ALPACA_STATUS_ERROR || ev->status == ALPACA_STATUS_GAP ? LOG_LEVEL_WARN :
			    LOG_LEVEL_INFO;
	LOG_AT(in->log, lv, LOG_SUB_ALPACA, "%s%s%s (attempt %u): %s", alpaca_status_name(ev->status),
	       ev->error_class_name ? " " : "", ev->error_class_name ? ev->error_class_name : "", ev->attempt,
	       ev->detail);
	produce_status(in, &cs);
}

static void cb_sub_result(void *arg, uint32_t req, int result, const char *detail)
{
	struct ingest *in = arg;
	for (size_t i = 0; i < sizeof(in->pending) / sizeof(in->pending[0]); i++) {
		struct pending_sub *p = &in->pending[i];
		if (p->done && p->req == req) {
			void (*done)(void *, int, const char *) = p->done;
			p->done = NULL;
			done(p->arg, result, detail);
			return;
		}
	}
}

static void cb_fatal(void *arg, int code, const char *msg)
{
	struct ingest *in = arg;
	log_error(in->log, LOG_SUB_ALPACA, "Alpaca refused the session for good (%d): %s", code, msg);
	if (in->hooks.on_fatal)
		in->hooks.on_fatal(in->hooks.arg, code, msg);
}

/* ------------------------------------------------------------ transport callbacks */

static void ws_on_open(void *user)
{
	struct ingest *in = user;
	alpaca_on_transport_up(in->sess, now_mono());
	arm_session_timer(in);
}

static void on_parsed(void *arg, const struct event *ev)
{
	struct ingest *in = arg;
	int64_t now = ev->recv_mono_ns;

	alpaca_on_event(in->sess, now, ev);
	if (ev->kind >= EVENT_CTL_SUCCESS || ev->kind == EVENT_NONE)
		return;
	in->events++;
	if (dedup_seen(in->dedup, ev) == 1) {
		in->duplicates++;
		return;
	}
	produce_event(in, ev);
	if (ev->t_ns > in->last_t[ev->kind])
		in->last_t[ev->kind] = ev->t_ns;
	if (in->recover_pending)
		report_recovery_gap(in, ev->t_ns);
	if (in->lat)
		hist_record(in->lat, now_mono() - ev->recv_mono_ns);
	if (in->hooks.on_event)
		in->hooks.on_event(in->hooks.arg, ev);
}

/* A frame that arrived during a hold, with its arrival times. */
struct held_frame {
	struct held_frame *next;
	enum ws_msg_type type;
	int64_t real, mono;
	size_t len;
	uint8_t msg[];
};

static void handle_message(struct ingest *in, enum ws_msg_type type, const uint8_t *msg, size_t len, int64_t real,
			   int64_t mono);
static void on_drain_idle(uv_idle_t *h);

static void ws_on_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct ingest *in = user;
	int64_t real = clock_real_ns(), mono = now_mono();

	if (in->held || in->held_head) { /* held, or kept frames not yet handled */
		struct held_frame *f = malloc(sizeof(*f) + len);
		if (f) {
			*f = (struct held_frame){.type = type, .real = real, .mono = mono, .len = len};
			memcpy(f->msg, msg, len);
			*in->held_tail = f;
			in->held_tail = &f->next;
			in->frames_held++;
			/* what is already read is kept; the rest waits in the socket */
			if (!in->read_paused && in->ws) {
				in->read_paused = true;
				wsconn_read_pause(in->ws, true);
			}
			arm_session_timer(in);
			return;
		}
		/* out of memory: handled now rather than lost (the checkpoint
		 * being encoded may then mix in this frame; counted) */
		in->held_oom++;
	}
	handle_message(in, type, msg, len, real, mono);
}

static void handle_message(struct ingest *in, enum ws_msg_type type, const uint8_t *msg, size_t len, int64_t real,
			   int64_t mono)
{
	in->frames++;
	if (type != WS_MSG_TEXT || frame_parse(in->parser, (const char *)msg, len, real, mono, on_parsed, in) < 0) {
		in->frame_errors++; /* counted in the parser's stats by reason too */
		log_warn(in->log, LOG_SUB_ALPACA, "malformed frame of %zu bytes rejected", len);
	} else if (in->rec) {
		recorder_frame(in->rec, real, (const char *)msg, len);
	}
	arm_session_timer(in);
	if (!in->slice_start)
		in->slice_start = mono;
	if (!in->read_paused && in->ws && now_mono() - in->slice_start > INGEST_SLICE_NS) {
		in->read_paused = true;
		wsconn_read_pause(in->ws, true);
	}
}

static void ws_on_close(void *user, const struct wsconn_end *end)
{
	struct ingest *in = user;
	enum alpaca_down hint = end->http_status ? ALPACA_DOWN_HTTP :
				(end->stage == WSCONN_STAGE_TLS && end->status == -EPROTO) ? ALPACA_DOWN_TLS :
				(end->status == UV_ETIMEDOUT || end->status == -ETIMEDOUT) ? ALPACA_DOWN_TIMEOUT :
				end->status == 0 ? ALPACA_DOWN_CLOSED : ALPACA_DOWN_TRANSPORT;
	in->ws = NULL;
	if (in->closing) {
		maybe_free(in);
		return;
	}
	alpaca_on_transport_down(in->sess, now_mono(), end->text, end->http_status, hint);
	arm_session_timer(in);
}

/* ------------------------------------------------------------ life cycle */

int ingest_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
	       const struct ingest_hooks *h, struct ingest **res, char *err, size_t errlen)
{
	struct ingest *in = calloc(1, sizeof(*in));
	int rc;

	if (!in)
		return -ENOMEM;
	in->loop = loop;
	in->log = log;
	in->conf = c;
	in->out = out;
	in->hooks = *h;
	in->feed = strdup(c->alpaca_feed);
	in->url = strdup(c->alpaca_url);
	in->parser = frame_parser_new();
	in->dedup = dedup_new(DEDUP_FEED_WINDOW_NS, DEDUP_FEED_ENTRIES);
	in->seq = seq_map_new();
	if (!in->feed || !in->url || !in->parser || !in->dedup || !in->seq) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (strncmp(c->alpaca_url, "wss://", 6) == 0)
		rc = tls_config_new_client(&in->tls, c->alpaca_tls_ca_file, err, errlen);
	else
		rc = tls_config_new_plain(&in->tls);
	if (rc < 0)
		goto fail;
	if (c->alpaca_record_file && (rc = recorder_new(loop, c->alpaca_record_file, &in->rec)) < 0) {
		snprintf(err, errlen, "alpaca.record.file: cannot open %s: %s", c->alpaca_record_file, uv_strerror(rc));
		goto fail;
	}
	if (c->alpaca_auth == CONF_AUTH_HEADER && c->alpaca_key.value) {
		in->headers[0] = (struct ws_header){"APCA-API-KEY-ID", c->alpaca_key.value};
		in->headers[1] = (struct ws_header){"APCA-API-SECRET-KEY", c->alpaca_secret.value};
		in->n_headers = 2;
	}

	struct alpaca_opts ao;
	alpaca_opts_from_conf(&ao, c);
	ao.rng_seed = (uint64_t)clock_real_ns();
	static const struct alpaca_cbs cbs = {.send_text = cb_send_text, .connect = cb_connect,
					      .disconnect = cb_disconnect, .status = cb_status, .fatal = cb_fatal,
					      .sub_result = cb_sub_result};
	if ((rc = alpaca_new(&in->sess, &ao, &cbs, in)) < 0) {
		snprintf(err, errlen, "cannot create the Alpaca session: %s", strerror(-rc));
		goto fail;
	}
	struct alpaca_symbols want;
	alpaca_symbols_from_conf(&want, c);
	uint32_t req;
	if ((rc = alpaca_set_symbols(in->sess, now_mono(), &want, &req, err, errlen)) < 0)
		goto fail;

	uv_timer_init(loop, &in->sess_timer);
	uv_timer_init(loop, &in->gap_timer);
	uv_check_init(loop, &in->slice_check);
	uv_idle_init(loop, &in->drain_idle);
	in->sess_timer.data = in->gap_timer.data = in->slice_check.data = in->drain_idle.data = in;
	in->held_tail = &in->held_head;
	in->handles = 4;
	*res = in;
	return 0;
fail:
	if (in->rec)
		recorder_close(in->rec, NULL, NULL); /* frees when the loop runs */
	if (in->sess)
		alpaca_free(in->sess);
	if (in->tls)
		tls_config_free(in->tls);
	seq_map_free(in->seq);
	dedup_free(in->dedup);
	frame_parser_free(in->parser);
	free(in->feed);
	free(in->url);
	free(in);
	return rc;
}

static void on_slice_check(uv_check_t *h)
{
	struct ingest *in = h->data;
	in->slice_start = 0;
	if (in->read_paused && !in->held && !in->held_head) {
		in->read_paused = false;
		wsconn_read_pause(in->ws, false);
	}
}

int ingest_start(struct ingest *in)
{
	uv_timer_start(&in->gap_timer, on_gap_timer, GAP_REPORT_MS, GAP_REPORT_MS);
	uv_check_start(&in->slice_check, on_slice_check);
	uv_unref((uv_handle_t *)&in->slice_check); /* never what keeps the loop alive */
	int rc = alpaca_start(in->sess, now_mono());
	arm_session_timer(in);
	return rc;
}

static void maybe_free(struct ingest *in)
{
	if (in->handles > 0 || in->ws)
		return;
	void (*cb)(void *) = in->closed_cb;
	void *arg = in->closed_arg;
	for (struct held_frame *f = in->held_head, *next; f; f = next) {
		next = f->next;
		free(f);
	}
	alpaca_free(in->sess);
	tls_config_free(in->tls);
	seq_map_free(in->seq);
	dedup_free(in->dedup);
	frame_parser_free(in->parser);
	free(in->env);
	free(in->feed);
	free(in->url);
	free(in);
	if (cb)
		cb(arg);
}

static void recorder_closed(void *arg)
{
	struct ingest *in = arg;
	in->rec = NULL;
	in->handles--;
	maybe_free(in);
}

static void timer_closed(uv_handle_t *h)
{
	struct ingest *in = h->data;
	in->handles--;
	maybe_free(in);
}

void ingest_close(struct ingest *in, void (*cb)(void *arg), void *arg)
{
	in->closed_cb = cb;
	in->closed_arg = arg;
	on_gap_timer(&in->gap_timer); /* a last gap report before we go */
	/* The machine sends the close frame through cb_disconnect; ws_on_close
	 * then frees once the connection is gone. */
	alpaca_stop(in->sess, now_mono());
	in->closing = true;
	uv_timer_stop(&in->sess_timer);
	uv_timer_stop(&in->gap_timer);
	uv_close((uv_handle_t *)&in->sess_timer, timer_closed);
	uv_close((uv_handle_t *)&in->gap_timer, timer_closed);
	uv_close((uv_handle_t *)&in->slice_check, timer_closed);
	uv_close((uv_handle_t *)&in->drain_idle, timer_closed);
	if (in->rec) {
		in->handles++; /* the recorder's last write and close */
		recorder_close(in->rec, recorder_closed, in);
	}
}

static bool in_list(const char *const *syms, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(syms[i], s) == 0)
			return true;
	return false;
}

int ingest_change_symbols(struct ingest *in, const char *const *syms, size_t n, bool add,
			  void (*done)(void *arg, int result, const char *detail), void *arg, char *err,
			  size_t errlen)
{
	struct pending_sub *slot = NULL;
	for (size_t i = 0; i < sizeof(in->pending) / sizeof(in->pending[0]); i++)
		if (!in->pending[i].done)
			slot = &in->pending[i];
	if (!slot) {
		snprintf(err, errlen, "too many subscription changes in flight");
		return -EBUSY;
	}
	const char **lists[ALPACA_CH_SUB_COUNT] = {0};
	struct alpaca_symbols want = {0};
	int rc = 0;
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT && rc == 0; ch++) {
		if (!(in->conf->alpaca_channels & (1u << ch)))
			continue;
		size_t cur = alpaca_desired_count(in->sess, (enum alpaca_channel)ch), k = 0;
		lists[ch] = calloc(cur + n + 1, sizeof(char *));
		if (!lists[ch]) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < cur; i++) {
			const char *sym = alpaca_desired_at(in->sess, (enum alpaca_channel)ch, i);
			if (add || !in_list(syms, n, sym))
				lists[ch][k++] = sym;
		}
		for (size_t i = 0; add && i < n; i++)
			if (!in_list(lists[ch], k, syms[i]))
				lists[ch][k++] = syms[i];
		want.sym[ch] = lists[ch];
		want.n[ch] = k;
	}
	uint32_t req = 0;
	if (rc == 0)
		rc = alpaca_set_symbols(in->sess, now_mono(), &want, &req, err, errlen);
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++)
		free(lists[ch]);
	if (rc < 0)
		return rc;
	slot->req = req;
	slot->done = done;
	slot->arg = arg;
	arm_session_timer(in);
	return 0;
}

void ingest_apply_conf_symbols(struct ingest *in, const struct conf *c)
{
	struct alpaca_symbols want;
	uint32_t req;
	char err[256];
	alpaca_symbols_from_conf(&want, c);
	/* channels stay those of the start (not live); symbols come from c */
	for (int ch = 0; ch < ALPACA_CH_SUB_COUNT; ch++) {
		bool on = in->conf->alpaca_channels & (1u << ch);
		want.sym[ch] = on ? (const char *const *)c->alpaca_symbols : NULL;
		want.n[ch] = on ? c->alpaca_symbol_count : 0;
	}
	if (alpaca_set_symbols(in->sess, now_mono(), &want, &req, err, sizeof(err)) < 0)
		log_error(in->log, LOG_SUB_ALPACA, "reload: symbols not applied: %s", err);
	else
		log_info(in->log, LOG_SUB_ALPACA, "reload: %zu symbols handed to the session", c->alpaca_symbol_count);
	arm_session_timer(in);
}

json_t *ingest_symbols_json(const struct ingest *in)
{
	json_t *r = json_object();
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++) {
		json_t *want = json_array(), *have = json_array();
		size_t nw = alpaca_desired_count(in->sess, (enum alpaca_channel)ch);
		size_t nh = alpaca_confirmed_count(in->sess, (enum alpaca_channel)ch);
		for (size_t i = 0; i < nw; i++)
			json_array_append_new(want, json_string(alpaca_desired_at(in->sess, (enum alpaca_channel)ch, i)));
		for (size_t i = 0; i < nh; i++)
			json_array_append_new(have, json_string(alpaca_confirmed_at(in->sess, (enum alpaca_channel)ch, i)));
		if (nw == 0 && nh == 0) {
			json_decref(want);
			json_decref(have);
			continue;
		}
		json_object_set_new(r, alpaca_channel_name((enum alpaca_channel)ch),
				    json_pack("{s:o,s:o}", "desired", want, "confirmed", have));
	}
	return r;
}

const struct alpaca_stats *ingest_alpaca_stats(const struct ingest *in)
{
	return alpaca_stats(in->sess);
}

const struct frame_stats *ingest_frame_stats(const struct ingest *in)
{
	return frame_parser_stats(in->parser);
}

uint64_t ingest_duplicates(const struct ingest *in)
{
	return in->duplicates;
}

void ingest_set_hist(struct ingest *in, struct hist *frame_to_produce)
{
	in->lat = frame_to_produce;
}

bool ingest_subscribed(const struct ingest *in)
{
	return alpaca_stats(in->sess)->state == ALPACA_ST_SUBSCRIBED;
}

json_t *ingest_status_json(const struct ingest *in)
{
	const struct alpaca_stats *s = alpaca_stats(in->sess);
	const struct frame_stats *fs = frame_parser_stats(in->parser);
	json_t *subs = json_object();
	for (int ch = 0; ch < ALPACA_CH_COUNT; ch++) {
		size_t n = alpaca_confirmed_count(in->sess, (enum alpaca_channel)ch);
		if (n == 0)
			continue;
		json_t *a = json_array();
		for (size_t i = 0; i < n && i < 50; i++)
			json_array_append_new(a, json_string(alpaca_confirmed_at(in->sess, (enum alpaca_channel)ch, i)));
		json_object_set_new(subs, alpaca_channel_name((enum alpaca_channel)ch), a);
	}
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:I}",
		"state", alpaca_state_name(s->state), "url", in->url, "feed", in->feed,
		"attempt", (json_int_t)s->attempt, "connects", (json_int_t)s->connects,
		"reconnects", (json_int_t)s->reconnects, "frames", (json_int_t)in->frames,
		"frame_errors", (json_int_t)in->frame_errors, "events", (json_int_t)in->events,
		"rejected_messages", (json_int_t)(fs->rejected + fs->unknown_type),
		"duplicates", (json_int_t)in->duplicates, "kafka_refused", (json_int_t)in->drops_total,
		"gaps", (json_int_t)s->gaps, "gap_open", s->gap_open, "subscriptions", subs,
		"frames_held", (json_int_t)in->frames_held);
}

/* ------------------------------------------------------------ checkpoints */

ssize_t ingest_marker(struct ingest *in, uint64_t id, const char *detail, char *buf, size_t cap)
{
	return envelope_write_marker(in->feed, seq_map_next(in->seq, SEQ_CHANNEL_CONN_STATUS, in->feed), id, detail, buf,
				     cap);
}

const char *ingest_feed(const struct ingest *in)
{
	return in->feed;
}

/* Kept frames, oldest first, a slice at a time (a 50 ms hold at full rate
 * is thousands of messages); reading resumes when none is left. */
static void drain_held(struct ingest *in)
{
	int64_t start = now_mono();
	while (in->held_head && !in->held && !in->closing) {
		struct held_frame *f = in->held_head;
		if (!(in->held_head = f->next))
			in->held_tail = &in->held_head;
		handle_message(in, f->type, f->msg, f->len, f->real, f->mono);
		free(f);
		if (now_mono() - start > INGEST_SLICE_NS)
			break;
	}
	if (in->held_head && !in->held && !in->closing) {
		uv_idle_start(&in->drain_idle, on_drain_idle);
		return;
	}
	uv_idle_stop(&in->drain_idle);
	if (!in->held && !in->held_head && in->read_paused && in->ws && !in->closing) {
		in->read_paused = false;
		wsconn_read_pause(in->ws, false);
	}
}

static void on_drain_idle(uv_idle_t *h)
{
	drain_held(h->data);
}

void ingest_hold(struct ingest *in, bool hold)
{
	if (in->held == hold)
		return;
	in->held = hold;
	if (!hold)
		drain_held(in);
}

/* The channel times as (name, time) pairs: their count. */
static size_t channel_times(const struct ingest *in, struct snapshot_kv *kv)
{
	size_t n = 0;
	for (int k = 1; k < EVENT_CTL_SUCCESS; k++)
		if (in->last_t[k] && event_channel((enum event_kind)k))
			kv[n++] = (struct snapshot_kv){event_channel((enum event_kind)k), in->last_t[k]};
	return n;
}

ssize_t ingest_state_save_begin(struct ingest *in)
{
	struct snapshot_kv kv[EVENT_CTL_SUCCESS];
	ssize_t dd = in->dd_len = dedup_save_begin(in->dedup, &in->dd_saver);
	int sl = seq_map_save(in->seq, NULL, 0);
	int64_t kl = snapshot_kv_encode(kv, channel_times(in, kv), NULL, 0);
	if (dd < 0 || sl < 0 || kl < 0)
		return dd < 0 ? dd : sl < 0 ? sl : (ssize_t)kl;
	return 3 * SNAPSHOT_SECTION_HDR + dd + sl + (ssize_t)kl;
}

int ingest_state_save_reserve(struct ingest *in, struct snapshot_writer *w)
{
	struct snapshot_kv kv[EVENT_CTL_SUCCESS];
	size_t n = channel_times(in, kv);
	if (in->dd_len < 0)
		return (int)in->dd_len;
	if ((in->dd_off = snapshot_writer_reserve_off(w, SNAPSHOT_SEC_DEDUP, (size_t)in->dd_len)) < 0)
		return (int)in->dd_off;
	/* the small sections now; the dedup window in steps */
	uint8_t *p;
	int sl = seq_map_save(in->seq, NULL, 0);
	if (sl < 0 || !(p = snapshot_writer_reserve(w, SNAPSHOT_SEC_SEQ, (size_t)sl)) ||
	    seq_map_save(in->seq, p, (size_t)sl) != sl)
		return sl < 0 ? sl : -ENOMEM;
	int64_t kl = snapshot_kv_encode(kv, n, NULL, 0);
	if (kl < 0 || !(p = snapshot_writer_reserve(w, SNAPSHOT_SEC_CHANNEL_TIMES, (size_t)kl)) ||
	    snapshot_kv_encode(kv, n, p, (size_t)kl) != kl)
		return kl < 0 ? (int)kl : -ENOMEM;
	return 0;
}

int ingest_state_save_step(struct ingest *in, struct snapshot_writer *w, size_t budget)
{
	return dedup_save_step(in->dedup, &in->dd_saver, snapshot_writer_at(w, (size_t)in->dd_off), budget);
}

static int load_channel_time(const char *key, size_t key_len, int64_t value, void *arg)
{
	struct ingest *in = arg;
	for (int k = 1; k < EVENT_CTL_SUCCESS; k++) {
		const char *name = event_channel((enum event_kind)k);
		if (name && strlen(name) == key_len && memcmp(name, key, key_len) == 0) {
			in->last_t[k] = value;
			return 0;
		}
	}
	return 0; /* a channel this build does not know: ignored */
}

int ingest_state_load(struct ingest *in, const struct snapshot *snap, uint64_t id, const char *why)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (snapshot_section(snap, SNAPSHOT_SEC_DEDUP, &p, &n) == 0 && (rc = dedup_load(in->dedup, p, n)) < 0)
		return rc;
	if (snapshot_section(snap, SNAPSHOT_SEC_SEQ, &p, &n) == 0 && (rc = seq_map_load(in->seq, p, n)) < 0)
		return rc;
	memset(in->last_t, 0, sizeof(in->last_t));
	if (snapshot_section(snap, SNAPSHOT_SEC_CHANNEL_TIMES, &p, &n) == 0 &&
	    (rc = snapshot_kv_decode(p, n, load_channel_time, in)) < 0)
		return rc;
	int64_t start = 0;
	for (int k = 1; k < EVENT_CTL_SUCCESS; k++)
		if (in->last_t[k] && (!start || in->last_t[k] < start))
			start = in->last_t[k];
	in->recover_pending = true;
	in->recover_id = id;
	in->recover_start_ns = start;
	snprintf(in->recover_why, sizeof(in->recover_why), "%s from checkpoint %llu", why,
		 (unsigned long long)id);
	return 0;
}
