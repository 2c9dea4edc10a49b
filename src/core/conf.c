/* conf.c - the configuration table, loader, validation, printing and diff. */
#include "config.h"

#include "core/conf.h"
#include "core/conf_parse.h"
#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define CONF_FILE_MAX (1 << 20)
#define SECRET_FILE_MAX 65536

enum kt {
	KT_STR,      /* char *; empty = unset */
	KT_DURATION, /* int64_t ns, bounded */
	KT_BOOL,
	KT_INT,      /* int64_t, bounded */
	KT_SIZE,     /* int64_t bytes, bounded */
	KT_PROFILE,
	KT_ROLE,
	KT_AUTH,
	KT_LOGLEVEL,
	KT_ALPACA_URL,
	KT_SYMBOLS,
	KT_CHANNELS,
	KT_STORE_URL, /* file://, s3://, s3a:// */
	KT_LISTEN,    /* host:port */
	KT_SECRET_FILE,
	KT_SECRET_INLINE,
};

enum {
	F_LIVE = 1u << 0,            /* may change on reload */
	F_PROFILE_DEFAULT = 1u << 1, /* default "exactly-once|low-latency" */
};

struct conf_key {
	const char *name;
	enum kt type;
	size_t off;
	const char *def;
	int64_t min, max;
	unsigned flags;
	const char *alias; /* accepted alternative spelling */
};

struct conf_slot {
	char *text;   /* the value as written (NULL: default applies) */
	char *origin; /* "FILE:LINE" or "--set" */
};

#define O(field) offsetof(struct conf, field)
#define SEC 1000000000LL
#define MS 1000000LL
#define DAY (86400 * SEC)

static const struct conf_key keys[] = {
	{"profile", KT_PROFILE, O(profile), "exactly-once", 0, 0, F_LIVE, NULL},
	{"role", KT_ROLE, O(role), "all", 0, 0, 0, NULL},
	{"log.level", KT_LOGLEVEL, O(log_level), "info", 0, 0, F_LIVE, NULL},
	{"allow-inline-secrets", KT_BOOL, O(allow_inline_secrets), "false", 0, 0, 0, NULL},

	{"alpaca.url", KT_ALPACA_URL, O(alpaca_url), "wss://stream.data.alpaca.markets/v2/iex", 0, 0, 0, NULL},
	{"alpaca.key.file", KT_SECRET_FILE, O(alpaca_key), NULL, 0, 0, 0, NULL},
	{"alpaca.secret.file", KT_SECRET_FILE, O(alpaca_secret), NULL, 0, 0, 0, NULL},
	{"alpaca.key", KT_SECRET_INLINE, O(alpaca_key), NULL, 0, 0, 0, NULL},
	{"alpaca.secret", KT_SECRET_INLINE, O(alpaca_secret), NULL, 0, 0, 0, NULL},
	{"alpaca.auth", KT_AUTH, O(alpaca_auth), "message", 0, 0, 0, NULL},
	{"alpaca.symbols", KT_SYMBOLS, O(alpaca_symbols), NULL, 0, 0, F_LIVE, NULL},
	{"alpaca.channels", KT_CHANNELS, O(alpaca_channels), "trades,quotes,bars,updatedBars", 0, 0, 0, NULL},
	{"alpaca.tls.ca.file", KT_STR, O(alpaca_tls_ca_file), NULL, 0, 0, 0, NULL},
	{"alpaca.reconnect.base", KT_DURATION, O(alpaca_reconnect_base), "500ms", 10 * MS, 600 * SEC, 0, NULL},
	{"alpaca.reconnect.max", KT_DURATION, O(alpaca_reconnect_max), "30s", 10 * MS, 3600 * SEC, 0, NULL},
	{"alpaca.idle.timeout", KT_DURATION, O(alpaca_idle_timeout), "30s", 100 * MS, 3600 * SEC, 0, NULL},
	{"alpaca.record.file", KT_STR, O(alpaca_record_file), NULL, 0, 0, 0, NULL},

	{"kafka.bootstrap.servers", KT_STR, O(kafka_bootstrap), "embedded", 0, 0, 0, NULL},
	{"kafka.topics.create", KT_BOOL, O(kafka_topics_create), "false", 0, 0, 0, NULL},
	{"sink.buffer.max-bytes", KT_SIZE, O(sink_buffer_max), "64MiB", 1 << 20, 1LL << 34, 0, NULL},

	{"topic.trades", KT_STR, O(topic_trades), "torghut.trades.v1", 0, 0, 0, NULL},
	{"topic.quotes", KT_STR, O(topic_quotes), "torghut.quotes.v1", 0, 0, 0, NULL},
	{"topic.bars", KT_STR, O(topic_bars), "torghut.bars.1m.v1", 0, 0, 0, NULL},
	{"topic.status", KT_STR, O(topic_status), "torghut.status.v1", 0, 0, 0, NULL},
	{"topic.ta.bars", KT_STR, O(topic_ta_bars), "torghut.ta.bars.1s.v1", 0, 0, 0, NULL},
	{"topic.ta.signals", KT_STR, O(topic_ta_signals), "torghut.ta.signals.v1", 0, 0, 0, NULL},
	{"topic.ta.status", KT_STR, O(topic_ta_status), "torghut.ta.status.v1", 0, 0, 0, NULL},
	{"topic.ta.late", KT_STR, O(topic_ta_late), NULL, 0, 0, 0, NULL},

	{"pipeline.auto-watermark-interval", KT_DURATION, O(watermark_interval), "100ms|50ms", 1 * MS, 60 * SEC, F_PROFILE_DEFAULT | F_LIVE, NULL},
	{"execution.buffer-timeout", KT_DURATION, O(buffer_timeout), "10ms|5ms", 0, 10 * SEC, F_PROFILE_DEFAULT | F_LIVE, NULL},
	{"table.exec.source.idle-timeout", KT_DURATION, O(idle_timeout), "1s", 1 * MS, 3600 * SEC, 0, NULL},
	{"watermark.max-out-of-orderness", KT_DURATION, O(max_out_of_orderness), "2s", 0, 600 * SEC, 0, NULL},
	{"execution.checkpointing.interval", KT_DURATION, O(checkpoint_interval), "10s", 100 * MS, DAY, 0, NULL},
	{"execution.checkpointing.timeout", KT_DURATION, O(checkpoint_timeout), "60s", 1 * SEC, DAY, 0, NULL},
	{"recovery.failover-budget", KT_DURATION, O(failover_budget), "30s", 0, DAY, 0, NULL},

	{"state.checkpoints.dir", KT_STORE_URL, O(checkpoints_dir), "file://" LOCALSTATEDIR "/lib/torghut/checkpoints", 0, 0, 0, NULL},
	{"state.savepoints.dir", KT_STORE_URL, O(savepoints_dir), NULL, 0, 0, 0, NULL},
	{"state.restore", KT_STORE_URL, O(restore_dir), NULL, 0, 0, 0, NULL},
	{"state.checkpoints.num-retained", KT_INT, O(checkpoints_retained), "3", 1, 1000, 0, NULL},

	{"s3.endpoint", KT_STR, O(s3_endpoint), NULL, 0, 0, 0, "fs.s3a.endpoint"},
	{"s3.region", KT_STR, O(s3_region), "us-east-1", 0, 0, 0, NULL},
	{"s3.path.style.access", KT_BOOL, O(s3_path_style), "false", 0, 0, 0, "fs.s3a.path.style.access"},
	{"s3.ssl", KT_BOOL, O(s3_ssl), "true", 0, 0, 0, "fs.s3a.connection.ssl.enabled"},
	{"s3.access.key.file", KT_SECRET_FILE, O(s3_access_key), NULL, 0, 0, 0, NULL},
	{"s3.secret.key.file", KT_SECRET_FILE, O(s3_secret_key), NULL, 0, 0, 0, NULL},
	{"s3.access.key", KT_SECRET_INLINE, O(s3_access_key), NULL, 0, 0, 0, NULL},
	{"s3.secret.key", KT_SECRET_INLINE, O(s3_secret_key), NULL, 0, 0, 0, NULL},
	{"s3.ca.file", KT_STR, O(s3_ca_file), NULL, 0, 0, 0, NULL},

	{"schema.registry.url", KT_STR, O(registry_url), NULL, 0, 0, 0, NULL},
	{"schema.registry.auto-register", KT_BOOL, O(registry_auto_register), "false", 0, 0, 0, NULL},
	{"schema.registry.user", KT_STR, O(registry_user), NULL, 0, 0, 0, NULL},
	{"schema.registry.password.file", KT_SECRET_FILE, O(registry_password), NULL, 0, 0, 0, NULL},
	{"schema.registry.password", KT_SECRET_INLINE, O(registry_password), NULL, 0, 0, 0, NULL},
	{"schema.registry.ca.file", KT_STR, O(registry_ca_file), NULL, 0, 0, 0, NULL},
	{"schema.dir", KT_STR, O(schema_dir), PKGDATADIR "/schemas", 0, 0, 0, NULL},

	{"startup.timeout", KT_DURATION, O(startup_timeout), "60s", 1 * SEC, 3600 * SEC, 0, NULL},
	{"control.socket", KT_STR, O(control_socket), RUNSTATEDIR "/torghut/control.sock", 0, 0, 0, NULL},
	{"http.listen", KT_LISTEN, O(http_listen), "127.0.0.1:9090", 0, 0, 0, NULL},
	{"ta.quote.stale-after", KT_DURATION, O(quote_stale_after), "2s", 1 * MS, 3600 * SEC, 0, NULL},
	{"ta.group.id", KT_STR, O(ta_group_id), "torghut-ta", 0, 0, 0, NULL},
	{"ta.auto.offset.reset", KT_STR, O(ta_auto_offset_reset), "latest", 0, 0, 0, NULL},
	{"debug.test-hooks", KT_BOOL, O(debug_test_hooks), "false", 0, 0, 0, NULL},
	{"debug.checkpoint-delay", KT_DURATION, O(debug_checkpoint_delay), "0s", 0, 10 * SEC, 0, NULL},
	{"debug.checkpoint-step", KT_SIZE, O(debug_checkpoint_step), "0", 0, 1LL << 30, 0, NULL},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static bool name_is_secretish(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret");
}

/* ---------------------------------------------------------------- errors */

void conf_errors_fini(struct conf_errors *e)
{
	free(e->text);
	memset(e, 0, sizeof(*e));
}

__attribute__((format(printf, 4, 5))) static void err_add(struct conf_errors *e, const char *origin,
							   const char *key, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (e->count >= 32) /* enough to fix in one pass; more is noise */
		return;
	n = snprintf(line, sizeof(line), "%s: %s%s", origin, key ? key : "", key ? ": " : "");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);

	size_t add = strlen(line) + 1;
	char *t = realloc(e->text, e->len + add + 1);
	if (!t)
		return;
	e->text = t;
	memcpy(e->text + e->len, line, add - 1);
	e->len += add;
	e->text[e->len - 1] = '\n';
	e->text[e->len] = '\0';
	e->count++;
}

/* ---------------------------------------------------------------- helpers */

static char *xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static const struct conf_key *key_find(const char *name, size_t *idx)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0 || (keys[i].alias && strcmp(keys[i].alias, name) == 0)) {
			if (idx)
				*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		int e = -errno;
		fclose(f);
		free(buf);
		return e ? e : -EIO;
	}
	fclose(f);
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static char *resolve_path(const char *p, const char *credentials_dir)
{
	if (p[0] == '/' || !credentials_dir)
		return strdup(p);
	size_t n = strlen(credentials_dir) + strlen(p) + 2;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", credentials_dir, p);
	return r;
}

/* Reads a secret file: trailing newlines trimmed (editors add them). */
static int secret_read(const char *path, char **out)
{
	char *buf;
	size_t n;
	int rc = read_file(path, SECRET_FILE_MAX, &buf, &n);
	if (rc < 0)
		return rc;
	if (memchr(buf, '\0', n)) {
		free(buf);
		return -EINVAL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0) {
		free(buf);
		return -ENODATA;
	}
	*out = buf;
	return 0;
}

/* ---------------------------------------------------------------- values */

struct loadctx {
	struct conf *c;
	struct conf_errors *err;
	const char *credentials_dir;
	struct kafka_raw {
		char *key, *value, *origin;
	} *kraw;
	size_t nkraw;
};

static void *field(struct conf *c, const struct conf_key *k)
{
	return (char *)c + k->off;
}

static int set_symbols(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	struct conf *c = L->c;
	size_t cap = 8, n = 0;
	char **list = calloc(cap, sizeof(*list));
	const char *p = v;

	if (!list)
		return -ENOMEM;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s)
			continue;
		if (!(e - s == 1 && *s == '*') && !conf_symbol_valid(s, (size_t)(e - s))) {
			err_add(L->err, origin, k->name, "invalid symbol \"%.*s\" (upper-case letters, digits, . / - up to 23 chars, or *)", (int)(e - s), s);
			goto fail;
		}
		if (n + 2 > cap) {
			char **nl = realloc(list, 2 * cap * sizeof(*list));
			if (!nl)
				goto fail;
			list = nl;
			cap *= 2;
		}
		list[n++] = xstrndup(s, (size_t)(e - s));
		list[n] = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], "*") == 0 && n > 1) {
			err_add(L->err, origin, k->name, "\"*\" subscribes every symbol and cannot be combined with a list");
			goto fail;
		}
	}
	c->alpaca_symbols = list;
	c->alpaca_symbol_count = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return -EINVAL;
}

static int set_channels(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	static const struct {
		const char *name;
		unsigned bit;
	} chans[] = {{"trades", CONF_CH_TRADES},	   {"quotes", CONF_CH_QUOTES},
		     {"bars", CONF_CH_BARS},		   {"updatedBars", CONF_CH_UPDATED_BARS},
		     {"dailyBars", CONF_CH_DAILY_BARS},	   {"statuses", CONF_CH_STATUSES},
		     {"lulds", CONF_CH_LULDS},		   {"imbalances", CONF_CH_IMBALANCES}};
	unsigned bits = 0;
	const char *p = v;

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ')
			p++;
		if (p == s)
			continue;
		size_t i, n = (size_t)(p - s);
		for (i = 0; i < sizeof(chans) / sizeof(chans[0]); i++)
			if (strlen(chans[i].name) == n && memcmp(chans[i].name, s, n) == 0)
				break;
		if (i == sizeof(chans) / sizeof(chans[0])) {
			err_add(L->err, origin, k->name, "unknown channel \"%.*s\" (trades, quotes, bars, updatedBars, dailyBars, statuses, lulds, imbalances)", (int)n, s);
			return -EINVAL;
		}
		bits |= chans[i].bit;
	}
	L->c->alpaca_channels = bits;
	return 0;
}

static int check_alpaca_url(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	const char *rest;
	if (strncmp(v, "wss://", 6) == 0)
		rest = v + 6;
	else if (strncmp(v, "ws://", 5) == 0)
		rest = v + 5;
	else {
		err_add(L->err, origin, k->name, "expected a ws:// or wss:// URL, got \"%s\"", v);
		return -EINVAL;
	}
	const char *slash = strchr(rest, '/');
	const char *last = strrchr(v, '/');
	if (!slash || slash == rest || last[1] == '\0') {
		err_add(L->err, origin, k->name, "the URL must name a host and end with the feed (e.g. wss://stream.data.alpaca.markets/v2/iex), got \"%s\"", v);
		return -EINVAL;
	}
	free(L->c->alpaca_feed);
	L->c->alpaca_feed = strdup(last + 1);
	return 0;
}

static int check_store_url(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	if (strncmp(v, "file:///", 8) == 0 || (v[0] == '/'))
		return 0;
	if ((strncmp(v, "s3://", 5) == 0 && v[5] && v[5] != '/') ||
	    (strncmp(v, "s3a://", 6) == 0 && v[6] && v[6] != '/'))
		return 0;
	err_add(L->err, origin, k->name, "expected file:///path, /path or s3://bucket/prefix, got \"%s\"", v);
	return -EINVAL;
}

static int check_listen(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;
	if (!colon || colon == v || conf_parse_int(colon + 1, &port) < 0 || port < 0 || port > 65535) {
		err_add(L->err, origin, k->name, "expected HOST:PORT (e.g. 127.0.0.1:9090), got \"%s\"", v);
		return -EINVAL;
	}
	return 0;
}

/* Converts `v` for key `k` into the struct. Errors are reported with origin. */
/* A bound for messages: "0", "512KiB", "1MiB", "16GiB". */
static void size_name(int64_t v, char *buf, size_t cap)
{
	static const char *const unit[] = {"", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (u < 4 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%" PRId64 "%s", v, unit[u]);
}

static int apply(struct loadctx *L, const struct conf_key *k, const char *origin, const char *v)
{
	struct conf *c = L->c;
	void *f = field(c, k);
	int64_t i64;
	bool b;
	int rc;

	switch (k->type) {
	case KT_STR:
		if (!*v && k->def) { /* unset would leave a key the daemon needs without a value */
			err_add(L->err, origin, k->name, "must not be empty (the default is \"%s\")", k->def);
			return -EINVAL;
		}
		free(*(char **)f);
		*(char **)f = *v ? strdup(v) : NULL;
		return 0;
	case KT_DURATION:
		rc = conf_parse_duration(v, &i64);
		if (rc < 0) {
			err_add(L->err, origin, k->name, "expected a duration (e.g. 250ms, 10s, 2m), got \"%s\"", v);
			return rc;
		}
		if (i64 < k->min || i64 > k->max) {
			char lo[32], hi[32];
			conf_format_duration(k->min, lo, sizeof(lo));
			conf_format_duration(k->max, hi, sizeof(hi));
			err_add(L->err, origin, k->name, "%s is out of range (%s to %s)", v, k->min ? lo : "0", hi);
			return -ERANGE;
		}
		*(int64_t *)f = i64;
		return 0;
	case KT_BOOL:
		if (conf_parse_bool(v, &b) < 0) {
			err_add(L->err, origin, k->name, "expected true or false, got \"%s\"", v);
			return -EINVAL;
		}
		*(bool *)f = b;
		return 0;
	case KT_INT:
		if (conf_parse_int(v, &i64) < 0 || i64 < k->min || i64 > k->max) {
			err_add(L->err, origin, k->name, "expected a whole number from %" PRId64 " to %" PRId64 ", got \"%s\"", k->min, k->max, v);
			return -EINVAL;
		}
		*(int64_t *)f = i64;
		return 0;
	case KT_SIZE:
		if (conf_parse_size(v, &i64) < 0 || i64 < k->min || i64 > k->max) {
			char lo[24], hi[24];
			size_name(k->min, lo, sizeof(lo));
			size_name(k->max, hi, sizeof(hi));
			err_add(L->err, origin, k->name, "expected a size from %s to %s (e.g. 64MiB), got \"%s\"", lo, hi, v);
			return -EINVAL;
		}
		*(int64_t *)f = i64;
		return 0;
	case KT_PROFILE:
		if (conf_profile_parse(v, (enum conf_profile *)f) < 0) {
			err_add(L->err, origin, k->name, "expected exactly-once or low-latency, got \"%s\"", v);
			return -EINVAL;
		}
		return 0;
	case KT_ROLE:
		if (strcmp(v, "all") == 0)
			c->role = CONF_ROLE_ALL;
		else if (strcmp(v, "ingest") == 0)
			c->role = CONF_ROLE_INGEST;
		else if (strcmp(v, "ta") == 0)
			c->role = CONF_ROLE_TA;
		else {
			err_add(L->err, origin, k->name, "expected all, ingest or ta, got \"%s\"", v);
			return -EINVAL;
		}
		return 0;
	case KT_AUTH:
		if (strcmp(v, "message") == 0)
			c->alpaca_auth = CONF_AUTH_MESSAGE;
		else if (strcmp(v, "header") == 0)
			c->alpaca_auth = CONF_AUTH_HEADER;
		else {
			err_add(L->err, origin, k->name, "expected message or header, got \"%s\"", v);
			return -EINVAL;
		}
		return 0;
	case KT_LOGLEVEL: {
		enum log_level lv;
		if (log_level_parse(v, &lv) < 0) {
			err_add(L->err, origin, k->name, "expected error, warn, info or debug, got \"%s\"", v);
			return -EINVAL;
		}
		c->log_level = (int)lv;
		return 0;
	}
	case KT_ALPACA_URL:
		if (check_alpaca_url(L, k, origin, v) < 0)
			return -EINVAL;
		free(c->alpaca_url);
		c->alpaca_url = strdup(v);
		return 0;
	case KT_SYMBOLS:
		return set_symbols(L, k, origin, v);
	case KT_CHANNELS:
		return set_channels(L, k, origin, v);
	case KT_STORE_URL:
		if (*v == '\0')
			return 0;
		if (check_store_url(L, k, origin, v) < 0)
			return -EINVAL;
		free(*(char **)f);
		*(char **)f = strdup(v);
		return 0;
	case KT_LISTEN:
		if (check_listen(L, k, origin, v) < 0)
			return -EINVAL;
		free(*(char **)f);
		*(char **)f = strdup(v);
		return 0;
	case KT_SECRET_FILE: {
		struct conf_secret *s = f;
		char *path = resolve_path(v, L->credentials_dir), *val = NULL;
		if (!path)
			return -ENOMEM;
		rc = secret_read(path, &val);
		if (rc < 0) {
			err_add(L->err, origin, k->name, "cannot read secret file %s: %s", path,
				rc == -ENODATA ? "the file is empty" : rc == -EINVAL ? "the file holds binary data" : strerror(-rc));
			free(path);
			return rc;
		}
		free(s->path);
		free(s->value);
		s->path = path;
		s->value = val;
		return 0;
	}
	case KT_SECRET_INLINE: {
		struct conf_secret *s = f;
		if (s->path) {
			err_add(L->err, origin, k->name, "set both inline and as %s.file; keep one", k->name);
			return -EINVAL;
		}
		if (!c->allow_inline_secrets) {
			err_add(L->err, origin, k->name, "secrets are not accepted inline; put it in a file and set %s.file (or allow with --set allow-inline-secrets=true)", k->name);
			return -EPERM;
		}
		free(s->value);
		s->value = strdup(v);
		return 0;
	}
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- parsing */

static int slot_set(struct loadctx *L, const char *key, const char *value, const char *origin, bool from_file)
{
	size_t idx;
	const struct conf_key *k = key_find(key, &idx);

	if (!k && strncmp(key, "kafka.", 6) == 0 && key[6]) {
		for (size_t i = 0; i < L->nkraw; i++) {
			if (strcmp(L->kraw[i].key, key) == 0) {
				if (from_file && L->kraw[i].origin[0] != '-') {
					err_add(L->err, origin, key, "set twice (first at %s)", L->kraw[i].origin);
					return -EINVAL;
				}
				free(L->kraw[i].value);
				free(L->kraw[i].origin);
				L->kraw[i].value = strdup(value);
				L->kraw[i].origin = strdup(origin);
				return 0;
			}
		}
		struct kafka_raw *nk = realloc(L->kraw, (L->nkraw + 1) * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		L->kraw = nk;
		L->kraw[L->nkraw].key = strdup(key);
		L->kraw[L->nkraw].value = strdup(value);
		L->kraw[L->nkraw].origin = strdup(origin);
		L->nkraw++;
		return 0;
	}
	if (!k) {
		err_add(L->err, origin, key, "unknown key (see torghut.conf(5))");
		return -EINVAL;
	}
	struct conf_slot *s = &L->c->slots[idx];
	if (s->text && from_file && s->origin[0] != '-') {
		err_add(L->err, origin, key, "set twice (first at %s)", s->origin);
		return -EINVAL;
	}
	free(s->text);
	free(s->origin);
	s->text = strdup(value);
	s->origin = strdup(origin);
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void parse_text(struct loadctx *L, const char *path, char *text)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char origin[512];
	int lineno = 0;

	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%d", base, lineno);
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			err_add(L->err, origin, NULL, "expected KEY = VALUE, got \"%.60s\"", s);
			continue;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		size_t vn = strlen(val);
		if (vn >= 2 && val[0] == '"' && val[vn - 1] == '"') { /* optional quotes */
			val[vn - 1] = '\0';
			val++;
		}
		if (*key == '\0') {
			err_add(L->err, origin, NULL, "missing key before '='");
			continue;
		}
		slot_set(L, key, val, origin, true);
	}
}

/* Validates the librdkafka passthrough against librdkafka itself so a typo is
 * reported with its file and line instead of at producer start. */
static void kafka_finish(struct loadctx *L)
{
	struct conf *c = L->c;
	rd_kafka_conf_t *probe = rd_kafka_conf_new();
	char errstr[512];
	bool have_txn_timeout = false;

	c->kafka = calloc(L->nkraw + 2, sizeof(*c->kafka));
	for (size_t i = 0; i < L->nkraw && c->kafka; i++) {
		struct kafka_raw *r = &L->kraw[i];
		const char *name = r->key + 6;
		size_t nl = strlen(name);
		char *value = NULL, *libkey = NULL;
		bool secret = false;

		if (nl > 5 && strcmp(name + nl - 5, ".file") == 0) {
			/* kafka.X.file: librdkafka's X read from a file (passwords, usernames). */
			char *path = resolve_path(r->value, L->credentials_dir);
			int rc = path ? secret_read(path, &value) : -ENOMEM;
			if (rc < 0) {
				err_add(L->err, r->origin, r->key, "cannot read secret file %s: %s", path ? path : "?",
					rc == -ENODATA ? "the file is empty" : strerror(-rc));
				free(path);
				continue;
			}
			free(path);
			libkey = xstrndup(name, nl - 5);
			secret = true;
		} else {
			if (name_is_secretish(name) && !c->allow_inline_secrets) {
				err_add(L->err, r->origin, r->key, "secrets are not accepted inline; put it in a file and set %s.file (or allow with --set allow-inline-secrets=true)", r->key);
				continue;
			}
			value = strdup(r->value);
			libkey = strdup(name);
			secret = name_is_secretish(name);
		}
		if (rd_kafka_conf_set(probe, libkey, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			err_add(L->err, r->origin, r->key, "librdkafka refuses it: %s", errstr);
			free(libkey);
			free(value);
			continue;
		}
		if (strcmp(libkey, "transaction.timeout.ms") == 0) {
			int64_t ms;
			if (conf_parse_int(value, &ms) == 0)
				c->transaction_timeout_ms = ms;
			have_txn_timeout = true;
			if (c->profile == CONF_PROFILE_EXACTLY_ONCE &&
			    ms * MS <= c->checkpoint_timeout + c->failover_budget) {
				char a[32], b[32];
				conf_format_duration(c->checkpoint_timeout, a, sizeof(a));
				conf_format_duration(c->failover_budget, b, sizeof(b));
				err_add(L->err, r->origin, r->key,
					"%" PRId64 " ms must exceed execution.checkpointing.timeout (%s) + recovery.failover-budget (%s) = %" PRId64 " ms: a transaction left open by a crashed instance must outlive the time its successor needs to restore and fence it",
					ms, a, b, (int64_t)((c->checkpoint_timeout + c->failover_budget) / MS));
			}
		}
		c->kafka[c->kafka_count].key = libkey;
		c->kafka[c->kafka_count].value = value;
		c->kafka[c->kafka_count].secret = secret;
		c->kafka_count++;
	}
	if (!have_txn_timeout && c->kafka) {
		/* librdkafka's 60 s default would break the rule above with our
		 * defaults; pick the smallest safe value plus 30 s of margin. */
		c->transaction_timeout_ms = (c->checkpoint_timeout + c->failover_budget) / MS + 30000;
		char v[32];
		snprintf(v, sizeof(v), "%" PRId64, c->transaction_timeout_ms);
		c->kafka[c->kafka_count].key = strdup("transaction.timeout.ms");
		c->kafka[c->kafka_count].value = strdup(v);
		c->kafka_count++;
	}
	rd_kafka_conf_destroy(probe);
}

/* systemd's LoadCredential=alpaca.key:... makes $CREDENTIALS_DIRECTORY/alpaca.key:
 * an unset `alpaca.key.file` picks such a credential up by its key's name. */
static void credentials_implicit(struct loadctx *L)
{
	char name[128];

	if (!L->credentials_dir)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &keys[i];
		struct conf_secret *s = field(L->c, k);
		if (k->type != KT_SECRET_FILE || s->value)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(k->name) - 5), k->name);
		char *path = resolve_path(name, L->credentials_dir);
		if (path && access(path, F_OK) == 0)
			apply(L, k, "$CREDENTIALS_DIRECTORY", name);
		free(path);
	}
}

static void derive(struct loadctx *L)
{
	struct conf *c = L->c;

	if (!c->savepoints_dir && c->checkpoints_dir) {
		/* "beside the checkpoints": a sibling folder named savepoints. */
		const char *d = c->checkpoints_dir;
		const char *scheme_end = strstr(d, "://");
		const char *path = scheme_end ? strchr(scheme_end + 3, '/') : d;
		const char *last = strrchr(d, '/');
		size_t keep = (path && last && last >= path) ? (size_t)(last - d) : strlen(d);
		size_t n = keep + sizeof("/savepoints");
		c->savepoints_dir = malloc(n);
		if (c->savepoints_dir)
			snprintf(c->savepoints_dir, n, "%.*s/savepoints", (int)keep, d);
	}
	if (c->alpaca_reconnect_max < c->alpaca_reconnect_base) {
		size_t i;
		key_find("alpaca.reconnect.max", &i);
		err_add(L->err, c->slots[i].origin ? c->slots[i].origin : "default", "alpaca.reconnect.max",
			"must not be below alpaca.reconnect.base");
	}
	if (c->role != CONF_ROLE_TA && c->alpaca_channels == 0) {
		size_t i;
		key_find("alpaca.channels", &i);
		err_add(L->err, c->slots[i].origin ? c->slots[i].origin : "default", "alpaca.channels",
			"at least one channel is needed");
	}
	if (c->ta_auto_offset_reset && strcmp(c->ta_auto_offset_reset, "earliest") != 0 &&
	    strcmp(c->ta_auto_offset_reset, "latest") != 0) {
		size_t i;
		key_find("ta.auto.offset.reset", &i);
		err_add(L->err, c->slots[i].origin ? c->slots[i].origin : "default", "ta.auto.offset.reset",
			"expected earliest or latest, got \"%s\"", c->ta_auto_offset_reset);
	}
	if ((c->alpaca_key.value == NULL) != (c->alpaca_secret.value == NULL)) {
		err_add(L->err, "configuration", "alpaca.key.file", "the Alpaca key and secret must be given together");
	}
}

int conf_load(const char *path, const char *const *sets, size_t nsets, const char *credentials_dir,
	      struct conf **out, struct conf_errors *err)
{
	struct conf *c = calloc(1, sizeof(*c));
	struct loadctx L = {.c = c, .err = err, .credentials_dir = credentials_dir};
	char *text = NULL;
	size_t len;
	int rc = 0;

	memset(err, 0, sizeof(*err));
	if (!c)
		return -ENOMEM;
	c->slots = calloc(NKEYS, sizeof(*c->slots));
	c->slot_count = NKEYS;
	if (!c->slots) {
		free(c);
		return -ENOMEM;
	}
	if (path) {
		c->path = strdup(path);
		rc = read_file(path, CONF_FILE_MAX, &text, &len);
		if (rc < 0) {
			err_add(err, path, NULL, "cannot read the configuration file: %s",
				rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
			conf_free(c);
			return rc == -ENOENT ? -ENOENT : -EINVAL;
		}
		if (memchr(text, '\0', len))
			err_add(err, path, NULL, "the file holds binary data (NUL byte)");
		else
			parse_text(&L, path, text);
		free(text);
	}
	for (size_t i = 0; i < nsets; i++) {
		const char *eq = strchr(sets[i], '=');
		if (!eq || eq == sets[i]) {
			err_add(err, "--set", NULL, "expected KEY=VALUE, got \"%s\"", sets[i]);
			continue;
		}
		char *key = xstrndup(sets[i], (size_t)(eq - sets[i]));
		slot_set(&L, trim(key), eq + 1, "--set", false);
		free(key);
	}

	/* Order matters: allow-inline-secrets gates secret keys, the profile
	 * picks profile-dependent defaults. */
	static const char *const first[] = {"allow-inline-secrets", "profile"};
	for (size_t f = 0; f < 2; f++) {
		size_t i;
		const struct conf_key *k = key_find(first[f], &i);
		apply(&L, k, c->slots[i].origin ? c->slots[i].origin : "default",
		      c->slots[i].text ? c->slots[i].text : k->def);
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &keys[i];
		const char *v = c->slots[i].text;
		char def[128];

		if (k->type == KT_PROFILE || strcmp(k->name, "allow-inline-secrets") == 0)
			continue;
		if (!v && k->def && (k->flags & F_PROFILE_DEFAULT)) {
			const char *bar = strchr(k->def, '|');
			if (c->profile == CONF_PROFILE_LOW_LATENCY)
				snprintf(def, sizeof(def), "%s", bar + 1);
			else
				snprintf(def, sizeof(def), "%.*s", (int)(bar - k->def), k->def);
			v = def;
		} else if (!v) {
			v = k->def;
		}
		if (!v)
			continue;
		apply(&L, k, c->slots[i].origin ? c->slots[i].origin : "default", v);
	}
	credentials_implicit(&L);
	kafka_finish(&L);
	derive(&L);

	for (size_t i = 0; i < L.nkraw; i++) {
		free(L.kraw[i].key);
		free(L.kraw[i].value);
		free(L.kraw[i].origin);
	}
	free(L.kraw);
	if (err->count > 0) {
		conf_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

static void secret_free(struct conf_secret *s)
{
	if (s->value) /* scrub: freed memory may be dumped later */
		memset(s->value, 0, strlen(s->value));
	free(s->value);
	free(s->path);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &keys[i];
		void *f = field(c, k);
		switch (k->type) {
		case KT_STR:
		case KT_ALPACA_URL:
		case KT_STORE_URL:
		case KT_LISTEN:
			free(*(char **)f);
			*(char **)f = NULL;
			break;
		case KT_SECRET_FILE:
			secret_free(f);
			memset(f, 0, sizeof(struct conf_secret));
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; c->alpaca_symbols && c->alpaca_symbols[i]; i++)
		free(c->alpaca_symbols[i]);
	free(c->alpaca_symbols);
	free(c->alpaca_feed);
	for (size_t i = 0; i < c->kafka_count; i++) {
		if (c->kafka[i].secret && c->kafka[i].value)
			memset(c->kafka[i].value, 0, strlen(c->kafka[i].value));
		free(c->kafka[i].key);
		free(c->kafka[i].value);
	}
	free(c->kafka);
	if (c->slots) {
		for (size_t i = 0; i < c->slot_count; i++) {
			free(c->slots[i].text);
			free(c->slots[i].origin);
		}
	}
	free(c->slots);
	free(c->path);
	free(c);
}

/* ---------------------------------------------------------------- printing */

/* The canonical text of a key's effective value (for printing and diffing). */
static void value_text(const struct conf *c, const struct conf_key *k, char *buf, size_t cap)
{
	const void *f = (const char *)c + k->off;

	buf[0] = '\0';
	switch (k->type) {
	case KT_STR:
	case KT_ALPACA_URL:
	case KT_STORE_URL:
	case KT_LISTEN:
		snprintf(buf, cap, "%s", *(char *const *)f ? *(char *const *)f : "");
		break;
	case KT_DURATION:
		conf_format_duration(*(const int64_t *)f, buf, cap);
		break;
	case KT_BOOL:
		snprintf(buf, cap, "%s", *(const bool *)f ? "true" : "false");
		break;
	case KT_INT:
	case KT_SIZE:
		snprintf(buf, cap, "%" PRId64, *(const int64_t *)f);
		break;
	case KT_PROFILE:
		snprintf(buf, cap, "%s", conf_profile_name(c->profile));
		break;
	case KT_ROLE:
		snprintf(buf, cap, "%s", conf_role_name(c->role));
		break;
	case KT_AUTH:
		snprintf(buf, cap, "%s", c->alpaca_auth == CONF_AUTH_HEADER ? "header" : "message");
		break;
	case KT_LOGLEVEL:
		snprintf(buf, cap, "%s", log_level_name((enum log_level)c->log_level));
		break;
	case KT_SYMBOLS: {
		size_t n = 0;
		for (size_t i = 0; i < c->alpaca_symbol_count && n + 1 < cap; i++)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", c->alpaca_symbols[i]);
		break;
	}
	case KT_CHANNELS: {
		static const char *const names[] = {"trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances"};
		size_t n = 0;
		for (unsigned b = 0; b < 8 && n + 1 < cap; b++)
			if (c->alpaca_channels & (1u << b))
				n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", names[b]);
		break;
	}
	case KT_SECRET_FILE: {
		const struct conf_secret *s = f;
		snprintf(buf, cap, "%s", s->path ? s->path : "");
		break;
	}
	case KT_SECRET_INLINE: {
		const struct conf_secret *s = f;
		snprintf(buf, cap, "%s", s->value && !s->path ? "<redacted>" : "");
		break;
	}
	}
}

void conf_print(const struct conf *c, FILE *f)
{
	char buf[4096];

	fprintf(f, "# effective configuration%s%s (secrets redacted)\n", c->path ? " from " : "",
		c->path ? c->path : "");
	for (size_t i = 0; i < NKEYS; i++) {
		value_text(c, &keys[i], buf, sizeof(buf));
		if (buf[0] == '\0' && keys[i].type == KT_SECRET_INLINE)
			continue;
		fprintf(f, "%s = %s\n", keys[i].name, buf);
	}
	for (size_t i = 0; i < c->kafka_count; i++)
		fprintf(f, "kafka.%s = %s\n", c->kafka[i].key, c->kafka[i].secret ? "<redacted>" : c->kafka[i].value);
}

int conf_diff_live(const struct conf *cur, const struct conf *next, char *why, size_t whylen,
		   char *changed, size_t changedlen)
{
	char a[4096], b[4096];
	size_t wn = 0, cn = 0;
	int rc = 0;

	if (why && whylen)
		why[0] = '\0';
	if (changed && changedlen)
		changed[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		value_text(cur, &keys[i], a, sizeof(a));
		value_text(next, &keys[i], b, sizeof(b));
		bool differs = strcmp(a, b) != 0;
		if (keys[i].type == KT_SECRET_FILE || keys[i].type == KT_SECRET_INLINE) {
			const struct conf_secret *sa = (const void *)((const char *)cur + keys[i].off);
			const struct conf_secret *sb = (const void *)((const char *)next + keys[i].off);
			differs = differs || ((sa->value == NULL) != (sb->value == NULL)) ||
				  (sa->value && strcmp(sa->value, sb->value) != 0);
		}
		if (!differs)
			continue;
		if (changed && cn + 1 < changedlen)
			cn += (size_t)snprintf(changed + cn, changedlen - cn, "%s%s", cn ? "," : "", keys[i].name);
		if (!(keys[i].flags & F_LIVE)) {
			rc = -EPERM;
			if (why && wn + 1 < whylen)
				wn += (size_t)snprintf(why + wn, whylen - wn, "%s%s", wn ? ", " : "", keys[i].name);
		}
	}
	/* The librdkafka passthrough needs a new producer: not live. */
	bool kdiff = cur->kafka_count != next->kafka_count;
	for (size_t i = 0; !kdiff && i < cur->kafka_count; i++)
		kdiff = strcmp(cur->kafka[i].key, next->kafka[i].key) != 0 ||
			strcmp(cur->kafka[i].value, next->kafka[i].value) != 0;
	if (kdiff) {
		rc = -EPERM;
		if (why && wn + 1 < whylen)
			wn += (size_t)snprintf(why + wn, whylen - wn, "%skafka.*", wn ? ", " : "");
		if (changed && cn + 1 < changedlen)
			snprintf(changed + cn, changedlen - cn, "%skafka.*", cn ? "," : "");
	}
	return rc;
}

bool conf_is_default(const struct conf *c, const char *key)
{
	for (size_t i = 0; i < NKEYS && i < c->slot_count; i++)
		if (strcmp(keys[i].name, key) == 0)
			return c->slots[i].text == NULL;
	return true;
}

const char *conf_profile_name(enum conf_profile p)
{
	return p == CONF_PROFILE_LOW_LATENCY ? "low-latency" : "exactly-once";
}

const char *conf_role_name(enum conf_role r)
{
	return r == CONF_ROLE_INGEST ? "ingest" : r == CONF_ROLE_TA ? "ta" : "all";
}

int conf_profile_parse(const char *s, enum conf_profile *out)
{
	if (strcmp(s, "exactly-once") == 0)
		*out = CONF_PROFILE_EXACTLY_ONCE;
	else if (strcmp(s, "low-latency") == 0)
		*out = CONF_PROFILE_LOW_LATENCY;
	else
		return -EINVAL;
	return 0;
}
