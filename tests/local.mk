# tests: system tests (the real daemon) and shared test data.
TESTS += tests/system/test_daemon.sh
dist_noinst_SCRIPTS += tests/system/test_daemon.sh
TESTS += tests/system/test_systemd_unit.sh
dist_noinst_SCRIPTS += tests/system/test_systemd_unit.sh
EXTRA_DIST += tests/system/promcheck.py
# End to end: replay -> torghutd -> Kafka mock (helper process) -> consumer.
TESTS += tests/system/test_e2e.sh
dist_noinst_SCRIPTS += tests/system/test_e2e.sh
EXTRA_DIST += tests/system/e2e_check.py
# Alpaca faults injected by torghut-replay against the real daemon.
TESTS += tests/system/test_faults.sh
dist_noinst_SCRIPTS += tests/system/test_faults.sh
# The schema registry gate against the test registry.
TESTS += tests/system/test_registry.sh
dist_noinst_SCRIPTS += tests/system/test_registry.sh
EXTRA_DIST += tests/system/lib.sh
# The Kafka mock's fault-injection commands (torghut-kafka-mock's stdin).
check_PROGRAMS += tests/unit/sink/test_kafka_mock
TESTS += tests/unit/sink/test_kafka_mock
tests_unit_sink_test_kafka_mock_SOURCES = tests/unit/sink/test_kafka_mock.c
tests_unit_sink_test_kafka_mock_CFLAGS = $(TG_TEST_CF)
tests_unit_sink_test_kafka_mock_LDADD = $(TG_TEST_LIBS)
# Kafka's only broker down for 30 s under load: bounded memory, gap events,
# readiness, the control socket keeps answering.
TESTS += tests/system/test_broker_down.sh
dist_noinst_SCRIPTS += tests/system/test_broker_down.sh
# The systemd watchdog (emulated notify socket): pinged from the loop, stops
# when the loop stalls (debug-stall test hook).
TESTS += tests/system/test_watchdog.sh
dist_noinst_SCRIPTS += tests/system/test_watchdog.sh
# role=ingest -> raw topics -> role=ta, the role=ta daemon killed and restarted.
TESTS += tests/system/test_role_ta.sh
dist_noinst_SCRIPTS += tests/system/test_role_ta.sh
