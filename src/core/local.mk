# src/core: the loop's basics every module may use.
src_libtorghut_a_SOURCES += \
	src/core/log.c src/core/log.h \
	src/core/conf.c src/core/conf.h \
	src/core/conf_parse.c src/core/conf_parse.h \
	src/core/notify.c src/core/notify.h \
	src/core/hugemem.c src/core/hugemem.h \
	src/core/bytes.h

check_PROGRAMS += tests/unit/core/test_conf
TESTS += tests/unit/core/test_conf
tests_unit_core_test_conf_SOURCES = tests/unit/core/test_conf.c
tests_unit_core_test_conf_CFLAGS = $(TG_TEST_CF)
tests_unit_core_test_conf_LDADD = $(TG_TEST_LIBS)
