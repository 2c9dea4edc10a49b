#!/bin/bash
# `torghutctl profile` switches the producer at a checkpoint boundary with
# nothing lost or duplicated: exactly-once -> low-latency -> exactly-once
# while a live replay streams, then chaos_check.py over everything written
# (transactional records by their checkpoint markers, the low-latency ones as
# they are): every trade sent exactly once, seq 1..N, bars and indicators.
. "$(dirname "$0")/lib.sh" profile

"$B/src/torghut-replay" generate --seed 3 --premarket 0 --minutes 1 --out "$tmp/rec.jsonl" >/dev/null || exit 1
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
mock_start $TOPICS_ALL || { no "kafka mock helper started"; finish; exit; }
boot=$BOOTSTRAP
replay_start --recording "$tmp/rec.jsonl" --live --speed 4 --key KEY1 --secret SECRET1 --send-log "$tmp/send.csv" \
	|| { no "replay started"; finish; exit; }
port=$REPLAY_PORT
cat >"$tmp/torghut.conf" <<CONF
profile = exactly-once
alpaca.url = ws://127.0.0.1:$port/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades
kafka.bootstrap.servers = $boot
control.socket = $tmp/c.sock
http.listen = 127.0.0.1:0
state.checkpoints.dir = $tmp/chk
execution.checkpointing.interval = 1s
CONF
ctl() { TORGHUT_SOCKET=$tmp/c.sock timeout 20 "$B/src/torghutctl" "$@"; }
"$B/src/torghutd" -c "$tmp/torghut.conf" >"$tmp/d.log" 2>&1 &
dpid=$!
pids+=($dpid)
check "started in exactly-once" wait_for 20 bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' profile | grep -q 'profile: exactly-once'"
sleep 3
ctl --json profile low-latency >"$tmp/p1" 2>&1
check "switch to low-latency: answered once switched" grep -q '"detail": "switched to low-latency after checkpoint [0-9]*"' "$tmp/p1"
check "status shows low-latency" bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' status | grep -q '^profile: low-latency'"
ctl --json profile low-latency >"$tmp/p2" 2>&1
check "asking for the profile in use: nothing to do" grep -q 'already in this profile' "$tmp/p2"
sleep 3
ctl --json profile exactly-once >"$tmp/p3" 2>&1
check "switch back to exactly-once" grep -q '"detail": "switched to exactly-once after checkpoint [0-9]*"' "$tmp/p3"
ctl --json profile sideways >"$tmp/p4" 2>&1
check "an unknown profile is refused" grep -q 'must be exactly-once or low-latency' "$tmp/p4"
sleep 3
check "still streaming after the switches" bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' --json status | grep -q '\"state\": \"subscribed\"'"
# reload: profile and execution.buffer-timeout are live (the producer is
# replaced at the next checkpoint boundary)
sed -i 's/^profile = exactly-once$/profile = low-latency\nexecution.buffer-timeout = 2ms/' "$tmp/torghut.conf"
ctl --json reload >"$tmp/r1" 2>&1
check "reload of profile and buffer timeout: accepted" grep -q '"producer": "replaced at the next checkpoint boundary"' "$tmp/r1"
check "reload: the producer is replaced in the new profile" wait_for 10 bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' profile | grep -q 'profile: low-latency'"
check "reload: logged with the new buffer timeout" wait_for 5 grep -q 'switched to low-latency after checkpoint [0-9]* (buffer timeout 2 ms)' "$tmp/d.log"
# let the session end, then drain
sleep 8
ctl drain >/dev/null
wait $dpid
check "drain: exit 0" test $? -eq 0
$PY "$S/tests/system/chaos_check.py" "$boot" "$tmp/send.csv" "$S/schemas" 2 --untagged-committed >"$tmp/check.out" 2>&1
grep -E '^(ok|not ok|#)' "$tmp/check.out"
npass=$((npass + $(grep -c '^ok ' "$tmp/check.out")))
nfail=$((nfail + $(grep -c '^not ok ' "$tmp/check.out")))
check "nothing lost across the switches: no gap reported" grep -q '^# 0 gaps reported' "$tmp/check.out"
check "some trades were written in low-latency, some in transactions" bash -c "grep -q '^# trades: [1-9][0-9]* written in the low-latency profile' '$tmp/check.out' && grep -q '^# trades: .* [1-9][0-9]* committed' '$tmp/check.out'"
check "every trade sent was committed" grep -q '^# \([0-9]*\) trades sent, \1 committed, 0 missing' "$tmp/check.out"
finish
