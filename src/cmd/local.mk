# src/cmd: the thin main() files and src/daemon, the daemon's composition root.
src_libtorghut_a_SOURCES += \
	src/daemon/daemon.c src/daemon/daemon.h src/daemon/daemon_int.h \
	src/daemon/args.c src/daemon/commands.c \
	src/daemon/outputs.c src/daemon/outputs.h \
	src/daemon/ingest.c src/daemon/ingest.h \
	src/daemon/tasource.c src/daemon/tasource.h \
	src/daemon/analytics.c src/daemon/analytics.h \
	src/daemon/observe.c src/daemon/observe.h \
	src/daemon/schemas.c src/daemon/schemas.h \
	src/daemon/checkpoints.c src/daemon/checkpoints.h
src_libtorghut_a_SOURCES += src/daemon/testhooks.c src/daemon/testhooks.h

sbin_PROGRAMS += src/torghutd
src_torghutd_SOURCES = src/cmd/torghutd.c
src_torghutd_LDADD = $(TG_PROG_LIBS)

bin_PROGRAMS += src/torghutctl
src_torghutctl_SOURCES = src/cmd/torghutctl.c
src_torghutctl_LDADD = $(TG_PROG_LIBS)
