# src/ctl: the control socket (server, protocol, access policy, client).
src_libtorghut_a_SOURCES += \
	src/ctl/proto.c src/ctl/proto.h \
	src/ctl/access.c src/ctl/access.h \
	src/ctl/server.c src/ctl/server.h \
	src/ctl/client.c src/ctl/client.h

check_PROGRAMS += tests/unit/ctl/test_ctl
TESTS += tests/unit/ctl/test_ctl
tests_unit_ctl_test_ctl_SOURCES = tests/unit/ctl/test_ctl.c
tests_unit_ctl_test_ctl_CFLAGS = $(TG_TEST_CF)
tests_unit_ctl_test_ctl_LDADD = $(TG_TEST_LIBS)
