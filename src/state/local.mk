# src/state build fragment: the checkpoint container and the stores.
#   snapshot   the versioned checkpoint container
#   manifest   checkpoint names and the MANIFEST text, shared by the stores
#   store_fs   file:// store on the threadpool
src_libtorghut_a_SOURCES += \
	src/state/snapshot.c src/state/snapshot.h \
	src/state/manifest.c src/state/manifest.h src/state/store_types.h \
	src/state/store_fs.c src/state/store_fs.h

check_PROGRAMS += tests/unit/state/test_snapshot tests/unit/state/test_store_fs
TESTS += tests/unit/state/test_snapshot tests/unit/state/test_store_fs
tests_unit_state_test_snapshot_SOURCES = tests/unit/state/test_snapshot.c
tests_unit_state_test_snapshot_CFLAGS = $(TG_TEST_CF)
tests_unit_state_test_snapshot_LDADD = $(TG_TEST_LIBS)
tests_unit_state_test_store_fs_SOURCES = tests/unit/state/test_store_fs.c
tests_unit_state_test_store_fs_CFLAGS = $(TG_TEST_CF)
tests_unit_state_test_store_fs_LDADD = $(TG_TEST_LIBS)
