#!/bin/bash
# The schema registry gate of the real daemon against the test registry
# (tests/registry/fake_registry.py): refused without registration, registered
# by --register-schemas, framed TA records decodable through the registry,
# an incompatible registered schema refused, an unreachable registry -> exit 3.
. "$(dirname "$0")/lib.sh" reg

registry() { # registry NAME: starts a fake registry, sets url (not in a subshell: pids must see it)
	$PY "$S/tests/registry/fake_registry.py" >"$tmp/$1.port" 2>"$tmp/$1.err" &
	pids+=($!)
	wait_for 10 test -s "$tmp/$1.port"
	url="http://127.0.0.1:$(head -1 "$tmp/$1.port")"
}
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/kafka.out" 2>/dev/null &
pids+=($!)
wait_for 20 test -s "$tmp/kafka.out"
boot=$(head -1 "$tmp/kafka.out")
common=(--set control.socket="$tmp/c.sock" --set state.checkpoints.dir="$tmp/chk" --set http.listen=127.0.0.1:0 --set schema.dir="$S/schemas"
	--set kafka.bootstrap.servers="$boot" --set startup.timeout=5s)

registry r1
"$B/src/torghutd" "${common[@]}" --set schema.registry.url="$url" >"$tmp/refused.log" 2>&1; rc=$?
check "missing subjects: refused with exit 3" test $rc -eq 3
check "missing subjects: the message names the subject and the way out" \
	grep -q 'subject torghut.ta.bars.1s.v1-value does not hold our schema.*--register-schemas' "$tmp/refused.log"

"$B/src/torghutd" "${common[@]}" --set schema.registry.url="$url" --register-schemas >"$tmp/reg.log" 2>&1; rc=$?
check "--register-schemas: exit 0" test $rc -eq 0
subjects=$(curl -sf "$url/subjects")
check "--register-schemas: the three TA subjects exist" bash -c "echo '$subjects' | grep -q 'torghut.ta.signals.v1-value' && echo '$subjects' | grep -q 'torghut.ta.status.v1-value' && echo '$subjects' | grep -q 'torghut.ta.bars.1s.v1-value'"
"$B/src/torghutd" "${common[@]}" --set schema.registry.url="$url" --register-schemas >"$tmp/reg2.log" 2>&1; rc=$?
check "--register-schemas: subjects set to BACKWARD" bash -c "curl -sf '$url/config/torghut.ta.signals.v1-value' | grep -q BACKWARD"
check "--register-schemas again: verifies, exit 0" bash -c "test $rc -eq 0 && grep -q 'schema id' '$tmp/reg2.log'"

# run with data: the records are framed with the registry's ids
"$B/src/torghut-replay" generate --seed 3 --minutes 1 --out "$tmp/rec.jsonl" >/dev/null
"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --key K --secret K --speed 20 \
	>"$tmp/replay.out" 2>/dev/null &
pids+=($!)
wait_for 10 grep -q listening "$tmp/replay.out"
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
echo K >"$tmp/k"
"$B/src/torghutd" "${common[@]}" --set schema.registry.url="$url" --set alpaca.url="ws://127.0.0.1:$port/v2/test" \
	--set alpaca.key.file="$tmp/k" --set alpaca.secret.file="$tmp/k" --set alpaca.symbols=NVDA \
	--set profile=low-latency >"$tmp/run.log" 2>&1 &
td=$!
pids+=($td)
check "with registered subjects: the daemon starts" wait_for 20 bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' status | grep -q '^state: running'"
check "status shows the registry gate ready with the subjects' ids" bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' --json status | tr -d ' \n' | grep -q '\"schema_registry\":{\"state\":\"ready\"'"
sleep 8
TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" drain >/dev/null
wait $td
$PY - "$boot" "$url" >"$tmp/decode.out" 2>&1 <<'EOF'
import io, json, struct, sys, urllib.request
import avro.io, avro.schema
from confluent_kafka import Consumer, TopicPartition
boot, url = sys.argv[1], sys.argv[2]
ok = 0
for topic in ('torghut.ta.bars.1s.v1', 'torghut.ta.signals.v1', 'torghut.ta.status.v1'):
    latest = json.load(urllib.request.urlopen('%s/subjects/%s-value/versions/latest' % (url, topic)))
    c = Consumer({'bootstrap.servers': boot, 'group.id': 'r', 'enable.auto.commit': False})
    tp = TopicPartition(topic, 0)
    lo, hi = c.get_watermark_offsets(tp, timeout=10)
    c.assign([TopicPartition(topic, 0, lo)])
    m = c.poll(10)
    c.close()
    v = m.value()
    magic, sid = v[0], struct.unpack('>I', v[1:5])[0]
    assert magic == 0 and sid == latest['id'], (topic, magic, sid, latest['id'])
    rec = avro.io.DatumReader(avro.schema.parse(latest['schema'])).read(avro.io.BinaryDecoder(io.BytesIO(v[5:])))
    print('decoded', topic, 'id', sid, rec['symbol'], rec['event_ts'])
    ok += 1
print('framed ok', ok)
EOF
check "framed TA records: 0x00 + the subject's id, body decodes with the registry's schema" grep -q 'framed ok 3' "$tmp/decode.out" || sed 's/^/#   /' "$tmp/decode.out" | tail -5

# an incompatible schema already registered: auto-register is refused
registry r2
url2=$url
cat >"$tmp/old.avsc" <<'AVSC'
{"type":"record","namespace":"torghut.ta","name":"TaSignal","fields":[
 {"name":"ingest_ts","type":"string"},{"name":"event_ts","type":"string"},{"name":"symbol","type":"string"},
 {"name":"seq","type":"long"},{"name":"rsi14","type":"string"}]}
AVSC
$PY -c "import json,sys; print(json.dumps({'schema': open('$tmp/old.avsc').read()}))" |
	curl -sf -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data-binary @- \
	"$url2/subjects/torghut.ta.signals.v1-value/versions" >/dev/null
"$B/src/torghutd" "${common[@]}" --set schema.registry.url="$url2" --set schema.registry.auto-register=true >"$tmp/incompat.log" 2>&1; rc=$?
check "incompatible registered schema: refused with exit 3" test $rc -eq 3
check "incompatible: the message names the subject and says why" grep -q 'subject torghut.ta.signals.v1-value: our schema is not BACKWARD compatible' "$tmp/incompat.log"
check "auto-register: the compatible subjects were registered" bash -c "curl -sf '$url2/subjects' | grep -q 'torghut.ta.bars.1s.v1-value'"

# registry down at start: waits, then exit 3
start=$SECONDS
"$B/src/torghutd" "${common[@]}" --set schema.registry.url=http://127.0.0.1:1 >"$tmp/down.log" 2>&1; rc=$?
check "registry down: exit 3 after the start-up deadline" bash -c "test $rc -eq 3 && [ $((SECONDS - start)) -ge 4 ]"
check "registry down: classified schema_registry_unreachable" grep -q 'schema_registry_unreachable' "$tmp/down.log"

finish
