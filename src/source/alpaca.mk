# src/source/alpaca.mk: the Alpaca session state machine (socket-free).
src_libtorghut_a_SOURCES += \
	src/source/alpaca.c src/source/alpaca.h \
	src/source/alpaca_backoff.c src/source/alpaca_backoff.h \
	src/source/alpaca_subs.c src/source/alpaca_subs.h

check_PROGRAMS += tests/unit/source/test_alpaca
TESTS += tests/unit/source/test_alpaca
tests_unit_source_test_alpaca_SOURCES = tests/unit/source/test_alpaca.c
tests_unit_source_test_alpaca_CFLAGS = $(TG_TEST_CF)
tests_unit_source_test_alpaca_LDADD = $(TG_TEST_LIBS)
