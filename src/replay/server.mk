# src/replay server fragment: torghut-replay serve (the network side; the
# data side, recording/schedule/sendlog/generate, is in local.mk).
#   session    per-connection Alpaca protocol rules (pure state machine)
#   faults     fault injection bookkeeping
#   server     listener, connections (tls + ws), per-session replay
#   serve_cli  `torghut-replay serve` options and loop (replay_serve_main)
src_libtorghut_a_SOURCES += \
	src/replay/session.c src/replay/session.h \
	src/replay/faults.c src/replay/faults.h \
	src/replay/server.c src/replay/server.h \
	src/replay/serve_cli.c src/replay/serve_cli.h

check_PROGRAMS += tests/unit/replay/test_session tests/unit/replay/test_server
TESTS += tests/unit/replay/test_session tests/unit/replay/test_server
tests_unit_replay_test_session_SOURCES = tests/unit/replay/test_session.c
tests_unit_replay_test_session_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_session_LDADD = $(TG_TEST_LIBS)
tests_unit_replay_test_server_SOURCES = tests/unit/replay/test_server.c
tests_unit_replay_test_server_CFLAGS = $(TG_TEST_CF)
tests_unit_replay_test_server_LDADD = $(TG_TEST_LIBS)
