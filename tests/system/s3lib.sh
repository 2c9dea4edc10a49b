# s3lib.sh - starts s3rver for a system test (after lib.sh): s3rver_start
# BUCKET sets s3port. s3rver comes from tests/s3 (`npm ci --prefix tests/s3`,
# done by tools/setup test); a missing one is a failure, never a skip.
s3rver=${TORGHUT_S3RVER:-$S/tests/s3/node_modules/s3rver/bin/s3rver.js}
s3rver_start() {
	if [ ! -f "$s3rver" ] || ! command -v node >/dev/null; then
		echo "not ok - s3rver missing ($s3rver): run 'sh tools/setup test' or 'npm ci --prefix tests/s3'"
		echo "0 passed, 1 failed"
		exit 1
	fi
	mkdir -p "$tmp/s3"
	# A free port: bind 0, read it, release it (s3rver prints no port).
	s3port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# --openssl-legacy-provider: s3rver's continuation tokens use DES, which
	# Node 17+ (OpenSSL 3) only has in the legacy provider. --service-endpoint
	# localhost: <bucket>.s3.localhost is virtual-host style.
	node --openssl-legacy-provider "$s3rver" -d "$tmp/s3" -a 127.0.0.1 -p "$s3port" -s \
		--service-endpoint localhost --configure-bucket "$1" >"$tmp/s3rver.log" 2>&1 &
	pids+=($!)
	check "s3rver listens on 127.0.0.1:$s3port" wait_for 20 $PY -c "import socket; socket.create_connection(('127.0.0.1', $s3port), 1)"
}
