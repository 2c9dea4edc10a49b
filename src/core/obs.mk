# src/core/obs.mk build fragment: observability.
#   core/hist     log-linear latency histogram (ns), fixed Prometheus buckets
#   core/metrics  the registry, Prometheus text and JSON, the /readyz body
#   core/looplag  loop stall probe (timer lag, per-iteration busy time)
#   net/http      the HTTP/1.1 server for /metrics, /healthz, /readyz
src_libtorghut_a_SOURCES += \
	src/core/hist.c src/core/hist.h \
	src/core/metrics.c src/core/metrics.h \
	src/core/looplag.c src/core/looplag.h \
	src/net/http.c src/net/http.h

check_PROGRAMS += tests/unit/core/test_hist tests/unit/core/test_metrics tests/unit/net/test_http
TESTS += tests/unit/core/test_hist tests/unit/core/test_metrics tests/unit/net/test_http
tests_unit_core_test_hist_SOURCES = tests/unit/core/test_hist.c
tests_unit_core_test_hist_CFLAGS = $(TG_TEST_CF)
tests_unit_core_test_hist_LDADD = $(TG_TEST_LIBS)
tests_unit_core_test_metrics_SOURCES = tests/unit/core/test_metrics.c
tests_unit_core_test_metrics_CFLAGS = $(TG_TEST_CF)
tests_unit_core_test_metrics_LDADD = $(TG_TEST_LIBS)
tests_unit_net_test_http_SOURCES = tests/unit/net/test_http.c
tests_unit_net_test_http_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_http_LDADD = $(TG_TEST_LIBS)

# ns per hist_record: run bench/bench_hist.
noinst_PROGRAMS += bench/bench_hist
bench_bench_hist_SOURCES = bench/bench_hist.c
bench_bench_hist_LDADD = $(TG_PROG_LIBS)
