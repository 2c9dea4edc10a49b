# src/ta/engine.mk build fragment: the TA engine (watermark + micro-bars +
# indicators -> TaBar1s, TaSignal, TaStatus records).
src_libtorghut_a_SOURCES += src/ta/engine.c src/ta/engine.h

check_PROGRAMS += tests/unit/ta/test_engine
TESTS += tests/unit/ta/test_engine
tests_unit_ta_test_engine_SOURCES = tests/unit/ta/test_engine.c
tests_unit_ta_test_engine_CFLAGS = $(TG_TEST_CF)
tests_unit_ta_test_engine_LDADD = $(TG_TEST_LIBS)
