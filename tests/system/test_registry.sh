#!/bin/bash
# The schema registry gate of the real daemon against the test registry
# (tests/registry/fake_registry.py): refused without registration, registered
# by --register-schemas (TA subjects as Avro, ingest subjects as JSON Schema,
# each role its own), framed TA records decodable through the registry, plain
# JSON ingest records valid against their registered JSON Schema, an
# incompatible registered schema (Avro or JSON) refused, an unreachable
# registry -> exit 3, and one that comes up late: the /readyz gate and the
# error metrics while it is down and after.
. "$(dirname "$0")/lib.sh" reg

registry() { # registry NAME [OPTIONS]: starts a fake registry, sets url (not in a subshell: pids must see it)
	local name=$1
	shift
	$PY "$S/tests/registry/fake_registry.py" "$@" >"$tmp/$name.port" 2>"$tmp/$name.err" &
	pids+=($!)
	wait_for 10 test -s "$tmp/$name.port"
	url="http://127.0.0.1:$(head -1 "$tmp/$name.port")"
}
ta_subjects="torghut.ta.bars.1s.v1-value torghut.ta.signals.v1-value torghut.ta.status.v1-value"
ingest_subjects="torghut.trades.v1-value torghut.quotes.v1-value torghut.bars.1m.v1-value torghut.status.v1-value"
typed() { local t=$1 s; shift; for s in "$@"; do printf '%s=%s ' "$s" "$t"; done; }
# subjects_are URL SUBJECT=TYPE...: the registry holds exactly these subjects,
# each one's latest version with that schemaType (absent means AVRO)
subjects_are() {
	$PY - "$@" <<'EOF'
import json, sys, urllib.request
url, want = sys.argv[1], dict(a.split('=') for a in sys.argv[2:])
got = json.load(urllib.request.urlopen(url + '/subjects'))
if sorted(got) != sorted(want):
    sys.exit('subjects %s, want %s' % (sorted(got), sorted(want)))
for name, kind in want.items():
    v = json.load(urllib.request.urlopen('%s/subjects/%s/versions/latest' % (url, name)))
    if v.get('schemaType', 'AVRO') != kind:
        sys.exit('%s: schemaType %s, want %s' % (name, v.get('schemaType', 'AVRO'), kind))
EOF
}
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/kafka.out" 2>/dev/null &
pids+=($!)
wait_for 20 test -s "$tmp/kafka.out"
boot=$(head -1 "$tmp/kafka.out")
common=(--set control.socket="$tmp/c.sock" --set http.listen=127.0.0.1:0 --set schema.dir="$S/schemas"
	--set kafka.bootstrap.servers="$boot" --set startup.timeout=5s)

registry r1
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" >"$tmp/refused.log" 2>&1; rc=$?
check "missing subjects: refused with exit 3" test $rc -eq 3
check "missing subjects: the message names the subject and the way out" \
	grep -q 'subject torghut.ta.bars.1s.v1-value does not hold our schema.*--register-schemas' "$tmp/refused.log"

"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --register-schemas >"$tmp/reg.log" 2>&1; rc=$?
check "--register-schemas: exit 0" test $rc -eq 0
subjects=$(curl -sf "$url/subjects")
check "--register-schemas: the three TA subjects exist" bash -c "echo '$subjects' | grep -q 'torghut.ta.signals.v1-value' && echo '$subjects' | grep -q 'torghut.ta.status.v1-value' && echo '$subjects' | grep -q 'torghut.ta.bars.1s.v1-value'"
check "--register-schemas: the ingest subjects hold JSON Schemas, the TA ones Avro" \
	subjects_are "$url" $(typed AVRO $ta_subjects) $(typed JSON $ingest_subjects)
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --register-schemas >"$tmp/reg2.log" 2>&1; rc=$?
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
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --set alpaca.url="ws://127.0.0.1:$port/v2/test" \
	--set alpaca.key.file="$tmp/k" --set alpaca.secret.file="$tmp/k" --set alpaca.symbols=NVDA \
	--set profile=low-latency >"$tmp/run.log" 2>&1 &
td=$!
pids+=($td)
check "with registered subjects: the daemon starts" wait_for 20 bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' status | grep -q '^state: running'"
check "status shows the registry gate ready with the subjects' ids" bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' --json status | tr -d ' \n' | grep -q '\"schema_registry\":{\"state\":\"ready\"'"
check "status lists the seven subjects, each with its id" bash -c "TORGHUT_SOCKET=$tmp/c.sock '$B/src/torghutctl' --json status |
	$PY -c 'import json, sys; s = json.load(sys.stdin)[\"subsystems\"][\"schema_registry\"][\"subjects\"]; sys.exit(not (len(s) == 7 and all(isinstance(i, int) for i in s.values())))'"
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

# ingest records stay plain JSON and are valid against their subject's schema
$PY - "$boot" "$url" >"$tmp/validate.out" 2>&1 <<'EOF'
import json, sys, urllib.request
import jsonschema
from confluent_kafka import Consumer, TopicPartition
boot, url = sys.argv[1], sys.argv[2]
ok = 0
for topic in ('torghut.trades.v1', 'torghut.quotes.v1', 'torghut.bars.1m.v1', 'torghut.status.v1'):
    latest = json.load(urllib.request.urlopen('%s/subjects/%s-value/versions/latest' % (url, topic)))
    assert latest.get('schemaType') == 'JSON', latest
    validator = jsonschema.Draft7Validator(json.loads(latest['schema']),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    c = Consumer({'bootstrap.servers': boot, 'group.id': 'v', 'enable.auto.commit': False})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, lo)])
    n, want = 0, min(hi - lo, 500)
    while n < want:
        m = c.poll(10)
        assert m is not None, (topic, n, want)
        if m.error():
            continue
        v = m.value()
        assert v[:1] == b'{', (topic, v[:8])  # no Confluent framing
        validator.validate(json.loads(v))
        n += 1
    c.close()
    assert n > 0, topic
    print('validated', topic, n)
    ok += 1
print('json ok', ok)
EOF
check "ingest records: plain JSON, valid against the registered JSON Schema (4 topics)" grep -q 'json ok 4' "$tmp/validate.out"
sed 's/^/#   /' "$tmp/validate.out" | tail -6

# each role registers its own subjects only
registry r3
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --set role=ingest --register-schemas >"$tmp/ingest.log" 2>&1; rc=$?
check "role=ingest --register-schemas: exit 0" test $rc -eq 0
check "role=ingest: only the ingest subjects, as JSON Schema" subjects_are "$url" $(typed JSON $ingest_subjects)
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --set role=ta --register-schemas >"$tmp/ta.log" 2>&1; rc=$?
check "role=ta --register-schemas: exit 0" test $rc -eq 0
check "role=ta: adds only the TA subjects, as Avro" subjects_are "$url" $(typed AVRO $ta_subjects) $(typed JSON $ingest_subjects)

# an incompatible JSON Schema already registered for an ingest subject
curl -sf -X POST "$url/_reset" >/dev/null
$PY -c "import json; print(json.dumps({'schemaType': 'JSON', 'schema': json.dumps({'type': 'object', 'properties': {'symbol': {'type': 'string'}, 'bidSize': {'type': 'integer'}}})}))" |
	curl -sf -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data-binary @- \
	"$url/subjects/torghut.quotes.v1-value/versions" >/dev/null
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --set schema.registry.auto-register=true >"$tmp/jincompat.log" 2>&1; rc=$?
check "incompatible JSON subject: refused with exit 3" test $rc -eq 3
check "incompatible JSON subject: the message names the subject and says why" \
	grep -q 'subject torghut.quotes.v1-value: our schema is not BACKWARD compatible.*property bidSize removed' "$tmp/jincompat.log"

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
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url2" --set schema.registry.auto-register=true >"$tmp/incompat.log" 2>&1; rc=$?
check "incompatible registered schema: refused with exit 3" test $rc -eq 3
check "incompatible: the message names the subject and says why" grep -q 'subject torghut.ta.signals.v1-value: our schema is not BACKWARD compatible' "$tmp/incompat.log"
check "auto-register: the compatible subjects were registered" bash -c "curl -sf '$url2/subjects' | grep -q 'torghut.ta.bars.1s.v1-value'"

# registry down at start: waits, then exit 3
start=$SECONDS
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url=http://127.0.0.1:1 >"$tmp/down.log" 2>&1; rc=$?
check "registry down: exit 3 after the start-up deadline" bash -c "test $rc -eq 3 && [ $((SECONDS - start)) -ge 4 ]"
check "registry down: classified schema_registry_unreachable" grep -q 'schema_registry_unreachable' "$tmp/down.log"

# the registry comes up after the daemon: /readyz and the metrics follow it
rport=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="http://127.0.0.1:$rport" --set startup.timeout=60s \
	--set schema.registry.auto-register=true >"$tmp/late.log" 2>&1 &
td=$!
pids+=($td)
hport=
http_port() {
	hport=$(TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" --json status |
		$PY -c 'import json, sys; print(json.load(sys.stdin)["subsystems"]["http"]["port"])')
	[ -n "$hport" ]
}
# readyz KEY...: the value at that path of the /readyz body, as JSON
readyz() {
	curl -s "http://127.0.0.1:$hport/readyz" |
		$PY -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[k]
print(json.dumps(v))' "$@"
}
# metric 'NAME{LABELS}': its value, once promcheck.py accepted the exposition
metric() {
	curl -s "http://127.0.0.1:$hport/metrics" >"$tmp/metrics" &&
		$PY "$S/tests/system/promcheck.py" <"$tmp/metrics" >/dev/null &&
		awk -v k="$1" '$1 == k { print $2 }' "$tmp/metrics"
}
down_seen() { [ "$(readyz schema_registry error_class)" = '"schema_registry_unreachable"' ]; }
wait_for 20 http_port
check "registry down at start: the daemon waits, /readyz says why" wait_for 15 down_seen
check "registry down: gate schema_registry false, first failing gate's class schema_registry_unreachable" \
	test "$(readyz gates schema_registry)-$(readyz error_class)" = 'false-"schema_registry_unreachable"'
unreachable=$(metric 'torghut_schema_registry_errors_total{class="schema_registry_unreachable"}')
resolving=$(metric 'torghut_schema_registry_gate_state{state="resolving"}')
gate=$(metric 'torghut_readyz_gate_status{gate="schema_registry"}')
check "registry down: /metrics valid, counts schema_registry_unreachable ($unreachable), gate state resolving" \
	eval '[ "${unreachable:-0}" -ge 1 ] && [ "$resolving" = 1 ] && [ "$gate" = 0 ]'
# it comes up sick: its first 4 answers are 503 (the gate retries each call every second)
registry r4 --port "$rport" --fail 503:4
ready_seen() { [ "$(readyz gates schema_registry)" = true ]; }
check "registry up: the gate opens, the subjects are registered" wait_for 30 ready_seen
ready=$(metric 'torghut_schema_registry_gate_state{state="ready"}')
resolving=$(metric 'torghut_schema_registry_gate_state{state="resolving"}')
server=$(metric 'torghut_schema_registry_errors_total{class="schema_registry_error"}')
incompatible=$(metric 'torghut_schema_registry_errors_total{class="schema_incompatible"}')
auth=$(metric 'torghut_schema_registry_errors_total{class="schema_registry_auth"}')
check "registry up: gate state ready; the four 503s counted as schema_registry_error ($server), no other class" \
	eval '[ "$ready" = 1 ] && [ "$resolving" = 0 ] && [ "$server" = 4 ] && [ "$incompatible" = 0 ] && [ "$auth" = 0 ]'
check "registry up: every subject registered" subjects_are "$url" $(typed AVRO $ta_subjects) $(typed JSON $ingest_subjects)
TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" drain >/dev/null
wait $td
check "registry up: the daemon drains and exits 0" test $? -eq 0

# a slow registry: the loop keeps serving while the gate waits for answers
registry r5
curl -sf -X POST -d '{"ms": 3000, "count": 2}' "$url/_delay" >/dev/null
"$B/src/torghutd" "${common[@]}" --set state.checkpoints.dir="$(mktemp -d -p "$tmp")" --set schema.registry.url="$url" --set startup.timeout=60s \
	--set schema.registry.auto-register=true >"$tmp/slow.log" 2>&1 &
td=$!
pids+=($td)
wait_for 20 http_port
resolving_slow() { [ "$(readyz schema_registry state)" = '"resolving"' ]; }
fast_status() { # status answers within 300 ms while a registry call hangs
	local t0=$(date +%s%N)
	TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" status >/dev/null && [ $(($(date +%s%N) - t0)) -lt 300000000 ]
}
sleep 1
check "slow registry: the gate is still resolving after 1 s" resolving_slow
healthz() { curl -sf -m 1 "http://127.0.0.1:$hport/healthz" >/dev/null; }
check "slow registry: status and /healthz answer at once meanwhile" eval 'fast_status && fast_status && healthz'
lagmax=$(metric 'torghut_loop_lag_max_seconds')
check "slow registry: loop lag stays under 100 ms ($lagmax s)" $PY -c "import sys; sys.exit(not float('${lagmax:-1}') < 0.1)"
check "slow registry: the gate opens once the answers come" wait_for 30 ready_seen
TORGHUT_SOCKET=$tmp/c.sock "$B/src/torghutctl" drain >/dev/null
wait $td

finish
