/* Tests of metrics (registry, Prometheus text 0.0.4 checked by a small
 * grammar validator, JSON, the /readyz body) and of looplag on a real loop
 * with deliberate stalls. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/looplag.h"
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a validator for the text exposition format 0.0.4 ---- */

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* Reads a metric name at *p; NULL-terminated copy into out. */
static bool scan_name(const char **p, char *out, size_t cap, bool label)
{
	size_t n = 0;
	if (!name_start(**p) || (label && **p == ':'))
		return false;
	while (name_char(**p) && !(label && **p == ':')) {
		if (n + 1 >= cap)
			return false;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return true;
}

static bool scan_value(const char **p)
{
	const char *s = *p;
	size_t n = strcspn(s, " \n");
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*p = s + n;
	if (!strcmp(tmp, "NaN") || !strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf"))
		return true;
	char *end;
	strtod(tmp, &end);
	return *end == '\0' && strspn(tmp, "0123456789+-.eE") == n;
}

struct vstate {
	char family[128];  /* the family of the last # TYPE */
	char type[16];
	char seen[64][128]; /* families with a TYPE line: each only once */
	int nseen;
	/* histogram checks for the current series */
	double last_bucket;
	bool had_inf;
	double inf_count;
	int samples;
};

/* Validates one line; returns NULL or a reason. */
static const char *validate_line(struct vstate *st, const char *line)
{
	char name[128], lname[64];
	const char *p = line;

	if (*p == '#') {
		bool help = strncmp(p, "# HELP ", 7) == 0, type = strncmp(p, "# TYPE ", 7) == 0;
		if (!help && !type)
			return "comment is not HELP or TYPE";
		p += 7;
		if (!scan_name(&p, name, sizeof(name), false) || *p != ' ')
			return "bad name in HELP/TYPE";
		p++;
		if (help) {
			for (; *p; p++)
				if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
					return "bad escape in HELP";
				else if (*p == '\\')
					p++;
			return NULL;
		}
		if (strcmp(p, "counter") && strcmp(p, "gauge") && strcmp(p, "histogram") && strcmp(p, "summary") &&
		    strcmp(p, "untyped"))
			return "unknown TYPE";
		for (int i = 0; i < st->nseen; i++)
			if (!strcmp(st->seen[i], name))
				return "second TYPE line for a family";
		snprintf(st->seen[st->nseen++ % 64], sizeof(st->seen[0]), "%s", name);
		snprintf(st->family, sizeof(st->family), "%s", name);
		snprintf(st->type, sizeof(st->type), "%s", p);
		st->had_inf = true; /* no open histogram series */
		return NULL;
	}
	if (!scan_name(&p, name, sizeof(name), false))
		return "bad metric name";
	size_t fl = strlen(st->family);
	if (strncmp(name, st->family, fl) != 0)
		return "sample outside its family";
	const char *suffix = name + fl;
	bool hist = !strcmp(st->type, "histogram");
	if (hist ? strcmp(suffix, "_bucket") && strcmp(suffix, "_sum") && strcmp(suffix, "_count") : *suffix)
		return "sample name does not match its TYPE";
	bool has_le = false;
	double le = 0;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!scan_name(&p, lname, sizeof(lname), true) || *p++ != '=' || *p++ != '"')
				return "bad label";
			const char *vstart = p;
			for (; *p != '"'; p++) {
				if (!*p || *p == '\n')
					return "unterminated label value";
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return "bad escape in label value";
					p++;
				}
			}
			if (!strcmp(lname, "le")) {
				has_le = true;
				le = strncmp(vstart, "+Inf", 4) == 0 ? INFINITY : strtod(vstart, NULL);
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return "expected , or }";
		}
		p++;
	}
	if (*p++ != ' ')
		return "expected a space before the value";
	const char *vs = p;
	if (!scan_value(&p))
		return "bad value";
	double val = strtod(vs, NULL);
	if (*p == ' ') { /* optional timestamp */
		p++;
		if (strspn(p, "-0123456789") != strlen(p))
			return "bad timestamp";
	} else if (*p) {
		return "trailing characters";
	}
	if (hist && !strcmp(suffix, "_bucket")) {
		if (!has_le)
			return "bucket without le";
		if (st->had_inf) { /* a new series starts */
			st->had_inf = false;
			st->last_bucket = 0;
		}
		if (val < st->last_bucket)
			return "buckets not cumulative";
		st->last_bucket = val;
		if (isinf(le)) {
			st->had_inf = true;
			st->inf_count = val;
		}
	} else if (hist && !strcmp(suffix, "_count")) {
		if (val != st->inf_count)
			return "_count differs from the +Inf bucket";
	}
	st->samples++;
	return NULL;
}

/* Validates a whole exposition; fails the test with the line on error. */
static int validate(const char *text)
{
	struct vstate st = {.had_inf = true};
	const char *p = text;
	int lineno = 0;
	if (*text && text[strlen(text) - 1] != '\n')
		fail_msg("exposition does not end with a newline");
	while (*p) {
		const char *nl = strchr(p, '\n');
		char line[4096];
		size_t n = (size_t)(nl - p);
		assert_non_null(nl);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		lineno++;
		const char *why = validate_line(&st, line);
		if (why)
			fail_msg("line %d \"%s\": %s", lineno, line, why);
		p = nl + 1;
	}
	return st.samples;
}

static void test_validator_rejects(void **state)
{
	(void)state;
	/* the validator itself can fail */
	const char *bad[] = {
		"# TYPE torghut_x_total counter\ntorghut_x_total{a=\"b} 1\n",
		"# TYPE torghut_x_total counter\ntorghut_x_total{a=\"b\\q\"} 1\n",
		"# TYPE torghut_x_total counter\ntorghut_x_total 1.2.3\n",
		"# TYPE torghut_x_total counter\ntorghut_y_total 1\n",
		"# TYPE torghut_x_total counter\n# TYPE torghut_x_total counter\n",
		"# TYPE torghut_h_seconds histogram\ntorghut_h_seconds_bucket{le=\"1\"} 2\n"
		"torghut_h_seconds_bucket{le=\"+Inf\"} 1\n",
		"# TYPE torghut_h_seconds histogram\ntorghut_h_seconds_bucket{le=\"+Inf\"} 2\ntorghut_h_seconds_count 3\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vstate st = {.had_inf = true};
		const char *p = bad[i];
		const char *why = NULL;
		char line[256];
		while (*p && !why) {
			const char *nl = strchr(p, '\n');
			memcpy(line, p, (size_t)(nl - p));
			line[nl - p] = '\0';
			why = validate_line(&st, line);
			p = nl + 1;
		}
		if (!why)
			fail_msg("validator accepted case %zu", i);
	}
}

/* ---- registry ---- */

static double age_fn(void *arg)
{
	return *(double *)arg;
}

static const char golden[] =
	"# HELP torghut_kafka_produced_total Records acknowledged by Kafka (successful delivery reports), by topic.\n"
	"# TYPE torghut_kafka_produced_total counter\n"
	"torghut_kafka_produced_total{topic=\"torghut.trades.v1\"} 42\n"
	"torghut_kafka_produced_total{topic=\"we\\\"ird\\\\to\\npic\"} 7\n"
	"# HELP torghut_test_queue_depth Depth of the \\\\test\\\\ queue \"q\".\\nSecond line.\n"
	"# TYPE torghut_test_queue_depth gauge\n"
	"torghut_test_queue_depth -3\n"
	"# HELP torghut_test_ratio A ratio.\n"
	"# TYPE torghut_test_ratio gauge\n"
	"torghut_test_ratio{a=\"x\",b=\"y\"} 0.1\n"
	"torghut_test_ratio{a=\"x\",b=\"z\"} NaN\n"
	"torghut_test_ratio{a=\"x\",b=\"w\"} +Inf\n"
	"# HELP torghut_checkpoint_age_seconds Seconds since the last completed checkpoint (since start-up if none).\n"
	"# TYPE torghut_checkpoint_age_seconds gauge\n"
	"torghut_checkpoint_age_seconds 12.5\n"
	"# HELP torghut_latency_produce_to_ack_seconds From produce() to the record's delivery report, by topic.\n"
	"# TYPE torghut_latency_produce_to_ack_seconds histogram\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.00001\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.000025\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.00005\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.0001\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.00025\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.0005\"} 1\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.001\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.0025\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.005\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.01\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.025\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.05\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.1\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.25\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"0.5\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"1\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"2.5\"} 3\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"5\"} 4\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"10\"} 4\n"
	"torghut_latency_produce_to_ack_seconds_bucket{topic=\"t\",le=\"+Inf\"} 5\n"
	"torghut_latency_produce_to_ack_seconds_sum{topic=\"t\"} 23.002005\n"
	"torghut_latency_produce_to_ack_seconds_count{topic=\"t\"} 5\n"
	"# HELP torghut_late_trades_total Trades that arrived after their 1 s bar had closed.\n"
	"# TYPE torghut_late_trades_total counter\n"
	"torghut_late_trades_total 0\n";

struct small {
	struct metrics *m;
	uint64_t *p1, *p2, *late;
	int64_t *depth;
	double *ratio[3];
	double age;
	struct hist *h;
};

static void small_build(struct small *s)
{
	assert_int_equal(metrics_new(&s->m), 0);
	assert_int_equal(metrics_counter(s->m, METRICS_KAFKA_PRODUCED, NULL,
					 METRICS_LABELS("topic", "torghut.trades.v1"), &s->p1),
			 0);
	assert_int_equal(metrics_counter(s->m, METRICS_KAFKA_PRODUCED, NULL,
					 METRICS_LABELS("topic", "we\"ird\\to\npic"), &s->p2),
			 0);
	assert_int_equal(metrics_gauge(s->m, "torghut_test_queue_depth",
				       "Depth of the \\test\\ queue \"q\".\nSecond line.", NULL, &s->depth),
			 0);
	const char *bs[3] = {"y", "z", "w"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(metrics_gauge_f(s->m, "torghut_test_ratio", "A ratio.",
						 METRICS_LABELS("a", "x", "b", bs[i]), &s->ratio[i]),
				 0);
	assert_int_equal(metrics_gauge_fn(s->m, METRICS_CHECKPOINT_AGE, NULL, NULL, age_fn, &s->age), 0);
	assert_int_equal(metrics_histogram(s->m, METRICS_LAT_PRODUCE_TO_ACK, NULL, METRICS_LABELS("topic", "t"),
					   &s->h),
			 0);
	assert_int_equal(metrics_counter(s->m, METRICS_LATE_TRADES, NULL, NULL, &s->late), 0);

	*s->p1 += 42;
	for (int i = 0; i < 7; i++)
		(*s->p2)++;
	*s->depth = -3;
	*s->ratio[0] = 0.1;
	*s->ratio[1] = NAN;
	*s->ratio[2] = INFINITY;
	s->age = 12.5;
	hist_record(s->h, 5000);
	hist_record(s->h, 1000000);
	hist_record(s->h, 1000000);
	hist_record(s->h, 3000000000);
	hist_record(s->h, 20000000000);
}

static void test_golden(void **state)
{
	(void)state;
	struct small s;
	struct metrics_buf b = {0};
	small_build(&s);
	assert_int_equal(metrics_render_prometheus(s.m, &b), 0);
	if (strcmp(b.data, golden) != 0) {
		/* show the first differing line */
		const char *x = b.data, *y = golden;
		while (*x && *x == *y)
			x++, y++;
		while (x > b.data && x[-1] != '\n')
			x--, y--;
		fail_msg("exposition differs at:\n got: %.160s\nwant: %.160s", x, y);
	}
	assert_int_equal(b.len, strlen(golden));
	assert_int_equal(validate(b.data), 2 + 1 + 3 + 1 + 22 + 1);

	/* a second render appends; the counters are read live */
	(*s.late)++;
	metrics_buf_free(&b);
	assert_int_equal(metrics_render_prometheus(s.m, &b), 0);
	assert_non_null(strstr(b.data, "\ntorghut_late_trades_total 1\n"));
	/* a hidden fn gauge disappears, its family stays */
	assert_int_equal(metrics_gauge_fn(s.m, METRICS_CHECKPOINT_AGE, NULL, NULL, NULL, NULL), 0);
	metrics_buf_free(&b);
	assert_int_equal(metrics_render_prometheus(s.m, &b), 0);
	assert_null(strstr(b.data, "torghut_checkpoint_age_seconds 12.5"));
	assert_non_null(strstr(b.data, "# TYPE torghut_checkpoint_age_seconds gauge\n"));
	validate(b.data);
	metrics_buf_free(&b);
	metrics_free(s.m);
}

static void test_registration_rules(void **state)
{
	(void)state;
	struct metrics *m;
	uint64_t *c, *c2;
	int64_t *g;
	double *d;
	struct hist *h;

	assert_int_equal(metrics_new(&m), 0);
	/* names */
	assert_int_equal(metrics_counter(m, "ws_reconnects_total", "h", NULL, &c), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_reconnects", "h", NULL, &c), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_re-connects_total", "h", NULL, &c), -EINVAL);
	assert_int_equal(metrics_histogram(m, "torghut_lat_ms", "h", NULL, &h), -EINVAL);
	assert_int_equal(metrics_gauge(m, "torghut_no_help", NULL, NULL, &g), -EINVAL);
	/* labels */
	assert_int_equal(metrics_counter(m, "torghut_x_total", "h", (const char *const[]){"topic", NULL}, &c),
			 -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_x_total", "h", METRICS_LABELS("9topic", "a"), &c), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_x_total", "h", METRICS_LABELS("__topic", "a"), &c), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_x_total", "h", METRICS_LABELS("a", "1", "a", "2"), &c),
			 -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_x_total", "h", METRICS_LABELS("a", "\xff"), &c), -EINVAL);
	assert_int_equal(metrics_histogram(m, "torghut_x_seconds", "h", METRICS_LABELS("le", "1"), &h), -EINVAL);
	/* the catalog checks type and label keys and supplies help */
	assert_int_equal(metrics_counter(m, METRICS_KAFKA_PRODUCED, NULL, NULL, &c), -EINVAL);
	assert_int_equal(metrics_counter(m, METRICS_KAFKA_PRODUCED, NULL, METRICS_LABELS("channel", "x"), &c),
			 -EINVAL);
	assert_int_equal(metrics_gauge(m, METRICS_WS_RECONNECTS, NULL, NULL, &g), -EINVAL);
	assert_int_equal(metrics_counter(m, METRICS_WS_RECONNECTS, NULL, NULL, &c), 0);
	/* same series again: same storage */
	assert_int_equal(metrics_counter(m, METRICS_WS_RECONNECTS, "ignored", NULL, &c2), 0);
	assert_ptr_equal(c, c2);
	/* a family keeps its type and label keys */
	assert_int_equal(metrics_counter(m, "torghut_y_total", "h", METRICS_LABELS("a", "1"), &c), 0);
	assert_int_equal(metrics_counter(m, "torghut_y_total", "h", METRICS_LABELS("b", "1"), &c2), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_y_total", "h", NULL, &c2), -EINVAL);
	assert_int_equal(metrics_counter(m, "torghut_y_total", "h", METRICS_LABELS("a", "2"), &c2), 0);
	assert_ptr_not_equal(c, c2);
	assert_int_equal(metrics_gauge(m, "torghut_z", "h", NULL, &g), 0);
	assert_int_equal(metrics_gauge_f(m, "torghut_z", "h", NULL, &d), -EINVAL); /* other value kind */
	assert_int_equal(metrics_gauge_f(m, "torghut_z", "h", METRICS_LABELS("k", "v"), &d), -EINVAL);
	metrics_free(m);
	metrics_free(NULL);
}

/* Every catalog entry registers, renders and validates. */
static void test_catalog(void **state)
{
	(void)state;
	struct metrics *m;
	struct metrics_buf b = {0};
	size_t n;
	const struct metrics_def *defs = metrics_catalog(&n);

	assert_true(n >= 20);
	assert_int_equal(metrics_new(&m), 0);
	for (size_t i = 0; i < n; i++) {
		const char *lv[2 * METRICS_MAX_LABELS + 1] = {0};
		for (size_t k = 0; defs[i].keys[k]; k++) {
			lv[2 * k] = defs[i].keys[k];
			lv[2 * k + 1] = "v";
		}
		assert_ptr_equal(metrics_catalog_find(defs[i].name), &defs[i]);
		assert_non_null(defs[i].help);
		int rc = -1;
		uint64_t *c;
		int64_t *g;
		struct hist *h;
		switch (defs[i].type) {
		case METRICS_COUNTER:
			rc = metrics_counter(m, defs[i].name, NULL, lv, &c);
			break;
		case METRICS_GAUGE:
			rc = metrics_gauge(m, defs[i].name, NULL, lv, &g);
			break;
		case METRICS_HISTOGRAM:
			rc = metrics_histogram(m, defs[i].name, NULL, lv, &h);
			if (rc == 0)
				hist_record(h, 1234567);
			break;
		}
		if (rc != 0)
			fail_msg("catalog entry %s does not register: %d", defs[i].name, rc);
	}
	assert_null(metrics_catalog_find("torghut_nope_total"));
	assert_int_equal(metrics_render_prometheus(m, &b), 0);
	assert_true(validate(b.data) > (int)n);
	metrics_buf_free(&b);
	metrics_free(m);
}

static void test_json(void **state)
{
	(void)state;
	struct small s;
	small_build(&s);
	json_t *j = metrics_render_json(s.m);
	assert_non_null(j);

	json_t *fam = json_object_get(j, METRICS_KAFKA_PRODUCED);
	assert_string_equal(json_string_value(json_object_get(fam, "type")), "counter");
	json_t *series = json_object_get(fam, "series");
	assert_int_equal(json_array_size(series), 2);
	json_t *s1 = json_array_get(series, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(s1, "labels"), "topic")),
			    "we\"ird\\to\npic");
	assert_int_equal(json_integer_value(json_object_get(s1, "value")), 7);

	json_t *r = json_object_get(json_object_get(j, "torghut_test_ratio"), "series");
	assert_true(json_real_value(json_object_get(json_array_get(r, 0), "value")) == 0.1);
	assert_true(json_is_null(json_object_get(json_array_get(r, 1), "value"))); /* NaN */

	json_t *h = json_array_get(json_object_get(json_object_get(j, METRICS_LAT_PRODUCE_TO_ACK), "series"), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "count")), 5);
	assert_true(fabs(json_real_value(json_object_get(h, "sum")) - 23.002005) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(h, "p50")) - 0.001) < 0.001 / 64);
	assert_true(json_real_value(json_object_get(h, "max")) == 20.0);
	assert_true(fabs(json_real_value(json_object_get(json_array_get(json_object_get(json_object_get(j,
		METRICS_CHECKPOINT_AGE), "series"), 0), "value")) - 12.5) < 1e-12);
	json_decref(j);
	metrics_free(s.m);
}

static void test_readyz(void **state)
{
	(void)state;
	struct metrics_gate g[4] = {
		{"alpaca_ws", true, NULL},
		{"kafka", true, NULL},
		{"market_data_channels", true, NULL},
		{"checkpoint", true, NULL},
	};
	bool ready = false;
	json_t *j = metrics_readyz_json(g, 4, &ready);
	char *txt = json_dumps(j, JSON_COMPACT);
	assert_true(ready);
	assert_string_equal(txt, "{\"status\":\"ready\",\"ready\":true,\"error_class\":null,\"gates\":"
				 "{\"alpaca_ws\":true,\"kafka\":true,\"market_data_channels\":true,\"checkpoint\":true}}");
	free(txt);
	json_decref(j);

	/* priority: the first failing gate names the class */
	g[3] = (struct metrics_gate){"checkpoint", false, "checkpoint_stale"};
	g[1] = (struct metrics_gate){"kafka", false, "kafka_auth"};
	j = metrics_readyz_json(g, 4, &ready);
	assert_false(ready);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "not_ready");
	assert_string_equal(json_string_value(json_object_get(j, "error_class")), "kafka_auth");
	assert_true(json_is_false(json_object_get(json_object_get(j, "gates"), "checkpoint")));
	json_decref(j);
	g[1].ok = true;
	g[3].error_class = NULL;
	j = metrics_readyz_json(g, 4, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "error_class")), "unknown");
	json_decref(j);
}

/* ---- looplag on a real loop ---- */

struct lagt {
	uv_loop_t loop;
	uv_timer_t stall, end;
	struct looplag *ll;
	int stalls;
	bool closed;
};

static void spin_ms(int ms)
{
	uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000u;
	while (uv_hrtime() < until)
		;
}

static void on_stall(uv_timer_t *t)
{
	struct lagt *x = t->data;
	spin_ms(40); /* a callback that hogs the loop */
	x->stalls++;
}

static void on_lag_closed(void *arg)
{
	((struct lagt *)arg)->closed = true;
}

static void on_end(uv_timer_t *t)
{
	struct lagt *x = t->data;
	uv_close((uv_handle_t *)&x->stall, NULL);
	uv_close((uv_handle_t *)&x->end, NULL);
}

static void test_looplag(void **state)
{
	(void)state;
	struct lagt x = {0};
	struct metrics *m;
	struct hist *lag, *busy;
	struct looplag_stats st;

	assert_int_equal(metrics_new(&m), 0);
	assert_int_equal(metrics_histogram(m, METRICS_LOOP_LAG, NULL, NULL, &lag), 0);
	assert_int_equal(metrics_histogram(m, METRICS_LOOP_BUSY, NULL, NULL, &busy), 0);
	assert_int_equal(uv_loop_init(&x.loop), 0);
	struct looplag_opts o = {.interval_ms = 5, .window_ms = 100000, .busy = true, .lag = lag, .busy_hist = busy};
	assert_int_equal(looplag_new(&x.loop, &o, &x.ll), 0);
	assert_int_equal(metrics_gauge_fn(m, METRICS_LOOP_LAG_MAX, NULL, NULL, looplag_recent_max_seconds, x.ll), 0);

	/* quiet for 100 ms: lag stays small */
	uv_timer_init(&x.loop, &x.end);
	x.end.data = &x;
	uv_timer_start(&x.end, on_end, 100, 0);
	uv_timer_init(&x.loop, &x.stall);
	x.stall.data = &x;
	uv_run(&x.loop, UV_RUN_DEFAULT);
	looplag_stats(x.ll, &st);
	assert_true(st.lag_samples >= 5);
	assert_true(st.lag_max_ns < 50000000); /* small on an idle loop (slack for busy CI) */
	assert_true(st.busy_samples >= 5);
	assert_true(st.busy_max_ns < 50000000);

	/* three 40 ms stalls: both probes see them */
	uv_timer_init(&x.loop, &x.end);
	uv_timer_init(&x.loop, &x.stall);
	uv_timer_start(&x.stall, on_stall, 30, 30);
	uv_timer_start(&x.end, on_end, 200, 0);
	uv_run(&x.loop, UV_RUN_DEFAULT);
	assert_true(x.stalls >= 3);
	looplag_stats(x.ll, &st);
	assert_true(st.lag_max_ns >= 30000000);
	assert_true(st.lag_max_ns < 1000000000);
	assert_true(st.recent_lag_max_ns == st.lag_max_ns);
	assert_true(st.busy_max_ns >= 39000000);
	assert_true(st.busy_p999_ns >= 30000000);
	assert_true(st.lag_p999_ns >= 30000000);
	assert_int_equal(hist_count(lag), st.lag_samples);
	assert_true(fabs(looplag_recent_max_seconds(x.ll) - (double)st.lag_max_ns / 1e9) < 1e-9);

	struct metrics_buf b = {0};
	assert_int_equal(metrics_render_prometheus(m, &b), 0);
	validate(b.data);
	assert_non_null(strstr(b.data, "torghut_loop_lag_seconds_bucket{le=\"0.025\"}"));
	metrics_buf_free(&b);

	looplag_close(x.ll, on_lag_closed, &x);
	uv_run(&x.loop, UV_RUN_DEFAULT);
	assert_true(x.closed);
	assert_int_equal(uv_loop_close(&x.loop), 0);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_rejects),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_registration_rules),
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_readyz),
		cmocka_unit_test(test_looplag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
