# src/sink/kafka.mk build fragment: the Kafka producer on the loop, the
# embedded mock cluster and its stand-alone helper.
src_libtorghut_a_SOURCES += src/sink/kafka.c src/sink/kafka.h src/sink/kafka_int.h \
	src/sink/kafka_conf.c src/sink/kafka_txn.c src/sink/kafka_topics.c \
	src/sink/kafka_mock.c src/sink/kafka_mock.h \
	src/sink/kafka_markers.c src/sink/kafka_markers.h

# Used by system tests so the cluster outlives the daemon; not installed.
noinst_PROGRAMS += src/cmd/torghut-kafka-mock
src_cmd_torghut_kafka_mock_SOURCES = src/cmd/torghut-kafka-mock.c
src_cmd_torghut_kafka_mock_LDADD = $(TG_PROG_LIBS)

check_PROGRAMS += tests/unit/sink/test_kafka tests/unit/sink/test_kafka_txn \
	tests/unit/sink/test_kafka_topics tests/unit/sink/test_kafka_markers
TESTS += tests/unit/sink/test_kafka tests/unit/sink/test_kafka_txn \
	tests/unit/sink/test_kafka_topics tests/unit/sink/test_kafka_markers
tests_unit_sink_test_kafka_markers_SOURCES = tests/unit/sink/test_kafka_markers.c tests/unit/sink/test_kafka_util.h
tests_unit_sink_test_kafka_markers_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_kafka_markers_LDADD = $(TG_TEST_LIBS)
tests_unit_sink_test_kafka_SOURCES = tests/unit/sink/test_kafka.c tests/unit/sink/test_kafka_util.h
tests_unit_sink_test_kafka_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_kafka_LDADD = $(TG_TEST_LIBS)
tests_unit_sink_test_kafka_txn_SOURCES = tests/unit/sink/test_kafka_txn.c tests/unit/sink/test_kafka_util.h
tests_unit_sink_test_kafka_txn_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_kafka_txn_LDADD = $(TG_TEST_LIBS)
tests_unit_sink_test_kafka_topics_SOURCES = tests/unit/sink/test_kafka_topics.c tests/unit/sink/test_kafka_util.h
tests_unit_sink_test_kafka_topics_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_kafka_topics_LDADD = $(TG_TEST_LIBS)
