/* top.c - `torghutctl top`, the live terminal view (see top.h). Plain ANSI
 * escape codes rather than curses: the screen is small and redrawn whole. */
#include "config.h"

#include "ctl/top.h"

#include "ctl/client.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TOP_LINE_MAX 512
#define TOP_FRAME_MAX 16384

/* ---------- JSON helpers ---------- */

static double num(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static json_t *sub(json_t *status, const char *name)
{
	return json_object_get(json_object_get(status, "subsystems"), name);
}

/* The series of metric `name` whose label `key` is `val`; with key NULL the
 * first series. NULL when absent. */
static json_t *series(json_t *metrics, const char *name, const char *key, const char *val)
{
	json_t *s = json_object_get(json_object_get(json_object_get(metrics, "metrics"), name), "series");
	size_t i;
	json_t *e;

	json_array_foreach(s, i, e) {
		if (!key)
			return e;
		const char *l = str(json_object_get(json_object_get(e, "labels"), key), NULL);
		if (l && !strcmp(l, val))
			return e;
	}
	return NULL;
}

/* ---------- formatting ---------- */

static const char *fmt_dur(double s, char *b, size_t n)
{
	if (isnan(s) || s < 0)
		snprintf(b, n, "-");
	else if (s < 1e-3)
		snprintf(b, n, "%.1fus", s * 1e6);
	else if (s < 1)
		snprintf(b, n, "%.2fms", s * 1e3);
	else if (s < 1000)
		snprintf(b, n, "%.2fs", s);
	else
		snprintf(b, n, "%.0fs", s);
	return b;
}

static const char *fmt_num(double v, int decimals, char *b, size_t n)
{
	if (isnan(v) || v < 0)
		snprintf(b, n, "-");
	else if (v < 100000)
		snprintf(b, n, "%.*f", decimals, v);
	else if (v < 1e8)
		snprintf(b, n, "%.1fk", v / 1e3);
	else
		snprintf(b, n, "%.1fM", v / 1e6);
	return b;
}

static const char *fmt_uptime(double s, char *b, size_t n)
{
	if (isnan(s) || s < 0) {
		snprintf(b, n, "-");
		return b;
	}
	unsigned long t = (unsigned long)s;
	if (t >= 86400)
		snprintf(b, n, "%lud%02luh%02lum", t / 86400, t / 3600 % 24, t / 60 % 60);
	else
		snprintf(b, n, "%luh%02lum%02lus", t / 3600, t / 60 % 60, t % 60);
	return b;
}

/* ---------- the frame ---------- */

struct frame {
	char *buf;
	size_t len, cap;
	int cols, rows, lines;
};

static void __attribute__((format(printf, 2, 3))) line(struct frame *f, const char *fmt, ...)
{
	char l[TOP_LINE_MAX];
	va_list ap;

	if (f->lines >= f->rows)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(l, sizeof(l), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n >= (int)sizeof(l))
		n = sizeof(l) - 1;
	if (n > f->cols)
		n = f->cols;
	/* Daemon strings (URLs, errors) go to a terminal: no control bytes. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || (unsigned char)l[i] >= 0x7f)
			l[i] = '?';
	while (n > 0 && l[n - 1] == ' ')
		n--;
	if (f->len + (size_t)n + 2 > f->cap)
		return;
	memcpy(f->buf + f->len, l, (size_t)n);
	f->len += (size_t)n;
	f->buf[f->len++] = '\n';
	f->buf[f->len] = '\0';
	f->lines++;
}

/* A blank separator, left out on short terminals (24 rows) so the
 * per-symbol rows still fit. */
static void gap(struct frame *f)
{
	if (f->rows >= 32)
		line(f, "%s", "");
}

static double rate(const struct top_sample *prev, double now, double before, double cur)
{
	double dt = now - prev->t;
	if (!prev->valid || dt < 0.05 || isnan(before) || isnan(cur) || cur < before)
		return NAN;
	return (cur - before) / dt;
}

static void render_header(struct frame *f, json_t *st, double wall)
{
	char up[32], clk[16], left[TOP_LINE_MAX];
	time_t w = (time_t)wall;
	struct tm tm;

	gmtime_r(&w, &tm);
	strftime(clk, sizeof(clk), "%H:%M:%SZ", &tm);
	if (!st)
		snprintf(left, sizeof(left), "torghut top");
	else
		snprintf(left, sizeof(left), "torghut top  pid %.0f  up %s  %s  %s/%s  v%s", num(json_object_get(st, "pid")),
		 fmt_uptime(num(json_object_get(st, "uptime_s")), up, sizeof(up)),
		 str(json_object_get(st, "state"), "?"), str(json_object_get(st, "profile"), "?"),
		 str(json_object_get(st, "role"), "?"), str(json_object_get(st, "version"), "?"));
	int pad = TOP_COLS - (int)strlen(clk) - (int)strlen(left);
	line(f, "%s%*s%s", left, pad > 1 ? pad : 1, "", clk);
}

static void render_state(struct frame *f, json_t *st, json_t *me, double queued)
{
	json_t *a = sub(st, "alpaca"), *k = sub(st, "kafka");
	char b[4][32];

	line(f, "alpaca  %-11s connects %.0f  reconnects %.0f  gaps %.0f%s  %s", str(json_object_get(a, "state"), "-"),
	     num(json_object_get(a, "connects")), num(json_object_get(a, "reconnects")), num(json_object_get(a, "gaps")),
	     json_is_true(json_object_get(a, "gap_open")) ? " (open)" : "", str(json_object_get(a, "url"), ""));
	const char *ec = str(json_object_get(k, "error_class"), NULL);
	line(f, "kafka   %-11s queued %s  commits %.0f  aborts %.0f  %s%s  %s", str(json_object_get(k, "state"), "-"),
	     fmt_num(queued, 0, b[0], sizeof(b[0])), num(json_object_get(k, "commits")), num(json_object_get(k, "aborts")),
	     ec ? "error " : "", ec ? ec : "", str(json_object_get(k, "bootstrap"), ""));
	json_t *lag = series(me, "torghut_loop_lag_seconds", NULL, NULL);
	json_t *lagmax = series(me, "torghut_loop_lag_max_seconds", NULL, NULL);
	line(f, "loop    lag p50 %s  p99 %s  p999 %s  max(window) %s",
	     fmt_dur(num(json_object_get(lag, "p50")), b[0], sizeof(b[0])),
	     fmt_dur(num(json_object_get(lag, "p99")), b[1], sizeof(b[1])),
	     fmt_dur(num(json_object_get(lag, "p999")), b[2], sizeof(b[2])),
	     fmt_dur(num(json_object_get(lagmax, "value")), b[3], sizeof(b[3])));
}

struct row {
	char name[TOP_NAME_MAX];
	double rate, total, queued, p50, p99;
};

/* Inputs: Alpaca messages by channel; outputs: Kafka records by topic. */
static void render_flows(struct frame *f, json_t *st, json_t *me, struct top_sample *prev, struct top_sample *cur,
			 double now, double *queued_total)
{
	struct row in[TOP_IN_MAX], out[TOP_OUT_MAX];
	int nin = 0, nout = 0, nin_shown = 0;
	json_t *ser = json_object_get(json_object_get(json_object_get(me, "metrics"), "torghut_messages_in_total"),
				      "series");
	size_t i;
	json_t *e;
	const char *key;
	char b[8][32];

	json_array_foreach(ser, i, e) {
		if (nin >= TOP_IN_MAX)
			break;
		struct row *r = &in[nin];
		snprintf(r->name, sizeof(r->name), "%s",
			 str(json_object_get(json_object_get(e, "labels"), "channel"), "?"));
		r->total = num(json_object_get(e, "value"));
		cur->in[nin] = r->total;
		r->rate = nin < prev->nin && !strcmp(prev->in_name[nin], r->name) ? rate(prev, now, prev->in[nin], r->total)
										  : NAN;
		memcpy(cur->in_name[nin], r->name, sizeof(r->name));
		nin++;
	}
	cur->nin = nin;
	/* The three market-data channels always; the others once they carry data. */
	struct row shown[TOP_IN_MAX];
	for (int j = 0; j < nin; j++)
		if (in[j].total > 0 || !strcmp(in[j].name, "trades") || !strcmp(in[j].name, "quotes") ||
		    !strcmp(in[j].name, "bars"))
			shown[nin_shown++] = in[j];

	*queued_total = 0;
	json_object_foreach(json_object_get(sub(st, "kafka"), "topics"), key, e) {
		if (nout >= TOP_OUT_MAX)
			break;
		struct row *r = &out[nout];
		snprintf(r->name, sizeof(r->name), "%s", key);
		r->total = num(json_object_get(e, "delivered"));
		/* Accepted by produce() and not yet acknowledged or failed. */
		r->queued = num(json_object_get(e, "produced")) - r->total - num(json_object_get(e, "failed"));
		if (!isnan(r->queued))
			*queued_total += r->queued;
		cur->out[nout] = r->total;
		r->rate = nout < prev->nout && !strcmp(prev->out_name[nout], r->name)
				  ? rate(prev, now, prev->out[nout], r->total)
				  : NAN;
		memcpy(cur->out_name[nout], r->name, sizeof(r->name));
		json_t *ack = series(me, "torghut_latency_produce_to_ack_seconds", "topic", key);
		bool seen = num(json_object_get(ack, "count")) > 0;
		r->p50 = seen ? num(json_object_get(ack, "p50")) : NAN;
		r->p99 = seen ? num(json_object_get(ack, "p99")) : NAN;
		nout++;
	}
	cur->nout = nout;

	line(f, "%-12s%8s%10s  %-11s%8s%7s%9s%9s", "IN channel", "msgs/s", "total", "OUT topic", "msgs/s", "queued",
	     "ack p50", "ack p99");
	int n = nin_shown > nout ? nin_shown : nout;
	for (int j = 0; j < n; j++) {
		char l[48] = "", r[48] = "";
		if (j < nin_shown)
			snprintf(l, sizeof(l), "%-12s%8s%10s", shown[j].name, fmt_num(shown[j].rate, 1, b[0], 32),
				 fmt_num(shown[j].total, 0, b[1], 32));
		if (j < nout)
			snprintf(r, sizeof(r), "%-11s%8s%7s%9s%9s", out[j].name, fmt_num(out[j].rate, 1, b[2], 32),
				 fmt_num(out[j].queued, 0, b[3], 32), fmt_dur(out[j].p50, b[4], 32),
				 fmt_dur(out[j].p99, b[5], 32));
		line(f, "%-30s  %s", l, r);
	}
}

static void render_latency(struct frame *f, json_t *me)
{
	static const struct {
		const char *label, *metric, *key, *val;
	} lat[] = {
		{"ingest (event>produce)", "torghut_latency_event_to_produce_seconds", "topic", "ingest"},
		{"event>signal", "torghut_latency_event_to_signal_seconds", NULL, NULL},
		{"bar close>signal", "torghut_latency_bar_close_to_signal_seconds", NULL, NULL},
		{"loop busy", "torghut_loop_busy_seconds", NULL, NULL},
	};
	char b[5][32];

	line(f, "%-22s%10s%10s%10s%10s%10s", "LATENCY", "count", "p50", "p99", "p999", "max");
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		json_t *s = series(me, lat[i].metric, lat[i].key, lat[i].val);
		bool seen = num(json_object_get(s, "count")) > 0;
		line(f, "%-22s%10s%10s%10s%10s%10s", lat[i].label, fmt_num(num(json_object_get(s, "count")), 0, b[0], 32),
		     fmt_dur(seen ? num(json_object_get(s, "p50")) : NAN, b[1], 32),
		     fmt_dur(seen ? num(json_object_get(s, "p99")) : NAN, b[2], 32),
		     fmt_dur(seen ? num(json_object_get(s, "p999")) : NAN, b[3], 32),
		     fmt_dur(seen ? num(json_object_get(s, "max")) : NAN, b[4], 32));
	}
}

/* The daemon reports no checkpoint time: the age is how long ago top saw
 * the transaction-commit counter (one per checkpoint) advance. */
static void render_checkpoint(struct frame *f, json_t *st, struct top_sample *prev, struct top_sample *cur,
			      double now)
{
	json_t *k = sub(st, "kafka");
	double commits = num(json_object_get(k, "commits"));
	char b[32];

	cur->commits = commits;
	cur->commit_seen_t = prev->valid ? prev->commit_seen_t : -1;
	if (prev->valid && !isnan(commits) && commits > prev->commits)
		cur->commit_seen_t = now;
	if (isnan(commits) || commits <= 0)
		snprintf(b, sizeof(b), "none yet");
	else if (cur->commit_seen_t < 0)
		snprintf(b, sizeof(b), "?");
	else
		snprintf(b, sizeof(b), "~%.0fs", now - cur->commit_seen_t);
	line(f, "checkpoint age %-6s (last commit seen)  commits %.0f  failures %.0f  aborts %.0f", b, commits,
	     num(json_object_get(k, "commit_failures")), num(json_object_get(k, "aborts")));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *fmt_px(json_t *v, int decimals, char *b, size_t n)
{
	double x = num(v);
	if (isnan(x))
		snprintf(b, n, "-");
	else if (fabs(x) < 100000)
		snprintf(b, n, "%.*f", decimals, x);
	else
		snprintf(b, n, "%.0f", x);
	return b;
}

#define SYM_FMT "%-7s%10s%10s%10s%10s%8s%7s%9s%8s"

/* Rows from the daemon's `market` reply (last 1 s bar and indicators per
 * symbol); subscribed symbols without a bar yet get an empty row. An older
 * torghutd without `market` gets the subscribed symbols and a note. */
static void render_symbols(struct frame *f, json_t *st, json_t *market)
{
	static const char *const chans[] = {"trades", "quotes", "bars"};
	const char *syms[64];
	size_t nsym = 0, i, shown = 0;
	json_t *subs = json_object_get(sub(st, "alpaca"), "subscriptions"), *e;
	json_t *rows = json_is_true(json_object_get(market, "ok")) ? json_object_get(market, "symbols") : NULL;
	char b[8][32];

	for (size_t c = 0; c < sizeof(chans) / sizeof(chans[0]); c++)
		json_array_foreach(json_object_get(subs, chans[c]), i, e) {
			const char *s = str(e, NULL);
			bool dup = !s;
			for (size_t j = 0; j < nsym && !dup; j++)
				dup = !strcmp(syms[j], s);
			json_t *r;
			size_t k;
			json_array_foreach(rows, k, r) {
				if (!dup)
					dup = !strcmp(str(json_object_get(r, "symbol"), ""), s);
			}
			if (!dup && nsym < sizeof(syms) / sizeof(syms[0]))
				syms[nsym++] = s;
		}
	qsort(syms, nsym, sizeof(syms[0]), cmp_str);
	line(f, SYM_FMT, "SYMBOL", "last", "1s open", "1s high", "1s low", "1s vol", "RSI14", "MACD h", "spread");
	size_t total = json_array_size(rows) + nsym;
	int room = f->rows - f->lines - 2; /* keep the note and the key line */
	json_array_foreach(rows, i, e) {
		if ((int)shown >= room - 1 && shown + 1 < total)
			break;
		line(f, SYM_FMT, str(json_object_get(e, "symbol"), "?"), fmt_px(json_object_get(e, "c"), 2, b[0], 32),
		     fmt_px(json_object_get(e, "o"), 2, b[1], 32), fmt_px(json_object_get(e, "h"), 2, b[2], 32),
		     fmt_px(json_object_get(e, "l"), 2, b[3], 32), fmt_num(num(json_object_get(e, "v")), 0, b[4], 32),
		     fmt_px(json_object_get(e, "rsi14"), 1, b[5], 32), fmt_px(json_object_get(e, "macd_hist"), 4, b[6], 32),
		     fmt_px(json_object_get(e, "spread"), 4, b[7], 32));
		shown++;
	}
	for (i = 0; i < nsym && shown < total; i++) {
		if ((int)shown >= room - 1 && shown + 1 < total)
			break;
		line(f, SYM_FMT, syms[i], "-", "-", "-", "-", "-", "-", "-", "-");
		shown++;
	}
	if (shown < total)
		line(f, "... %zu more symbols", total - shown);
	if (rows)
		line(f, "last = close of the last 1 s bar; ta symbols: %.0f", num(json_object_get(sub(st, "ta"), "symbols")));
	else
		line(f, "per-symbol data: not available (market: %s)",
		     str(json_object_get(market, "error"), "no reply"));
}

int top_render(json_t *status, json_t *metrics, json_t *market, const char *err, struct top_sample *prev,
	       double now, double wall, int cols, int rows, char *buf, size_t buflen)
{
	struct frame f = {.buf = buf, .cap = buflen, .cols = cols > 0 ? cols : TOP_COLS, .rows = rows > 0 ? rows : 1};
	struct top_sample cur = {.valid = true, .t = now};
	double queued = NAN;

	if (buflen == 0)
		return 0;
	buf[0] = '\0';
	/* A restarted daemon's counters start over: no rates across it. */
	if (prev->valid && status && num(json_object_get(status, "pid")) != prev->pid)
		prev->valid = false;
	render_header(&f, json_is_true(json_object_get(status, "ok")) ? status : NULL, wall);
	if (!status || !metrics || !json_is_true(json_object_get(status, "ok")) ||
	    !json_is_true(json_object_get(metrics, "ok"))) {
		const char *why = str(json_object_get(metrics ? metrics : status, "error"), NULL);
		if (status && !json_is_true(json_object_get(status, "ok")))
			why = str(json_object_get(status, "error"), NULL);
		line(&f, "no data from torghutd: %s", why ? why : err && *err ? err : "no reply");
		line(&f, "%s", "");
		line(&f, "q or Ctrl-C: quit");
		prev->valid = false;
		return f.lines;
	}
	cur.pid = num(json_object_get(status, "pid"));
	/* The flows table computes the queue shown on the kafka line: render it
	 * into a scratch frame first, then lay the lines out in order. */
	char flows[4096];
	struct frame ff = {.buf = flows, .cap = sizeof(flows), .cols = f.cols, .rows = TOP_IN_MAX + TOP_OUT_MAX + 2};
	flows[0] = '\0';
	render_flows(&ff, status, metrics, prev, &cur, now, &queued);
	render_state(&f, status, metrics, queued);
	gap(&f);
	for (char *p = flows, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		line(&f, "%.*s", (int)(nl - p), p);
	gap(&f);
	render_latency(&f, metrics);
	render_checkpoint(&f, status, prev, &cur, now);
	gap(&f);
	render_symbols(&f, status, market);
	line(&f, "q or Ctrl-C: quit");
	*prev = cur;
	return f.lines;
}

/* ---------- the terminal ---------- */

struct top_tty {
	bool on;
	struct termios saved;
	int sigfd;
	sigset_t oldmask;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void winsize(int *cols, int *rows)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	} else {
		*cols = TOP_COLS;
		*rows = 24;
	}
}

#define TOP_NSIGS 6
static const int top_sigs[TOP_NSIGS] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP};

/* Raw input (no echo, no line editing; ISIG kept so Ctrl-C arrives as
 * SIGINT), then alternate screen, hidden cursor, cleared. */
static int tty_raw(struct top_tty *t)
{
	static const char enter[] = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
	struct termios raw = t->saved;

	raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN);
	raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL | BRKINT | INPCK | ISTRIP);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -errno;
	t->on = true;
	return write_all(STDOUT_FILENO, enter, sizeof(enter) - 1);
}

static void tty_cooked(struct top_tty *t)
{
	static const char leave[] = "\x1b[0m\x1b[?25h\x1b[?1049l";

	if (!t->on)
		return;
	write_all(STDOUT_FILENO, leave, sizeof(leave) - 1);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
	t->on = false;
}

/* Signals arrive on a signalfd polled with the keyboard: no handler and no
 * global state, and the terminal is restored on the normal return path. */
static int tty_enter(struct top_tty *t, char *err, size_t errlen)
{
	sigset_t set;
	int rc;

	sigemptyset(&set);
	for (int i = 0; i < TOP_NSIGS; i++)
		sigaddset(&set, top_sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, &t->oldmask) < 0 || (t->sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return -errno;
	}
	if (tcgetattr(STDIN_FILENO, &t->saved) < 0) {
		snprintf(err, errlen, "tcgetattr: %s", strerror(errno));
		return -errno;
	}
	if ((rc = tty_raw(t)) < 0) {
		snprintf(err, errlen, "terminal: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* Ctrl-Z: give the shell its terminal back, stop, and take it again on fg. */
static void tty_suspend(struct top_tty *t)
{
	tty_cooked(t);
	kill(getpid(), SIGSTOP);
	tcgetattr(STDIN_FILENO, &t->saved); /* the shell may have changed it */
	tty_raw(t);
}

static void tty_leave(struct top_tty *t)
{
	tty_cooked(t);
	if (t->sigfd >= 0) {
		close(t->sigfd);
		t->sigfd = -1;
		/* Signals still pending (a second Ctrl-C) would kill us now that
		 * they are unblocked: drop them by ignoring them first. */
		struct sigaction ign = {.sa_handler = SIG_IGN}, old[TOP_NSIGS];
		for (int i = 0; i < TOP_NSIGS; i++)
			sigaction(top_sigs[i], &ign, &old[i]);
		sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
		for (int i = 0; i < TOP_NSIGS; i++)
			sigaction(top_sigs[i], &old[i], NULL);
	}
}

static void draw(bool tty, const char *frame, int rows)
{
	char out[TOP_FRAME_MAX + 4096];
	size_t n = 0;

	if (!tty) {
		fputs(frame, stdout);
		fputs("\n", stdout);
		fflush(stdout);
		return;
	}
	/* Home, then each line cleared to its end; no newline after the last
	 * screen row (it would scroll). */
	n += (size_t)snprintf(out + n, sizeof(out) - n, "\x1b[H");
	int l = 0;
	for (const char *p = frame, *nl; (nl = strchr(p, '\n')) && n + (size_t)(nl - p) + 16 < sizeof(out);
	     p = nl + 1) {
		memcpy(out + n, p, (size_t)(nl - p));
		n += (size_t)(nl - p);
		n += (size_t)snprintf(out + n, sizeof(out) - n, "\x1b[K");
		if (++l < rows)
			n += (size_t)snprintf(out + n, sizeof(out) - n, "\r\n");
	}
	n += (size_t)snprintf(out + n, sizeof(out) - n, "\x1b[J");
	write_all(STDOUT_FILENO, out, n < sizeof(out) ? n : sizeof(out) - 1);
}

static void top_usage(FILE *f)
{
	fprintf(f, "usage: torghutctl [-s SOCKET] top [-d SECONDS] [-n FRAMES]\n\n"
		   "  -d SECONDS  refresh interval (default 1, at least 0.2)\n"
		   "  -n FRAMES   exit after FRAMES refreshes (default: until q or Ctrl-C);\n"
		   "              exit status 3 if the last one could not reach torghutd\n");
}

int top_main(const char *sock, int timeout_ms, int argc, char **argv)
{
	double interval = 1.0;
	long frames = -1;
	char err[512] = "", frame[TOP_FRAME_MAX];
	struct top_tty t = {.sigfd = -1};
	struct top_sample prev = {0}, before = {0};
	json_t *status = NULL, *metrics = NULL, *market = NULL;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			top_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (*end || !(interval >= 0.2)) {
				top_usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			frames = strtol(argv[++i], &end, 10);
			if (*end || frames < 1) {
				top_usage(stderr);
				return 2;
			}
		} else {
			top_usage(stderr);
			return 2;
		}
	}
	/* A poll must not hold the keyboard for long: cap the call timeout. */
	int call_ms = timeout_ms > 0 && timeout_ms < 1000 ? timeout_ms : 1000;
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (tty && tty_enter(&t, err, sizeof(err)) < 0) {
		tty_leave(&t);
		fprintf(stderr, "torghutctl top: %s\n", err);
		return 1;
	}

	bool quit = false, redraw_only = false;
	double next = mono_now();
	long drawn = 0;
	bool reached = false;
	while (!quit) {
		double now = mono_now();
		if (now >= next || redraw_only) {
			int cols = TOP_COLS, rows = 1000;
			if (tty)
				winsize(&cols, &rows);
			if (!redraw_only) {
				json_t *req, *rs = NULL, *rm = NULL, *rk = NULL;
				err[0] = '\0';
				req = json_pack("{s:s}", "cmd", "status");
				if (req && ctl_client_call(sock, req, call_ms, &rs, err, sizeof(err)) < 0)
					rs = NULL;
				json_decref(req);
				req = json_pack("{s:s}", "cmd", "metrics");
				if (rs && req && ctl_client_call(sock, req, call_ms, &rm, err, sizeof(err)) < 0)
					rm = NULL;
				json_decref(req);
				req = json_pack("{s:s,s:i}", "cmd", "market", "limit", 64);
				if (rm && req && ctl_client_call(sock, req, call_ms, &rk, err, sizeof(err)) < 0)
					rk = NULL;
				json_decref(req);
				json_decref(status);
				json_decref(metrics);
				json_decref(market);
				status = rs;
				metrics = rm;
				market = rk;
				reached = rs && rm && json_is_true(json_object_get(rs, "ok"));
				before = prev;
				now = mono_now();
				next += interval;
				if (next < now) /* fell behind (slow daemon): no burst of polls */
					next = now + interval;
			}
			/* A resize redraws the last poll: render from the sample that
			 * poll started from, so the rates come out the same. */
			prev = before;
			top_render(status, metrics, market, err, &prev, now, wall_now(), cols, rows, frame, sizeof(frame));
			draw(tty, frame, rows);
			redraw_only = false;
			if (frames > 0 && ++drawn >= frames)
				break;
		}
		struct pollfd p[2] = {{.fd = tty ? STDIN_FILENO : -1, .events = POLLIN}, {.fd = t.sigfd, .events = POLLIN}};
		int wait_ms = (int)((next - mono_now()) * 1000) + 1;
		int n = poll(p, 2, wait_ms > 0 ? wait_ms : 0);
		if (n < 0 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (n <= 0)
			continue;
		if (p[0].revents & (POLLHUP | POLLERR)) /* the terminal went away */
			quit = true;
		if (p[0].revents & POLLIN) {
			char keys[64];
			ssize_t k = read(STDIN_FILENO, keys, sizeof(keys));
			for (ssize_t i = 0; i < k; i++)
				if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 3 /* Ctrl-C without ISIG */)
					quit = true;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(t.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					static const char clear[] = "\x1b[2J";
					write_all(STDOUT_FILENO, clear, sizeof(clear) - 1);
					redraw_only = true;
				} else if (si.ssi_signo == SIGTSTP) {
					tty_suspend(&t);
					redraw_only = true;
				} else {
					quit = true;
				}
				break; /* one per poll round is enough */
			}
		}
	}
	tty_leave(&t);
	json_decref(status);
	json_decref(metrics);
	json_decref(market);
	if (rc)
		fprintf(stderr, "torghutctl top: %s\n", err);
	else if (frames > 0 && !reached) /* like a failed command, for scripts */
		rc = 3;
	return rc;
}
