#!/bin/bash
# The systemd watchdog is pinged from the loop, so a stalled loop gets killed
# (issue 7). This container has no systemd (PID 1 is not systemd, no bus), so
# the notify protocol is emulated as in test_daemon.sh: NOTIFY_SOCKET points to
# a datagram listener that timestamps every message, WATCHDOG_USEC is set.
# Checks: WATCHDOG=1 arrives every WATCHDOG_USEC/2; the test hook debug-stall
# (only with debug.test-hooks = true) blocks the loop and the pings stop for
# longer than WATCHDOG_USEC (systemd would kill us), then resume; the loop-lag
# metric reports the stall; without debug.test-hooks the hook is refused.
. "$(dirname "$0")/lib.sh" watchdog

WD_USEC=400000 # pings every 200 ms
STALL_MS=2000

# notify listener: "MONOTONIC_SECONDS MESSAGE" per datagram
$PY - "$tmp/notify.sock" >"$tmp/notify.log" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    m = s.recv(4096).decode(errors='replace').replace('\n', ' ')
    print('%.6f %s' % (time.monotonic(), m), flush=True)
EOF
pids+=($!)
wait_for 5 test -S "$tmp/notify.sock" || { echo "not ok - notify listener"; exit 1; }

start_daemon() { # start_daemon NAME [--set ...]: torghutd with embedded Kafka
	local n=$1; shift
	"$B/src/torghutd" -c "$tmp/base.conf" --set control.socket="$tmp/$n.sock" \
		--set http.listen=127.0.0.1:0 "$@" >"$tmp/$n.log" 2>&1 &
	pids+=($!)
	echo $! >"$tmp/$n.pid"
	wait_for 20 test -S "$tmp/$n.sock"
}
echo "state.checkpoints.dir = file://$tmp/checkpoints" >"$tmp/base.conf"
stall_req="{\"cmd\":\"debug-stall\",\"v\":1,\"ms\":$STALL_MS}"

# --- without debug.test-hooks the hook does not exist ----------------------
start_daemon plain || { echo "not ok - torghutd started"; exit 1; }
r=$(ctl_call "$tmp/plain.sock" "$stall_req")
refused() { grep -q '"ok": *false' <<<"$r" && grep -q 'refused unless debug.test-hooks = true' <<<"$r"; }
check "debug-stall refused without debug.test-hooks ($r)" refused
check "refused at once, no stall" awk "BEGIN{exit !(${r%% *} < 0.5)}"
TORGHUT_SOCKET=$tmp/plain.sock "$B/src/torghutctl" drain >/dev/null
wait "$(cat "$tmp/plain.pid")"
check "debug.test-hooks defaults to false" \
	bash -c "'$B/src/torghutd' -c '$tmp/base.conf' --check-config | grep -q '^debug.test-hooks = false$'"

# --- with the hook, under the (emulated) systemd watchdog ------------------
NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=$WD_USEC start_daemon wd --set debug.test-hooks=true ||
	{ echo "not ok - torghutd started"; exit 1; }
export TORGHUT_SOCKET=$tmp/wd.sock
check "status shows the watchdog interval" bash -c "'$B/src/torghutctl' --json status | grep -q '\"watchdog_usec\": $WD_USEC'"
sleep 3
# pings in a window: "count median_ms max_ms" of the intervals between FROM and TO (monotonic s)
pings() {
	awk -v a="$1" -v b="$2" '$2 == "WATCHDOG=1" && $1 >= a && $1 <= b {print $1}' "$tmp/notify.log" |
		$PY -c "
import sys
t = [float(x) for x in sys.stdin]
d = sorted((b - a) * 1000 for a, b in zip(t, t[1:]))
print(len(t), int(d[len(d) // 2]) if d else -1, int(d[-1]) if d else -1)"
}
now() { $PY -c 'import time; print("%.6f" % time.monotonic())'; }
t1=$(now)
read -r n med max <<<"$(pings "$(awk -v t="$t1" 'BEGIN{print t - 2.5}')" "$t1")"
check "WATCHDOG=1 every $((WD_USEC / 2000)) ms ($n pings in 2.5 s, median $med ms, max $max ms)" \
	test "$n" -ge 10 -a "$med" -ge $((WD_USEC / 2000 - 50)) -a "$med" -le $((WD_USEC / 2000 + 50)) -a "$max" -lt $((WD_USEC / 1000))

t_req=$(now)
r=$(ctl_call "$tmp/wd.sock" "$stall_req")
stalled() { grep -q "\"stalled_ms\": *$STALL_MS" <<<"$r" && awk "BEGIN{exit !(${r%% *} >= $STALL_MS / 1000)}"; }
check "debug-stall answered after the stall ($r)" stalled
sleep 2
t_end=$(now)
read -r n med max <<<"$(pings "$(awk -v t="$t_req" 'BEGIN{print t - 1}')" "$t_end")"
check "the pings stopped during the stall: longest silence $max ms > WATCHDOG_USEC $((WD_USEC / 1000)) ms (systemd kills)" \
	test "$max" -ge $((STALL_MS - 100)) -a "$max" -gt $((WD_USEC / 1000))
read -r n med max <<<"$(pings "$(awk -v t="$t_end" 'BEGIN{print t - 1.5}')" "$t_end")"
check "the pings resumed after the stall ($n in 1.5 s, max $max ms)" test "$n" -ge 5 -a "$max" -lt $((WD_USEC / 1000))

port=$("$B/src/torghutctl" --json status | sed -n 's/.*"port": \([0-9]*\).*/\1/p' | head -1)
lag=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^torghut_loop_lag_max_seconds /{print $2}')
check "the loop-lag metric reports the stall (torghut_loop_lag_max_seconds $lag)" \
	awk "BEGIN{exit !(\"$lag\" != \"\" && $lag >= ($STALL_MS - 100) / 1000)}"
check "the stall is logged as a test hook" grep -q "test hook: stalling the loop for $STALL_MS ms" "$tmp/wd.log"

"$B/src/torghutctl" drain >/dev/null
wait "$(cat "$tmp/wd.pid")"; rc=$?
check "drained, exit 0" test $rc -eq 0
check "no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$tmp/wd.log' '$tmp/plain.log'"
finish
