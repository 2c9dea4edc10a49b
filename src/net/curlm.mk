# src/net/curlm: libcurl's multi interface on the uv loop (used by the S3
# checkpoint store; any curl client on the loop may use it).
src_libtorghut_a_SOURCES += src/net/curlm.c src/net/curlm.h

check_PROGRAMS += tests/unit/net/test_curlm
TESTS += tests/unit/net/test_curlm
tests_unit_net_test_curlm_SOURCES = tests/unit/net/test_curlm.c
tests_unit_net_test_curlm_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_curlm_LDADD = $(TG_TEST_LIBS)
