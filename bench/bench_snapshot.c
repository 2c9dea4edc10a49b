/* bench_snapshot.c - what a checkpoint costs the loop: the state of N
 * symbols (TA engine with warm indicators and open bars, dedup windows,
 * seq counters) encoded into a snapshot the way the daemon does it (in
 * steps of STEP bytes, the loop running between them; into the buffer of
 * the previous snapshot, whose pages are mapped already; the CRCs on the
 * threadpool), read back and loaded (the restore), for N = 1 k and 10 k.
 *
 * usage: bench_snapshot [--symbols N,...] [--json FILE]
 * Prints a line per N: bytes; the loop's work for one snapshot and its
 * longest step (the longest loop pause), warm (buffer reused) and cold (the
 * first snapshot, a fresh buffer: page faults); the CRCs (off the loop);
 * read+check and load. With --json writes {"snapshot":[{symbols, bytes,
 * encode_ms, step_max_ms, cold_encode_ms, cold_step_max_ms, seal_ms,
 * read_ms, load_ms}, ...]} for the benchmark report. */
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

#define STEP (256u * 1024) /* daemon/checkpoints.c STEP_BYTES */

struct cost {
	int64_t work, step_max, seal;
};

static void timed(struct cost *c, int64_t t0)
{
	int64_t dt = now_ns() - t0;
	c->work += dt;
	if (dt > c->step_max)
		c->step_max = dt;
}

/* As daemon/checkpoints.c: sizes, one buffer, reserve, then steps. *buf
 * holds the previous snapshot's buffer (cap bytes) on entry, or NULL. */
static int encode(const struct state *st, uint8_t **buf, size_t *len, size_t *cap, struct cost *c)
{
	struct snapshot_writer w;
	struct ta_engine_saver ts;
	struct dedup_saver ds;
	memset(c, 0, sizeof(*c));
	int64_t t0 = now_ns();
	ssize_t tl = ta_engine_save_begin(st->eng, 0, &ts), dl = dedup_save_begin(st->dd, &ds);
	int sl = seq_map_save(st->seq, NULL, 0);
	if (tl < 0 || dl < 0 || sl < 0)
		return -EINVAL;
	size_t need = 3 * SNAPSHOT_SECTION_HDR + (size_t)(tl + dl + sl);
	if (!*buf || *cap < need + 4096) {
		free(*buf);
		*cap = need + need / 8 + 4096;
		if (!(*buf = malloc(*cap)))
			return -ENOMEM;
	}
	int rc = snapshot_writer_init_in(&w, *buf, *cap, 1, 0, "exactly-once", "bench");
	*buf = NULL;
	if (rc == 0)
		rc = snapshot_writer_expect(&w, need);
	int64_t d_off = snapshot_writer_reserve_off(&w, SNAPSHOT_SEC_DEDUP, (size_t)dl);
	uint8_t *p = snapshot_writer_reserve(&w, SNAPSHOT_SEC_SEQ, (size_t)sl);
	if (p)
		seq_map_save(st->seq, p, (size_t)sl);
	int64_t t_off = snapshot_writer_reserve_off(&w, SNAPSHOT_SEC_TA_ENGINE, (size_t)tl);
	if (rc < 0 || d_off < 0 || t_off < 0 || !p) {
		snapshot_writer_fini(&w);
		return -ENOMEM;
	}
	timed(c, t0);
	for (rc = 0; rc == 0; timed(c, t0)) {
		t0 = now_ns();
		rc = dedup_save_step(st->dd, &ds, snapshot_writer_at(&w, (size_t)d_off), STEP);
	}
	for (rc = rc == 1 ? 0 : rc; rc == 0; timed(c, t0)) {
		t0 = now_ns();
		rc = ta_engine_save_step(st->eng, &ts, snapshot_writer_at(&w, (size_t)t_off), STEP);
	}
	if (rc < 0) {
		snapshot_writer_fini(&w);
		return rc;
	}
	*cap = w.cap;
	t0 = now_ns();
	rc = snapshot_writer_finish(&w, buf, len);
	c->seal = now_ns() - t0;
	return rc;
}

static struct state make(void)
{
	struct ta_engine_opts o;
	ta_engine_opts_default(&o);
	o.on_bar = nop_bar;
	o.on_signal = nop_sig;
	struct state st = {ta_engine_new(&o), dedup_new(DEDUP_FEED_WINDOW_NS, DEDUP_FEED_ENTRIES), seq_map_new()};
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
		int64_t rd = INT64_MAX, ld = INT64_MAX;
		struct cost warm = {INT64_MAX, INT64_MAX, INT64_MAX}, cold = {0}, c;
		size_t bytes = 0, cap = 0;
		uint8_t *buf = NULL;
		for (int r = 0; r <= ROUNDS; r++) {
			size_t len;
			struct snapshot snap;
			const uint8_t *p;
			size_t n;
			if (encode(&st, &buf, &len, &cap, &c) < 0) {
				fprintf(stderr, "bench_snapshot: encode failed\n");
				return 1;
			}
			if (r == 0) {
				cold = c; /* the first snapshot: a fresh buffer */
			} else {
				warm.work = c.work < warm.work ? c.work : warm.work;
				warm.step_max = c.step_max < warm.step_max ? c.step_max : warm.step_max;
				warm.seal = c.seal < warm.seal ? c.seal : warm.seal;
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
			rd = t2 - t1 < rd ? t2 - t1 : rd;
			ld = t3 - t2 < ld ? t3 - t2 : ld;
			bytes = len;
		}
		free(buf);
		printf("snapshot %6u symbols: %8zu bytes; loop work %6.2f ms in steps of <= %4.2f ms (first snapshot, fresh "
		       "buffer: %6.2f ms, steps <= %4.2f ms); CRCs off the loop %5.2f ms; read+check %5.2f ms, load %6.2f ms\n",
		       nsym, bytes, warm.work / 1e6, warm.step_max / 1e6, cold.work / 1e6, cold.step_max / 1e6,
		       warm.seal / 1e6, rd / 1e6, ld / 1e6);
		if (jf)
			fprintf(jf, "%s{\"symbols\":%u,\"bytes\":%zu,\"encode_ms\":%.3f,\"step_max_ms\":%.3f,"
				"\"cold_encode_ms\":%.3f,\"cold_step_max_ms\":%.3f,\"seal_ms\":%.3f,\"read_ms\":%.3f,"
				"\"load_ms\":%.3f}",
				first ? "" : ",", nsym, bytes, warm.work / 1e6, warm.step_max / 1e6, cold.work / 1e6,
				cold.step_max / 1e6, warm.seal / 1e6, rd / 1e6, ld / 1e6);
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
