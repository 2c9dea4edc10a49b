/* server.c - the replay server (see server.h).
 *
 * A connection is composed here from tls.h and ws.h rather than wsconn.h:
 * the no-pong fault has to keep wslay's automatic pongs off the wire, which
 * takes a filter between the WebSocket and TLS layers (rs_conn_write). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/ws.h"
#include "replay/recording.h"
#include "replay/server.h"

#define RS_PUMP_FRAMES 256     /* frames per pump before yielding to the loop */
#define RS_SCAN_STEP 65536     /* recording entries examined per fill */
#define RS_MALFORMED "this is not JSON {"

/* --- recording in memory ------------------------------------------------- */

struct rs_rmsg {
	int64_t at_ns;
	size_t off;             /* object bytes in the arena */
	struct recording_msg m; /* spans relative to arena + off */
};

struct replay_server_rec {
	char *arena;
	size_t len, cap;
	struct rs_rmsg *v;
	size_t n, vcap;
	struct replay_server_rec_stats st;
};

static bool rs_span_is(const char *base, struct recording_span sp, const char *lit)
{
	size_t n = strlen(lit);
	return sp.len == n && memcmp(base + sp.off, lit, n) == 0;
}

static int rs_rec_add(struct replay_server_rec *rec, const struct recording_item *it,
                      const struct recording_msg *m)
{
	const char *base = it->line;
	if (rs_span_is(base, m->type, "success") || rs_span_is(base, m->type, "error") ||
	    rs_span_is(base, m->type, "subscription")) {
		rec->st.control++;
		return 0;
	}
	if (rec->n == rec->vcap) {
		size_t cap = rec->vcap ? rec->vcap * 2 : 1024;
		struct rs_rmsg *v = realloc(rec->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rec->v = v;
		rec->vcap = cap;
	}
	if (rec->len + m->obj.len > rec->cap) {
		size_t cap = rec->cap ? rec->cap : 1u << 16;
		while (cap < rec->len + m->obj.len)
			cap *= 2;
		char *a = realloc(rec->arena, cap);
		if (!a)
			return -ENOMEM;
		rec->arena = a;
		rec->cap = cap;
	}
	struct rs_rmsg *r = &rec->v[rec->n++];
	r->at_ns = it->at_ns;
	r->off = rec->len;
	memcpy(rec->arena + rec->len, base + m->obj.off, m->obj.len);
	rec->len += m->obj.len;
	r->m = *m;
	uint32_t o = m->obj.off;
	r->m.obj.off = 0;
	struct recording_span *sp[] = {&r->m.type, &r->m.sym, &r->m.id, &r->m.time};
	for (size_t i = 0; i < 4; i++)
		sp[i]->off = sp[i]->len ? sp[i]->off - o : 0;
	rec->st.messages++;
	rec->st.bytes = rec->len;
	return 0;
}

int replay_server_rec_load(struct replay_server_rec **out, FILE *f, char *err, size_t errcap)
{
	if (!out || !f)
		return -EINVAL;
	if (err && errcap)
		err[0] = '\0';
	struct replay_server_rec *rec = calloc(1, sizeof(*rec));
	struct recording_reader *rd = NULL;
	int r = rec ? recording_reader_new(f, 0, &rd) : -ENOMEM;
	while (r == 0) {
		struct recording_item it;
		char why[256];
		int n = recording_read(rd, &it, why, sizeof(why), NULL);
		if (n == 0)
			break;
		if (n == -EBADMSG) {
			if (!rec->st.malformed++ && err && errcap)
				snprintf(err, errcap, "%s", why);
			continue;
		}
		if (n < 0) {
			if (err && errcap)
				snprintf(err, errcap, "%s", why);
			r = n;
			break;
		}
		if (it.kind == RECORDING_META)
			continue;
		rec->st.lines++;
		for (size_t i = 0; r == 0 && i < it.nmsgs; i++)
			r = rs_rec_add(rec, &it, &it.msgs[i]);
		if (r < 0 && err && errcap)
			snprintf(err, errcap, "line %llu: out of memory", (unsigned long long)it.lineno);
	}
	recording_reader_free(rd);
	if (r < 0) {
		replay_server_rec_free(rec);
		return r;
	}
	*out = rec;
	return 0;
}

void replay_server_rec_free(struct replay_server_rec *rec)
{
	if (!rec)
		return;
	free(rec->arena);
	free(rec->v);
	free(rec);
}

const struct replay_server_rec_stats *replay_server_rec_stats(const struct replay_server_rec *rec)
{
	return &rec->st;
}

/* --- endpoints ----------------------------------------------------------- */

bool replay_server_endpoint(const char *target, char *out, size_t cap)
{
	static const char *const paths[] = {"v2/iex", "v2/sip", "v2/delayed_sip", "v2/test",
	                                    "v1beta1/boats", "v1beta1/overnight"};
	if (!target || target[0] != '/')
		return false;
	size_t n = strcspn(target + 1, "?#");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (strlen(paths[i]) == n && memcmp(paths[i], target + 1, n) == 0) {
			if (n >= cap)
				return false;
			memcpy(out, target + 1, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* --- types --------------------------------------------------------------- */

struct rs_conn;

struct replay_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t flush_timer;
	int handles; /* listener + flush timer still open */
	struct replay_server_opts o;
	struct rs_conn *conns;
	uint32_t next_no;
	uint16_t port;
	bool closing;
	void (*close_cb)(void *arg);
	void *close_arg;
	struct replay_server_stats st;
	int64_t live_start_ns; /* --live: the shared schedule start, 0 before the first stream */
};

/* Outgoing frame scanner for the no-pong filter (server frames are
 * unmasked: 2 header bytes, 0/2/8 length bytes, payload). */
struct rs_pongf {
	uint8_t hdr[10];
	uint8_t hlen, need;
	bool in_payload, drop;
	uint64_t left;
};

struct rs_conn {
	struct replay_server *srv;
	struct rs_conn *prev, *next;
	uint32_t no;
	struct tls *tls;
	struct ws *ws;
	struct replay_session *sess;
	struct replay_faults_conn fc;
	uv_timer_t auth_timer, pace_timer, drop_timer;
	/* Work decided inside a message callback runs from here, after wslay
	 * has flushed: a close frame queued while wslay is receiving would jump
	 * ahead of the frames queued before it (control frames go first). */
	uv_timer_t later_timer;
	uint16_t close_pending;
	bool pump_pending, in_msg;
	int handles; /* timers and tls still open */
	bool opened;     /* WebSocket open */
	bool ws_over;    /* ws on_close ran */
	bool ws_closing; /* our close frame is queued */
	bool closing;    /* teardown started (tls_close) */
	bool clean;      /* close handshake completed */
	bool no_pong;
	char endpoint[32];
	char *hdr_key, *hdr_secret;
	char peer[64];
	/* streaming */
	bool streaming, stalled, done, exhausted, pass_hit;
	struct schedule sched;
	size_t scan;
	uint32_t npend;
	size_t *pend_idx;
	int64_t *pend_at;
	char *fbuf;
	size_t fcap;
	struct rs_pongf pf;
};

/* --- logging ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void rs_log(struct replay_server *s,
                                                         enum log_level lv, const char *fmt, ...)
{
	if (!s->o.log)
		return;
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->o.log(s->o.log_user, lv, text);
}

static void rs_wipe_creds(struct rs_conn *c)
{
	if (c->hdr_secret)
		memset(c->hdr_secret, 0, strlen(c->hdr_secret));
	free(c->hdr_key);
	free(c->hdr_secret);
	c->hdr_key = c->hdr_secret = NULL;
}

/* --- teardown ------------------------------------------------------------ */

static void rs_server_maybe_done(struct replay_server *s);

static void rs_conn_handle_closed(uv_handle_t *h)
{
	struct rs_conn *c = h->data;
	if (--c->handles > 0)
		return;
	struct replay_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->st.live--;
	free(c->pend_idx);
	free(c->pend_at);
	free(c->fbuf);
	free(c);
	rs_server_maybe_done(s);
}

/* Closes the transport; everything else follows from tls on_close. */
static void rs_conn_teardown(struct rs_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_timer_stop(&c->auth_timer);
	uv_timer_stop(&c->pace_timer);
	uv_timer_stop(&c->drop_timer);
	uv_timer_stop(&c->later_timer);
	tls_close(c->tls);
}

/* Close frame when the session is open, else teardown. */
static void rs_conn_close(struct rs_conn *c, uint16_t code)
{
	if (c->closing || c->ws_closing)
		return;
	uv_timer_stop(&c->pace_timer);
	if (c->opened && !c->ws_over && ws_close(c->ws, code, NULL) == 0) {
		c->ws_closing = true;
		return;
	}
	rs_conn_teardown(c);
}

/* --- tls callbacks ------------------------------------------------------- */

static void rs_tls_ready(void *user)
{
	struct rs_conn *c = user;
	ws_start(c->ws);
}

static void rs_tls_read(void *user, const uint8_t *buf, size_t len)
{
	struct rs_conn *c = user;
	if (!c->closing)
		ws_feed(c->ws, buf, len);
}

static void rs_tls_end(void *user, int status)
{
	struct rs_conn *c = user;
	if (c->ws_over || c->closing) {
		rs_conn_teardown(c);
		return;
	}
	if (!c->opened && status != 0 && status != UV_EOF)
		rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: TLS: %s", c->no,
		       *tls_error_text(c->tls) ? tls_error_text(c->tls) : uv_strerror(status));
	ws_transport_end(c->ws, status); /* ends in rs_ws_close */
	rs_conn_teardown(c);
}

static void rs_tls_closed(void *user)
{
	struct rs_conn *c = user;
	struct replay_server *s = c->srv;
	if (c->opened && !c->ws_over)
		rs_log(s, LOG_LEVEL_INFO, "conn %u: dropped (no close frame)", c->no);
	ws_free(c->ws);
	c->ws = NULL;
	c->tls = NULL;
	rs_wipe_creds(c);
	if (c->sess) {
		replay_session_free(c->sess, c->clean, uv_now(s->loop));
		c->sess = NULL;
	}
	uv_close((uv_handle_t *)&c->auth_timer, rs_conn_handle_closed);
	uv_close((uv_handle_t *)&c->pace_timer, rs_conn_handle_closed);
	uv_close((uv_handle_t *)&c->drop_timer, rs_conn_handle_closed);
	uv_close((uv_handle_t *)&c->later_timer, rs_conn_handle_closed);
	c->handles--; /* the tls object; the timers' callbacks come later */
}

static const struct tls_cbs rs_tls_cbs = {
	.on_ready = rs_tls_ready,
	.on_read = rs_tls_read,
	.on_end = rs_tls_end,
	.on_close = rs_tls_closed,
};

/* --- output -------------------------------------------------------------- */

/* Passes the outgoing byte stream on, minus PONG frames. */
static int rs_pong_filter(struct rs_conn *c, const uint8_t *buf, size_t len)
{
	struct rs_pongf *f = &c->pf;
	size_t i = 0;
	while (i < len) {
		if (f->in_payload) {
			size_t n = len - i < f->left ? len - i : (size_t)f->left;
			if (!f->drop) {
				int r = tls_write(c->tls, buf + i, n);
				if (r < 0)
					return r;
			}
			i += n;
			f->left -= n;
			if (!f->left)
				f->in_payload = false;
			continue;
		}
		f->hdr[f->hlen++] = buf[i++];
		if (f->hlen == 2) {
			uint8_t l7 = f->hdr[1] & 0x7f;
			f->need = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0));
		}
		if (f->hlen < 2 || f->hlen < f->need)
			continue;
		uint8_t l7 = f->hdr[1] & 0x7f;
		uint64_t plen = l7;
		if (l7 >= 126) {
			plen = 0;
			for (uint8_t k = 2; k < f->need; k++)
				plen = plen << 8 | f->hdr[k];
		}
		f->drop = (f->hdr[0] & 0x0f) == 0xA;
		if (!f->drop) {
			int r = tls_write(c->tls, f->hdr, f->hlen);
			if (r < 0)
				return r;
		}
		f->hlen = 0;
		f->left = plen;
		f->in_payload = plen > 0;
	}
	return 0;
}

static int rs_conn_write(void *io_ctx, const uint8_t *buf, size_t len)
{
	struct rs_conn *c = io_ctx;
	if (c->closing || !c->tls)
		return -ENOTCONN;
	return c->no_pong ? rs_pong_filter(c, buf, len) : tls_write(c->tls, buf, len);
}

static size_t rs_conn_queued(const struct rs_conn *c)
{
	return ws_queued_bytes(c->ws) + tls_write_queued(c->tls);
}

static void rs_session_emit(void *ctx, const char *frame, size_t len)
{
	struct rs_conn *c = ctx;
	if (strncmp(frame, "[{\"T\":\"error\"", 13) == 0)
		rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: sent %.*s", c->no, (int)len, frame);
	if (!c->closing && !c->ws_closing && !c->ws_over)
		ws_send_text(c->ws, frame, len);
}

/* --- streaming ----------------------------------------------------------- */

static void rs_pace_fired(uv_timer_t *t);

static void rs_pace_arm_ns(struct rs_conn *c, int64_t wake_ns, int64_t now_ns)
{
	if (wake_ns == INT64_MAX)
		return;
	uint64_t ms = wake_ns <= now_ns ? 0 : (uint64_t)(wake_ns - now_ns + 999999) / 1000000;
	uv_timer_start(&c->pace_timer, rs_pace_fired, ms, 0);
}

/* Fills the lookahead with the next messages this client wants. Returns
 * false if it stopped early (scan budget) and should be called again. */
static bool rs_fill(struct rs_conn *c)
{
	const struct replay_server_rec *rec = c->srv->o.rec;
	uint32_t batch = c->srv->o.sched.batch;
	size_t budget = RS_SCAN_STEP;
	while (c->npend < batch && c->scan < rec->n) {
		if (!budget--)
			return false;
		const struct rs_rmsg *m = &rec->v[c->scan];
		const char *base = rec->arena + m->off;
		if (replay_session_wants(c->sess, base + m->m.type.off, m->m.type.len,
		                         base + m->m.sym.off, m->m.sym.len)) {
			c->pend_idx[c->npend] = c->scan;
			c->pend_at[c->npend] = m->at_ns;
			c->npend++;
			c->pass_hit = true;
		}
		c->scan++;
	}
	return true;
}

static int64_t rs_origin(const struct replay_server *s)
{
	return s->o.rec->n ? s->o.rec->v[0].at_ns : 0;
}

/* Sends pend[0..n) as one frame and logs it. Returns 0 or the send error. */
static int rs_send_batch(struct rs_conn *c, size_t n)
{
	struct replay_server *s = c->srv;
	const struct replay_server_rec *rec = s->o.rec;
	size_t need = 2;
	for (size_t i = 0; i < n; i++)
		need += rec->v[c->pend_idx[i]].m.obj.len + 1;
	if (need > c->fcap) {
		size_t cap = c->fcap ? c->fcap : 4096;
		while (cap < need)
			cap *= 2;
		char *b = realloc(c->fbuf, cap);
		if (!b)
			return -ENOMEM;
		c->fbuf = b;
		c->fcap = cap;
	}
	size_t w = 0;
	c->fbuf[w++] = '[';
	for (size_t i = 0; i < n; i++) {
		const struct rs_rmsg *m = &rec->v[c->pend_idx[i]];
		if (i)
			c->fbuf[w++] = ',';
		memcpy(c->fbuf + w, rec->arena + m->off, m->m.obj.len);
		w += m->m.obj.len;
	}
	c->fbuf[w++] = ']';
	int r = ws_send_text(c->ws, c->fbuf, w);
	if (r < 0)
		return r;
	s->st.frames++;
	s->st.messages += n;
	if (s->o.sendlog) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t send_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		for (size_t i = 0; i < n; i++) {
			const struct rs_rmsg *m = &rec->v[c->pend_idx[i]];
			sendlog_write(s->o.sendlog, send_ns, c->no, s->st.frames, rec->arena + m->off,
			              &m->m);
		}
	}
	schedule_commit(&c->sched, n);
	replay_faults_sent(&c->fc, n);
	c->npend -= (uint32_t)n;
	memmove(c->pend_idx, c->pend_idx + n, c->npend * sizeof(*c->pend_idx));
	memmove(c->pend_at, c->pend_at + n, c->npend * sizeof(*c->pend_at));
	return 0;
}

static void rs_slow(struct rs_conn *c, const char *why)
{
	c->srv->st.slow++;
	rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: 407 slow client (%s)", c->no, why);
	if (replay_session_slow(c->sess) & REPLAY_SESSION_ACT_CLOSE)
		rs_conn_close(c, 1008);
}

/* Carries out due faults. Returns false when the connection stops here. */
static bool rs_faults(struct rs_conn *c)
{
	for (;;) {
		enum replay_fault f = replay_faults_due(&c->fc);
		if (f == REPLAY_FAULT_NONE)
			return true;
		c->srv->st.faults++;
		rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: fault %s after %llu messages", c->no,
		       replay_fault_name(f), (unsigned long long)c->fc.sent);
		switch (f) {
		case REPLAY_FAULT_DROP:
			rs_conn_teardown(c); /* no close frame: the session ends uncleanly */
			return false;
		case REPLAY_FAULT_SLOW:
			rs_slow(c, "fault");
			return false;
		case REPLAY_FAULT_MALFORMED:
			ws_send_text(c->ws, RS_MALFORMED, strlen(RS_MALFORMED));
			if (c->closing || c->ws_over)
				return false;
			break;
		case REPLAY_FAULT_STALL:
			c->stalled = true;
			return false;
		default:
			return true;
		}
	}
}

static void rs_pump_frames(struct rs_conn *c);

/* Holds the segments of one pump's frames back (TCP_CORK) and sends them
 * together: a write per frame with TCP_NODELAY cost the server ~90 % of its
 * CPU in the kernel (a loopback segment per frame) at 250 k msgs/s. The
 * pacing is unchanged: whatever is due goes out at the end of the pump. */
static void rs_cork(struct rs_conn *c, int on)
{
	uv_os_fd_t fd;
	if (c->tls && uv_fileno((const uv_handle_t *)tls_tcp(c->tls), &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static void rs_pump(struct rs_conn *c)
{
	rs_cork(c, 1);
	rs_pump_frames(c);
	rs_cork(c, 0);
}

static void rs_pump_frames(struct rs_conn *c)
{
	struct replay_server *s = c->srv;
	for (int frames = 0;; frames++) {
		if (!c->streaming || c->stalled || c->done || c->exhausted || c->closing ||
		    c->ws_closing || c->ws_over)
			return;
		if (!rs_faults(c))
			return;
		uint64_t room = replay_faults_room(&c->fc);
		if (room == 0)
			return;
		size_t queued = rs_conn_queued(c);
		bool max_mode = s->o.sched.mode == SCHEDULE_MAX ||
		                (s->o.sched.mode == SCHEDULE_RECORDED && s->o.sched.speed == 0);
		if (queued > s->o.max_queued) {
			rs_slow(c, "send queue over the bound");
			return;
		}
		if (frames >= RS_PUMP_FRAMES || (max_mode && queued > s->o.max_queued / 2)) {
			/* Let the loop read and write; come back next iteration (or in
			 * 1 ms when waiting for the client to drain). */
			uv_timer_start(&c->pace_timer, rs_pace_fired, frames >= RS_PUMP_FRAMES ? 0 : 1, 0);
			return;
		}
		if (!rs_fill(c)) {
			uv_timer_start(&c->pace_timer, rs_pace_fired, 0, 0);
			return;
		}
		int64_t now = (int64_t)uv_hrtime();
		if (c->npend == 0) {
			if (!s->o.loop) {
				c->done = true;
				return;
			}
			if (!c->pass_hit) {
				c->exhausted = true; /* a whole pass matched nothing */
				return;
			}
			c->scan = 0;
			c->pass_hit = false;
			schedule_init(&c->sched, &s->o.sched, now, rs_origin(s));
			continue;
		}
		int64_t wake;
		size_t n = schedule_next(&c->sched, c->pend_at, c->npend, now, &wake);
		if (n == 0) {
			rs_pace_arm_ns(c, wake, now);
			return;
		}
		if (n > room)
			n = (size_t)room;
		int r = rs_send_batch(c, n);
		if (r < 0) {
			if (!c->closing && !c->ws_over) {
				rs_log(s, LOG_LEVEL_WARN, "conn %u: send failed: %s", c->no, strerror(-r));
				rs_conn_close(c, 1011);
			}
			return;
		}
	}
}

static void rs_pace_fired(uv_timer_t *t)
{
	rs_pump(t->data);
}

static int rs_stream_start(struct rs_conn *c)
{
	struct replay_server *s = c->srv;
	uint32_t batch = s->o.sched.batch;
	c->pend_idx = malloc(batch * sizeof(*c->pend_idx));
	c->pend_at = malloc(batch * sizeof(*c->pend_at));
	if (!c->pend_idx || !c->pend_at)
		return -ENOMEM;
	int64_t now = (int64_t)uv_hrtime(), start = now;
	if (s->o.live && s->o.sched.mode == SCHEDULE_RECORDED) {
		if (!s->live_start_ns)
			s->live_start_ns = now;
		start = s->live_start_ns;
	}
	int r = schedule_init(&c->sched, &s->o.sched, start, rs_origin(s));
	if (r < 0)
		return r;
	if (start != now) { /* what was due while this client was away is gone */
		const struct replay_server_rec *rec = s->o.rec;
		while (c->scan < rec->n && schedule_due(&c->sched, 0, rec->v[c->scan].at_ns) < now)
			c->scan++;
	}
	c->streaming = true;
	rs_log(s, LOG_LEVEL_DEBUG, "conn %u: streaming", c->no);
	return 0;
}

/* The subscription set changed: what is pending was chosen by the old one. */
static void rs_stream_resubscribed(struct rs_conn *c)
{
	if (!c->streaming)
		return;
	if (c->npend)
		c->scan = c->pend_idx[0];
	c->npend = 0;
	c->exhausted = false;
	c->pass_hit = true; /* allow one more pass before calling it exhausted */
}

/* --- session glue -------------------------------------------------------- */

static void rs_auth_fired(uv_timer_t *t);

static void rs_auth_arm(struct rs_conn *c)
{
	uint64_t dl = c->sess ? replay_session_deadline(c->sess) : UINT64_MAX;
	if (dl == UINT64_MAX) {
		uv_timer_stop(&c->auth_timer);
		return;
	}
	uint64_t now = uv_now(c->srv->loop);
	uv_timer_start(&c->auth_timer, rs_auth_fired, dl > now ? dl - now : 0, 0);
}

static void rs_later_fired(uv_timer_t *t)
{
	struct rs_conn *c = t->data;
	if (c->close_pending) {
		uint16_t code = c->close_pending;
		c->close_pending = 0;
		rs_conn_close(c, code);
		return;
	}
	if (c->pump_pending) {
		c->pump_pending = false;
		rs_pump(c);
	}
}

/* close_code 0: just run the pending pump. */
static void rs_later(struct rs_conn *c, uint16_t close_code)
{
	if (close_code && !c->close_pending)
		c->close_pending = close_code;
	uv_timer_start(&c->later_timer, rs_later_fired, 0, 0);
}

static void rs_actions(struct rs_conn *c, int r)
{
	if (c->closing || c->ws_over)
		return;
	if (r < 0) {
		rs_log(c->srv, LOG_LEVEL_WARN, "conn %u: session: %s", c->no, strerror(-r));
		if (c->in_msg)
			rs_later(c, 1011);
		else
			rs_conn_close(c, 1011);
		return;
	}
	if (r & REPLAY_SESSION_ACT_CLOSE) {
		if (c->in_msg)
			rs_later(c, 1000);
		else
			rs_conn_close(c, 1000);
		return;
	}
	rs_auth_arm(c);
	if (r & REPLAY_SESSION_ACT_START) {
		int e = rs_stream_start(c);
		if (e < 0) {
			rs_log(c->srv, LOG_LEVEL_WARN, "conn %u: cannot stream: %s", c->no, strerror(-e));
			rs_conn_close(c, 1011);
			return;
		}
	} else if (r & REPLAY_SESSION_ACT_SUBS) {
		rs_stream_resubscribed(c);
	}
	if (r & (REPLAY_SESSION_ACT_START | REPLAY_SESSION_ACT_SUBS)) {
		c->pump_pending = true;
		rs_later(c, 0);
	}
}

static void rs_auth_fired(uv_timer_t *t)
{
	struct rs_conn *c = t->data;
	int r = replay_session_tick(c->sess, uv_now(c->srv->loop));
	if (r & REPLAY_SESSION_ACT_CLOSE)
		rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: 404 auth timeout", c->no);
	rs_actions(c, r);
}

static void rs_drop_fired(uv_timer_t *t)
{
	struct rs_conn *c = t->data;
	c->srv->st.faults++;
	rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: fault drop (timer)", c->no);
	rs_conn_teardown(c);
}

/* --- ws callbacks -------------------------------------------------------- */

static int rs_ws_request(void *user, const struct ws_handshake *req)
{
	struct rs_conn *c = user;
	struct replay_server *s = c->srv;
	const char *target = ws_handshake_target(req);
	int status = replay_faults_upgrade_status(&s->o.faults, c->no);
	const char *ctype = ws_handshake_header(req, "Content-Type");
	if (status == 101 && !replay_server_endpoint(target, c->endpoint, sizeof(c->endpoint)))
		status = 404;
	else if (status == 101 && ctype && strstr(ctype, "msgpack"))
		status = 415; /* JSON only: say so rather than answer msgpack with 400s */
	if (status != 101) {
		s->st.refused++;
		rs_log(s, LOG_LEVEL_INFO, "conn %u: upgrade %.80s refused with HTTP %d", c->no, target,
		       status);
		return status;
	}
	const char *k = ws_handshake_header(req, "APCA-API-KEY-ID");
	const char *sec = ws_handshake_header(req, "APCA-API-SECRET-KEY");
	if (k && sec) {
		c->hdr_key = strdup(k);
		c->hdr_secret = strdup(sec);
		if (!c->hdr_key || !c->hdr_secret)
			return 500;
	}
	return 101;
}

static void rs_ws_open(void *user)
{
	struct rs_conn *c = user;
	struct replay_server *s = c->srv;
	c->opened = true;
	s->st.sessions++;
	struct replay_session_opts so = {
		.endpoint = c->endpoint,
		.auth_timeout_ms = s->o.auth_timeout_ms,
		.symbol_limit = s->o.symbol_limit,
		.reject_auth = replay_faults_reject_auth(&c->fc),
		.omit_empty = s->o.omit_empty,
	};
	int r = replay_session_new(&c->sess, s->o.reg, &so, rs_session_emit, c);
	if (r == 0)
		r = replay_session_open(c->sess, uv_now(s->loop), c->hdr_key, c->hdr_secret);
	rs_wipe_creds(c);
	rs_log(s, LOG_LEVEL_INFO, "conn %u: session open on /%s", c->no, c->endpoint);
	uint64_t drop = replay_faults_drop_ms(&c->fc);
	if (drop != REPLAY_FAULT_OFF)
		uv_timer_start(&c->drop_timer, rs_drop_fired, drop, 0);
	rs_actions(c, r);
}

static void rs_ws_message(void *user, enum ws_msg_type type, const uint8_t *msg, size_t len)
{
	struct rs_conn *c = user;
	(void)type; /* JSON only: a binary frame is parsed as text and refused */
	if (c->closing || !c->sess)
		return;
	c->in_msg = true;
	rs_actions(c, replay_session_message(c->sess, (const char *)msg, len, uv_now(c->srv->loop)));
	c->in_msg = false;
}

static void rs_ws_close(void *user, const struct ws_close_info *info)
{
	struct rs_conn *c = user;
	c->ws_over = true;
	c->clean = info->status == 0;
	if (c->opened)
		rs_log(c->srv, LOG_LEVEL_INFO, "conn %u: closed (%s)%s", c->no, info->text,
		       c->clean ? "" : ": unclean");
	rs_conn_teardown(c);
}

static const struct ws_cbs rs_ws_cbs = {
	.on_open = rs_ws_open,
	.on_request = rs_ws_request,
	.on_message = rs_ws_message,
	.on_close = rs_ws_close,
};

/* --- accept -------------------------------------------------------------- */

static void rs_free_handle(uv_handle_t *h)
{
	free(h);
}

static void rs_free_data(uv_handle_t *h)
{
	free(h->data);
}

/* Takes a pending connection off the backlog and drops it. */
static void rs_refuse(struct replay_server *s, uv_stream_t *listener)
{
	uv_tcp_t *t = malloc(sizeof(*t));
	if (!t)
		return;
	uv_tcp_init(s->loop, t);
	uv_accept(listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, rs_free_handle);
}

static void rs_peer_name(struct rs_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	c->peer[0] = '\0';
	if (uv_tcp_getpeername(tls_tcp(c->tls), (struct sockaddr *)&ss, &len) != 0)
		return;
	char ip[48] = "";
	int port = 0;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
}

static void rs_on_connection(uv_stream_t *listener, int status)
{
	struct replay_server *s = listener->data;
	if (status < 0) {
		rs_log(s, LOG_LEVEL_WARN, "accept: %s", uv_strerror(status));
		return;
	}
	if (s->closing) {
		rs_refuse(s, listener);
		return;
	}
	struct rs_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		rs_refuse(s, listener);
		return;
	}
	c->srv = s;
	c->no = ++s->next_no;
	replay_faults_conn_init(&c->fc, &s->o.faults, c->no);
	c->no_pong = replay_faults_no_pong(&c->fc);
	struct ws_opts wo = {
		.role = WS_ROLE_SERVER,
		.max_msg_len = 1u << 20, /* client messages are small */
		.handshake_timeout_ms = s->o.handshake_timeout_ms,
		.close_timeout_ms = s->o.close_timeout_ms,
	};
	struct ws_io io = {rs_conn_write, c};
	int r = ws_new(&c->ws, s->loop, &wo, &io, &rs_ws_cbs, c);
	if (r == 0) {
		r = tls_new(&c->tls, s->loop, s->o.tls, NULL, &rs_tls_cbs, c);
		if (r < 0)
			ws_free(c->ws);
	}
	if (r < 0) {
		rs_log(s, LOG_LEVEL_WARN, "conn %u: %s", c->no, strerror(-r));
		free(c);
		rs_refuse(s, listener);
		return;
	}
	uv_timer_init(s->loop, &c->auth_timer);
	uv_timer_init(s->loop, &c->pace_timer);
	uv_timer_init(s->loop, &c->drop_timer);
	uv_timer_init(s->loop, &c->later_timer);
	c->auth_timer.data = c->pace_timer.data = c->drop_timer.data = c->later_timer.data = c;
	c->handles = 5; /* four timers and the tls object */
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->st.accepted++;
	s->st.live++;
	r = uv_accept(listener, (uv_stream_t *)tls_tcp(c->tls));
	if (r == 0) {
		rs_peer_name(c);
		rs_log(s, LOG_LEVEL_DEBUG, "conn %u: accepted from %s", c->no, c->peer);
		r = tls_start(c->tls, s->o.handshake_timeout_ms);
	}
	if (r < 0) {
		rs_log(s, LOG_LEVEL_WARN, "conn %u: %s", c->no, uv_strerror(r));
		rs_conn_teardown(c);
	}
}

/* --- server -------------------------------------------------------------- */

static void rs_flush_fired(uv_timer_t *t)
{
	struct replay_server *s = t->data;
	if (s->o.sendlog)
		sendlog_flush(s->o.sendlog);
}

int replay_server_start(struct replay_server **out, uv_loop_t *loop,
                        const struct replay_server_opts *o, char *err, size_t errcap)
{
	if (err && errcap)
		err[0] = '\0';
#define RS_BAD(...)                                        \
	do {                                               \
		if (err && errcap)                         \
			snprintf(err, errcap, __VA_ARGS__); \
		return -EINVAL;                            \
	} while (0)
	if (!out || !loop || !o)
		RS_BAD("missing arguments");
	if (!o->host || !o->tls || !o->reg || !o->rec)
		RS_BAD("host, TLS config, registry and recording are required");
	struct schedule check;
	struct schedule_opts so = o->sched;
	if (!so.batch)
		so.batch = 1;
	if (schedule_init(&check, &so, 0, 0) < 0)
		RS_BAD("bad pacing options");
	struct sockaddr_storage addr;
	if (uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&addr) != 0 &&
	    uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&addr) != 0)
		RS_BAD("listen address \"%s\" is not a numeric IP address", o->host);
#undef RS_BAD

	struct replay_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->o = *o;
	s->o.sched = so;
	if (!s->o.max_queued)
		s->o.max_queued = REPLAY_SERVER_DEFAULT_MAX_QUEUED;
	if (!s->o.close_timeout_ms)
		s->o.close_timeout_ms = REPLAY_SERVER_DEFAULT_CLOSE_TIMEOUT_MS;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	int r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, 128, rs_on_connection);
	if (r == 0) {
		struct sockaddr_storage ss;
		int len = sizeof(ss);
		r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
		if (r == 0)
			s->port = ntohs(ss.ss_family == AF_INET6
			                        ? ((struct sockaddr_in6 *)&ss)->sin6_port
			                        : ((struct sockaddr_in *)&ss)->sin_port);
	}
	if (r < 0) {
		if (err && errcap)
			snprintf(err, errcap, "listen on %s:%u: %s", o->host, o->port, uv_strerror(r));
		/* The listener is embedded: s goes once it has closed. */
		uv_close((uv_handle_t *)&s->listener, rs_free_data);
		return r;
	}
	uv_timer_init(loop, &s->flush_timer);
	s->flush_timer.data = s;
	if (s->o.sendlog)
		uv_timer_start(&s->flush_timer, rs_flush_fired, 1000, 1000);
	uv_unref((uv_handle_t *)&s->flush_timer); /* never keeps the loop alive alone */
	s->handles = 2;
	*out = s;
	return 0;
}

uint16_t replay_server_port(const struct replay_server *s)
{
	return s->port;
}

void replay_server_stats(const struct replay_server *s, struct replay_server_stats *out)
{
	*out = s->st;
}

static void rs_server_maybe_done(struct replay_server *s)
{
	if (!s->closing || s->handles > 0 || s->conns)
		return;
	if (s->o.sendlog)
		sendlog_flush(s->o.sendlog);
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;
	free(s);
	if (cb)
		cb(arg);
}

static void rs_server_handle_closed(uv_handle_t *h)
{
	struct replay_server *s = h->data;
	s->handles--;
	rs_server_maybe_done(s);
}

void replay_server_close(struct replay_server *s, void (*cb)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	uv_close((uv_handle_t *)&s->listener, rs_server_handle_closed);
	uv_close((uv_handle_t *)&s->flush_timer, rs_server_handle_closed);
	for (struct rs_conn *c = s->conns; c; c = c->next)
		rs_conn_close(c, 1001);
}
