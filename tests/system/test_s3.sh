#!/bin/bash
# The S3 checkpoint store against s3rver (a real S3-speaking server, from
# tests/s3: `npm ci --prefix tests/s3`, done by tools/setup test), through
# tests/s3/fault_proxy.py, which checks SigV4 signatures (s3rver 3.7 does
# not) and injects 503 SlowDown. tests/system/s3_check runs the scenarios.
. "$(dirname "$0")/lib.sh" s3

s3rver=${TORGHUT_S3RVER:-$S/tests/s3/node_modules/s3rver/bin/s3rver.js}
if [ ! -f "$s3rver" ] || ! command -v node >/dev/null; then
	# Not a skip: a machine prepared by tools/setup has it.
	echo "not ok - s3rver missing ($s3rver): run 'sh tools/setup test' or 'npm ci --prefix tests/s3'"
	echo "0 passed, 1 failed"
	exit 1
fi
bucket=torghut-test
mkdir -p "$tmp/s3"
# A free port: bind 0, read it, release it (s3rver prints no port).
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --openssl-legacy-provider: s3rver's continuation tokens use DES, which
# Node 17+ (OpenSSL 3) only has in the legacy provider. --service-endpoint
# localhost: <bucket>.s3.localhost is virtual-host style.
node --openssl-legacy-provider "$s3rver" -d "$tmp/s3" -a 127.0.0.1 -p "$port" -s \
	--service-endpoint localhost --configure-bucket "$bucket" >"$tmp/s3rver.log" 2>&1 &
pids+=($!)
check "s3rver listens on 127.0.0.1:$port" wait_for 20 $PY -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)"

proxy() { # proxy NAME ARGS...: starts a fault proxy in front of s3rver, sets ep
	local name=$1; shift
	$PY "$S/tests/s3/fault_proxy.py" --upstream "$port" "$@" >"$tmp/$name.port" 2>"$tmp/$name.err" &
	pids+=($!)
	wait_for 10 test -s "$tmp/$name.port"
	ep="http://127.0.0.1:$(head -1 "$tmp/$name.port")"
}
run() { # run MODE ENDPOINT: the scenario's own lines, then one line for it
	local mode=$1 rc
	timeout 120 "$B/tests/system/s3_check" "$mode" "$2" "$bucket" >"$tmp/$mode.out" 2>&1
	rc=$?
	sed 's/^/    /' "$tmp/$mode.out"
	check "scenario $mode (exit $rc)" test $rc -eq 0
}

proxy signed --secret S3RVER
run main "$ep"
check "main: every request was signed right" bash -c "curl -sf $ep/__stats | grep -q '\"rejected\": 0'"
check "main: the requests went through the checking proxy" bash -c "[ \$(curl -sf $ep/__stats | sed 's/.*\"requests\": \([0-9]*\).*/\1/') -gt 40 ]"

proxy flaky --secret S3RVER --fail-first 3
run flaky "$ep"
check "flaky: 3 faults served, then signed requests" bash -c "curl -sf $ep/__stats | grep -q '\"faults\": 3, \"rejected\": 0'"

proxy down --fail-all
run down "$ep"

# A port nobody listens on.
dead=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run unreachable "http://127.0.0.1:$dead"

proxy bad --secret S3RVER
run badsecret "$ep"
check "badsecret: refused by the signature check" bash -c "curl -sf $ep/__stats | grep -q '\"rejected\": [1-9]'"

# Virtual-host style: <bucket>.s3.localhost does not resolve, so the proxy
# is curl's http_proxy and forwards with that Host header.
proxy vhost --secret S3RVER
http_proxy=$ep no_proxy= NO_PROXY= run vhost "http://s3.localhost:$port"
check "vhost: requests carried the bucket in the host name" bash -c "curl -sf $ep/__stats | grep -q '\"$bucket.s3.localhost:$port\"'"
check "vhost: signed right" bash -c "curl -sf $ep/__stats | grep -q '\"rejected\": 0'"
finish
