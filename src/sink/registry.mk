# src/sink/registry.mk build fragment: the schema registry client (curl multi
# on the loop), the Avro and JSON Schema BACKWARD compatibility checkers and
# their tests.
src_libtorghut_a_SOURCES += src/sink/registry.c src/sink/registry.h \
	src/sink/avro_compat.c src/sink/avro_compat.h \
	src/sink/json_compat.c src/sink/json_compat.h

# The ingest topics' JSON Schemas (wire.md's envelope), installed beside the
# TA .avsc files (schemadir: encode.mk).
dist_schema_DATA += schemas/ingest-trades.json schemas/ingest-quotes.json \
	schemas/ingest-bars-1m.json schemas/ingest-status.json

check_PROGRAMS += tests/unit/sink/test_registry tests/unit/sink/test_avro_compat \
	tests/unit/sink/test_json_compat
TESTS += tests/unit/sink/test_registry tests/unit/sink/test_avro_compat \
	tests/unit/sink/test_json_compat tests/unit/sink/test_schema_compat.sh
EXTRA_DIST += tests/unit/sink/test_schema_compat.sh tests/registry/fake_registry.py \
	schemas/released/ta-bars-1s.avsc schemas/released/ta-signals.avsc \
	schemas/released/ta-status.avsc \
	schemas/released/ingest-trades.json schemas/released/ingest-quotes.json \
	schemas/released/ingest-bars-1m.json schemas/released/ingest-status.json
tests_unit_sink_test_registry_SOURCES = tests/unit/sink/test_registry.c
tests_unit_sink_test_registry_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_registry_LDADD = $(TG_TEST_LIBS)
# test_avro_compat and test_json_compat double as the checker CLIs used by
# test_schema_compat.sh.
tests_unit_sink_test_avro_compat_SOURCES = tests/unit/sink/test_avro_compat.c
tests_unit_sink_test_avro_compat_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_avro_compat_LDADD = $(TG_TEST_LIBS)
tests_unit_sink_test_json_compat_SOURCES = tests/unit/sink/test_json_compat.c
tests_unit_sink_test_json_compat_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_json_compat_LDADD = $(TG_TEST_LIBS)
