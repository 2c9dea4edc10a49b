#!/bin/bash
# bench/restart.sh BUILD [N [SYMBOLS]]: restart-to-streaming time.
# torghut-replay -> torghutd (exactly-once, 1 s checkpoints) -> the Kafka
# mock in a helper process; SIGKILL and restart N times (default 5) and
# print, per start, the time from launch to the Alpaca subscription in the
# daemon's log (restore from Kafka's committed checkpoint included, the
# Alpaca reconnect backoff excluded: the replay accepts at once).
# SYMBOLS = 1 (default): a live-clock NVDA session. SYMBOLS > 1: that many
# symbols at 20 k msgs/s, 10 s per run, so each restart restores the state of
# all of them (the checkpoint's size is printed).
set -u
build=$1 n=${2:-5} nsym=${3:-1}
tmp=$(mktemp -d /tmp/tg-restart-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" 2>/dev/null; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
if [ "$nsym" -gt 1 ]; then
	"$build/src/torghut-replay" generate --seed 2 --symbols "$nsym" --minutes 30 --messages 2000000 \
		--out "$tmp/rec.jsonl" --quiet
	serve=(--rate 20000 --batch 10) symbols="*" channels=trades,quotes run=10
else
	"$build/src/torghut-replay" generate --seed 2 --premarket 0 --minutes 10 --out "$tmp/rec.jsonl" >/dev/null 2>&1
	serve=(--live --speed 1) symbols=NVDA channels=trades,quotes,bars,updatedBars run=2.5
fi
"$build/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/k.out" 2>/dev/null </dev/null &
pids+=($!)
wait_for 20 test -s "$tmp/k.out" || { echo "kafka mock did not start"; exit 1; }
"$build/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 "${serve[@]}" \
	--key K --secret S --dead-hold 0 --conn-limit 4 >"$tmp/r.out" 2>/dev/null &
pids+=($!)
wait_for 20 grep -q listening "$tmp/r.out" || { echo "replay did not start"; exit 1; }
echo K >"$tmp/key"; echo S >"$tmp/secret"
cat >"$tmp/c.conf" <<CONF
alpaca.url = ws://127.0.0.1:$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/r.out")/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = $symbols
alpaca.channels = $channels
kafka.bootstrap.servers = $(head -1 "$tmp/k.out")
control.socket = $tmp/c.sock
http.listen = 127.0.0.1:0
state.checkpoints.dir = $tmp/chk
execution.checkpointing.interval = 1s
CONF
echo "restart to streaming: launch -> Alpaca subscribed (log time), restore included"
for i in $(seq 0 "$n"); do
	t0=$(date +%s%N)
	"$build/src/torghutd" -c "$tmp/c.conf" >"$tmp/d$i.log" 2>&1 &
	d=$!
	wait_for 20 grep -q ' subscribed (attempt' "$tmp/d$i.log" || { echo "start $i: not subscribed"; exit 1; }
	sleep "$run" # a few checkpoints and data, then the crash
	# what the last checkpoint cost the daemon's loop
	cps=$(TORGHUT_SOCKET=$tmp/c.sock timeout 2 "$build/src/torghutctl" --json status 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin)["subsystems"].get("checkpoints") or {}
print("last checkpoint %s bytes: loop work %.2f ms in %s steps, longest %.2f ms (longest in this run %.2f ms)" % (
    c.get("last_bytes"), c.get("last_snapshot_ms", 0), c.get("last_snapshot_steps"),
    c.get("last_snapshot_step_max_ms", 0), c.get("max_snapshot_step_ms", 0)))' 2>/dev/null)
	kill -9 $d; wait $d 2>/dev/null
	ts=$(grep -m1 ' subscribed (attempt' "$tmp/d$i.log" | cut -d' ' -f1)
	ms=$(( ($(date -d "$ts" +%s%N) - t0) / 1000000 ))
	what=$(grep -o 'restored checkpoint [0-9]*.*bytes)\|starting fresh' "$tmp/d$i.log" | head -1 |
		sed 's/(committed[^)]*) //')
	echo "start $i: ${ms} ms (${what:-?}); ${cps:-no status}"
done
