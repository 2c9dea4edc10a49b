# src/state build fragment: the checkpoint container and the stores.
#   snapshot   the versioned checkpoint container
#   manifest   checkpoint names and the MANIFEST text, shared by the stores
#   store_fs   file:// store on the threadpool
#   s3         S3 client on the loop (curlm, SigV4, retries, ListObjectsV2)
#   store_s3   s3:// store
#   store      the facade: backend chosen by URL
src_libtorghut_a_SOURCES += \
	src/state/snapshot.c src/state/snapshot.h \
	src/state/manifest.c src/state/manifest.h src/state/store_types.h \
	src/state/store_fs.c src/state/store_fs.h \
	src/state/s3.c src/state/s3.h \
	src/state/store_s3.c src/state/store_s3.h \
	src/state/store.c src/state/store.h

check_PROGRAMS += tests/unit/state/test_snapshot tests/unit/state/test_store_fs \
	tests/unit/state/test_s3
TESTS += tests/unit/state/test_snapshot tests/unit/state/test_store_fs \
	tests/unit/state/test_s3
tests_unit_state_test_snapshot_SOURCES = tests/unit/state/test_snapshot.c
tests_unit_state_test_snapshot_CFLAGS = $(TG_TEST_CF)
tests_unit_state_test_snapshot_LDADD = $(TG_TEST_LIBS)
tests_unit_state_test_store_fs_SOURCES = tests/unit/state/test_store_fs.c
tests_unit_state_test_store_fs_CFLAGS = $(TG_TEST_CF)
tests_unit_state_test_store_fs_LDADD = $(TG_TEST_LIBS)
tests_unit_state_test_s3_SOURCES = tests/unit/state/test_s3.c
tests_unit_state_test_s3_CFLAGS = $(TG_TEST_CF)
tests_unit_state_test_s3_LDADD = $(TG_TEST_LIBS)

# The S3 store against s3rver (tests/s3: npm ci --prefix tests/s3, done by
# tools/setup test), a SigV4-checking fault proxy in front of it.
check_PROGRAMS += tests/system/s3_check
tests_system_s3_check_SOURCES = tests/system/s3_check.c
tests_system_s3_check_CFLAGS = $(TG_TEST_CF)
tests_system_s3_check_LDADD = $(TG_TEST_LIBS)
TESTS += tests/system/test_s3.sh
dist_noinst_SCRIPTS += tests/system/test_s3.sh
EXTRA_DIST += tests/s3/package.json tests/s3/package-lock.json tests/s3/fault_proxy.py

# Checkpoints with the real daemon: commands, restore, damage, savepoints,
# low-latency, s3:// (test_checkpoint.sh); 20 SIGKILLs (test_chaos.sh).
TESTS += tests/system/test_checkpoint.sh tests/system/test_chaos.sh tests/system/test_profile.sh \
	tests/system/test_txn_faults.sh
dist_noinst_SCRIPTS += tests/system/test_checkpoint.sh tests/system/test_chaos.sh tests/system/test_profile.sh \
	tests/system/test_txn_faults.sh
EXTRA_DIST += tests/system/chaos_check.py tests/system/ta_ref.py tests/system/kafka_read.py tests/system/s3lib.sh

# What a checkpoint costs the loop for 1 k and 10 k symbols (bench/run).
noinst_PROGRAMS += bench/bench_snapshot
bench_bench_snapshot_SOURCES = bench/bench_snapshot.c
bench_bench_snapshot_LDADD = $(TG_PROG_LIBS)
