#!/bin/bash
# The S3 checkpoint store against s3rver (a real S3-speaking server, from
# tests/s3: `npm ci --prefix tests/s3`, done by tools/setup test), through
# tests/s3/fault_proxy.py, which checks SigV4 signatures (s3rver 3.7 does
# not) and injects 503 SlowDown. tests/system/s3_check runs the scenarios.
. "$(dirname "$0")/lib.sh" s3

. "$(dirname "$0")/s3lib.sh"
bucket=torghut-test
s3rver_start "$bucket"
port=$s3port

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
