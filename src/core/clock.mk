# src/core/clock.mk build fragment: RFC 3339 and the New York calendar.
src_libtorghut_a_SOURCES += src/core/clock.c src/core/clock.h

check_PROGRAMS += tests/unit/core/test_clock
TESTS += tests/unit/core/test_clock
tests_unit_core_test_clock_SOURCES = tests/unit/core/test_clock.c
tests_unit_core_test_clock_CFLAGS = $(TG_TEST_CF)
tests_unit_core_test_clock_LDADD = $(TG_TEST_LIBS)
