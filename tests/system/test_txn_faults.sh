#!/bin/bash
# Transaction faults with the real daemon (exactly-once) on the Kafka mock in
# a helper process, with errors injected through its command channel: an
# abortable EndTxn error (the transaction is aborted, the state rewound to
# the last committed checkpoint, the interval reported as a gap), the broker
# down during commits (the commit waits, then completes or aborts and
# rewinds), and the producer fenced (the daemon stops non-zero; its restart
# restores the committed checkpoint). Then chaos_check.py: no duplicate identity among the committed
# records, seq 1..N, bars and indicators equal a recomputation over the
# committed input, and every trade sent is committed or inside a reported gap.
. "$(dirname "$0")/lib.sh" txnfaults

"$B/src/torghut-replay" generate --seed 9 --premarket 0 --minutes 2 --out "$tmp/rec.jsonl" >/dev/null || exit 1
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
mock_start $TOPICS_ALL || { no "kafka mock helper started"; finish; exit; }
replay_start --recording "$tmp/rec.jsonl" --live --speed 3 --key KEY1 --secret SECRET1 --dead-hold 0 --conn-limit 4 --send-log "$tmp/send.csv" \
	|| { no "replay started"; finish; exit; }
port=$REPLAY_PORT
conf() { # conf NAME: a config with its own socket and HTTP port, the shared store
	cat >"$tmp/$1.conf" <<CONF
profile = exactly-once
alpaca.url = ws://127.0.0.1:$port/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades
alpaca.reconnect.base = 50ms
kafka.bootstrap.servers = $BOOTSTRAP
control.socket = $tmp/$1.sock
http.listen = 127.0.0.1:0
state.checkpoints.dir = $tmp/chk
execution.checkpointing.interval = 1s
debug.test-hooks = true
debug.checkpoint-delay = 200ms
CONF
}
st() { # st NAME KEY: a field of the checkpoints status
	TORGHUT_SOCKET=$tmp/$1.sock timeout 5 "$B/src/torghutctl" --json status 2>/dev/null |
		$PY -c "import json,sys; print(json.load(sys.stdin)['subsystems']['checkpoints']['$2'])" 2>/dev/null
}
at_least() { local v; v=$(st "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
conf a
"$B/src/torghutd" -c "$tmp/a.conf" >"$tmp/a.log" 2>&1 &
apid=$!
pids+=($apid)
check "instance a: running, checkpoints committing" wait_for 20 at_least a completed 2

# 1. An abortable EndTxn error (as librdkafka turns a permanent one).
done0=$(st a completed)
mock_cmd push-errors EndTxn NOT_ENOUGH_REPLICAS 1 >/dev/null
check "EndTxn error: the transaction is aborted and the state rewound" wait_for 15 at_least a aborts_rewound 1
check "EndTxn error: logged as an aborted transaction" grep -q 'transaction was aborted\|transaction aborted' "$tmp/a.log"
check "EndTxn error: checkpoints commit again afterwards" wait_for 15 at_least a completed $((done0 + 2))

# 2. The broker down across commits, then back.
done1=$(st a completed)
mock_cmd broker-down 1 >/dev/null
sleep 3
check "broker down: the control socket still answers" bash -c "TORGHUT_SOCKET=$tmp/a.sock timeout 1 '$B/src/torghutctl' status >/dev/null"
mock_cmd broker-up 1 >/dev/null
check "broker back: checkpoints commit again" wait_for 30 at_least a completed $((done1 + 2))

# 3. Fenced: another producer took the transactional.id (librdkafka 2.0.2's
# mock does not fence a second instance by itself, so the coordinator's
# answer is injected). The daemon stops non-zero for systemd to restart it;
# the restart (instance b, same store) restores the committed checkpoint.
mock_cmd push-errors EndTxn PRODUCER_FENCED 1 >/dev/null
wait_for 30 bash -c "! kill -0 $apid 2>/dev/null"
if kill -0 $apid 2>/dev/null; then
	no "instance a: stopped after being fenced"
	kill -9 $apid
	wait $apid
else
	wait $apid; arc=$?
	check "instance a: fenced, stopped with a non-zero exit ($arc)" test $arc -ne 0
fi
check "instance a: the log says it was fenced" grep -qi 'fenced' "$tmp/a.log"
conf b
"$B/src/torghutd" -c "$tmp/b.conf" >"$tmp/b.log" 2>&1 &
bpid=$!
pids+=($bpid)
check "instance b (the restart): restored the committed checkpoint" wait_for 20 grep -q 'restored checkpoint [0-9]* (committed' "$tmp/b.log"
check "instance b: keeps committing" wait_for 20 at_least b completed 3

# Let the session finish (the send log stops growing), then drain: what
# arrives after the final checkpoint would be the next start's gap.
quiet() { local a b; a=$(stat -c %s "$tmp/send.csv"); sleep 3; b=$(stat -c %s "$tmp/send.csv"); [ "$a" = "$b" ]; }
wait_for 90 quiet
sleep 3
TORGHUT_SOCKET=$tmp/b.sock "$B/src/torghutctl" drain >/dev/null
wait $bpid
check "instance b: drained, exit 0" test $? -eq 0

chaos_check "$BOOTSTRAP" "$tmp/send.csv" "$S/schemas" 2
if [ $nfail -gt 0 ]; then
	for l in a b; do echo "# $l:"; grep -v ' debug ' "$tmp/$l.log" | tail -15 | sed 's/^/#   /'; done
fi
finish
