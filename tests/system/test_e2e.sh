#!/bin/bash
# End to end: torghut-replay plays a generated NVDA session over wss:// (test
# CA) into torghutd, which writes to a Kafka mock cluster running in a helper
# process; e2e_check.py then reads every topic back with a real consumer and
# checks it against the replay's send log. Runs once per profile.
. "$(dirname "$0")/lib.sh" e2e

"$B/src/torghut-replay" generate --seed 7 --minutes 2 --out "$tmp/rec.jsonl" >/dev/null || exit 1
nmsg=$(grep -c '"msg"' "$tmp/rec.jsonl")
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
TOPICS="torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1"

run_profile() {
	local profile=$1 d=$tmp/$1
	mkdir -p "$d"
	"$B/src/cmd/torghut-kafka-mock" $TOPICS >"$d/kafka.out" 2>"$d/kafka.err" &
	pids+=($!)
	wait_for 20 test -s "$d/kafka.out" || { no "$profile: kafka mock helper started"; return; }
	local boot; boot=$(head -1 "$d/kafka.out")
	"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 \
		--cert "$S/tests/certs/server.crt" --cert-key "$S/tests/certs/server.key" \
		--key KEY1 --secret SECRET1 --speed 20 --batch 8 --send-log "$d/send.csv" >"$d/replay.out" 2>"$d/replay.err" &
	local rpid=$!
	pids+=($rpid)
	wait_for 20 grep -q listening "$d/replay.out" || { no "$profile: replay started"; return; }
	local port; port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$d/replay.out")
	cat >"$d/torghut.conf" <<CONF
profile = $profile
alpaca.url = wss://localhost:$port/v2/test
alpaca.tls.ca.file = $S/tests/certs/ca.crt
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades,quotes,bars
kafka.bootstrap.servers = $boot
control.socket = $d/c.sock
state.checkpoints.dir = $d/chk
http.listen = 127.0.0.1:0
execution.checkpointing.interval = 1s
CONF
	"$B/src/torghutd" -c "$d/torghut.conf" >"$d/torghutd.log" 2>&1 &
	local tpid=$!
	pids+=($tpid)
	# every message of the recording was sent (the send log has a header line)
	check "$profile: replay sent the whole session" wait_for 120 bash -c "[ \$(wc -l <'$d/send.csv') -gt $nmsg ]"
	sleep 5 # > slack (2 s): the last bars close on the wall-clock advance
	TORGHUT_SOCKET=$d/c.sock "$B/src/torghutctl" --json status >"$d/status" 2>&1
	check "$profile: no late trades (out-of-order within slack)" grep -q '"trades_late": 0' "$d/status"
	TORGHUT_SOCKET=$d/c.sock "$B/src/torghutctl" --json market >"$d/market" 2>&1
	check "$profile: market shows NVDA's last 1 s bar and indicators" bash -c "grep -q '\"symbol\": \"NVDA\"' '$d/market' && grep -q '\"rsi14\": [0-9]' '$d/market'"
	TORGHUT_SOCKET=$d/c.sock "$B/src/torghutctl" drain >/dev/null
	wait $tpid; local rc=$?
	check "$profile: torghutd drained, exit 0" test $rc -eq 0
	$PY "$S/tests/system/e2e_check.py" "$boot" "$tmp/rec.jsonl" "$d/send.csv" "$S/schemas" "$d/status" >"$d/check.out" 2>&1
	sed "s/^/$profile: /" "$d/check.out" | grep -E '^[a-z-]+: (ok|not ok) ' | while read -r l; do echo "$l"; done
	npass=$((npass + $(grep -c '^ok ' "$d/check.out")))
	nfail=$((nfail + $(grep -c '^not ok ' "$d/check.out")))
	grep -q 'passed' "$d/check.out" || { no "$profile: checker ran"; tail -20 "$d/check.out"; }
	if grep -q '^not ok' "$d/check.out" || [ $rc -ne 0 ]; then
		echo "# torghutd log:"; grep -v ' debug ' "$d/torghutd.log" | tail -20 | sed 's/^/#   /'
	fi
	kill $rpid 2>/dev/null
}

run_profile low-latency
run_profile exactly-once
finish
