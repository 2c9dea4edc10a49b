# src/net/curlm: libcurl's multi interface on the uv loop, and curlreq, the
# per-request part its HTTP clients share (the S3 checkpoint store and the
# schema registry; any curl client on the loop may use them).
src_libtorghut_a_SOURCES += src/net/curlm.c src/net/curlm.h \
	src/net/curlreq.c src/net/curlreq.h

check_PROGRAMS += tests/unit/net/test_curlm
TESTS += tests/unit/net/test_curlm
tests_unit_net_test_curlm_SOURCES = tests/unit/net/test_curlm.c
tests_unit_net_test_curlm_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_curlm_LDADD = $(TG_TEST_LIBS)
