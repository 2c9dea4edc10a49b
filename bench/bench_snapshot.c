/* bench_snapshot.c - what a checkpoint costs the loop: the state of N
 * symbols (TA engine with warm indicators and open bars, dedup windows,
 * seq counters) encoded into a snapshot (the loop pause of each
 * checkpoint), read back and loaded (the restore), for N = 1 k and 10 k.
 *
 * usage: bench_snapshot [--symbols N,...] [--json FILE]
 * Prints a line per N; with --json writes {"snapshot":[{symbols, bytes,
 * encode_ms, read_ms, load_ms}, ...]} for the benchmark report. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "sink/seq.h"
#include "source/dedup.h"
#include "state/snapshot.h"
#include "ta/engine.h"

#define SECONDS 40  /* > the MACD warm-up: every indicator holds state */
#define PER_SEC 3   /* trades per symbol and second, plus one quote */
#define ROUNDS 5

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nop_bar(void *arg, const struct ta_bar_rec *b)
{
}
static void nop_sig(void *arg, const struct ta_signal_rec *s)
{
}

struct state {
	struct ta_engine *eng;
	struct dedup *dd;
	struct seq_map *seq;
};

static void fill(struct state *st, unsigned nsym)
{
	const int64_t t0 = 1736951400LL * 1000000000; /* 2025-01-15 14:30 UTC */
	int64_t id = 1;
	for (int s = 0; s < SECONDS; s++)
		for (unsigned k = 0; k < nsym; k++)
			for (int j = 0; j <= PER_SEC; j++) {
				struct event e = {0};
				e.kind = j < PER_SEC ? EVENT_TRADE : EVENT_QUOTE;
				e.symbol_len = (uint8_t)snprintf(e.symbol, sizeof(e.symbol), "S%05u", k);
				e.t_ns = t0 + (int64_t)s * 1000000000 + (int64_t)j * 200000000 + k;
				e.recv_real_ns = e.t_ns;
				e.recv_mono_ns = 1000000000 + e.t_ns - t0;
				if (e.kind == EVENT_TRADE) {
					e.u.trade.id = id++;
					e.u.trade.price = 100 + (double)((s * 7 + j * 3 + k) % 50) / 10;
					e.u.trade.size = 1 + (k + j) % 9;
				} else {
					e.u.quote.bid_px = 100;
					e.u.quote.ask_px = 100.02;
					e.u.quote.bid_sz = e.u.quote.ask_sz = 3;
				}
				dedup_seen(st->dd, &e);
				seq_map_next(st->seq, (unsigned)e.kind, e.symbol);
				ta_engine_on_event(st->eng, &e, e.recv_mono_ns, e.recv_real_ns);
			}
}

static int encode(const struct state *st, uint8_t **buf, size_t *len)
{
	struct snapshot_writer w;
	uint8_t *p;
	int rc = snapshot_writer_init(&w, 1, 0, "exactly-once", "bench");
	ssize_t n = ta_engine_save(st->eng, 0, NULL, 0);
	if (rc == 0 && n > 0 && (p = snapshot_writer_reserve(&w, SNAPSHOT_SEC_TA_ENGINE, (size_t)n)))
		ta_engine_save(st->eng, 0, p, (size_t)n);
	n = dedup_save(st->dd, NULL, 0);
	if (rc == 0 && n > 0 && (p = snapshot_writer_reserve(&w, SNAPSHOT_SEC_DEDUP, (size_t)n)))
		dedup_save(st->dd, p, (size_t)n);
	int m = seq_map_save(st->seq, NULL, 0);
	if (rc == 0 && m > 0 && (p = snapshot_writer_reserve(&w, SNAPSHOT_SEC_SEQ, (size_t)m)))
		seq_map_save(st->seq, p, (size_t)m);
	return rc ? rc : snapshot_writer_finish(&w, buf, len);
}

static struct state make(void)
{
	struct ta_engine_opts o;
	ta_engine_opts_default(&o);
	o.on_bar = nop_bar;
	o.on_signal = nop_sig;
	struct state st = {ta_engine_new(&o), dedup_new(120LL * 1000000000, 262144), seq_map_new()};
	if (!st.eng || !st.dd || !st.seq) {
		fprintf(stderr, "bench_snapshot: out of memory\n");
		exit(1);
	}
	return st;
}

static void drop(struct state *st)
{
	ta_engine_free(st->eng);
	dedup_free(st->dd);
	seq_map_free(st->seq);
}

int main(int argc, char **argv)
{
	const char *list = "1000,10000", *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--symbols") && i + 1 < argc)
			list = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else {
			fprintf(stderr, "usage: bench_snapshot [--symbols N,...] [--json FILE]\n");
			return 2;
		}
	}
	FILE *jf = json ? fopen(json, "w") : NULL;
	if (json && !jf) {
		fprintf(stderr, "bench_snapshot: %s: %s\n", json, strerror(errno));
		return 1;
	}
	if (jf)
		fprintf(jf, "{\"snapshot\":[");
	char *copy = strdup(list), *save = NULL;
	int first = 1;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned nsym = (unsigned)strtoul(tok, NULL, 10);
		struct state st = make(), back = make();
		fill(&st, nsym);
		if (getenv("BENCH_SECTIONS"))
			fprintf(stderr, "sections: ta %zd dedup %zd seq %d bytes\n", ta_engine_save(st.eng, 0, NULL, 0),
				dedup_save(st.dd, NULL, 0), seq_map_save(st.seq, NULL, 0));
		int64_t enc = INT64_MAX, rd = INT64_MAX, ld = INT64_MAX;
		size_t bytes = 0;
		for (int r = 0; r < ROUNDS; r++) {
			uint8_t *buf;
			size_t len;
			struct snapshot snap;
			const uint8_t *p;
			size_t n;
			int64_t t0 = now_ns();
			if (encode(&st, &buf, &len) < 0) {
				fprintf(stderr, "bench_snapshot: encode failed\n");
				return 1;
			}
			int64_t t1 = now_ns();
			if (snapshot_read(buf, len, &snap, NULL, 0) < 0)
				return 1;
			int64_t t2 = now_ns();
			if (snapshot_section(&snap, SNAPSHOT_SEC_TA_ENGINE, &p, &n) < 0 || ta_engine_load(back.eng, 0, p, n) < 0 ||
			    snapshot_section(&snap, SNAPSHOT_SEC_DEDUP, &p, &n) < 0 || dedup_load(back.dd, p, n) < 0 ||
			    snapshot_section(&snap, SNAPSHOT_SEC_SEQ, &p, &n) < 0 || seq_map_load(back.seq, p, n) < 0) {
				fprintf(stderr, "bench_snapshot: load failed\n");
				return 1;
			}
			int64_t t3 = now_ns();
			enc = t1 - t0 < enc ? t1 - t0 : enc;
			rd = t2 - t1 < rd ? t2 - t1 : rd;
			ld = t3 - t2 < ld ? t3 - t2 : ld;
			bytes = len;
			free(buf);
		}
		printf("snapshot %6u symbols: %8zu bytes, encode %7.2f ms (the loop pause), read+check %6.2f ms, load %7.2f ms\n",
		       nsym, bytes, enc / 1e6, rd / 1e6, ld / 1e6);
		if (jf)
			fprintf(jf, "%s{\"symbols\":%u,\"bytes\":%zu,\"encode_ms\":%.3f,\"read_ms\":%.3f,\"load_ms\":%.3f}",
				first ? "" : ",", nsym, bytes, enc / 1e6, rd / 1e6, ld / 1e6);
		first = 0;
		drop(&st);
		drop(&back);
	}
	free(copy);
	if (jf) {
		fprintf(jf, "]}\n");
		fclose(jf);
	}
	return 0;
}
