#!/bin/bash
# Chaos: torghut-replay plays a generated NVDA session as a live feed (one
# clock; what is sent while the daemon is down is lost, like Alpaca) into
# torghutd in the exactly-once profile, with the Kafka mock cluster in a
# helper process that outlives the daemon. torghutd is killed with SIGKILL
# CHAOS_KILLS times (default 20): half at random moments, half while a
# checkpoint is in progress (debug.checkpoint-delay stretches the store write
# and the commit so those moments are wide), and restarted each time. Then
# chaos_check.py reads everything back: no duplicate identity among the
# committed records, durable seq, bars and indicators equal to a
# recomputation over the committed input, and every lost trade inside a
# reported gap.
. "$(dirname "$0")/lib.sh" chaos

kills=${CHAOS_KILLS:-20}
speed=2
live_session 11 2 $speed || { finish; exit; }
boot=$BOOTSTRAP
port=$REPLAY_PORT
cat >"$tmp/torghut.conf" <<CONF
profile = exactly-once
alpaca.url = ws://127.0.0.1:$port/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades
alpaca.reconnect.base = 50ms
kafka.bootstrap.servers = $boot
control.socket = $tmp/c.sock
http.listen = 127.0.0.1:0
state.checkpoints.dir = $tmp/chk
execution.checkpointing.interval = 1s
debug.test-hooks = true
debug.checkpoint-delay = 150ms
# every snapshot in ~64-byte steps: encoding spans many loop iterations while
# frames arrive (held), and kills land in it too
debug.checkpoint-step = 64
CONF
ctl() { TORGHUT_SOCKET=$tmp/c.sock timeout 2 "$B/src/torghutctl" "$@"; }
start() {
	echo "$(date +%s%N) $tmp/torghutd.$1.log" >>"$tmp/starts"
	"$B/src/torghutd" -c "$tmp/torghut.conf" >"$tmp/torghutd.$1.log" 2>&1 &
	dpid=$!
}
running() { ctl status 2>/dev/null | grep -q '^state: running'; }
in_checkpoint() { ctl --json status 2>/dev/null | tr -d ' \n' | grep -q '"in_progress":true'; }

t0=$SECONDS
targeted=0 started_ok=0 held_total=0
for i in $(seq 1 "$kills"); do
	start "$i"
	wait_for 15 running && started_ok=$((started_ok + 1))
	# a little data first, then the moment
	sleep "0.$((RANDOM % 8 + 2))"
	if [ $((i % 2)) -eq 0 ]; then
		wait_for 3 in_checkpoint && targeted=$((targeted + 1))
	else
		sleep "0.$((RANDOM % 10))"
	fi
	# frames that arrived while a snapshot was encoded (held, then handled)
	h=$(ctl --json status 2>/dev/null | tr -d ' \n' | sed -n 's/.*"frames_held":\([0-9]*\).*/\1/p')
	held_total=$((held_total + ${h:-0}))
	kill -9 "$dpid"
	wait "$dpid" 2>/dev/null
done
check "restarted and running after each of $kills kills" test "$started_ok" -eq "$kills"
echo "# $targeted kills landed while a checkpoint was in progress"
check "at least a third of the kills during a checkpoint" test "$targeted" -ge $((kills / 3))

# The last run sees the session to its end, then drains.
start final
wait_for 15 running || no "final start"
session_end "$tmp/rec.jsonl" $speed $t0
# The hold: the snapshots took many steps, and frames that arrived meanwhile
# were kept and handled after (chaos_check then finds them all, in order).
st=$(ctl --json status 2>/dev/null | tr -d ' \n')
steps=$(echo "$st" | sed -n 's/.*"last_snapshot_steps":\([0-9]*\).*/\1/p')
held=$(echo "$st" | sed -n 's/.*"frames_held":\([0-9]*\).*/\1/p')
held_total=$((held_total + ${held:-0}))
echo "# last snapshot in ${steps:-?} steps; frames held during snapshots: $held_total over all runs"
check "snapshots are encoded over many loop iterations (debug.checkpoint-step)" test "${steps:-0}" -gt 10
check "frames arriving during a snapshot were held" test "$held_total" -gt 0
ctl drain >/dev/null
wait "$dpid"; rc=$?
check "final run drained, exit 0" test $rc -eq 0
check "the daemon logged restores from committed checkpoints" grep -q 'restored checkpoint' "$tmp"/torghutd.*.log

chaos_check "$boot" "$tmp/send.csv" "$S/schemas" 2 "$tmp/starts"
if [ $nfail -gt 0 ]; then
	echo "# last log:"; grep -v ' debug ' "$tmp/torghutd.final.log" | tail -20 | sed 's/^/#   /'
fi
finish
