#!/bin/bash
# role=ta across crashes: a role=ingest torghutd writes the replayed NVDA
# session (a live feed) to the raw topics, exactly-once, and keeps running;
# a role=ta torghutd reads them through its consumer group and writes the
# TA topics, exactly-once, and is killed with SIGKILL ROLE_TA_KILLS times
# (default 6; half while a checkpoint is being encoded in 64-byte steps or
# written) and restarted. Kafka rewinds, unlike Alpaca: each restart seeks
# back to the positions of the committed checkpoint, so at the end the
# committed TA records must hold every second of the session, once, equal
# to a recomputation over the committed trades - no gap allowed.
. "$(dirname "$0")/lib.sh" role_ta

kills=${ROLE_TA_KILLS:-6}
speed=2
live_session 12 1 $speed || { finish; exit; }
common() {
	cat <<CONF
profile = exactly-once
kafka.bootstrap.servers = $BOOTSTRAP
http.listen = 127.0.0.1:0
execution.checkpointing.interval = 1s
debug.test-hooks = true
CONF
}
{ common; cat <<CONF; } >"$tmp/ingest.conf"
role = ingest
alpaca.url = ws://127.0.0.1:$REPLAY_PORT/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades,quotes
control.socket = $tmp/i.sock
state.checkpoints.dir = $tmp/chk-ingest
CONF
{ common; cat <<CONF; } >"$tmp/ta.conf"
role = ta
ta.group.id = test-ta
ta.auto.offset.reset = earliest
control.socket = $tmp/t.sock
state.checkpoints.dir = $tmp/chk-ta
debug.checkpoint-delay = 100ms
debug.checkpoint-step = 64
# the group coordinator drops a killed member after the session timeout, and
# a rebalance waits at most max.poll.interval.ms for members to rejoin
kafka.session.timeout.ms = 6000
kafka.max.poll.interval.ms = 10000
CONF

"$B/src/torghutd" -c "$tmp/ingest.conf" >"$tmp/ingest.log" 2>&1 &
ipid=$!
pids+=($ipid)
ta_ctl() { TORGHUT_SOCKET=$tmp/t.sock timeout 2 "$B/src/torghutctl" "$@"; }
ta_status() { ta_ctl --json status 2>/dev/null | tr -d ' \n'; }
assigned() { ta_status | grep -q '"assigned_partitions":[1-9]'; }
in_checkpoint() { ta_status | grep -q '"in_progress":true'; }
start() {
	"$B/src/torghutd" -c "$tmp/ta.conf" >"$tmp/ta.$1.log" 2>&1 &
	tpid=$!
}

t0=$SECONDS
started_ok=0 targeted=0
for i in $(seq 1 "$kills"); do
	start "$i"
	wait_for 40 assigned && started_ok=$((started_ok + 1))
	sleep "0.$((RANDOM % 8 + 2))"
	if [ $((i % 2)) -eq 0 ]; then
		wait_for 3 in_checkpoint && targeted=$((targeted + 1))
	fi
	kill -9 "$tpid"
	wait "$tpid" 2>/dev/null
done
check "role=ta restarted and got its partitions after each of $kills kills" test "$started_ok" -eq "$kills"
echo "# $targeted kills landed while a checkpoint was in progress"
check "the restarts restored input positions" grep -q 'input positions restored' "$tmp"/ta.*.log

start final
wait_for 40 assigned || no "final start"
session_end "$tmp/rec.jsonl" $speed $t0
st=$(ta_status)
echo "# role=ta input: $(echo "$st" | grep -o '"input":{[^}]*}')"
check "role=ta decoded the raw records (none rejected)" sh -c "echo '$st' | grep -q '\"rejected\":0'"
port=$(echo "$st" | sed -n 's/.*"http":{[^}]*"port":\([0-9]*\).*/\1/p')
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
check "role=ta /metrics is valid Prometheus text" $PY "$S/tests/system/promcheck.py" <"$tmp/metrics"
check "role=ta /metrics counts input events and assigned partitions" bash -c \
	"grep -q '^torghut_ta_input_records_total{outcome=\"event\"} [1-9]' '$tmp/metrics' &&
	 grep -q '^torghut_ta_input_partitions [1-9]' '$tmp/metrics' &&
	 grep -q '^torghut_checkpoint_encode_step_max_seconds ' '$tmp/metrics'"
TORGHUT_SOCKET=$tmp/t.sock "$B/src/torghutctl" drain >/dev/null
wait "$tpid"; rc=$?
check "role=ta drained, exit 0" test $rc -eq 0
TORGHUT_SOCKET=$tmp/i.sock "$B/src/torghutctl" drain >/dev/null
wait "$ipid"; rc=$?
check "role=ingest drained, exit 0" test $rc -eq 0

chaos_check "$BOOTSTRAP" "$tmp/send.csv" "$S/schemas" 2
if [ $nfail -gt 0 ]; then
	echo "# last role=ta log:"; grep -v ' debug ' "$tmp/ta.final.log" | tail -20 | sed 's/^/#   /'
fi
finish
