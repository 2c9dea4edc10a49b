# tests: system tests (the real daemon) and shared test data.
TESTS += tests/system/test_daemon.sh
dist_noinst_SCRIPTS += tests/system/test_daemon.sh
TESTS += tests/system/test_systemd_unit.sh
dist_noinst_SCRIPTS += tests/system/test_systemd_unit.sh
EXTRA_DIST += tests/system/promcheck.py
