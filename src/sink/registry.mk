# src/sink/registry.mk build fragment: the schema registry client (curl multi
# on the loop), the Avro BACKWARD compatibility checker and their tests.
src_libtorghut_a_SOURCES += src/sink/registry.c src/sink/registry.h \
	src/sink/avro_compat.c src/sink/avro_compat.h

check_PROGRAMS += tests/unit/sink/test_registry tests/unit/sink/test_avro_compat
TESTS += tests/unit/sink/test_registry tests/unit/sink/test_avro_compat \
	tests/unit/sink/test_schema_compat.sh
EXTRA_DIST += tests/unit/sink/test_schema_compat.sh tests/registry/fake_registry.py \
	schemas/released/ta-bars-1s.avsc schemas/released/ta-signals.avsc \
	schemas/released/ta-status.avsc
tests_unit_sink_test_registry_SOURCES = tests/unit/sink/test_registry.c
tests_unit_sink_test_registry_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_registry_LDADD = $(TG_TEST_LIBS)
# test_avro_compat doubles as the checker CLI used by test_schema_compat.sh.
tests_unit_sink_test_avro_compat_SOURCES = tests/unit/sink/test_avro_compat.c
tests_unit_sink_test_avro_compat_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_avro_compat_LDADD = $(TG_TEST_LIBS)
