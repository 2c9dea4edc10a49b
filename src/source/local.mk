# src/source build fragment: Alpaca frame parser and dedup.
src_libtorghut_a_SOURCES += \
	src/source/frame.c src/source/frame.h \
	src/source/dedup.c src/source/dedup.h

check_PROGRAMS += tests/unit/source/test_frame tests/unit/source/test_dedup
TESTS += tests/unit/source/test_frame tests/unit/source/test_dedup
tests_unit_source_test_frame_SOURCES = tests/unit/source/test_frame.c
tests_unit_source_test_frame_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_frame_LDADD = $(TG_TEST_LIBS)
tests_unit_source_test_dedup_SOURCES = tests/unit/source/test_dedup.c
tests_unit_source_test_dedup_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_dedup_LDADD = $(TG_TEST_LIBS)

# Parse throughput, jsmn path versus jansson: run bench/bench_frame.
noinst_PROGRAMS += bench/bench_frame
bench_bench_frame_SOURCES = bench/bench_frame.c
bench_bench_frame_LDADD = $(TG_PROG_LIBS)

# alpaca.record.file: received frames as a replayable recording.
src_libtorghut_a_SOURCES += src/source/recorder.c src/source/recorder.h
check_PROGRAMS += tests/unit/source/test_recorder
TESTS += tests/unit/source/test_recorder
tests_unit_source_test_recorder_SOURCES = tests/unit/source/test_recorder.c
tests_unit_source_test_recorder_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_recorder_LDADD = $(TG_TEST_LIBS)

# Ingest envelopes read back into events: role=ta's input.
src_libtorghut_a_SOURCES += src/source/envelope_in.c src/source/envelope_in.h
check_PROGRAMS += tests/unit/source/test_envelope_in
TESTS += tests/unit/source/test_envelope_in
tests_unit_source_test_envelope_in_SOURCES = tests/unit/source/test_envelope_in.c
tests_unit_source_test_envelope_in_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_envelope_in_LDADD = $(TG_TEST_LIBS)

# role=ta: the raw ingest topics in.
include $(top_srcdir)/src/source/kafka_in.mk
