/* serve_cli.c - `torghut-replay serve` (see serve_cli.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "net/tls.h"
#include "replay/serve_cli.h"
#include "replay/server.h"
#include "replay/sendlog.h"
#include "replay/session.h"

static void usage(FILE *f)
{
	fputs("usage: torghut-replay serve --recording FILE [options]\n"
	      "Serves a recording as a local Alpaca market-data stream on /v2/{iex,sip,\n"
	      "delayed_sip,test} and /v1beta1/{boats,overnight}. Prints \"listening HOST:PORT\".\n"
	      "  --recording FILE       JSONL recording to replay (required)\n"
	      "  --listen HOST:PORT     numeric address (default 127.0.0.1:0, 0 = any port;\n"
	      "                         IPv6 as [::1]:PORT)\n"
	      "  --cert FILE            serve wss:// with this PEM certificate (chain) ...\n"
	      "  --cert-key FILE        ... and this PEM private key (default: plain ws://)\n"
	      "  --key KEY --secret S   accepted credentials (message or header auth)\n"
	      "  --keys-file FILE       more: \"KEY SECRET [FEED,...]\" per line (feeds: iex, sip,\n"
	      "                         ...; others get 409). No keys at all: any pair is accepted\n"
	      "  --auth-timeout SECS    404 auth timeout after this (default 10)\n"
	      "  --symbol-limit N       405 above N distinct symbols (default 0 = unlimited)\n"
	      "  --conn-limit N         sessions per key and endpoint before 406 (default 1)\n"
	      "  --dead-hold SECS       a session that ended without a close handshake keeps\n"
	      "                         its slot this long (default 90, as Alpaca)\n"
	      "  --omit-empty           leave empty channels out of subscription replies\n"
	      "  --speed X              recorded pacing, X times as fast (default 1)\n"
	      "  --rate R               R messages per second instead\n"
	      "  --max                  as fast as the client reads instead\n"
	      "  --batch N              up to N messages per frame (default 1)\n"
	      "  --linger-ms MS         let a frame wait up to MS for more messages (default 0)\n"
	      "  --loop                 start over at the end of the recording\n"
	      "  --live                 one clock for all connections, like a live feed: a\n"
	      "                         connection starts at the message due now; what was\n"
	      "                         due while nobody listened is skipped (with --speed)\n"
	      "  --max-queued BYTES     407 slow client above this backlog (default 16777216)\n"
	      "  --send-log FILE        CSV line per data message sent (flushed every second)\n"
	      "  --log-level LEVEL      error, warn, info (default), debug\n"
	      "Faults (per connection; with --fault-conn N only on the Nth, counted from 1\n"
	      "in accept order):\n"
	      "  --drop-after-msgs N    drop the TCP connection (no close frame) after N messages\n"
	      "  --drop-after SECS      ... SECS after the session opened\n"
	      "  --stall-after N        stop sending data after N messages (pings answered)\n"
	      "  --no-pong              never answer pings\n"
	      "  --malformed-after N    send one non-JSON frame after N messages\n"
	      "  --slow-client-after N  407 slow client and close after N messages\n"
	      "  --reject-auth          402 auth failed for every auth\n"
	      "  --http-429 K           refuse the first K upgrades with HTTP 429 (any --fault-conn)\n"
	      "  --fault-conn N         apply the faults above to connection N only\n",
	      f);
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (replay_faults_parse_count(s, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_pos_double(const char *s, double *out)
{
	char *end;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_listen(const char *s, struct replay_serve_args *a)
{
	const char *colon;
	size_t hlen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		colon = close + 1;
		s++;
		hlen = (size_t)(close - s);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	uint32_t port;
	if (hlen == 0 || hlen >= sizeof(a->host) || parse_u32(colon + 1, &port) < 0 || port > 65535)
		return -EINVAL;
	memcpy(a->host, s, hlen);
	a->host[hlen] = '\0';
	a->port = (uint16_t)port;
	return 0;
}

int replay_serve_parse(int argc, char **argv, struct replay_serve_args *a, char *err, size_t errcap)
{
	*a = (struct replay_serve_args){
		.host = "127.0.0.1",
		.auth_timeout_ms = 10000,
		.dead_hold_ms = 90000,
		.conn_limit = 1,
		.sched = {.mode = SCHEDULE_RECORDED, .speed = 1.0, .rate = 1.0, .batch = 1},
		.max_queued = REPLAY_SERVER_DEFAULT_MAX_QUEUED,
		.log_level = LOG_LEVEL_INFO,
	};
	replay_faults_init(&a->faults);
	int pacing = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			if (a->recording)
				return bad(err, errcap, "unexpected argument \"%s\"", arg);
			a->recording = arg; /* the recording may also be given bare */
			continue;
		}
		char name[32];
		const char *val = NULL;
		const char *eq = strchr(arg + 2, '=');
		size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (nlen >= sizeof(name))
			return bad(err, errcap, "unknown option \"%s\"", arg);
		memcpy(name, arg + 2, nlen);
		name[nlen] = '\0';
		static const char *const flags[] = {"help", "omit-empty", "loop", "live", "max", "no-pong",
		                                    "reject-auth"};
		static const char *const valued[] = {
			"recording", "listen",    "cert",         "cert-key",   "tls-key",
			"key",       "secret",    "keys-file",    "send-log",   "auth-timeout",
			"dead-hold", "symbol-limit", "conn-limit", "speed",     "rate",
			"batch",     "linger-ms", "max-queued",   "log-level"};
		bool flag = false, known = replay_faults_takes_value(name);
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			flag = flag || strcmp(name, flags[k]) == 0;
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			known = known || strcmp(name, valued[k]) == 0;
		if (!flag && !known)
			return bad(err, errcap, "unknown option \"--%s\"", name);
		if (flag) {
			if (eq)
				return bad(err, errcap, "--%s takes no value", name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return bad(err, errcap, "--%s needs a value", name);
		}

		int r = 0;
		if (strcmp(name, "help") == 0) {
			a->help = true;
		} else if (strcmp(name, "recording") == 0) {
			a->recording = val;
		} else if (strcmp(name, "listen") == 0) {
			r = parse_listen(val, a);
		} else if (strcmp(name, "cert") == 0) {
			a->cert = val;
		} else if (strcmp(name, "cert-key") == 0 || strcmp(name, "tls-key") == 0) {
			a->cert_key = val;
		} else if (strcmp(name, "key") == 0) {
			a->key = val;
		} else if (strcmp(name, "secret") == 0) {
			a->secret = val;
		} else if (strcmp(name, "keys-file") == 0) {
			a->keys_file = val;
		} else if (strcmp(name, "send-log") == 0) {
			a->send_log = val;
		} else if (strcmp(name, "auth-timeout") == 0) {
			r = replay_faults_parse_ms(val, &a->auth_timeout_ms);
			if (r == 0 && a->auth_timeout_ms == 0)
				r = -EINVAL;
		} else if (strcmp(name, "dead-hold") == 0) {
			r = replay_faults_parse_ms(val, &a->dead_hold_ms);
		} else if (strcmp(name, "symbol-limit") == 0) {
			r = parse_u32(val, &a->symbol_limit);
		} else if (strcmp(name, "conn-limit") == 0) {
			r = parse_u32(val, &a->conn_limit);
			if (r == 0 && a->conn_limit == 0)
				r = -EINVAL;
		} else if (strcmp(name, "omit-empty") == 0) {
			a->omit_empty = true;
		} else if (strcmp(name, "loop") == 0) {
			a->loop = true;
		} else if (strcmp(name, "live") == 0) {
			a->live = true;
		} else if (strcmp(name, "speed") == 0) {
			pacing++;
			a->sched.mode = SCHEDULE_RECORDED;
			r = parse_pos_double(val, &a->sched.speed);
		} else if (strcmp(name, "rate") == 0) {
			pacing++;
			a->sched.mode = SCHEDULE_RATE;
			r = parse_pos_double(val, &a->sched.rate);
		} else if (strcmp(name, "max") == 0) {
			pacing++;
			a->sched.mode = SCHEDULE_MAX;
		} else if (strcmp(name, "batch") == 0) {
			r = parse_u32(val, &a->sched.batch);
			if (r == 0 && (a->sched.batch == 0 || a->sched.batch > 1000000))
				r = -EINVAL;
		} else if (strcmp(name, "linger-ms") == 0) {
			uint64_t ms;
			r = replay_faults_parse_count(val, &ms);
			if (r == 0 && ms > 3600000)
				r = -EINVAL;
			a->sched.linger_ns = (int64_t)ms * 1000000;
		} else if (strcmp(name, "max-queued") == 0) {
			r = replay_faults_parse_count(val, &a->max_queued);
			if (r == 0 && a->max_queued == 0)
				r = -EINVAL;
		} else if (strcmp(name, "log-level") == 0) {
			r = log_level_parse(val, &a->log_level);
		} else {
			r = replay_faults_set(&a->faults, name, val);
			if (r == -ENOENT)
				return bad(err, errcap, "unknown option \"--%s\"", name);
		}
		if (r < 0)
			return bad(err, errcap, "--%s: bad value \"%s\"", name, val ? val : "");
	}
	if (a->help)
		return 0;
	if (pacing > 1)
		return bad(err, errcap, "--speed, --rate and --max exclude each other");
	if (!a->recording)
		return bad(err, errcap, "--recording FILE is required");
	if (!a->cert != !a->cert_key)
		return bad(err, errcap, "--cert and --cert-key go together");
	if (!a->key != !a->secret)
		return bad(err, errcap, "--key and --secret go together");
	return 0;
}

/* --- running ------------------------------------------------------------- */

struct serve {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct log log;
	struct replay_server *srv;
	bool stopping;
};

static void serve_log(void *user, enum log_level lv, const char *text)
{
	struct serve *sv = user;
	LOG_AT(&sv->log, lv, LOG_SUB_NET, "%s", text);
}

static void serve_stopped(void *arg)
{
	struct serve *sv = arg;
	sv->srv = NULL;
}

static void serve_signal(uv_signal_t *h, int signum)
{
	struct serve *sv = h->data;
	if (sv->stopping)
		return;
	sv->stopping = true;
	log_info(&sv->log, LOG_SUB_CORE, "%s: closing sessions", strsignal(signum));
	uv_close((uv_handle_t *)&sv->sigterm, NULL);
	uv_close((uv_handle_t *)&sv->sigint, NULL);
	replay_server_close(sv->srv, serve_stopped, sv);
}

int replay_serve_main(int argc, char **argv)
{
	struct replay_serve_args a;
	char err[512];
	if (replay_serve_parse(argc, argv, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "torghut-replay serve: %s\n", err);
		usage(stderr);
		return 2;
	}
	if (a.help) {
		usage(stdout);
		return 0;
	}

	struct serve *sv = calloc(1, sizeof(*sv));
	if (!sv)
		return 1;
	log_init(&sv->log, "torghut-replay", a.log_level);
	int rc = 1, r;
	struct replay_server_rec *rec = NULL;
	struct tls_config *tls = NULL;
	struct replay_session_reg *reg = NULL;
	struct sendlog *slog = NULL;
	bool loop_up = false;

	/* Start-up: blocking file reads are fine before the loop runs. */
	FILE *f = strcmp(a.recording, "-") == 0 ? stdin : fopen(a.recording, "r");
	if (!f) {
		log_error(&sv->log, LOG_SUB_CORE, "%s: %s", a.recording, strerror(errno));
		goto out;
	}
	r = replay_server_rec_load(&rec, f, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (r < 0) {
		log_error(&sv->log, LOG_SUB_CORE, "%s: %s", a.recording, err);
		goto out;
	}
	const struct replay_server_rec_stats *rs = replay_server_rec_stats(rec);
	if (rs->malformed)
		log_warn(&sv->log, LOG_SUB_CORE, "%s: %llu malformed lines skipped, first: %s",
		         a.recording, (unsigned long long)rs->malformed, err);
	log_info(&sv->log, LOG_SUB_CORE, "%s: %llu messages (%zu bytes) loaded", a.recording,
	         (unsigned long long)rs->messages, rs->bytes);

	r = a.cert ? tls_config_new_server(&tls, a.cert, a.cert_key, err, sizeof(err))
	           : tls_config_new_plain(&tls);
	if (r < 0) {
		log_error(&sv->log, LOG_SUB_NET, "TLS: %s", a.cert ? err : strerror(-r));
		goto out;
	}
	struct replay_session_reg_opts ro = {.conn_limit = a.conn_limit, .dead_hold_ms = a.dead_hold_ms};
	r = replay_session_reg_new(&reg, &ro);
	if (r == 0 && a.key)
		r = replay_session_reg_add_key(reg, a.key, a.secret, NULL);
	if (r < 0) {
		log_error(&sv->log, LOG_SUB_CORE, "credentials: %s", strerror(-r));
		goto out;
	}
	if (a.keys_file && replay_session_reg_load_keys(reg, a.keys_file, err, sizeof(err)) < 0) {
		log_error(&sv->log, LOG_SUB_CORE, "%s", err);
		goto out;
	}
	if (a.send_log && (r = sendlog_open(a.send_log, &slog)) < 0) {
		log_error(&sv->log, LOG_SUB_CORE, "%s: %s", a.send_log, strerror(-r));
		goto out;
	}

	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&sv->loop) != 0)
		goto out;
	loop_up = true;
	struct replay_server_opts so = {
		.host = a.host,
		.port = a.port,
		.tls = tls,
		.reg = reg,
		.rec = rec,
		.sendlog = slog,
		.sched = a.sched,
		.loop = a.loop,
		.auth_timeout_ms = a.auth_timeout_ms,
		.symbol_limit = a.symbol_limit,
		.omit_empty = a.omit_empty,
		.live = a.live,
		.max_queued = (size_t)a.max_queued,
		.faults = a.faults,
		.log = serve_log,
		.log_user = sv,
	};
	r = replay_server_start(&sv->srv, &sv->loop, &so, err, sizeof(err));
	if (r < 0) {
		log_error(&sv->log, LOG_SUB_NET, "%s", err);
		sv->srv = NULL;
		goto out;
	}
	uv_signal_init(&sv->loop, &sv->sigterm);
	uv_signal_init(&sv->loop, &sv->sigint);
	sv->sigterm.data = sv->sigint.data = sv;
	uv_signal_start(&sv->sigterm, serve_signal, SIGTERM);
	uv_signal_start(&sv->sigint, serve_signal, SIGINT);

	bool v6 = strchr(a.host, ':') != NULL;
	printf("listening %s%s%s:%u\n", v6 ? "[" : "", a.host, v6 ? "]" : "",
	       (unsigned)replay_server_port(sv->srv));
	fflush(stdout);
	log_info(&sv->log, LOG_SUB_NET, "serving %s://%s%s%s:%u/v2/{feed}", a.cert ? "wss" : "ws",
	         v6 ? "[" : "", a.host, v6 ? "]" : "", (unsigned)replay_server_port(sv->srv));

	uv_run(&sv->loop, UV_RUN_DEFAULT);
	rc = 0;

out:
	if (loop_up) {
		uv_run(&sv->loop, UV_RUN_DEFAULT); /* close callbacks of a failed start */
		if (uv_loop_close(&sv->loop) != 0)
			log_warn(&sv->log, LOG_SUB_CORE, "loop closed with open handles");
	}
	if (slog) {
		const struct sendlog_stats *st = sendlog_stats(slog);
		if (st->failed)
			log_warn(&sv->log, LOG_SUB_CORE, "send log: %llu lines lost",
			         (unsigned long long)st->failed);
		if (sendlog_close(slog) < 0) {
			log_error(&sv->log, LOG_SUB_CORE, "send log: write error");
			rc = 1;
		}
	}
	replay_session_reg_free(reg);
	tls_config_free(tls);
	replay_server_rec_free(rec);
	log_fini(&sv->log);
	free(sv);
	return rc;
}
