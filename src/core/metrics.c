#include "config.h"

#include "core/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1e9

static const struct metrics_def catalog[] = {
	{METRICS_WS_CONNECTS, METRICS_COUNTER, {NULL},
	 "Alpaca WebSocket sessions that authenticated and subscribed."},
	{METRICS_WS_RECONNECTS, METRICS_COUNTER, {NULL},
	 "Reconnect attempts to the Alpaca WebSocket after a session ended or failed."},
	{METRICS_WS_CONNECT_ERRORS, METRICS_COUNTER, {"error_class", NULL},
	 "Failed Alpaca WebSocket connects or sessions, by error class."},
	{METRICS_MESSAGES_IN, METRICS_COUNTER, {"channel", NULL},
	 "Market-data messages received from Alpaca, by channel."},
	{METRICS_DEDUP_DROPS, METRICS_COUNTER, {"channel", NULL},
	 "Market-data messages dropped as duplicates, by channel."},
	{METRICS_PARSE_REJECTS, METRICS_COUNTER, {"reason", NULL},
	 "Frames or messages rejected by the parser, by reason."},
	{METRICS_TA_INPUT_RECORDS, METRICS_COUNTER, {"outcome", NULL},
	 "role=ta: records read from the raw topics, by outcome (event, duplicate, rejected, skipped)."},
	{METRICS_TA_INPUT_PARTITIONS, METRICS_GAUGE, {NULL}, "role=ta: raw-topic partitions assigned to this instance."},
	{METRICS_LATE_TRADES, METRICS_COUNTER, {NULL},
	 "Trades that arrived after their 1 s bar had closed."},
	{METRICS_KAFKA_PRODUCED, METRICS_COUNTER, {"topic", NULL},
	 "Records acknowledged by Kafka (successful delivery reports), by topic."},
	{METRICS_KAFKA_PRODUCE_FAILURES, METRICS_COUNTER, {"topic", NULL},
	 "Records that failed produce() or their delivery report, by topic."},
	{METRICS_KAFKA_TXN_COMMITS, METRICS_COUNTER, {NULL}, "Kafka transactions committed."},
	{METRICS_KAFKA_TXN_ABORTS, METRICS_COUNTER, {NULL}, "Kafka transactions aborted."},
	{METRICS_REGISTRY_ERRORS, METRICS_COUNTER, {"class", NULL},
	 "Failed schema registry calls seen by the start-up gate, by error class."},
	{METRICS_REGISTRY_GATE, METRICS_GAUGE, {"state", NULL},
	 "1 for the schema registry gate's state (off, resolving, ready, failed), else 0."},
	{METRICS_CHECKPOINTS, METRICS_COUNTER, {NULL}, "Checkpoints completed."},
	{METRICS_CHECKPOINT_FAILURES, METRICS_COUNTER, {NULL}, "Checkpoints that failed."},
	{METRICS_CHECKPOINT_DURATION, METRICS_HISTOGRAM, {NULL},
	 "Time from a checkpoint's start to its completion."},
	{METRICS_CHECKPOINT_AGE, METRICS_GAUGE, {NULL},
	 "Seconds since the last completed checkpoint (since start-up if none)."},
	{METRICS_CHECKPOINT_ENCODE, METRICS_GAUGE, {NULL},
	 "Loop time spent encoding the last checkpoint's snapshot (in steps)."},
	{METRICS_CHECKPOINT_STEP_MAX, METRICS_GAUGE, {NULL},
	 "The longest single step of the last snapshot: the longest loop pause a checkpoint caused."},
	{METRICS_READY, METRICS_GAUGE, {NULL}, "1 when /readyz answers 200, else 0."},
	{METRICS_READY_GATE, METRICS_GAUGE, {"gate", NULL}, "1 when the readiness gate is open, by gate."},
	{METRICS_LOOP_LAG, METRICS_HISTOGRAM, {NULL},
	 "How late the event loop ran a periodic timer (loop stall)."},
	{METRICS_LOOP_BUSY, METRICS_HISTOGRAM, {NULL},
	 "Time the event loop spent running callbacks per iteration (not waiting for I/O)."},
	{METRICS_LOOP_LAG_MAX, METRICS_GAUGE, {NULL},
	 "Largest loop lag over the last complete measurement window."},
	{METRICS_LAT_FRAME_TO_EVENT, METRICS_HISTOGRAM, {NULL},
	 "From reading a WebSocket frame to its normalized events."},
	{METRICS_LAT_EVENT_TO_PRODUCE, METRICS_HISTOGRAM, {"topic", NULL},
	 "From a normalized event to produce() of its record, by topic."},
	{METRICS_LAT_PRODUCE_TO_ACK, METRICS_HISTOGRAM, {"topic", NULL},
	 "From produce() to the record's delivery report, by topic."},
	{METRICS_LAT_BAR_TO_SIGNAL, METRICS_HISTOGRAM, {NULL},
	 "From a 1 s bar's end plus the lateness slack to produce() of its signal."},
	{METRICS_LAT_EVENT_TO_SIGNAL, METRICS_HISTOGRAM, {NULL},
	 "From a trade's event time (exchange clock) to produce() of the signal it completed."},
};

enum kind { K_U64, K_I64, K_DBL_COUNTER, K_DBL, K_FN, K_HIST };

struct series {
	union {
		uint64_t u;
		int64_t i;
		double d;
	} v; /* first: the pointer handed out */
	struct series *next;
	enum kind kind;
	metrics_fn fn;
	void *arg;
	struct hist *h;
	char *labels; /* rendered and escaped: k="v",k2="v2"; "" without labels */
	char *vals[METRICS_MAX_LABELS];
};

struct family {
	struct family *next;
	char *name, *help;
	enum metrics_type type;
	size_t nkeys;
	char *keys[METRICS_MAX_LABELS];
	struct series *series, **stail;
};

struct metrics {
	struct family *families, **ftail;
};

const struct metrics_def *metrics_catalog(size_t *n)
{
	*n = sizeof(catalog) / sizeof(catalog[0]);
	return catalog;
}

const struct metrics_def *metrics_catalog_find(const char *name)
{
	for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++)
		if (strcmp(catalog[i].name, name) == 0)
			return &catalog[i];
	return NULL;
}

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ftail = &m->families;
	*out = m;
	return 0;
}

static void series_free(struct series *s)
{
	for (size_t k = 0; k < METRICS_MAX_LABELS; k++)
		free(s->vals[k]);
	free(s->labels);
	free(s->h);
	free(s);
}

static void family_free(struct family *f)
{
	struct series *s, *sn;
	for (s = f->series; s; s = sn) {
		sn = s->next;
		series_free(s);
	}
	for (size_t k = 0; k < f->nkeys; k++)
		free(f->keys[k]);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_free(struct metrics *m)
{
	struct family *f, *fn;
	if (!m)
		return;
	for (f = m->families; f; f = fn) {
		fn = f->next;
		family_free(f);
	}
	free(m);
}

/* ---- validation ---- */

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool valid_name(const char *s, enum metrics_type type)
{
	if (strncmp(s, "torghut_", 8) != 0)
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha_(*p) && *p != ':' && !(p > s && is_digit(*p)))
			return false;
	if (type == METRICS_COUNTER && !ends_with(s, "_total"))
		return false;
	if (type == METRICS_HISTOGRAM && !ends_with(s, "_seconds"))
		return false;
	return true;
}

static bool valid_label_name(const char *s, enum metrics_type type)
{
	if (!*s || strncmp(s, "__", 2) == 0 || (type == METRICS_HISTOGRAM && strcmp(s, "le") == 0))
		return false;
	for (const char *p = s; *p; p++)
		if (!is_alpha_(*p) && !(p > s && is_digit(*p)))
			return false;
	return true;
}

/* Both outputs (Prometheus text, JSON) must be UTF-8. */
static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p++, n;
		uint32_t cp;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 0; i < n; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

/* ---- output buffer ---- */

struct wr {
	struct metrics_buf *b;
	int err;
};

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void put(struct wr *w, const char *s, size_t n)
{
	struct metrics_buf *b = w->b;
	if (w->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d) {
			w->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void puts_(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct wr *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) { /* callers only format numbers */
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put(w, tmp, (size_t)n);
}

/* Label values escape \, " and newline; HELP text escapes \ and newline. */
static void put_escaped(struct wr *w, const char *s, bool quote)
{
	const char *run = s;
	for (; *s; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (rep) {
			put(w, run, (size_t)(s - run));
			puts_(w, rep);
			run = s + 1;
		}
	}
	put(w, run, (size_t)(s - run));
}

/* Shortest text that reads back as the same double; Prometheus spellings of
 * the special values. */
static void fmt_double(double v, char *buf, size_t cap)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* ---- registration ---- */

static int build_labels(const struct family *f, const char *const *labels, struct series *s)
{
	struct metrics_buf b = {0};
	struct wr w = {&b, 0};
	for (size_t k = 0; k < f->nkeys; k++) {
		if (k)
			puts_(&w, ",");
		puts_(&w, f->keys[k]);
		puts_(&w, "=\"");
		put_escaped(&w, labels[2 * k + 1], true);
		puts_(&w, "\"");
		if (!(s->vals[k] = strdup(labels[2 * k + 1])))
			w.err = -ENOMEM;
	}
	if (!w.err && !(s->labels = strdup(b.data ? b.data : "")))
		w.err = -ENOMEM;
	metrics_buf_free(&b);
	return w.err;
}

static int check_labels(const char *const *labels, enum metrics_type type, size_t *n)
{
	size_t k = 0;
	if (labels) {
		for (; labels[2 * k]; k++) {
			if (k >= METRICS_MAX_LABELS || !labels[2 * k + 1])
				return -EINVAL;
			if (!valid_label_name(labels[2 * k], type) || !valid_utf8(labels[2 * k + 1]))
				return -EINVAL;
			for (size_t j = 0; j < k; j++)
				if (strcmp(labels[2 * j], labels[2 * k]) == 0)
					return -EINVAL;
		}
	}
	*n = k;
	return 0;
}

static bool keys_match(const char *const *keys, size_t nkeys, const char *const *labels, size_t n)
{
	if (n != nkeys)
		return false;
	for (size_t k = 0; k < n; k++)
		if (strcmp(keys[k], labels[2 * k]) != 0)
			return false;
	return true;
}

static size_t count_keys(const char *const *keys)
{
	size_t n = 0;
	while (keys[n])
		n++;
	return n;
}

static struct family *family_new(struct metrics *m, const char *name, const char *help,
				 enum metrics_type type, const char *const *labels, size_t n)
{
	struct family *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->type = type;
	f->stail = &f->series;
	f->name = strdup(name);
	f->help = strdup(help);
	bool ok = f->name && f->help;
	for (size_t k = 0; k < n && ok; k++) {
		ok = (f->keys[k] = strdup(labels[2 * k])) != NULL;
		f->nkeys = k + 1;
	}
	if (!ok) {
		family_free(f);
		return NULL;
	}
	*m->ftail = f;
	m->ftail = &f->next;
	return f;
}

static enum metrics_type kind_type(enum kind kind)
{
	switch (kind) {
	case K_U64:
	case K_DBL_COUNTER:
		return METRICS_COUNTER;
	case K_HIST:
		return METRICS_HISTOGRAM;
	default:
		return METRICS_GAUGE;
	}
}

static int reg(struct metrics *m, const char *name, const char *help, const char *const *labels,
	       enum kind kind, struct series **out)
{
	enum metrics_type type = kind_type(kind);
	const struct metrics_def *def;
	struct family *f;
	struct series *s;
	size_t n;
	int rc;

	if (!m || !name || !valid_name(name, type))
		return -EINVAL;
	if ((rc = check_labels(labels, type, &n)) < 0)
		return rc;
	if ((def = metrics_catalog_find(name))) {
		if (def->type != type || !keys_match(def->keys, count_keys(def->keys), labels, n))
			return -EINVAL;
		if (!help)
			help = def->help;
	}
	for (f = m->families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f) {
		if (f->type != type || !keys_match((const char *const *)f->keys, f->nkeys, labels, n))
			return -EINVAL;
	} else {
		if (!help || !valid_utf8(help))
			return -EINVAL;
		if (!(f = family_new(m, name, help, type, labels, n)))
			return -ENOMEM;
	}

	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	if ((rc = build_labels(f, labels, s)) < 0) {
		series_free(s);
		return rc;
	}
	for (struct series *o = f->series; o; o = o->next) {
		if (strcmp(o->labels, s->labels) == 0) {
			series_free(s);
			if (o->kind != kind)
				return -EINVAL;
			*out = o;
			return 0;
		}
	}
	s->kind = kind;
	if (kind == K_HIST && !(s->h = calloc(1, sizeof(*s->h)))) {
		series_free(s);
		return -ENOMEM;
	}
	*f->stail = s;
	f->stail = &s->next;
	*out = s;
	return 0;
}

int metrics_counter(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    uint64_t **out)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_U64, &s);
	if (rc == 0)
		*out = &s->v.u;
	return rc;
}

int metrics_counter_f(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      double **out)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_DBL_COUNTER, &s);
	if (rc == 0)
		*out = &s->v.d;
	return rc;
}

int metrics_gauge(struct metrics *m, const char *name, const char *help, const char *const *labels,
		  int64_t **out)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_I64, &s);
	if (rc == 0)
		*out = &s->v.i;
	return rc;
}

int metrics_gauge_f(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    double **out)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_DBL, &s);
	if (rc == 0)
		*out = &s->v.d;
	return rc;
}

int metrics_gauge_fn(struct metrics *m, const char *name, const char *help, const char *const *labels,
		     metrics_fn fn, void *arg)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_FN, &s);
	if (rc == 0) {
		s->fn = fn;
		s->arg = arg;
	}
	return rc;
}

int metrics_histogram(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      struct hist **out)
{
	struct series *s;
	int rc = reg(m, name, help, labels, K_HIST, &s);
	if (rc == 0)
		*out = s->h;
	return rc;
}

/* ---- Prometheus text ---- */

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

static void put_sample_name(struct wr *w, const char *name, const char *suffix, const char *labels,
			    const char *le)
{
	puts_(w, name);
	puts_(w, suffix);
	if (*labels || le) {
		puts_(w, "{");
		puts_(w, labels);
		if (le) {
			puts_(w, *labels ? ",le=\"" : "le=\"");
			puts_(w, le);
			puts_(w, "\"");
		}
		puts_(w, "}");
	}
	puts_(w, " ");
}

static void render_hist(struct wr *w, const struct family *f, const struct series *s)
{
	uint64_t cum[HIST_PROM_NBUCKETS];
	char num[40];

	hist_prom_buckets(s->h, cum);
	for (unsigned j = 0; j < HIST_PROM_NBUCKETS; j++) {
		put_sample_name(w, f->name, "_bucket", s->labels, hist_prom_le(j));
		putf(w, "%" PRIu64 "\n", cum[j]);
	}
	put_sample_name(w, f->name, "_sum", s->labels, NULL);
	fmt_double((double)hist_sum(s->h) / NS_PER_S, num, sizeof(num));
	puts_(w, num);
	puts_(w, "\n");
	put_sample_name(w, f->name, "_count", s->labels, NULL);
	putf(w, "%" PRIu64 "\n", hist_count(s->h));
}

int metrics_render_prometheus(const struct metrics *m, struct metrics_buf *out)
{
	struct wr w = {out, 0};
	char num[40];

	for (const struct family *f = m->families; f; f = f->next) {
		puts_(&w, "# HELP ");
		puts_(&w, f->name);
		puts_(&w, " ");
		put_escaped(&w, f->help, false);
		puts_(&w, "\n# TYPE ");
		puts_(&w, f->name);
		puts_(&w, " ");
		puts_(&w, type_name(f->type));
		puts_(&w, "\n");
		for (const struct series *s = f->series; s; s = s->next) {
			switch (s->kind) {
			case K_HIST:
				render_hist(&w, f, s);
				continue;
			case K_FN:
				if (!s->fn)
					continue;
				fmt_double(s->fn(s->arg), num, sizeof(num));
				break;
			case K_U64:
				snprintf(num, sizeof(num), "%" PRIu64, s->v.u);
				break;
			case K_I64:
				snprintf(num, sizeof(num), "%" PRId64, s->v.i);
				break;
			case K_DBL:
			case K_DBL_COUNTER:
				fmt_double(s->v.d, num, sizeof(num));
				break;
			}
			put_sample_name(&w, f->name, "", s->labels, NULL);
			puts_(&w, num);
			puts_(&w, "\n");
		}
	}
	puts_(&w, ""); /* data is a string even for an empty registry */
	return w.err;
}

/* ---- JSON ---- */

static json_int_t clamp_i64(uint64_t v)
{
	return (json_int_t)(v > INT64_MAX ? INT64_MAX : v);
}

static json_t *json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* json_object_set_new consumes v even on failure; failures make the caller's
 * result incomplete, so they are reported as one flag. */
static void jset(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*ok = false;
}

static json_t *series_json(const struct family *f, const struct series *s, bool *ok)
{
	json_t *o = json_object(), *labels = json_object();
	if (!o || !labels) {
		json_decref(o);
		json_decref(labels);
		*ok = false;
		return NULL;
	}
	for (size_t k = 0; k < f->nkeys; k++)
		jset(labels, f->keys[k], json_string(s->vals[k]), ok);
	jset(o, "labels", labels, ok);
	switch (s->kind) {
	case K_HIST:
		jset(o, "count", json_integer(clamp_i64(hist_count(s->h))), ok);
		jset(o, "sum", json_real((double)hist_sum(s->h) / NS_PER_S), ok);
		jset(o, "p50", json_real((double)hist_quantile(s->h, 0.5) / NS_PER_S), ok);
		jset(o, "p99", json_real((double)hist_quantile(s->h, 0.99) / NS_PER_S), ok);
		jset(o, "p999", json_real((double)hist_quantile(s->h, 0.999) / NS_PER_S), ok);
		jset(o, "max", json_real((double)hist_max(s->h) / NS_PER_S), ok);
		break;
	case K_FN:
		jset(o, "value", json_num(s->fn(s->arg)), ok);
		break;
	case K_U64:
		jset(o, "value", json_integer(clamp_i64(s->v.u)), ok);
		break;
	case K_I64:
		jset(o, "value", json_integer((json_int_t)s->v.i), ok);
		break;
	case K_DBL:
	case K_DBL_COUNTER:
		jset(o, "value", json_num(s->v.d), ok);
		break;
	}
	return o;
}

json_t *metrics_render_json(const struct metrics *m)
{
	json_t *root = json_object();
	bool ok = root != NULL;

	for (const struct family *f = m->families; f && ok; f = f->next) {
		json_t *fam = json_object(), *arr = json_array();
		if (!fam || !arr) {
			json_decref(fam);
			json_decref(arr);
			ok = false;
			break;
		}
		jset(fam, "type", json_string(type_name(f->type)), &ok);
		jset(fam, "help", json_string(f->help), &ok);
		for (const struct series *s = f->series; s && ok; s = s->next) {
			if (s->kind == K_FN && !s->fn)
				continue;
			json_t *sj = series_json(f, s, &ok);
			if (sj && json_array_append_new(arr, sj) < 0)
				ok = false;
		}
		jset(fam, "series", arr, &ok);
		jset(root, f->name, fam, &ok);
	}
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- readiness ---- */

json_t *metrics_readyz_json(const struct metrics_gate *gates, size_t n, bool *ready)
{
	json_t *o = json_object(), *g = json_object();
	const char *cls = NULL;
	bool all = true, ok = o && g;

	for (size_t i = 0; i < n && ok; i++) {
		jset(g, gates[i].name, json_boolean(gates[i].ok), &ok);
		if (!gates[i].ok && all) {
			all = false;
			cls = gates[i].error_class ? gates[i].error_class : "unknown";
		}
	}
	if (ok) {
		jset(o, "status", json_string(all ? "ready" : "not_ready"), &ok);
		jset(o, "ready", json_boolean(all), &ok);
		jset(o, "error_class", cls ? json_string(cls) : json_null(), &ok);
		jset(o, "gates", g, &ok);
		g = NULL;
	}
	json_decref(g);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	if (ready)
		*ready = all;
	return o;
}
