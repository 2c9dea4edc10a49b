# lib.sh - shared by the system tests that run the daemon with torghut-replay
# and the Kafka mock: sourced as `. lib.sh NAME`. Sets B (build dir), S
# (source dir), PY (Debian's python3, which has python3-avro and
# python3-confluent-kafka), tmp (removed at exit), and provides check,
# wait_for and finish; background pids added to `pids` are killed at exit.
set -u
B=${top_builddir:-$(pwd)}
S=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
$PY -c 'import confluent_kafka, avro' 2>/dev/null || { echo "# python3-confluent-kafka/python3-avro missing: skipped"; exit 77; }
tmp=$(mktemp -d "/tmp/tg-$1-XXXXXX")
pids=()
lib_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap lib_cleanup EXIT
npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok - $1"; }
no() { nfail=$((nfail + 1)); echo "not ok - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" 2>/dev/null; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
finish() { echo "$npass passed, $nfail failed"; [ $nfail -eq 0 ]; }
