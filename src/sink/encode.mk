# src/sink/encode.mk build fragment: TA record structs, Avro encoding, JSON envelopes.
src_libtorghut_a_SOURCES += src/ta/record.h \
	src/sink/avro.c src/sink/avro.h \
	src/sink/envelope.c src/sink/envelope.h

# The TA value schemas (wire.md); installed for the schema registry client.
schemadir = $(pkgdatadir)/schemas
dist_schema_DATA = schemas/ta-bars-1s.avsc schemas/ta-signals.avsc schemas/ta-status.avsc

check_PROGRAMS += tests/unit/sink/test_avro tests/unit/sink/test_envelope
TESTS += tests/unit/sink/test_avro tests/unit/sink/test_envelope tests/unit/sink/test_schemas.sh
EXTRA_DIST += tests/unit/sink/test_schemas.sh
tests_unit_sink_test_avro_SOURCES = tests/unit/sink/test_avro.c
tests_unit_sink_test_avro_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_avro_LDADD = $(TG_TEST_LIBS)
tests_unit_sink_test_envelope_SOURCES = tests/unit/sink/test_envelope.c
tests_unit_sink_test_envelope_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_envelope_LDADD = $(TG_TEST_LIBS)
