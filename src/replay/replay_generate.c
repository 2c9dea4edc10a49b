/* replay_generate.c - `torghut-replay generate`: options in, recording out. */
#include "config.h"

#include "replay/replay_generate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/generate.h"

static void usage(FILE *f)
{
	fputs("usage: torghut-replay generate [options]\n"
	      "Writes a deterministic synthetic Alpaca session as a JSONL recording.\n"
	      "  --seed N           PRNG seed (default 1)\n"
	      "  --symbol SYM       first (or only) symbol (default NVDA)\n"
	      "  --symbols N        N symbols: SYM plus synthetic XAAAB, XAAAC, ... (max 100000)\n"
	      "  --date YYYY-MM-DD  New York trading date (default 2025-01-15)\n"
	      "  --minutes M        regular-session minutes after 09:30 (default 10)\n"
	      "  --premarket M      pre-market minutes before 09:30 (default 5)\n"
	      "  --start HH:MM      session start, New York time (overrides --premarket)\n"
	      "  --end HH:MM        session end, New York time (overrides --minutes)\n"
	      "  --rate R           baseline trades+quotes per second, all symbols\n"
	      "                     (default 50, or 0.5 per symbol with --symbols)\n"
	      "  --messages N       aim for about N trades+quotes (overrides --rate)\n"
	      "  --quote-share F    fraction of events that are quotes (default 0.6)\n"
	      "  --dup-rate F       fraction of trades duplicated (default 0.001)\n"
	      "  --ooo-rate F       fraction of trades sent out of order (default 0.005)\n"
	      "  --ooo-max-ms MS    bound on timestamp disorder (default 1500)\n"
	      "  --price P          start price of the first symbol (default 136)\n"
	      "  --updated-bars     bars leave out late trades; send \"u\" bars for them\n"
	      "  --vary-digits      trim trailing zeros of fractional seconds\n"
	      "  --fakepaca         FAKEPACA test-stream slice: a quote every ~5 s, minute bars\n"
	      "  --out FILE         output file (default stdout; written via FILE.tmp)\n"
	      "  --quiet            no summary on stderr\n",
	      f);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || v != v)
		return false;
	*out = v;
	return true;
}

static bool parse_date(const char *s, int32_t *out)
{
	unsigned y, m, d;
	char tail;
	if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3)
		return false;
	*out = (int32_t)(y * 10000 + m * 100 + d);
	return true;
}

static bool parse_hhmm(const char *s, int32_t *sec)
{
	unsigned h, m;
	char tail;
	if (!s || strlen(s) != 5 || sscanf(s, "%2u:%2u%c", &h, &m, &tail) != 2 || m > 59 ||
	    h * 60 + m > 24 * 60)
		return false;
	*sec = (int32_t)(h * 3600 + m * 60);
	return true;
}

int replay_generate_main(int argc, char **argv)
{
	struct generate_opts o;
	generate_opts_default(&o);
	const char *out_path = NULL;
	bool quiet = false, have_rate = false, have_start = false, have_end = false;
	uint64_t minutes = 10, premarket = 5, nsym = 1;
	int32_t start = 0, end = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		char name[32];
		const char *eq = strchr(a, '=');
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "torghut-replay generate: unexpected argument '%s'\n", a);
			return 2;
		}
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
		}
		bool flag = !strcmp(name, "--updated-bars") || !strcmp(name, "--vary-digits") ||
			    !strcmp(name, "--fakepaca") || !strcmp(name, "--quiet") ||
			    !strcmp(name, "--help");
		if (flag && val) {
			fprintf(stderr, "torghut-replay generate: %s takes no value\n", name);
			return 2;
		}
		if (!flag && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "torghut-replay generate: %s needs a value\n", name);
				return 2;
			}
			val = argv[++i];
		}
		uint64_t u = 0;
		double d = 0;
		bool ok = true;
		if (!strcmp(name, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(name, "--updated-bars")) {
			o.updated_bars = true;
		} else if (!strcmp(name, "--vary-digits")) {
			o.vary_digits = true;
		} else if (!strcmp(name, "--fakepaca")) {
			o.fakepaca = true;
		} else if (!strcmp(name, "--quiet")) {
			quiet = true;
		} else if (!strcmp(name, "--seed")) {
			ok = parse_u64(val, UINT64_MAX, &o.seed);
		} else if (!strcmp(name, "--symbol")) {
			o.symbol = val;
		} else if (!strcmp(name, "--symbols")) {
			ok = parse_u64(val, GENERATE_MAX_SYMBOLS, &nsym) && nsym >= 1;
		} else if (!strcmp(name, "--date")) {
			ok = parse_date(val, &o.date);
		} else if (!strcmp(name, "--minutes")) {
			ok = parse_u64(val, 24 * 60, &minutes) && minutes >= 1;
		} else if (!strcmp(name, "--premarket")) {
			ok = parse_u64(val, 9 * 60 + 30, &premarket);
		} else if (!strcmp(name, "--start")) {
			ok = parse_hhmm(val, &start);
			have_start = true;
		} else if (!strcmp(name, "--end")) {
			ok = parse_hhmm(val, &end);
			have_end = true;
		} else if (!strcmp(name, "--rate")) {
			ok = parse_double(val, &o.rate) && o.rate > 0;
			have_rate = true;
		} else if (!strcmp(name, "--messages")) {
			ok = parse_u64(val, UINT64_MAX, &o.messages) && o.messages > 0;
		} else if (!strcmp(name, "--quote-share")) {
			ok = parse_double(val, &o.quote_share);
		} else if (!strcmp(name, "--dup-rate")) {
			ok = parse_double(val, &o.dup_rate);
		} else if (!strcmp(name, "--ooo-rate")) {
			ok = parse_double(val, &o.ooo_rate);
		} else if (!strcmp(name, "--ooo-max-ms")) {
			ok = parse_u64(val, 3600000, &u);
			o.ooo_max_ns = (int64_t)u * 1000000;
		} else if (!strcmp(name, "--price")) {
			ok = parse_double(val, &d);
			o.start_price = d;
		} else if (!strcmp(name, "--out")) {
			out_path = val;
		} else {
			fprintf(stderr, "torghut-replay generate: unknown option %s\n", name);
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "torghut-replay generate: bad value for %s: '%s'\n", name, val);
			return 2;
		}
	}
	o.nsymbols = (uint32_t)nsym;
	o.start_sec = have_start ? start : 9 * 3600 + 30 * 60 - (int32_t)premarket * 60;
	o.end_sec = have_end ? end : 9 * 3600 + 30 * 60 + (int32_t)minutes * 60;
	if (o.end_sec > 86400)
		o.end_sec = 86400;
	if (!have_rate && nsym > 1 && (double)nsym * 0.5 > o.rate)
		o.rate = (double)nsym * 0.5;

	FILE *f = stdout;
	char tmp[4096];
	if (out_path && strcmp(out_path, "-") != 0) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp)) {
			fprintf(stderr, "torghut-replay generate: output path too long\n");
			return 2;
		}
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "torghut-replay generate: %s: %s\n", tmp, strerror(errno));
			return 1;
		}
		setvbuf(f, NULL, _IOFBF, 1 << 20);
	} else {
		out_path = NULL;
	}

	struct generate_stats st;
	char err[256];
	int rc = generate_run(&o, f, &st, err, sizeof(err));
	if (rc == -EINVAL) {
		fprintf(stderr, "torghut-replay generate: %s\n", err);
		if (out_path) {
			fclose(f);
			remove(tmp);
		}
		return 2;
	}
	int close_rc = out_path ? fclose(f) : fflush(f);
	if (rc == 0 && close_rc != 0)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "torghut-replay generate: %s\n", rc == -EIO ? strerror(EIO) : err);
		if (out_path)
			remove(tmp);
		return 1;
	}
	if (out_path && rename(tmp, out_path) != 0) {
		fprintf(stderr, "torghut-replay generate: rename to %s: %s\n", out_path, strerror(errno));
		remove(tmp);
		return 1;
	}
	if (!quiet)
		fprintf(stderr,
			"torghut-replay generate: %" PRIu64 " messages (%" PRIu64 " trades incl. %" PRIu64
			" duplicates, %" PRIu64 " out of order; %" PRIu64 " quotes; %" PRIu64 " bars, %" PRIu64
			" updated bars) to %s\n",
			st.messages, st.trades, st.duplicates, st.out_of_order, st.quotes, st.bars,
			st.updated_bars, out_path ? out_path : "stdout");
	return 0;
}
