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
lib_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"; }
trap lib_cleanup EXIT
npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok - $1"; }
no() { nfail=$((nfail + 1)); echo "not ok - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" 2>/dev/null; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
finish() { echo "$npass passed, $nfail failed"; [ $nfail -eq 0 ]; }
# mock_start [torghut-kafka-mock options and topics...]: the Kafka mock cluster
# in a helper process fed by a command FIFO this shell keeps open; sets
# BOOTSTRAP and MOCK_PID. mock_cmd CMD...: sends one command (see
# src/sink/kafka_mock.h: broker-down ID, broker-up ID, rtt ID MS, push-errors
# API ERR COUNT...), prints the reply, succeeds if it starts with "ok".
mock_start() {
	mkfifo "$tmp/mock.in" || return 1
	"$B/src/cmd/torghut-kafka-mock" "$@" <"$tmp/mock.in" >"$tmp/mock.out" 2>"$tmp/mock.err" &
	MOCK_PID=$!
	pids+=($MOCK_PID)
	exec {MOCK_FD}>"$tmp/mock.in"
	wait_for 20 test -s "$tmp/mock.out" || { echo "# kafka mock did not start"; return 1; }
	BOOTSTRAP=$(head -1 "$tmp/mock.out")
}
mock_replied() { [ "$(wc -l <"$tmp/mock.out")" -gt "$1" ]; }
mock_cmd() {
	local n r
	n=$(wc -l <"$tmp/mock.out")
	echo "$*" >&"$MOCK_FD"
	wait_for 10 mock_replied "$n" || { echo "mock_cmd $*: no reply"; return 1; }
	r=$(sed -n "$((n + 1))p" "$tmp/mock.out")
	echo "$r"
	case $r in ok*) return 0 ;; *) return 1 ;; esac
}
# ctl_call SOCKET JSON: one control request, timed from the connection (not
# from a client's start-up); prints "SECONDS REPLY".
ctl_call() {
	$PY - "$1" "$2" <<'PYEOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
t0 = time.monotonic()
s.sendall(sys.argv[2].encode() + b'\n')
buf = b''
while not buf.endswith(b'\n'):
    b = s.recv(65536)
    if not b:
        break
    buf += b
print('%.3f %s' % (time.monotonic() - t0, buf.decode().strip()))
PYEOF
}
# replay_start ARGS...: torghut-replay serve --listen 127.0.0.1:0 ARGS (its
# output in $tmp/replay.out); sets REPLAY_PORT once it listens.
replay_start() {
	"$B/src/torghut-replay" serve --listen 127.0.0.1:0 "$@" >"$tmp/replay.out" 2>"$tmp/replay.err" &
	pids+=($!)
	wait_for 20 grep -q listening "$tmp/replay.out" || { echo "# torghut-replay did not start"; return 1; }
	REPLAY_PORT=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
}
# The topics of wire.md, for mock_start.
TOPICS_ALL="torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1"
# session_end REC SPEED T0: sleeps until the live replay of recording REC at
# SPEED, started when SECONDS was T0, has sent everything, plus 4 s, then 4 s
# more (> slack: the last bars close on the wall-clock advance).
session_end() {
	local span left
	span=$($PY -c "
import json
ts=[json.loads(l)['at_ns'] for l in open('$1') if '\"msg\"' in l and 'at_ns' in l]
print(int((max(ts)-min(ts))/1e9/$2)+1 if ts else 60)")
	left=$((span + 4 - (SECONDS - $3)))
	[ "$left" -gt 0 ] && sleep "$left"
	sleep 4
}
# chaos_check ARGS...: tests/system/chaos_check.py ARGS, its ok/not ok lines
# counted as this test's.
chaos_check() {
	$PY "$S/tests/system/chaos_check.py" "$@" >"$tmp/check.out" 2>&1
	grep -E '^(ok|not ok|#)' "$tmp/check.out"
	npass=$((npass + $(grep -c '^ok ' "$tmp/check.out")))
	nfail=$((nfail + $(grep -c '^not ok ' "$tmp/check.out")))
	grep -q 'passed' "$tmp/check.out" || { no "checker ran"; tail -20 "$tmp/check.out"; }
}
# live_session SEED MINUTES SPEED: a generated NVDA session ($tmp/rec.jsonl,
# regular hours from 09:30) played as a live feed at SPEED (one clock: what
# is sent while nobody listens is lost, like Alpaca; --dead-hold 0 frees a
# killed client's slot at once; sent messages in $tmp/send.csv) with the
# Kafka mock cluster in a helper process; credentials KEY1/SECRET1 in
# $tmp/key and $tmp/secret. Sets BOOTSTRAP and REPLAY_PORT; 1 on failure
# (reported).
live_session() {
	"$B/src/torghut-replay" generate --seed "$1" --premarket 0 --minutes "$2" --out "$tmp/rec.jsonl" >/dev/null ||
		{ no "session generated"; return 1; }
	echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
	mock_start $TOPICS_ALL || { no "kafka mock helper started"; return 1; }
	replay_start --recording "$tmp/rec.jsonl" --live --speed "$3" --key KEY1 --secret SECRET1 --dead-hold 0 \
		--conn-limit 4 --send-log "$tmp/send.csv" || { no "replay started"; return 1; }
}
