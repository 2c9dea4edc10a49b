#!/bin/bash
# torghutctl top against the real daemon: torghut-replay plays a generated
# NVDA session over ws:// into torghutd (Kafka mock in a helper process);
# `torghutctl top` runs in a detached 80x40 tmux pane. The captured screen
# must show every field, q and Ctrl-C must exit 0, and the terminal must come
# back as it was (primary screen, cursor shown, same stty settings).
set -u
B=${top_builddir:-$(pwd)}
command -v tmux >/dev/null || { echo "# tmux missing: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/tg-top-XXXXXX)
pids=()
TM() { tmux -S "$tmp/tmux.sock" "$@"; }
cleanup() {
	TM kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export TERM=${TERM:-xterm}
[ "$TERM" = dumb ] && export TERM=xterm
npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok - $1"; }
no() { nfail=$((nfail + 1)); echo "not ok - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" 2>/dev/null; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
ctl() { "$B/src/torghutctl" -s "$tmp/c.sock" "$@"; }

"$B/src/torghut-replay" generate --seed 7 --minutes 2 --out "$tmp/rec.jsonl" >/dev/null || exit 1
echo KEY1 >"$tmp/key"; echo SECRET1 >"$tmp/secret"
"$B/src/cmd/torghut-kafka-mock" torghut.trades.v1 torghut.quotes.v1 torghut.bars.1m.v1 torghut.status.v1 \
	torghut.ta.bars.1s.v1 torghut.ta.signals.v1 torghut.ta.status.v1 >"$tmp/kafka.out" 2>"$tmp/kafka.err" &
pids+=($!)
wait_for 20 test -s "$tmp/kafka.out" || { echo "not ok - kafka mock helper started"; exit 1; }
"$B/src/torghut-replay" serve --recording "$tmp/rec.jsonl" --listen 127.0.0.1:0 --key KEY1 --secret SECRET1 \
	--speed 5 --batch 4 --loop >"$tmp/replay.out" 2>"$tmp/replay.err" &
pids+=($!)
wait_for 20 grep -q listening "$tmp/replay.out" || { echo "not ok - replay started"; exit 1; }
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$tmp/replay.out")
cat >"$tmp/torghut.conf" <<CONF
profile = low-latency
alpaca.url = ws://127.0.0.1:$port/v2/test
alpaca.key.file = $tmp/key
alpaca.secret.file = $tmp/secret
alpaca.symbols = NVDA
alpaca.channels = trades,quotes,bars
kafka.bootstrap.servers = $(head -1 "$tmp/kafka.out")
control.socket = $tmp/c.sock
state.checkpoints.dir = $tmp/chk
http.listen = 127.0.0.1:0
execution.checkpointing.interval = 1s
CONF
"$B/src/torghutd" -c "$tmp/torghut.conf" >"$tmp/torghutd.log" 2>&1 &
tpid=$!
pids+=($tpid)
check "torghutd running" wait_for 30 bash -c "'$B/src/torghutctl' -s '$tmp/c.sock' status | grep -q '^state: running'"
check "a first 1 s bar for NVDA" wait_for 30 bash -c "'$B/src/torghutctl' -s '$tmp/c.sock' --json market | grep -q '\"NVDA\"'"

# Runs top in a fresh 80x40 pane; the shell records stty before and after
# and top's exit status, then stays so the pane can be inspected.
start_top() {
	local name=$1
	TM new-session -d -s "$name" -x 80 -y 40 \
		"stty -g >'$tmp/$name.before'; '$B/src/torghutctl' -s '$tmp/c.sock' top; echo \$? >'$tmp/$name.rc'; stty -g >'$tmp/$name.after'; echo TOP-ENDED; sleep 600"
}
pane() { TM display-message -p -t "$1" "$2"; }

start_top q
sleep 3
TM capture-pane -p -t q >"$tmp/screen"
awk '{ l[NR] = $0 } NF { n = NR } END { for (i = 1; i <= n; i++) print "#   " l[i] }' "$tmp/screen"
has() { grep -qE -- "$1" "$tmp/screen"; }
check "header: state and profile" has '^torghut top  pid [0-9]+  up [0-9]+h[0-9]{2}m[0-9]{2}s  running  low-latency/all'
check "connection state" has '^alpaca  subscribed +connects 1'
check "kafka state and queue depth" has '^kafka   ready +queued [0-9]+  commits [0-9]+'
check "loop lag p50/p99/p999" has '^loop    lag p50 [0-9.]+(us|ms|s)  p99 [0-9.]+(us|ms|s)  p999 [0-9.]+(us|ms|s)'
check "msgs/s in and out header" has '^IN channel +msgs/s +total  OUT topic +msgs/s queued  ack p50  ack p99$'
check "trades in/out rate computed from deltas" has '^trades +[0-9.]+ +[0-9]+  trades +[0-9.]+ +[0-9]+ +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s)$'
check "quotes in rate" has '^quotes +[0-9.]+ +[0-9]+ '
check "ta.signals delivery latency" has '^ +ta\.signals +[0-9.]+ +[0-9]+ +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s)$'
check "latency table header" has '^LATENCY +count +p50 +p99 +p999 +max$'
check "ingest latency" has '^ingest \(event>produce\) +[0-9]+ +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s)'
check "event-to-signal latency" has '^event>signal +[0-9]+ +[0-9.]+(us|ms|s) '
check "checkpoint age" has '^checkpoint age (~[0-9]+s|\?) '
check "per-symbol table header" has '^SYMBOL +last +1s open +1s high +1s low +1s vol +RSI14 +MACD h +spread$'
check "NVDA row with last price and 1 s bar" has '^NVDA +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +[0-9]+ '
check "key line" has '^q or Ctrl-C: quit$'
check "fits 80 columns" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$tmp/screen")" -le 80
check "alternate screen on while running" test "$(pane q '#{alternate_on}')" = 1
check "cursor hidden while running" test "$(pane q '#{cursor_flag}')" = 0

# SIGWINCH: a 70x24 pane gets the compact view (no blank separators), cut
# to its width, with the per-symbol row and the key line still on screen.
TM resize-window -t q -x 70 -y 24
sleep 0.5
TM capture-pane -p -t q >"$tmp/small"
width() { awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$1"; }
check "resize: redrawn within 70 columns" test "$(width "$tmp/small")" -le 70
check "resize: 24 rows still show latency, NVDA and the key line" \
	bash -c "grep -q '^LATENCY' '$tmp/small' && grep -q '^NVDA  ' '$tmp/small' && grep -q '^q or Ctrl-C: quit' '$tmp/small'"

TM send-keys -t q q
check "q: top exited" wait_for 5 test -s "$tmp/q.rc"
check "q: exit status 0" test "$(cat "$tmp/q.rc" 2>/dev/null)" = 0
check "q: primary screen back" test "$(pane q '#{alternate_on}')" = 0
check "q: cursor shown" test "$(pane q '#{cursor_flag}')" = 1
check "q: terminal modes restored" cmp -s "$tmp/q.before" "$tmp/q.after"
TM capture-pane -p -t q >"$tmp/after"
check "q: the view is gone from the screen" bash -c "grep -q TOP-ENDED '$tmp/after' && ! grep -q LATENCY '$tmp/after'"

start_top c
sleep 2
TM send-keys -t c C-c
check "Ctrl-C: top exited" wait_for 5 test -s "$tmp/c.rc"
check "Ctrl-C: exit status 0" test "$(cat "$tmp/c.rc" 2>/dev/null)" = 0
check "Ctrl-C: primary screen back, cursor shown" test "$(pane c '#{alternate_on}#{cursor_flag}')" = 01
check "Ctrl-C: terminal modes restored" cmp -s "$tmp/c.before" "$tmp/c.after"

# Not on a terminal: plain frames, no escape codes, -n stops it.
ctl top -n 2 -d 0.5 >"$tmp/plain" 2>&1
check "not a tty: two plain frames, no escapes" bash -c "[ \$(grep -c '^torghut top' '$tmp/plain') -eq 2 ] && ! grep -q \$'\\x1b' '$tmp/plain'"

ctl drain >/dev/null
wait $tpid
check "torghutd drained, exit 0" test $? -eq 0
[ $nfail -eq 0 ] || { echo "# torghutd log:"; grep -v ' debug ' "$tmp/torghutd.log" | tail -20 | sed 's/^/#   /'; }
echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
