#!/bin/bash
# End-to-end latency under load: torghut-replay at a fixed offered rate (a
# generated session, loopback ws://) into torghutd (low-latency profile,
# Kafka mock cluster in a helper process). Reads the daemon's own latency
# histograms (torghutctl metrics) and the replay's send log, prints one JSON
# object. usage: e2e-latency.sh BUILD_DIR RATE SECONDS [SYMBOLS]
set -eu
B=$1 RATE=$2 SECS=$3 NSYM=${4:-1}
tmp=$(mktemp -d /tmp/tg-lat-XXXXXX)
pids=()
td=
# The daemon first, while the broker is up: its drain then flushes and ends
# at once instead of retrying a dead broker and stealing the next run's CPU.
trap '[ -n "$td" ] && kill $td 2>/dev/null && wait $td 2>/dev/null
for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# enough messages for RATE x SECS (+20 %); the replay paces by --rate, not by
# the recorded times
"$B/src/torghut-replay" generate --seed 5 --symbols "$NSYM" --minutes 30 --messages $((RATE * SECS * 6 / 5)) \
	--out "$tmp/rec.jsonl" --quiet
echo K >"$tmp/k"
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/kafka.out" 2>/dev/null &
pids+=($!)
until [ -s "$tmp/kafka.out" ]; do sleep 0.1; done
"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --key K --secret K \
	--rate "$RATE" --batch 10 --send-log "$tmp/send.csv" >"$tmp/replay.out" 2>/dev/null &
pids+=($!)
until grep -q listening "$tmp/replay.out"; do sleep 0.1; done
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
"$B/src/torghutd" --set profile=low-latency --set alpaca.url=ws://127.0.0.1:$port/v2/test \
	--set alpaca.key.file=$tmp/k --set alpaca.secret.file=$tmp/k --set 'alpaca.symbols=*' \
	--set alpaca.channels=trades,quotes,bars --set kafka.bootstrap.servers="$(head -1 "$tmp/kafka.out")" \
	--set control.socket=$tmp/c.sock --set http.listen=127.0.0.1:0 --set sink.buffer.max-bytes=256MiB \
	--set kafka.queue.buffering.max.messages=2000000 >"$tmp/td.log" 2>&1 &
td=$!
pids+=($td)
until [ -S "$tmp/c.sock" ]; do sleep 0.1; done
t0=$(date +%s.%N); cpu0=$(awk '{print $14+$15}' /proc/$td/stat)
sleep "$SECS"
t1=$(date +%s.%N); cpu1=$(awk '{print $14+$15}' /proc/$td/stat)
rss=$(awk '/VmRSS/{print $2}' /proc/$td/status); hwm=$(awk '/VmHWM/{print $2}' /proc/$td/status)
TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" --json metrics >"$tmp/m.json"
TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" --json status >"$tmp/s.json"
/usr/bin/python3 - "$tmp" "$RATE" "$SECS" "$t0" "$t1" "$cpu0" "$cpu1" "$rss" "$hwm" "$NSYM" <<'PY'
import json, sys
tmp, rate, secs, t0, t1, c0, c1, rss, hwm, nsym = sys.argv[1:]
m = json.load(open(tmp + '/m.json'))['metrics']
s = json.load(open(tmp + '/s.json'))['subsystems']
def h(name):
    ser = m[name]['series']
    if not ser: return None
    x = ser[0]
    return {k: x.get(k) for k in ('count', 'p50', 'p99', 'p999', 'max')}
wall = float(t1) - float(t0)
events = s['alpaca']['events']
hz = 100.0
print(json.dumps({
    'offered_rate': int(rate), 'seconds': int(secs), 'symbols': int(nsym),
    'events_in': events, 'in_rate': round(events / wall),
    'cpu_us_per_msg': round((int(c1) - int(c0)) / hz / max(events, 1) * 1e6, 2),
    'rss_kib': int(rss), 'rss_peak_kib': int(hwm),
    'kafka_refused': s['alpaca']['kafka_refused'], 'late_trades': s['ta']['trades_late'],
    'bars_1s': s['ta']['bars_1s'], 'signals_1s': s['ta']['signals_1s'],
    'frame_to_produce_s': h('torghut_latency_event_to_produce_seconds'),
    'bar_close_to_signal_s': h('torghut_latency_bar_close_to_signal_seconds'),
    'loop_lag_s': h('torghut_loop_lag_seconds'),
    'loop_busy_s': h('torghut_loop_busy_seconds'),
}, indent=1))
PY
