# bench build fragment: hot-path micro-benchmarks and the report.
#   bench/bench_hotpath  ns/op of every hot-path stage on generated sessions (JSON out)
#   bench/bench_report   merges a run into bench/results/<timestamp>.json, renders
#                        docs/benchmarks.md from it (jansson; no jq/python needed)
#   bench/run            the driver behind `make bench` and `make bench-quick`
# Results and docs/benchmarks.md go to the source tree; build out of tree with
# optimization (docs/benchmarks.md says how).
noinst_PROGRAMS += bench/bench_hotpath bench/bench_report
bench_bench_hotpath_SOURCES = bench/bench_hotpath.c
bench_bench_hotpath_LDADD = $(TG_PROG_LIBS)
bench_bench_report_SOURCES = bench/bench_report.c
bench_bench_report_LDADD = $(TG_PROG_LIBS)

dist_noinst_SCRIPTS += bench/run bench/e2e-latency.sh bench/e2e-report.py bench/restart.sh
EXTRA_DIST += bench/.gitignore docs/benchmarks.md

BENCH_BINS = bench/bench_hotpath bench/bench_report bench/bench_frame bench/bench_hist bench/bench_snapshot \
	src/torghutd src/torghutctl src/torghut-replay src/cmd/torghut-kafka-mock
BENCH_ENV = BENCH_SRCDIR='$(abs_top_srcdir)' BENCH_BUILDDIR='$(abs_top_builddir)' \
	BENCH_CC='$(CC)' BENCH_CFLAGS='$(CFLAGS)'

.PHONY: bench bench-quick
# Full: < 15 min on 2 cores: callgrind (when valgrind is installed), tuning examples,
# a 10-minute soak, the end-to-end rate sweep.
bench: $(BENCH_BINS)
	$(BENCH_ENV) $(SHELL) '$(abs_top_srcdir)/bench/run' full
# Quick: short repetitions, smaller sessions, no profile, 5 s end-to-end runs (< 1 min).
bench-quick: $(BENCH_BINS)
	$(BENCH_ENV) $(SHELL) '$(abs_top_srcdir)/bench/run' quick
# The plots and the last run's JSON that docs/benchmarks.md links to.
EXTRA_DIST += docs/bench/last-run.json docs/bench/stages.png docs/bench/latency-vs-rate.png \
	docs/bench/latency-hist-100k.png docs/bench/rss-soak.png
