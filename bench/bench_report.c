/* bench_report - assembles one benchmark run into a results JSON and renders
 * docs/benchmarks.md from it. bench/run drives it; jansson does the JSON, so
 * the driver needs no jq or python.
 *
 *   bench_report compose -o OUT.json --hotpath HP.json
 *                [--meta SECTION.KEY=VALUE]... [--text NAME=FILE]...
 *                [--callgrind DATASET=PREFIX]...
 *       PREFIX.log: the "profile ..." line of bench_hotpath --profile;
 *       PREFIX.self, PREFIX.incl: callgrind_annotate output (self, --inclusive=yes).
 *   bench_report render RESULTS.json [--results-path PATH] [--plot IMG]
 *                [--plot-data FILE]
 *       Markdown on stdout; --plot-data writes "stage ns_nvda ns_sym1k ..." rows
 *       for gnuplot; --plot names the image to link (relative to docs/). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_N 10

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_report: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
		n += r;
		if (cap - n < 2) {
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
			} else {
				b = nb;
			}
		}
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	return b;
}

/* ---- compose ------------------------------------------------------------- */

/* "1,234,567" -> 1234567 */
static double num_commas(const char *s, const char **end)
{
	double v = 0;
	const char *p = s;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
		if (*p != ',')
			v = v * 10 + (*p - '0');
	*end = p;
	return p == s ? -1 : v;
}

/* Lines of callgrind_annotate: "  1,234 (12.34%)  file:function [object]". */
static json_t *annotate_rows(const char *text, bool all)
{
	json_t *rows = json_array();
	bool in_table = false;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), line);
		line = nl ? nl + 1 : NULL;
		if (strstr(buf, "file:function")) {
			in_table = true;
			continue;
		}
		if (!in_table)
			continue;
		const char *p = buf, *e;
		while (*p == ' ')
			p++;
		if (!*p) {
			if (json_array_size(rows))
				break; /* the table ends at the first blank line */
			continue;
		}
		double ir = num_commas(p, &e);
		if (ir < 0)
			continue;
		double pct = NAN;
		while (*e == ' ')
			e++;
		if (*e == '(') {
			pct = strtod(e + 1, NULL);
			const char *q = strchr(e, ')');
			e = q ? q + 1 : e;
		}
		while (*e == ' ')
			e++;
		char where[768];
		snprintf(where, sizeof(where), "%s", e);
		char *obj = strstr(where, " [");
		if (obj)
			*obj = '\0';
		char *colon = strrchr(where, ':');
		const char *fn = colon ? colon + 1 : where;
		const char *file = where;
		if (colon)
			*colon = '\0';
		const char *slash = strrchr(file, '/');
		/* keep "src/..." paths, shorten system headers to their name */
		const char *src = strstr(file, "/src/") ? strstr(file, "/src/") + 1
				  : strstr(file, "/bench/") ? strstr(file, "/bench/") + 1
				  : slash ? slash + 1 : file;
		json_array_append_new(rows, json_pack("{s:f,s:f,s:s,s:s}", "ir", ir, "pct", isnan(pct) ? 0.0 : pct,
						      "file", colon ? src : "", "function", fn));
		if (!all && json_array_size(rows) >= TOP_N)
			break;
	}
	return rows;
}

/* Inclusive cost of fn. A function with inlined header code has one entry
 * per file; the entry of its own file includes the others, so take the max. */
static double incl_of(json_t *rows, const char *fn)
{
	double v = 0;
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r) {
		double x = json_number_value(json_object_get(r, "ir"));
		if (!strcmp(json_string_value(json_object_get(r, "function")), fn) && x > v)
			v = x;
	}
	return v;
}

static json_t *callgrind_obj(const char *prefix)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s.log", prefix);
	char *log = slurp(path);
	snprintf(path, sizeof(path), "%s.self", prefix);
	char *self = slurp(path);
	snprintf(path, sizeof(path), "%s.incl", prefix);
	char *incl = slurp(path);
	if (!log || !self || !incl) {
		free(log);
		free(self);
		free(incl);
		return NULL;
	}
	char stage[64] = "", ds[64] = "", unit[16] = "";
	double ops = 0;
	const char *pl = strstr(log, "profile stage=");
	if (pl)
		sscanf(pl, "profile stage=%63s dataset=%63s ops=%lf unit=%15s", stage, ds, &ops, unit);
	double total = -1;
	const char *pt = strstr(self, "PROGRAM TOTALS");
	if (pt) {
		const char *ls = pt;
		while (ls > self && ls[-1] != '\n')
			ls--;
		while (*ls == ' ')
			ls++;
		const char *e;
		total = num_commas(ls, &e);
	}
	json_t *top = annotate_rows(self, false);
	json_t *all = annotate_rows(incl, true);
	double fp = incl_of(all, "frame_parse"), cb = incl_of(all, "on_parsed_combined");
	double dd = incl_of(all, "dedup_seen"), ta = incl_of(all, "ta_engine_on_event");
	double env = incl_of(all, "envelope_write");
	double av = incl_of(all, "avro_enc_bar") + incl_of(all, "avro_enc_signal");
	json_t *o = json_pack("{s:s,s:s,s:f,s:s,s:f,s:o}", "stage", stage, "dataset", ds, "ops", ops, "unit",
			      unit, "total_ir", total, "top", top);
	if (ops > 0) {
		json_object_set_new(o, "ir_per_op", json_real(total / ops));
		json_t *b = json_object();
		json_object_set_new(b, "parse (frame_parse without its callback)", json_real((fp - cb) / ops));
		double jsmn = 0;
		size_t i;
		json_t *r;
		json_array_foreach(all, i, r) {
			if (!strcmp(json_string_value(json_object_get(r, "file")), "jsmn.h"))
				jsmn += json_number_value(json_object_get(r, "ir"));
		}
		if (jsmn > 0)
			json_object_set_new(b, "... of which jsmn tokenizing (jsmn.h inlined)", json_real(jsmn / ops));
		json_object_set_new(b, "dedup (dedup_seen)", json_real(dd / ops));
		json_object_set_new(b, "TA (ta_engine_on_event, incl. bar closes)", json_real(ta / ops));
		if (env > 0)
			json_object_set_new(b, "envelope_write", json_real(env / ops));
		if (av > 0)
			json_object_set_new(b, "Avro encode", json_real(av / ops));
		json_object_set_new(b, "rest of the callback (event copy, checks)",
				    json_real((cb - dd - ta - env - av) / ops));
		json_object_set_new(o, "breakdown_ir_per_op", b);
		/* the largest callees of parse and TA: what limits each part */
		json_t *tacalls = json_array();
		const char *fns[] = {"microbar_add_trade", "microbar_close_until", "on_closed",
				     "indicators_on_bar", "indicators_on_quote", "tab_get", "clock_ny",
				     "snprintf", "clock_parse_rfc3339", "parse_double"};
		for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++) {
			double v = incl_of(all, fns[k]);
			if (v > 0)
				json_array_append_new(tacalls, json_pack("{s:s,s:f}", "function", fns[k],
									 "ir_per_op", v / ops));
		}
		json_object_set_new(o, "selected_incl_ir_per_op", tacalls);
	}
	json_decref(all);
	free(log);
	free(self);
	free(incl);
	return o;
}

static int compose(int argc, char **argv)
{
	const char *out = NULL, *hp = NULL;
	json_t *root = json_object();
	json_t *texts = json_object(), *cg = json_object();
	json_object_set_new(root, "format", json_string("torghut-bench-results"));
	json_object_set_new(root, "version", json_integer(1));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("missing value after %s", a);
		i++;
		if (!strcmp(a, "-o")) {
			out = v;
		} else if (!strcmp(a, "--hotpath")) {
			hp = v;
		} else if (!strcmp(a, "--meta")) {
			const char *dot = strchr(v, '.'), *eq = strchr(v, '=');
			if (!dot || !eq || dot > eq)
				die("--meta wants SECTION.KEY=VALUE, got %s", v);
			char sec[64], key[128];
			snprintf(sec, sizeof(sec), "%.*s", (int)(dot - v), v);
			snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
			json_t *s = json_object_get(root, sec);
			if (!s) {
				s = json_object();
				json_object_set_new(root, sec, s);
			}
			json_object_set_new(s, key, json_string(eq + 1));
		} else if (!strcmp(a, "--text")) {
			/* the last '=': a name may hold one ("goal <= 20 ms"), a path does not */
			const char *eq = strrchr(v, '=');
			if (!eq)
				die("--text wants NAME=FILE, got %s", v);
			char *t = slurp(eq + 1);
			if (!t)
				die("--text %s: cannot read %s", v, eq + 1); /* never a section silently missing */
			char *name = strndup(v, (size_t)(eq - v));
			if (!name)
				die("out of memory");
			json_object_set_new(texts, name, json_string(t));
			free(name);
			free(t);
		} else if (!strcmp(a, "--callgrind")) {
			const char *eq = strchr(v, '=');
			if (!eq)
				die("--callgrind wants DATASET=PREFIX, got %s", v);
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - v), v);
			json_t *o = callgrind_obj(eq + 1);
			if (!o)
				die("callgrind files missing for %s", eq + 1);
			json_object_set_new(cg, name, o);
		} else {
			die("unknown option %s", a);
		}
	}
	if (!out || !hp)
		die("%s", "compose needs -o and --hotpath");
	json_error_t err;
	json_t *h = json_load_file(hp, 0, &err);
	if (!h)
		die("cannot read hotpath JSON: %s", err.text);
	json_object_set_new(root, "hotpath", h);
	json_object_set_new(root, "texts", texts);
	json_object_set_new(root, "callgrind", cg);
	if (json_dump_file(root, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER) < 0)
		die("cannot write %s", out);
	json_decref(root);
	return 0;
}

/* ---- render -------------------------------------------------------------- */

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "?";
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *find_stage(json_t *stages, const char *ds, const char *st)
{
	size_t i;
	json_t *r;
	json_array_foreach(stages, i, r) {
		if (!strcmp(str(r, "dataset"), ds) && !strcmp(str(r, "stage"), st))
			return r;
	}
	return NULL;
}

static void fmt_ns(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v < 100)
		snprintf(b, n, "%.1f", v);
	else
		snprintf(b, n, "%.0f", v);
}

static void human(char *b, size_t n, double v)
{
	if (v >= 1e9)
		snprintf(b, n, "%.2f G", v / 1e9);
	else if (v >= 1e6)
		snprintf(b, n, "%.1f M", v / 1e6);
	else if (v >= 1e3)
		snprintf(b, n, "%.1f k", v / 1e3);
	else
		snprintf(b, n, "%.0f", v);
}

static void render_stages(json_t *hp, json_t *dsets)
{
	json_t *stages = json_object_get(hp, "stages");
	size_t nds = json_array_size(dsets);
	/* stage order as measured, once per name */
	const char *order[64];
	size_t norder = 0;
	size_t i;
	json_t *r;
	json_array_foreach(stages, i, r) {
		if (!strcmp(str(r, "dataset"), "-"))
			continue;
		bool seen = false;
		for (size_t k = 0; k < norder; k++)
			seen |= !strcmp(order[k], str(r, "stage"));
		if (!seen && norder < 64)
			order[norder++] = str(r, "stage");
	}
	printf("| stage | ns per |");
	for (size_t d = 0; d < nds; d++)
		printf(" %s median (min) ns | %s M/s |", str(json_array_get(dsets, d), "name"),
		       str(json_array_get(dsets, d), "name"));
	printf(" what is timed |\n|---|---|");
	for (size_t d = 0; d < nds; d++)
		printf("---:|---:|");
	printf("---|\n");
	for (size_t k = 0; k < norder; k++) {
		const char *unit = "", *desc = "";
		for (size_t d = 0; d < nds; d++) {
			json_t *x = find_stage(stages, str(json_array_get(dsets, d), "name"), order[k]);
			if (x) {
				unit = str(x, "unit");
				desc = str(x, "desc");
			}
		}
		bool goal = !strcmp(order[k], "combined.f10");
		printf("| %s%s%s | %s |", goal ? "**" : "", order[k], goal ? "**" : "", unit);
		for (size_t d = 0; d < nds; d++) {
			json_t *x = find_stage(stages, str(json_array_get(dsets, d), "name"), order[k]);
			char a[32], b[32];
			if (!x) {
				printf(" - | - |");
				continue;
			}
			fmt_ns(a, sizeof(a), num(x, "ns_median"));
			fmt_ns(b, sizeof(b), num(x, "ns_min"));
			printf(" %s (%s) | %.2f |", a, b, num(x, "mops_median"));
		}
		printf(" %s |\n", desc);
	}
	json_array_foreach(stages, i, r) {
		if (strcmp(str(r, "dataset"), "-"))
			continue;
		char a[32], b[32];
		fmt_ns(a, sizeof(a), num(r, "ns_median"));
		fmt_ns(b, sizeof(b), num(r, "ns_min"));
		printf("\nAlso: `%s` %s ns (min %s) per %s: %s.", str(r, "stage"), a, b, str(r, "unit"),
		       str(r, "desc"));
	}
	printf("\n");
}

static void render_goal(json_t *hp, json_t *dsets)
{
	json_t *stages = json_object_get(hp, "stages");
	double goal = num(hp, "goal_mps");
	printf("| dataset | parse + dedup + TA, frames of 10 (median) | M msgs/s/core (median) | "
	       "M msgs/s/core (best repetition) | goal | status (median vs goal) |\n"
	       "|---|---:|---:|---:|---:|---|\n");
	size_t i;
	json_t *d;
	json_array_foreach(dsets, i, d) {
		json_t *x = find_stage(stages, str(d, "name"), "combined.f10");
		if (!x)
			continue;
		double m = num(x, "mops_median"), best = num(x, "mops_max");
		printf("| %s | %.0f ns/msg | %.2f | %.2f | %.1f | %s (%+.0f %%) |\n", str(d, "name"),
		       num(x, "ns_median"), m, best, goal, m >= goal ? "met" : "**missed**",
		       (m / goal - 1) * 100);
	}
}

/* Isolated stages summed per message against the measured combined stage. */
static void render_budget(json_t *hp, json_t *dsets)
{
	json_t *stages = json_object_get(hp, "stages");
	printf("| dataset | parse.f10 | dedup | engine x dedup'd/msg | sum of parts | combined.f10 | "
	       "engine ns per trade | 1 s bars per trade |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	size_t i;
	json_t *d;
	json_array_foreach(dsets, i, d) {
		const char *n = str(d, "name");
		json_t *p = find_stage(stages, n, "parse.f10"), *dd = find_stage(stages, n, "dedup"),
		       *e = find_stage(stages, n, "engine"), *c = find_stage(stages, n, "combined.f10");
		if (!p || !dd || !e || !c)
			continue;
		double msgs = num(d, "messages");
		double uniq = num(d, "messages") - num(d, "duplicates");
		double ep = num(e, "ns_median") * uniq / msgs;
		double sum = num(p, "ns_median") + num(dd, "ns_median") + ep;
		printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n", n, num(p, "ns_median"),
		       num(dd, "ns_median"), ep, sum, num(c, "ns_median"), num(e, "ns_per_trade_median"),
		       num(e, "bars_per_trade"));
	}
}

static void render_datasets(json_t *dsets)
{
	printf("| dataset | symbols (seen) | messages | B/msg | trades | quotes | minute bars | duplicates | "
	       "1 s bars | session | generated rate |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	size_t i;
	json_t *d;
	json_array_foreach(dsets, i, d) {
		json_t *l = json_object_get(d, "load");
		printf("| %s | %.0f (%.0f) | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f s | %.0f msg/s |\n",
		       str(d, "name"), num(d, "symbols"), num(d, "symbols_seen"), num(d, "messages"),
		       num(d, "bytes_per_msg"), num(d, "trades"), num(d, "quotes"), num(d, "bars_1m"),
		       num(d, "duplicates"), num(l, "bars_1s"), num(d, "session_s"), num(d, "generated_rate"));
	}
}

static void render_memory(json_t *dsets)
{
	printf("| dataset | symbols in engine | engine heap (its own count) | per symbol | malloc delta | "
	       "RSS delta | RSS after |\n|---|---:|---:|---:|---:|---:|---:|\n");
	size_t i;
	json_t *d;
	json_array_foreach(dsets, i, d) {
		json_t *l = json_object_get(d, "load");
		double syms = num(l, "engine_symbols"), mem = num(l, "engine_mem_bytes");
		printf("| %s | %.0f | %.2f MiB | %.0f B | %.2f MiB | %.2f MiB | %.0f MiB |\n", str(d, "name"), syms,
		       mem / 1048576.0, mem / (syms > 0 ? syms : 1), num(l, "heap_delta_bytes") / 1048576.0,
		       num(l, "rss_delta_kb") / 1024.0, num(l, "rss_after_kb") / 1024.0);
	}
}

/* Timed median ns per message of a callgrind part, from isolated stages of
 * the same run: parse.f10, dedup (per event), engine (per non-duplicate). */
static double part_ns(json_t *hp, const char *ds, const char *part)
{
	json_t *stages = json_object_get(hp, "stages"), *d = NULL, *x;
	size_t i;
	json_array_foreach(json_object_get(hp, "datasets"), i, x) {
		if (!strcmp(str(x, "name"), ds))
			d = x;
	}
	if (!d)
		return NAN;
	if (!strncmp(part, "parse (", 7) && (x = find_stage(stages, ds, "parse.f10")))
		return num(x, "ns_median");
	if (!strncmp(part, "dedup (", 7) && (x = find_stage(stages, ds, "dedup")))
		return num(x, "ns_median");
	if (!strncmp(part, "TA (", 4) && (x = find_stage(stages, ds, "engine")))
		return num(x, "ns_median") * (num(d, "messages") - num(d, "duplicates")) / num(d, "messages");
	return NAN;
}

static void render_callgrind(json_t *cg, json_t *hp, double mhz)
{
	const char *name;
	json_t *o;
	json_object_foreach(cg, name, o) {
		char tot[32];
		human(tot, sizeof(tot), num(o, "total_ir"));
		printf("\n### `%s` on %s: %.0f instructions per %s\n\n", str(o, "stage"), str(o, "dataset"),
		       num(o, "ir_per_op"), str(o, "unit"));
		printf("%s instructions over %.0f %ss (whole passes; instrumentation only around them).\n\n", tot,
		       num(o, "ops"), str(o, "unit"));
		json_t *b = json_object_get(o, "breakdown_ir_per_op");
		if (b) {
			printf("| part (inclusive) | instructions per %s | share | timed ns per %s (isolated "
			       "stage, this run) | implied instructions per cycle at %.0f MHz |\n"
			       "|---|---:|---:|---:|---:|\n",
			       str(o, "unit"), str(o, "unit"), mhz);
			const char *k;
			json_t *v;
			json_object_foreach(b, k, v) {
				double ir = json_number_value(v), ns = part_ns(hp, str(o, "dataset"), k);
				char a[32] = "-", c[32] = "-";
				if (!isnan(ns)) {
					fmt_ns(a, sizeof(a), ns);
					if (mhz > 0)
						snprintf(c, sizeof(c), "%.2f", ir / (ns * mhz / 1e3));
				}
				printf("| %s | %.0f | %.1f %% | %s | %s |\n", k, ir, 100 * ir / num(o, "ir_per_op"), a, c);
			}
			printf("\nInstructions per cycle near 3 mean the part is bound by the work it "
			       "executes; well under 1, by waiting for memory. (Timings are medians of other "
			       "repetitions than the profile; the MHz is what the guest reports.)\n");
			json_t *sel = json_object_get(o, "selected_incl_ir_per_op");
			size_t i;
			json_t *r;
			if (json_array_size(sel)) {
				printf("\nSelected functions (inclusive, per %s):", str(o, "unit"));
				bool first = true;
				json_array_foreach(sel, i, r) {
					if (num(r, "ir_per_op") < 1)
						continue;
					printf("%s `%s` %.0f", first ? "" : ";", str(r, "function"), num(r, "ir_per_op"));
					first = false;
				}
				printf(".\n");
			}
		}
		printf("\nTop %d functions by own instructions (`callgrind_annotate`):\n\n"
		       "| # | instructions | share | function | file |\n|---:|---:|---:|---|---|\n", TOP_N);
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(o, "top"), i, r) {
			char ir[32];
			human(ir, sizeof(ir), num(r, "ir"));
			bool jsmn = !strcmp(str(r, "file"), "jsmn.h");
			printf("| %zu | %s | %.2f %% | `%s`%s | %s |\n", i + 1, ir, num(r, "pct"), str(r, "function"),
			       jsmn ? " (jsmn_parse inlined)" : "", str(r, "file"));
		}
	}
}

static int render(int argc, char **argv)
{
	const char *in = NULL, *plot = NULL, *plot_data = NULL, *rpath = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--plot") && i + 1 < argc)
			plot = argv[++i];
		else if (!strcmp(argv[i], "--plot-data") && i + 1 < argc)
			plot_data = argv[++i];
		else if (!strcmp(argv[i], "--results-path") && i + 1 < argc)
			rpath = argv[++i];
		else if (!in)
			in = argv[i];
		else
			die("unknown argument %s", argv[i]);
	}
	if (!in)
		die("%s", "render needs RESULTS.json");
	json_error_t err;
	json_t *root = json_load_file(in, 0, &err);
	if (!root)
		die("cannot read results: %s", err.text);
	json_t *hp = json_object_get(root, "hotpath"), *run = json_object_get(root, "run"),
	       *mach = json_object_get(root, "machine"), *libs = json_object_get(root, "libs");
	json_t *dsets = json_object_get(hp, "datasets");

	if (plot_data) {
		FILE *f = fopen(plot_data, "w");
		if (!f)
			die("cannot write %s", plot_data);
		fprintf(f, "stage");
		size_t i;
		json_t *d;
		json_array_foreach(dsets, i, d) {
			fprintf(f, " %s", str(d, "name"));
		}
		fprintf(f, "\n");
		json_t *st = json_object_get(hp, "stages");
		const char *names[] = {"parse.f1", "parse.f10", "parse.f100", "dedup", "microbar",
				       "microbar.add", "indicators", "engine", "envelope", "avro.bar",
				       "avro.signal", "combined.f10", "ingest.f10"};
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			fprintf(f, "%s", names[k]);
			json_array_foreach(dsets, i, d) {
				json_t *x = find_stage(st, str(d, "name"), names[k]);
				if (x)
					fprintf(f, " %.1f", num(x, "ns_median"));
				else
					fprintf(f, " NaN");
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}

	printf("# Benchmarks\n\n");
	printf("<!-- Generated by bench/run (`make bench` / `make bench-quick`) with bench/bench_report "
	       "from %s. Do not edit: rerun instead. -->\n\n",
	       rpath ? rpath : in);
	printf("All numbers below come from **one run**: `%s` (%s mode, %s, git %s).\n"
	       "Results of every run stay in `bench/results/` (git-ignored); this page shows the last one.\n\n",
	       str(run, "id"), str(run, "mode"), str(run, "date_utc"), str(run, "git"));
	printf("## Reading these numbers\n\n"
	       "- The machine is a small shared VM (below). Absolute timings move by up to 2x between runs "
	       "minutes apart, because of the host, not the code. **Compare ratios within one run**: "
	       "repetitions are interleaved across stages (round r of every stage, then round r + 1), so a "
	       "slow phase of the host hits every stage alike.\n"
	       "- Median of %.0f repetitions (each >= %.2f s of timed work, after >= %.2f s of warm-up), "
	       "min in parentheses. M/s = 1000 / median ns: operations per second on one core.\n"
	       "- Instruction counts (callgrind, full mode) do not depend on the host: use them to compare "
	       "runs and changes.\n"
	       "- Sessions are generated in memory by `replay/generate` (defaults: 2025-01-15 09:25-09:40 New "
	       "York, 60 %% quotes, 0.1 %% duplicate trades, 0.5 %% out of order), parsed once into frames of "
	       "1, 10 and 100 messages. Stateful stages stay warm across passes: each pass moves every event "
	       "time one day on, so windows age out and indicators take their daily reset, as in a long run.\n"
	       "- bench_hotpath took %.0f s; peak RSS %.0f MiB.\n\n",
	       num(hp, "reps"), num(hp, "min_rep_s"), num(hp, "warm_s"), num(hp, "total_s"),
	       num(hp, "peak_rss_kb") / 1024);

	printf("## Machine and build\n\n| | |\n|---|---|\n");
	const char *k;
	json_t *v;
	json_object_foreach(mach, k, v) {
		printf("| %s | %s |\n", k, json_string_value(v));
	}
	json_object_foreach(libs, k, v) {
		printf("| %s | %s |\n", k, json_string_value(v));
	}

	printf("\n## Goal: parse + dedup + TA >= %.1f M msgs/s/core (issue 8)\n\n", num(hp, "goal_mps"));
	render_goal(hp, dsets);
	printf("\nThe budget is %.0f ns per message on one core. Where it goes, per message "
	       "(isolated stages, medians, summed; the engine runs only for non-duplicates):\n\n",
	       1e3 / num(hp, "goal_mps"));
	render_budget(hp, dsets);

	printf("\n## Stages (ns per operation)\n\n");
	render_stages(hp, dsets);
	if (plot)
		printf("\n![median ns per operation by stage and dataset](%s)\n", plot);
	else
		printf("\n(No plot: gnuplot was not installed for this run.)\n");

	printf("\n## Datasets\n\n");
	render_datasets(dsets);

	printf("\n## Memory after loading the TA engine\n\n"
	       "A fresh `ta_engine` takes the whole session once (every symbol gets its 1 s indicators from "
	       "its first trade or quote, 1 m indicators from its first quote or minute bar). Engine heap is "
	       "`ta_engine_stats().mem_bytes`; malloc delta is glibc's in-use bytes before/after "
	       "(mallinfo2); RSS delta is VmRSS after `malloc_trim(0)`, so it undercounts pages that "
	       "were already resident.\n\n");
	render_memory(dsets);

	printf("\n## Instruction profile (callgrind)\n");
	json_t *cg = json_object_get(root, "callgrind");
	if (json_object_size(cg))
		render_callgrind(cg, hp, atof(str(mach, "cpu MHz (reported)")));
	else
		printf("\nNot in this run (quick mode, or valgrind is not installed): `make bench` runs "
		       "callgrind on `combined.f10` over ~1 M messages.\n");

	json_t *texts = json_object_get(root, "texts");
	if (json_object_size(texts)) {
		printf("\n## Other micro-benchmarks (same run)\n");
		json_object_foreach(texts, k, v) {
			printf("\n`%s`:\n\n```\n%s```\n", k, json_string_value(v));
		}
	}

	printf("\n## End-to-end (pending)\n\n"
	       "Not measured yet. The daemon-level load test (issue 8, second part) will run `torghutd` "
	       "against `torghut-replay serve` and a Kafka broker at offered rates, and report delivered "
	       "rate, drops, loop lag and ingest-to-produce latency percentiles (p50/p99/p99.9) per rate. "
	       "The in-process numbers above are the CPU ceiling of that path without TLS, WebSocket "
	       "framing, librdkafka and the loop.\n");

	printf("\n## How to run\n\n"
	       "    mkdir -p /tmp/build-bench && cd /tmp/build-bench\n"
	       "    /path/to/torghut/configure -q CFLAGS=\"-O2 -g\"   # optimized; not --enable-sanitizers\n"
	       "    make bench-quick   # < 1 min: smaller sessions, 3 repetitions, no profile, 5 s end-to-end runs\n"
	       "    make bench         # < 15 min on 2 cores: 5 repetitions, 1 M-message sessions, callgrind,\n"
	       "                       # tuning examples, a 10-minute soak, the end-to-end rate sweep\n\n"
	       "Both write `bench/results/<timestamp>.json` (and `<timestamp>-e2e-*.json`) and regenerate this page "
	       "and its plots in the source tree. "
	       "One stage: `bench/bench_hotpath --quick --datasets nvda --stages parse`; a profile: "
	       "`valgrind --tool=callgrind --instr-atstart=no bench/bench_hotpath --profile combined.f10 "
	       "--dataset sym10k`; one end-to-end point: `bench/e2e-latency.sh BUILD_DIR RATE SECONDS [SYMBOLS]` "
	       "(`E2E_SET=\"key=value ...\"` for a knob, `E2E_HIST=1` for histogram buckets, `E2E_RSS_EVERY=N` for a "
	       "soak).\n");
	json_decref(root);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "compose"))
		return compose(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "render"))
		return render(argc - 2, argv + 2);
	fprintf(stderr, "usage: bench_report compose -o OUT.json --hotpath HP.json [--meta S.K=V]... "
			"[--text NAME=FILE]... [--callgrind DS=PREFIX]...\n"
			"       bench_report render RESULTS.json [--results-path P] [--plot IMG] [--plot-data F]\n");
	return 2;
}
