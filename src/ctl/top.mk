# src/ctl/top.mk: `torghutctl top`, the live terminal view, and its system
# test (the real daemon and replay, torghutctl top inside tmux).
src_libtorghut_a_SOURCES += src/ctl/top.c src/ctl/top.h

TESTS += tests/system/test_top.sh
dist_noinst_SCRIPTS += tests/system/test_top.sh
