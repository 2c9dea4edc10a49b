#!/bin/bash
# Alpaca faults against the real daemon: torghut-replay injects them, torghutd
# must react as issue 3 says, visible in `torghutctl status`, /metrics and the
# connection status events on torghut.status.v1.
#   drop mid-stream  -> disconnected, reconnect, subscribed, data resumes fast
#   406 (dead hold)  -> backs off (15 s floor), connects once the hold expires
#   402              -> fatal, no retry loop
#   stall            -> the idle watchdog reconnects
#   wrong host name, untrusted CA -> refused with error class tls
. "$(dirname "$0")/lib.sh" faults

"$B/src/torghut-replay" generate --seed 11 --minutes 3 --out "$tmp/rec.jsonl" >/dev/null || exit 1
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 \
	status.drop status.hold status.auth status.stall status.host status.ca status.ready >"$tmp/kafka.out" 2>/dev/null &
kpid=$!
pids+=($kpid)
wait_for 20 test -s "$tmp/kafka.out" || { echo "not ok - kafka mock"; exit 1; }
boot=$(head -1 "$tmp/kafka.out")

# start_pair NAME URLHOST CA [replay options...]: replay + torghutd
start_pair() {
	local n=$1 host=$2 ca=$3; shift 3
	local d=$tmp/$n
	mkdir -p "$d"
	"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --loop \
		--cert "$S/tests/certs/server.crt" --cert-key "$S/tests/certs/server.key" \
		--key KEY1 --secret SECRET1 --speed 5 --batch 4 "$@" >"$d/replay.out" 2>"$d/replay.err" &
	pids+=($!)
	echo $! >"$d/replay.pid"
	wait_for 20 grep -q listening "$d/replay.out"
	local port; port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$d/replay.out")
	cat >"$d/torghut.conf" <<CONF
profile = low-latency
alpaca.url = wss://$host:$port/v2/test
alpaca.tls.ca.file = $ca
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades,quotes
alpaca.reconnect.base = 100ms
alpaca.idle.timeout = ${IDLE:-30s}
kafka.bootstrap.servers = $boot
topic.status = status.$n
control.socket = $d/c.sock
state.checkpoints.dir = $d/chk
http.listen = 127.0.0.1:0
CONF
	"$B/src/torghutd" -c "$d/torghut.conf" >"$d/torghutd.log" 2>&1 &
	pids+=($!)
	echo $! >"$d/pid"
	wait_for 20 test -S "$d/c.sock"
}
st() { TORGHUT_SOCKET=$tmp/$1/c.sock "$B/src/torghutctl" --json status 2>/dev/null; }
field() { st "$1" | $PY -c "import json,sys; a=json.load(sys.stdin)['subsystems']['alpaca']; print(a.get('$2'))"; }
metrics() { local p; p=$(st "$1" | sed -n 's/.*"port": \([0-9]*\).*/\1/p' | head -1); curl -sf "http://127.0.0.1:$p/metrics"; }
events() { # the connection status events of scenario $1, as "status class" lines
	$PY - "$boot" "status.$1" <<'EOF'
import json, sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'f', 'enable.auto.commit': False})
tp = TopicPartition(sys.argv[2], 0)
lo, hi = c.get_watermark_offsets(tp, timeout=10)
c.assign([TopicPartition(sys.argv[2], 0, lo)])
n = 0
while n < hi - lo:
    m = c.poll(5)
    if m is None:
        break
    if m.error():
        continue
    n += 1
    e = json.loads(m.value())
    p = e['payload']
    print(p['status'], p.get('error_class'), e['ingestTs'])
EOF
}
stop() { kill -TERM "$(cat "$tmp/$1/pid")" 2>/dev/null; }
export tmp B PY
export -f st field metrics

# --- drop mid-stream: reconnect, full resubscribe, data resumes ----------
start_pair drop localhost "$S/tests/certs/ca.crt" --drop-after-msgs 300 --fault-conn 1 --dead-hold 0
check "drop: reconnected and subscribed again" wait_for 30 bash -c "[ \"\$(TORGHUT_SOCKET=$tmp/drop/c.sock '$B/src/torghutctl' --json status | grep -c '\"connects\": 2')\" -ge 1 ]"
check "drop: subscribed after the reconnect" wait_for 10 bash -c "TORGHUT_SOCKET=$tmp/drop/c.sock '$B/src/torghutctl' status | grep -q '^    state: subscribed'"
sleep 2
events drop >"$tmp/drop/events"
check "drop: status events connecting, authenticated, subscribed, disconnected, ..., subscribed" \
	bash -c "awk '{print \$1}' '$tmp/drop/events' | tr '\n' ' ' | grep -q 'subscribed disconnected.*subscribed'"
resume=$($PY - "$tmp/drop/events" <<'EOF'
import sys
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()
ev = [l.split() for l in open(sys.argv[1])]
d = next(i for i, e in enumerate(ev) if e[0] == 'disconnected')
s = next(i for i, e in enumerate(ev) if i > d and e[0] == 'subscribed')
print('%.3f' % (t(ev[s][2]) - t(ev[d][2])))
EOF
)
check "drop: subscribed again within 1 s of the drop ($resume s)" awk "BEGIN{exit !($resume < 1.0)}"
check "drop: data flows after the reconnect" wait_for 10 bash -c "[ \$(TORGHUT_SOCKET=$tmp/drop/c.sock '$B/src/torghutctl' --json status | sed -n 's/.*\"events\": \([0-9]*\).*/\1/p' | head -1) -gt 400 ]"
check "drop: a gap is reported" grep -q '^gap' "$tmp/drop/events"
stop drop

# --- 406: a dead session holds the slot; back off, no storm ---------------
start_pair hold localhost "$S/tests/certs/ca.crt" --drop-after-msgs 100 --fault-conn 1 --dead-hold 6
check "406: connects once the hold expires" wait_for 45 bash -c "TORGHUT_SOCKET=$tmp/hold/c.sock '$B/src/torghutctl' status | grep -q '^    state: subscribed' && [ \$(TORGHUT_SOCKET=$tmp/hold/c.sock '$B/src/torghutctl' --json status | sed -n 's/.*\"connects\": \([0-9]*\).*/\1/p' | head -1) -ge 3 ]"
c=$(field hold connects)
check "406: no connection storm during the 6 s hold ($c connects in all)" test "$c" -le 4
check "406: classified alpaca_406_second_connection" bash -c "metrics hold | grep -q 'error_class=\"alpaca_406_second_connection\"'"
stop hold

# --- 402: fatal, no retry loop --------------------------------------------
start_pair auth localhost "$S/tests/certs/ca.crt" --reject-auth
check "402: the session stops (fatal)" wait_for 10 bash -c "[ \"\$(TORGHUT_SOCKET=$tmp/auth/c.sock '$B/src/torghutctl' --json status | sed -n 's/.*\"state\": \"\(fatal\)\".*/\1/p' | head -1)\" = fatal ]"
sleep 3
check "402: no retries ($(field auth connects) connect)" test "$(field auth connects)" = 1
check "402: the daemon keeps running" bash -c "TORGHUT_SOCKET=$tmp/auth/c.sock '$B/src/torghutctl' status >/dev/null"
stop auth

# --- stall: the idle watchdog reconnects ----------------------------------
IDLE=2s start_pair stall localhost "$S/tests/certs/ca.crt" --stall-after 200 --fault-conn 1 --dead-hold 0
check "stall: the idle watchdog reconnects" wait_for 30 bash -c "[ \"\$(TORGHUT_SOCKET=$tmp/stall/c.sock '$B/src/torghutctl' --json status | grep -c '\"connects\": 2')\" -ge 1 ]"
check "stall: classified market_data_channel_starvation" bash -c "metrics stall | grep -q 'error_class=\"market_data_channel_starvation\"'"
stop stall

# --- TLS: wrong host name, untrusted CA -----------------------------------
start_pair host 127.0.0.1 "$S/tests/certs/ca.crt"
check "wrong host name refused with class tls" wait_for 15 bash -c "metrics host | grep -q 'error_class=\"tls\"'"
check "wrong host name: never subscribed" bash -c "! TORGHUT_SOCKET=$tmp/host/c.sock '$B/src/torghutctl' status | grep -q '^    state: subscribed'"
stop host
start_pair ca localhost "$S/tests/certs/other-ca.crt"
check "untrusted CA refused with class tls" wait_for 15 bash -c "metrics ca | grep -q 'error_class=\"tls\"'"
stop ca

# --- /readyz flips: replay server gone, then Kafka gone (runs last) -------
readyz() { local p; p=$(st "$1" | sed -n 's/.*"port": \([0-9]*\).*/\1/p' | head -1); curl -s "http://127.0.0.1:$p/readyz"; }
export -f readyz
start_pair ready localhost "$S/tests/certs/ca.crt" --dead-hold 0
check "readyz: ready with replay and Kafka up" wait_for 20 bash -c "readyz ready | grep -q '\"ready\":true'"
sed -i 's/^alpaca.symbols = NVDA$/alpaca.symbols = NVDA,AAPL/' "$tmp/ready/torghut.conf"
check "reload: symbols applied to the live session" bash -c "TORGHUT_SOCKET=$tmp/ready/c.sock '$B/src/torghutctl' reload >/dev/null"
check "reload: Alpaca confirms the new symbol" wait_for 10 bash -c "TORGHUT_SOCKET=$tmp/ready/c.sock '$B/src/torghutctl' --json symbols | tr -d ' \n' | grep -q '\"confirmed\":\[\"AAPL\",\"NVDA\"\]'"
kill "$(cat "$tmp/ready/replay.pid")"
check "readyz: not ready once the replay server is gone (alpaca_ws off)" wait_for 10 bash -c "readyz ready | grep -q '\"alpaca_ws\":false'"
kill "$kpid"
check "readyz: Kafka gate off once the brokers are gone" wait_for 30 bash -c "readyz ready | grep -q '\"kafka\":false'"
check "the control socket still answers" bash -c "TORGHUT_SOCKET=$tmp/ready/c.sock '$B/src/torghutctl' status >/dev/null"
stop ready

finish
