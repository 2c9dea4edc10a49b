#!/bin/bash
# End-to-end latency under load: torghut-replay at a fixed offered rate (a
# generated session, loopback ws://) into torghutd (low-latency profile,
# Kafka mock cluster in a helper process). Reads the daemon's own latency
# histograms (torghutctl metrics, and /metrics for the buckets), prints one
# JSON object.
#
#   e2e-latency.sh BUILD_DIR RATE SECONDS [SYMBOLS]
#
# Environment (all optional):
#   E2E_SET="key=value ..."  more torghutd --set options (tuning examples)
#   E2E_RSS_EVERY=N          sample the daemon's RSS every N seconds (soak)
#   E2E_HIST=1               add the histogram buckets (cumulative, from /metrics)
#   E2E_LABEL=text           recorded as "label"
set -eu
B=$1 RATE=$2 SECS=$3 NSYM=${4:-1}
tmp=$(mktemp -d /tmp/tg-lat-XXXXXX)
pids=()
td=
# The daemon first, while the broker is up: its drain then flushes and ends
# at once instead of retrying a dead broker and stealing the next run's CPU.
trap '[ -n "$td" ] && kill $td 2>/dev/null && wait $td 2>/dev/null
for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT # so the EXIT trap stops what we started
# enough messages for RATE x SECS (+20 % and start-up); the replay paces by
# --rate, not by the recorded times. Its slow-client bound is raised from
# 16 MiB (0.25 s at 500 k msgs/s) to 64 MiB, so a scheduling hiccup of the
# shared machine is not taken for a rate the daemon cannot sustain; a rate it
# cannot sustain still shows as "in" falling behind "offered".
"$B/src/torghut-replay" generate --seed 5 --symbols "$NSYM" --minutes 30 \
	--messages $((RATE * SECS * 6 / 5 + RATE * 3)) --out "$tmp/rec.jsonl" --quiet
echo K >"$tmp/k"
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/kafka.out" 2>/dev/null &
mock=$!
pids+=($mock)
until [ -s "$tmp/kafka.out" ]; do sleep 0.1; done
"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --key K --secret K \
	--rate "$RATE" --batch 10 --max-queued $((64 << 20)) >"$tmp/replay.out" 2>/dev/null &
replay=$!
pids+=($replay)
until grep -q listening "$tmp/replay.out"; do sleep 0.1; done
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
extra=()
for kv in ${E2E_SET:-}; do extra+=(--set "$kv"); done
"$B/src/torghutd" --set profile=low-latency --set alpaca.url=ws://127.0.0.1:$port/v2/test \
	--set alpaca.key.file=$tmp/k --set alpaca.secret.file=$tmp/k --set 'alpaca.symbols=*' \
	--set alpaca.channels=trades,quotes,bars --set kafka.bootstrap.servers="$(head -1 "$tmp/kafka.out")" \
	--set control.socket=$tmp/c.sock --set http.listen=127.0.0.1:0 --set sink.buffer.max-bytes=256MiB \
	--set state.checkpoints.dir=$tmp/chk \
	--set kafka.queue.buffering.max.messages=2000000 ${extra[@]+"${extra[@]}"} >"$tmp/td.log" 2>&1 &
td=$!
pids+=($td)
until [ -S "$tmp/c.sock" ]; do sleep 0.1; done
ctl() { TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" --json "$@"; }
# CPU ticks (user + system) of a process: the daemon's own cost, and what the
# replay server and the broker take from the same 2 cores.
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
t0=$(date +%s.%N); cpu0=$(ticks $td); rcpu0=$(ticks $replay); mcpu0=$(ticks $mock)
: >"$tmp/rss.txt"
if [ -n "${E2E_RSS_EVERY:-}" ]; then
	end=$((SECONDS + SECS))
	while [ $SECONDS -lt $end ]; do
		echo "$(date +%s.%N) $(rss_kib $td)" >>"$tmp/rss.txt"
		sleep "$E2E_RSS_EVERY"
	done
else
	sleep "$SECS"
fi
t1=$(date +%s.%N); cpu1=$(ticks $td); rcpu1=$(ticks $replay); mcpu1=$(ticks $mock)
rss=$(rss_kib $td); hwm=$(awk '/VmHWM/{print $2}' /proc/$td/status)
# anonymous (heap, stacks) and file-backed (shared libraries) parts of RSS
rss_parts=$(awk '/RssAnon/{a=$2} /RssFile/{f=$2} END{print a+0, f+0}' /proc/$td/status)
echo "$t1 $rss" >>"$tmp/rss.txt"
ctl metrics >"$tmp/m.json"
ctl status >"$tmp/s.json"
: >"$tmp/prom.txt"
if [ "${E2E_HIST:-0}" = 1 ]; then
	hport=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subsystems"]["http"]["port"])' "$tmp/s.json")
	curl -sf "http://127.0.0.1:$hport/metrics" >"$tmp/prom.txt" || true
fi
/usr/bin/python3 - "$tmp" "$RATE" "$SECS" "$t0" "$t1" "$cpu0" "$cpu1" "$rss" "$hwm" "$NSYM" \
	"$((rcpu1 - rcpu0))" "$((mcpu1 - mcpu0))" "${E2E_SET:-}" "${E2E_LABEL:-}" "$rss_parts" <<'PY'
import json, re, sys
tmp, rate, secs, t0, t1, c0, c1, rss, hwm, nsym, rcpu, mcpu, sets, label, parts = sys.argv[1:]
m = json.load(open(tmp + '/m.json'))['metrics']
s = json.load(open(tmp + '/s.json'))['subsystems']
def h(name):
    # the series with the most samples (per-topic histograms: the busiest topic)
    ser = sorted(m.get(name, {}).get('series', []), key=lambda x: x.get('count') or 0)
    if not ser: return None
    x = ser[-1]
    return {k: x.get(k) for k in ('count', 'p50', 'p99', 'p999', 'max')}
def buckets(name):
    # cumulative counts per upper bound, summed over label sets
    cum = {}
    for line in open(tmp + '/prom.txt'):
        mm = re.match(name + r'_bucket\{(.*)\} (\S+)$', line.strip())
        if not mm: continue
        le = re.search(r'le="([^"]+)"', mm.group(1)).group(1)
        le = float('inf') if le == '+Inf' else float(le)
        cum[le] = cum.get(le, 0) + float(mm.group(2))
    return sorted(cum.items())
wall = float(t1) - float(t0)
events = s['alpaca']['events']
hz = 100.0
rss_series = []
for line in open(tmp + '/rss.txt'):
    t, v = line.split()
    rss_series.append([round(float(t) - float(t0), 1), int(v)])
out = {
    'label': label, 'settings': sets, 'offered_rate': int(rate), 'seconds': int(secs), 'symbols': int(nsym),
    'events_in': events, 'in_rate': round(events / wall),
    'reconnects': s['alpaca'].get('reconnects', 0),
    'cpu_us_per_msg': round((int(c1) - int(c0)) / hz / max(events, 1) * 1e6, 2),
    'cores_daemon': round((int(c1) - int(c0)) / hz / wall, 2),
    'cores_replay': round(int(rcpu) / hz / wall, 2), 'cores_broker': round(int(mcpu) / hz / wall, 2),
    'rss_kib': int(rss), 'rss_peak_kib': int(hwm),
    'rss_anon_kib': int(parts.split()[0]), 'rss_file_kib': int(parts.split()[1]),
    'ta_mem_bytes': s['ta'].get('mem_bytes'),
    'kafka_refused': s['alpaca']['kafka_refused'], 'late_trades': s['ta']['trades_late'],
    'bars_1s': s['ta']['bars_1s'], 'signals_1s': s['ta']['signals_1s'],
    'ta_heartbeats': s['ta'].get('heartbeats'), 'ta_encode_errors': s['ta'].get('encode_errors'),
    'frame_to_produce_s': h('torghut_latency_event_to_produce_seconds'),
    'bar_close_to_signal_s': h('torghut_latency_bar_close_to_signal_seconds'),
    'bar_end_to_signal_s': h('torghut_latency_event_to_signal_seconds'),
    'produce_to_ack_s': h('torghut_latency_produce_to_ack_seconds'),
    'loop_lag_s': h('torghut_loop_lag_seconds'),
    'loop_busy_s': h('torghut_loop_busy_seconds'),
}
if rss_series and len(rss_series) > 2:
    out['rss_series'] = rss_series
if open(tmp + '/prom.txt').read():
    out['hist'] = {k: buckets(n) for k, n in (
        ('frame_to_produce', 'torghut_latency_event_to_produce_seconds'),
        ('bar_close_to_signal', 'torghut_latency_bar_close_to_signal_seconds'),
        ('produce_to_ack', 'torghut_latency_produce_to_ack_seconds'),
        ('loop_lag', 'torghut_loop_lag_seconds'))}
print(json.dumps(out, indent=1))
PY
