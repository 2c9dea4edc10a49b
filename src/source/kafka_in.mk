# src/source/kafka_in.mk build fragment: role=ta's raw ingest topics in, a
# Kafka consumer group member on the loop.
src_libtorghut_a_SOURCES += src/source/kafka_in.c src/source/kafka_in.h

check_PROGRAMS += tests/unit/source/test_kafka_in
TESTS += tests/unit/source/test_kafka_in
tests_unit_source_test_kafka_in_SOURCES = tests/unit/source/test_kafka_in.c
tests_unit_source_test_kafka_in_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_kafka_in_LDADD = $(TG_TEST_LIBS)
