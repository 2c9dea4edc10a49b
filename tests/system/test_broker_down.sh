#!/bin/bash
# Kafka's only broker down for 30 s under load (issue 5, backpressure):
# torghut-replay offers a steady RATE msgs/s to torghutd (low-latency profile,
# a small sink.buffer.max-bytes), the Kafka mock (helper process, driven with
# mock_cmd) takes broker 1 down, then up. Checks:
#   - memory: torghutd's RSS stays under the bound derived below;
#   - the control socket answers `status` within 200 ms every second;
#   - /readyz: the kafka gate is false during the outage, true after;
#   - the refused records are counted (status, /metrics) and reported on the
#     status topic as `gap` events with a time range and a dropped count whose
#     sum is the refused count (nothing silently lost);
#   - new trades reach Kafka after the broker returns.
. "$(dirname "$0")/lib.sh" brokerdown

RATE=20000       # offered msgs/s (trades + quotes)
OUTAGE=30        # seconds the broker is down
BUF_MIB=4        # sink.buffer.max-bytes

# The memory bound. sink.buffer.max-bytes (B) bounds the payload held for
# Kafka: torghutd gives librdkafka queue.buffering.max.kbytes = B/2 and its own
# hold queue (records offered while a checkpoint barrier runs) B/2. librdkafka
# keeps a header next to each queued payload that its byte count leaves out:
# at most (B/2) / 150 bytes (the smallest envelope) messages of about 300 bytes
# (rd_kafka_msg_t plus allocator rounding), so B again; with the payload, 2 B.
# A third B and SLACK_MIB cover what grows anyway while the outage starts
# (allocator arenas of librdkafka's threads, the steady state still settling).
# Under ASan every small allocation carries redzones and rounds up to a size
# class, about doubling it: there the allowance is doubled. Without the
# bound, librdkafka queues up to 100000 messages (its default): +28 MiB plain,
# +40 MiB under ASan here, against +8 and +17 MiB with it.
SLACK_MIB=4
ASAN=1; ldd "$B/src/torghutd" | grep -q libasan || ASAN=0
GROWTH_KIB=$(((1 + ASAN) * 3 * BUF_MIB * 1024 + SLACK_MIB * 1024))
# ASan keeps freed memory in a quarantine (256 MiB by default) that fills with
# ordinary churn; a small one keeps RSS about live memory. No effect otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8

"$B/src/torghut-replay" generate --seed 9 --minutes 30 --messages $((RATE * 80)) \
	--out "$tmp/rec.jsonl" --quiet || exit 1
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
mock_start torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 || exit 1
check "mock: answers commands" mock_cmd ping
refused_cmd() { ! mock_cmd "$@" >/dev/null; }
check "mock: a command for an unknown broker is refused" refused_cmd broker-down 7

"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --key KEY1 --secret SECRET1 \
	--rate $RATE --batch 20 >"$tmp/replay.out" 2>"$tmp/replay.err" &
pids+=($!)
wait_for 20 grep -q listening "$tmp/replay.out" || { echo "not ok - replay started"; exit 1; }
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
cat >"$tmp/torghut.conf" <<CONF
profile = low-latency
alpaca.url = ws://127.0.0.1:$port/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades,quotes
kafka.bootstrap.servers = $BOOTSTRAP
sink.buffer.max-bytes = ${BUF_MIB}MiB
execution.checkpointing.interval = 2s
control.socket = $tmp/c.sock
state.checkpoints.dir = $tmp/chk
http.listen = 127.0.0.1:0
CONF
"$B/src/torghutd" -c "$tmp/torghut.conf" >"$tmp/torghutd.log" 2>&1 &
td=$!
pids+=($td)
export TORGHUT_SOCKET=$tmp/c.sock
st() { "$B/src/torghutctl" -t 2 --json status 2>/dev/null; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
readyz() { curl -s -m 2 "http://127.0.0.1:$hport/readyz"; }
kafka_gate() { readyz | $PY -c "import json,sys; print(json.load(sys.stdin)['gates']['kafka'])" 2>/dev/null; }
running() { st | grep -q '"state": "subscribed"'; }
if ! wait_for 30 running; then
	no "torghutd subscribed and streaming"; sed 's/^/#   /' "$tmp/torghutd.log" | tail -20; exit 1
fi
ok "torghutd subscribed and streaming"
hport=$(st | jq_ "d['subsystems']['http']['port']")

# RSS every second for the whole run
(while kill -0 $td 2>/dev/null; do
	echo "$(date +%s) $(awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{print r, h}' /proc/$td/status 2>/dev/null)"
	sleep 1
done) >"$tmp/rss.log" &
pids+=($!)

sleep 8 # steady state: bars closing, checkpoint barriers every 2 s
check "before: the kafka gate is on" test "$(kafka_gate)" = True
ev0=$(st | jq_ "d['subsystems']['alpaca']['events']")
base_kib=$(tail -1 "$tmp/rss.log" | awk '{print $2}')
# A checkpoint's snapshot (dedup windows, TA state) is encoded into a buffer
# that lives until the store has it; in the outage the checkpoint waits on its
# delivery barrier, so one snapshot may be alive then and not in the sample
# above. It is state, not queued records: the bound adds its size.
snap_kib=$(( $(st | jq_ "d['subsystems']['checkpoints']['last_bytes']") / 1024 + 1 ))
GROWTH_KIB=$((GROWTH_KIB + snap_kib))
echo "# steady state: $ev0 events in, RSS $base_kib KiB, checkpoint snapshot $snap_kib KiB"

# --- the outage: probe the control socket and /readyz every second -----
check "broker 1 down" mock_cmd broker-down 1
t_down=$(date +%s)
# The control socket (timed by ctl_call from its connection, not from a
# client's start-up) and /readyz, every second
: >"$tmp/probe.log"
for i in $(seq 1 $OUTAGE); do
	t0=$(date +%s%N)
	r=$(ctl_call "$TORGHUT_SOCKET" '{"cmd":"status","v":1}' 2>/dev/null)
	ok=0 secs=9.999; grep -q '"ok": *true' <<<"$r" && ok=1 secs=${r%% *}
	echo "$i $ok $(awk "BEGIN{printf \"%d\", $secs * 1000}") $(kafka_gate)" >>"$tmp/probe.log"
	s=$(((1000000000 - ($(date +%s%N) - t0)) / 1000000))
	[ $s -gt 0 ] && sleep "0.$(printf %03d $s)"
done
check "broker 1 up" mock_cmd broker-up 1
t_up=$(date +%s)
ev1=$(st | jq_ "d['subsystems']['alpaca']['events']")
slow=$(awk '$2 != 1 || $3 >= 200' "$tmp/probe.log" | wc -l)
check "outage: status answered within 200 ms every second ($slow of $OUTAGE slow or failed; max $(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$tmp/probe.log") ms)" test "$slow" -eq 0
on=$(awk '$1 > 5 && $4 != "False"' "$tmp/probe.log" | wc -l)
check "outage: /readyz kafka gate false (from 5 s on; $on probes said otherwise)" test "$on" -eq 0
check "outage: the daemon kept reading the feed ($((ev1 - ev0)) events)" test $((ev1 - ev0)) -gt $((RATE * OUTAGE / 4))

# --- recovery -------------------------------------------------------------
check "after: /readyz kafka gate true again" wait_for 30 bash -c "[ \"\$(curl -s -m 2 http://127.0.0.1:$hport/readyz | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"gates\"][\"kafka\"])')\" = True ]"
sleep 4 # the next gap report (every second) and some fresh trades
st >"$tmp/final.json"
refused=$(jq_ "d['subsystems']['alpaca']['kafka_refused']" <"$tmp/final.json")
check "refused records counted in status ($refused)" test "$refused" -gt 0
curl -s "http://127.0.0.1:$hport/metrics" >"$tmp/metrics"
mfail=$(awk '/^torghut_kafka_produce_failures_total\{topic="(trades|quotes|status)"\}/{s+=$2} END{printf "%d", s}' "$tmp/metrics")
check "refused records counted in /metrics (produce failures $mfail >= $refused)" test "$mfail" -ge "$refused"

$PY - "$BOOTSTRAP" "$t_down" "$t_up" "$refused" >"$tmp/kafka.check" 2>&1 <<'EOF'
import json, sys
from datetime import datetime
from confluent_kafka import Consumer, TopicPartition
boot, t_down, t_up, refused = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def ts(s): return datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()
def read(topic, tail=None):
    c = Consumer({'bootstrap.servers': boot, 'group.id': 'bd', 'enable.auto.commit': False})
    tp = TopicPartition(topic, 0)
    lo, hi = c.get_watermark_offsets(tp, timeout=10)
    if tail:
        lo = max(lo, hi - tail)
    c.assign([TopicPartition(topic, 0, lo)])
    n = 0
    while n < hi - lo:
        for m in c.consume(10000, 5):
            if not m.error():
                n += 1
                yield json.loads(m.value())
        if n < hi - lo and not c.assignment():
            break
    c.close()
gaps = [e for e in read('torghut.status.v1') if e['payload'].get('status') == 'gap'
        and e['payload'].get('error_class') == 'kafka_produce']
dropped = sum(int(g['payload'].get('dropped') or 0) for g in gaps)
ranged = all(g['payload'].get('gap_start') and g['payload'].get('gap_end') and
             ts(g['payload']['gap_start']) <= ts(g['payload']['gap_end']) for g in gaps)
after = [g for g in gaps if ts(g['ingestTs']) >= t_up - 1]
print('gaps', len(gaps), 'after_up', len(after), 'dropped', dropped, 'ranged', int(ranged))
last = max((ts(e['ingestTs']) for e in read('torghut.trades.v1', 1000)), default=0)
print('last_trade_ingest', '%.3f' % last, 'since_up', '%.1f' % (last - t_up))
EOF
cat "$tmp/kafka.check" | sed 's/^/# /'
kv() { sed -n "s/.*\b$1 \([-0-9.]*\).*/\1/p" "$tmp/kafka.check"; }
check "gap events on the status topic, one produced after the broker returned ($(kv after_up))" test "$(kv after_up)" -ge 1
check "gap events carry a time range" test "$(kv ranged)" = 1
check "gap events account for every refused record ($(kv dropped) of $refused)" test "$(kv dropped)" = "$refused"
check "new trades reach Kafka after the broker returned ($(kv since_up) s after)" awk "BEGIN{exit !($(kv since_up) > 1)}"

# --- memory ---------------------------------------------------------------
peak=$(awk -v a="$t_down" -v b="$t_up" '$1 >= a && $1 <= b + 2 && $2 > m {m=$2} END{print m+0}' "$tmp/rss.log")
echo "# RSS: steady $base_kib KiB, outage peak $peak KiB, allowed growth $GROWTH_KIB KiB (B = $BUF_MIB MiB, ASan $ASAN)"
check "memory: RSS during the outage $peak KiB <= steady $base_kib + $GROWTH_KIB KiB" test "$peak" -le $((base_kib + GROWTH_KIB))
# bounded, not just slow: no growth once the buffers are full
early=$(awk -v a="$t_down" -v b=$((t_down + OUTAGE / 2)) '$1 >= a && $1 < b && $2 > m {m=$2} END{print m+0}' "$tmp/rss.log")
late=$(awk -v a=$((t_down + OUTAGE / 2)) -v b="$t_up" '$1 >= a && $1 < b && $2 > m {m=$2} END{print m+0}' "$tmp/rss.log")
check "memory: flat in the outage's second half ($early -> $late KiB)" test "$late" -le $((early + 2048))
check "the daemon is still running" kill -0 $td
if [ $nfail -gt 0 ]; then
	echo "# probes (i ok ms kafka_gate):"; sed 's/^/#   /' "$tmp/probe.log" | head -40
	echo "# torghutd log:"; grep -v ' debug ' "$tmp/torghutd.log" | tail -30 | sed 's/^/#   /'
fi
"$B/src/torghutctl" drain >/dev/null
wait $td; rc=$?
check "drained, exit 0" test $rc -eq 0
finish
