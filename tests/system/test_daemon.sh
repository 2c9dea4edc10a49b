#!/bin/bash
# System test: the real torghutd in a temp dir with a generated config, driven
# through its control socket and signals. Checks exit statuses, the systemd
# notify protocol, reload, drain, that nothing is left behind, and (on a
# non-sanitizer build) that valgrind sees no leak at exit.
set -u
B=${top_builddir:-$(pwd)}
TD=$B/src/torghutd
CTL=$B/src/torghutctl
tmp=$(mktemp -d /tmp/tg-sys-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok - $1"; }
no() { nfail=$((nfail + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && sed 's/^/#   /' "$2" | tail -20; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }

wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
	local end=$((SECONDS + $1)); shift
	until "$@" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

# --- usage and configuration errors ------------------------------------
"$TD" --bogus >/dev/null 2>"$tmp/err"; rc=$?
check "unknown option exits 2" test $rc -eq 2
printf 'profile = exactly-once\n# comment\nexecution.buffer-timeout = fast\n' >"$tmp/bad.conf"
"$TD" -c "$tmp/bad.conf" --check-config >/dev/null 2>"$tmp/err"; rc=$?
check "bad duration exits 1" test $rc -eq 1
check "error names file:line:key" grep -q 'bad.conf:3: execution.buffer-timeout: expected a duration' "$tmp/err"
"$TD" -c "$tmp/missing.conf" 2>"$tmp/err"; rc=$?
check "missing -c file exits 1" test $rc -eq 1

printf 'S3CRET-VALUE\n' >"$tmp/kafka.pw"
cat >"$tmp/torghut.conf" <<CONF
log.level = info
alpaca.symbols = NVDA,AAPL
kafka.sasl.password.file = $tmp/kafka.pw
control.socket = $tmp/run/control.sock
http.listen = 127.0.0.1:0
state.checkpoints.dir = file://$tmp/state/checkpoints
CONF
"$TD" -c "$tmp/torghut.conf" --check-config >"$tmp/eff" 2>&1; rc=$?
check "--check-config exits 0" test $rc -eq 0
check "--check-config prints effective values" grep -q '^alpaca.symbols = NVDA,AAPL$' "$tmp/eff"
check "--check-config redacts secrets" bash -c "! grep -q S3CRET '$tmp/eff' && grep -q 'kafka.sasl.password = <redacted>' '$tmp/eff'"
"$TD" -c "$tmp/torghut.conf" --set kafka.transaction.timeout.ms=60000 --check-config >/dev/null 2>"$tmp/err"; rc=$?
check "transaction timeout rule refused (exit 1)" test $rc -eq 1
check "transaction timeout rule explained" grep -q 'must exceed execution.checkpointing.timeout' "$tmp/err"

# --- run ---------------------------------------------------------------
socat -u UNIX-RECV:"$tmp/notify.sock" OPEN:"$tmp/notify.log",creat,append &
pids+=($!)
wait_for 5 test -S "$tmp/notify.sock"
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=200000 "$TD" -c "$tmp/torghut.conf" >"$tmp/log" 2>&1 &
dpid=$!
pids+=($dpid)
check "control socket appears" wait_for 10 test -S "$tmp/run/control.sock"
check "socket mode is 0660" test "$(stat -c %a "$tmp/run/control.sock")" = 660
export TORGHUT_SOCKET=$tmp/run/control.sock
# the socket answers while Kafka starts; READY=1 and "running" follow Kafka
check "status answers, running once Kafka is ready" wait_for 30 bash -c "'$CTL' --json status >'$tmp/status' 2>&1 && grep -q '\"state\": \"running\"' '$tmp/status'"
check "Kafka ready with every topic" grep -q '"gate": true' "$tmp/status"
check "status shows profile and role" grep -q '"profile": "exactly-once"' "$tmp/status"
check "status warns about embedded kafka" grep -q 'not durable' "$tmp/status"
check "READY=1 sent" wait_for 5 grep -q 'READY=1' "$tmp/notify.log"
check "WATCHDOG=1 sent from the loop" wait_for 5 grep -q 'WATCHDOG=1' "$tmp/notify.log"

"$CTL" log-level debug >/dev/null; rc=$?
check "log-level set" test $rc -eq 0
check "log-level visible in status" bash -c "'$CTL' status | grep -q '^log_level: debug$'"
"$CTL" frobnicate >"$tmp/out" 2>&1; rc=$?
check "unknown command: exit 1 and named" bash -c "test $rc -eq 1 && grep -q 'unknown command \"frobnicate\"' '$tmp/out'"
printf '{"cmd":\n' | socat -t 2 - UNIX-CONNECT:"$tmp/run/control.sock" >"$tmp/out"
check "malformed JSON answered" grep -q '"ok":false.*malformed JSON' "$tmp/out"

# HTTP: health, readiness with gates, valid Prometheus text
S=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
port=$(sed -n 's/.*"port": \([0-9]*\).*/\1/p' "$tmp/status" | head -1)
check "http port in status" test -n "$port"
check "/healthz 200" bash -c "curl -sf http://127.0.0.1:$port/healthz | grep -q '\"ok\"'"
curl -s -o "$tmp/readyz" -w '%{http_code}' "http://127.0.0.1:$port/readyz" >"$tmp/readyz.code"
check "/readyz 503 without an Alpaca source, with gates" bash -c "grep -q 503 '$tmp/readyz.code' && grep -q '\"kafka\":true' '$tmp/readyz' && grep -q '\"alpaca_ws\":false' '$tmp/readyz'"
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
check "/metrics is valid Prometheus text" python3 "$S/tests/system/promcheck.py" <"$tmp/metrics"
check "/metrics has loop lag and Kafka gauges" bash -c "grep -q '^torghut_loop_lag_seconds_count' '$tmp/metrics' && grep -q 'torghut_readyz_gate_status{gate=\"kafka\"} 1' '$tmp/metrics'"
check "bad HTTP request gets 400" bash -c "printf 'GARBAGE\r\n\r\n' | socat -t 2 - TCP:127.0.0.1:$port | head -1 | grep -q ' 400 '"
check "torghutctl metrics answers" bash -c "'$CTL' metrics | grep -q torghut_loop_lag_seconds"

# reload by SIGHUP: a live key changes
sed -i 's/^log.level = info/log.level = warn/' "$tmp/torghut.conf"
kill -HUP $dpid
check "SIGHUP reload applied" wait_for 5 bash -c "'$CTL' status | grep -q '^log_level: warn$'"
check "RELOADING=1 sent" grep -q 'RELOADING=1' "$tmp/notify.log"
# reload by command: a key that needs a restart is refused, nothing applied
sed -i "s|^control.socket = .*|control.socket = $tmp/other.sock|; s/^log.level = warn/log.level = error/" "$tmp/torghut.conf"
"$CTL" reload >"$tmp/out" 2>&1; rc=$?
check "non-live change refused" bash -c "test $rc -eq 1 && grep -q 'control.socket cannot change while running' '$tmp/out'"
check "refused reload kept the old config" bash -c "'$CTL' status | grep -q '^log_level: warn$'"

kill -TERM $dpid
wait $dpid; rc=$?
check "SIGTERM: exit 0" test $rc -eq 0
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$tmp/notify.log"
check "control socket removed" test ! -e "$tmp/run/control.sock"
check "nothing else left in the run dir" test -z "$(ls -A "$tmp/run")"
check "no sanitizer report or unexpected error" bash -c "! grep -E 'runtime error|AddressSanitizer|LeakSanitizer| error (core|ctl):' '$tmp/log'" || sed 's/^/#   /' "$tmp/log"

# --- drain by command, then start-up refusal on a live socket -----------
"$TD" -c "$tmp/torghut.conf" --set control.socket="$tmp/run/control.sock" --set log.level=info >"$tmp/log2" 2>&1 &
d2=$!
pids+=($d2)
wait_for 10 test -S "$tmp/run/control.sock"
"$TD" -c "$tmp/torghut.conf" --set control.socket="$tmp/run/control.sock" >"$tmp/log3" 2>&1; rc=$?
check "second daemon on the same socket exits 3" test $rc -eq 3
check "second daemon says why" grep -q 'another daemon is answering' "$tmp/log3"
"$CTL" drain >/dev/null; rc=$?
check "drain command answered" test $rc -eq 0
wait $d2; rc=$?
check "drain command: exit 0" test $rc -eq 0
check "drain logged" grep -q 'drained' "$tmp/log2"

# --- a dependency that never comes: exit 3 after startup.timeout --------
start=$SECONDS
"$TD" -c "$tmp/torghut.conf" --set control.socket="$tmp/run/c3.sock" --set kafka.bootstrap.servers=127.0.0.1:1 \
	--set startup.timeout=2s >"$tmp/log4" 2>&1; rc=$?
check "unreachable Kafka: exit 3" test $rc -eq 3
check "unreachable Kafka: says why" grep -q 'Kafka is not ready' "$tmp/log4"
check "unreachable Kafka: gives up promptly" test $((SECONDS - start)) -le 15

# --- valgrind: no leak at exit (sanitizer builds cannot run under it) ----
if command -v valgrind >/dev/null && ! ldd "$TD" | grep -q libasan; then
	valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$TD" -c "$tmp/torghut.conf" --set control.socket="$tmp/run/control.sock" >"$tmp/vg.log" 2>&1 &
	vpid=$!
	pids+=($vpid)
	wait_for 30 test -S "$tmp/run/control.sock"
	"$CTL" status >/dev/null
	kill -HUP $vpid
	sleep 0.5
	kill -TERM $vpid
	wait $vpid; rc=$?
	check "valgrind: clean exit, no leak or error" test $rc -eq 0 || sed 's/^/#   /' "$tmp/vg.log" | tail -30
	check "valgrind: all heap blocks freed" grep -q 'All heap blocks were freed\|definitely lost: 0 bytes' "$tmp/vg.log"
else
	echo "# valgrind part skipped (sanitizer build or no valgrind)"
fi

echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
