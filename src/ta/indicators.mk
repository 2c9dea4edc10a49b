# src/ta/indicators.mk build fragment: per-symbol indicators (TA-Lib-exact) and their tests.
src_libtorghut_a_SOURCES += \
	src/ta/indicators.c src/ta/indicators.h \
	src/ta/ind_win.c src/ta/ind_win.h \
	src/ta/ind_quote.c src/ta/ind_quote.h \
	src/ta/ind_codec.h

check_PROGRAMS += tests/unit/ta/test_indicators
TESTS += tests/unit/ta/test_indicators
tests_unit_ta_test_indicators_SOURCES = tests/unit/ta/test_indicators.c
tests_unit_ta_test_indicators_CFLAGS = $(TG_TEST_CF)
tests_unit_ta_test_indicators_LDADD = $(TG_TEST_LIBS)
# Golden data from real TA-Lib (tests/golden/gen-talib.sh regenerates it).
EXTRA_DIST += tests/golden/talib.csv tests/golden/gen-talib.sh tests/golden/gen-talib.js
