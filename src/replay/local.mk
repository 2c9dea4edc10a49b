# src/replay build fragment (data side): recording format, session generator,
# pacing, send log, and the torghut-replay program. The network side (server,
# session rules, faults) is in server.mk.
src_libtorghut_a_SOURCES += \
	src/replay/prng.h \
	src/replay/recording.c src/replay/recording.h \
	src/replay/generate.c src/replay/generate.h \
	src/replay/replay_generate.c src/replay/replay_generate.h \
	src/replay/schedule.c src/replay/schedule.h \
	src/replay/sendlog.c src/replay/sendlog.h

bin_PROGRAMS += src/torghut-replay
src_torghut_replay_SOURCES = src/cmd/torghut-replay.c
src_torghut_replay_LDADD = $(TG_PROG_LIBS)

check_PROGRAMS += tests/unit/replay/test_recording tests/unit/replay/test_generate \
	tests/unit/replay/test_schedule tests/unit/replay/test_sendlog
TESTS += tests/unit/replay/test_recording tests/unit/replay/test_generate \
	tests/unit/replay/test_schedule tests/unit/replay/test_sendlog
tests_unit_replay_test_recording_SOURCES = tests/unit/replay/test_recording.c
tests_unit_replay_test_recording_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_recording_LDADD = $(TG_TEST_LIBS)
tests_unit_replay_test_generate_SOURCES = tests/unit/replay/test_generate.c
tests_unit_replay_test_generate_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_generate_LDADD = $(TG_TEST_LIBS)
tests_unit_replay_test_schedule_SOURCES = tests/unit/replay/test_schedule.c
tests_unit_replay_test_schedule_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_schedule_LDADD = $(TG_TEST_LIBS)
tests_unit_replay_test_sendlog_SOURCES = tests/unit/replay/test_sendlog.c
tests_unit_replay_test_sendlog_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_sendlog_LDADD = $(TG_TEST_LIBS)
