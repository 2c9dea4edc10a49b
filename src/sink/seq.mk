# src/sink/seq.mk: durable envelope seq counters.
src_libtorghut_a_SOURCES += src/sink/seq.c src/sink/seq.h
check_PROGRAMS += tests/unit/sink/test_seq
TESTS += tests/unit/sink/test_seq
tests_unit_sink_test_seq_SOURCES = tests/unit/sink/test_seq.c
tests_unit_sink_test_seq_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_seq_LDADD = $(TG_TEST_LIBS)
