# src/ta/bars.mk build fragment: event-time watermark and 1 s micro-bars.
src_libtorghut_a_SOURCES += src/ta/watermark.c src/ta/watermark.h \
	src/ta/microbar.c src/ta/microbar.h

check_PROGRAMS += tests/unit/ta/test_watermark tests/unit/ta/test_microbar
TESTS += tests/unit/ta/test_watermark tests/unit/ta/test_microbar
tests_unit_ta_test_watermark_SOURCES = tests/unit/ta/test_watermark.c
tests_unit_ta_test_watermark_CFLAGS = $(TG_TEST_CF)
tests_unit_ta_test_watermark_LDADD = $(TG_TEST_LIBS)
tests_unit_ta_test_microbar_SOURCES = tests/unit/ta/test_microbar.c
tests_unit_ta_test_microbar_CFLAGS = $(TG_TEST_CF)
tests_unit_ta_test_microbar_LDADD = $(TG_TEST_LIBS)
