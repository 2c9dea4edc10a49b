#!/bin/sh
# The generated unit passes `systemd-analyze verify` and its exposure score
# stays at or below 2.0. ExecStart is pointed at the built daemon so verify
# can check it without an install.
set -u
B=${top_builddir:-$(pwd)}
command -v systemd-analyze >/dev/null || { echo "# systemd-analyze missing: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/tg-unit-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
make -s -C "$B" systemd/torghutd.service >/dev/null || exit 1
sed "s|^ExecStart=[^ ]*|ExecStart=$B/src/torghutd|" "$B/systemd/torghutd.service" >"$tmp/torghutd.service"
fails=0
if systemd-analyze verify "$tmp/torghutd.service" >"$tmp/verify" 2>&1 && ! grep -q . "$tmp/verify"; then
	echo "ok - systemd-analyze verify"
else
	echo "not ok - systemd-analyze verify"; sed 's/^/#   /' "$tmp/verify"; fails=1
fi
systemd-analyze security --offline=true "$tmp/torghutd.service" >"$tmp/sec" 2>&1
score=$(sed -n 's/.*Overall exposure level for torghutd.service: \([0-9.]*\).*/\1/p' "$tmp/sec")
if [ -n "$score" ] && awk "BEGIN{exit !($score <= 2.0)}"; then
	echo "ok - exposure score $score <= 2.0"
else
	echo "not ok - exposure score '${score}' above 2.0"; tail -n 20 "$tmp/sec" | sed 's/^/#   /'; fails=1
fi
echo "$((2 - fails)) passed, $fails failed"
exit $fails
