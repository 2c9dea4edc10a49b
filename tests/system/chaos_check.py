#!/usr/bin/python3
"""Checks what torghutd committed to Kafka across crashes (test_chaos.sh,
test_checkpoint.sh).

usage: chaos_check.py BOOTSTRAP SENDLOG SCHEMA_DIR SLACK_SECONDS [STARTS_FILE]

Committed records. librdkafka 2.0.2's mock cluster keeps no transaction
state: a read_committed reader also sees records of transactions that were
aborted or never ended (a killed producer's). Every record torghutd writes
in the exactly-once profile names its transaction in the `torghut-txn`
header, and each committed checkpoint's transaction ends with a marker (a
status event `checkpoint`) produced after all its other records were
acknowledged and right before the commit. A transaction is taken as
committed here when its marker is in the log - exactly what a real broker's
read_committed reader would show for the transactions that reached the
commit, and the same rule torghutd applies at restart (kafka_markers.c), so
the state it restored and the records counted here agree. Records of other
transactions are reported (how many the mock kept) and excluded.

Checks: no duplicate identity among committed TA records and trades; seq per
symbol runs 1..N (trades and TA bars: durable across restarts); every 1 s bar
equals the recomputation from the committed trades, every indicator the
recomputation over the committed bars; every trade the replay sent is either
committed or inside a reported gap; a gap was reported for the restarts.
STARTS_FILE (optional): "launch_ns log_path" per daemon start, to report the
restart-to-streaming time."""
import collections
import csv
import json
import re
import sys

import kafka_read
from kafka_read import Checks, decoder
from ta_ref import indicator_mismatches, ns

boot, sendlog_path, schema_dir, slack_s = sys.argv[1:5]
starts_path = sys.argv[5] if len(sys.argv) > 5 and not sys.argv[5].startswith('--') else None
slack = int(float(slack_s) * 1e9)
checks = Checks()
check = checks.check


def read_topic(topic):
    return kafka_read.read_topic(boot, topic)


status_all = read_topic('torghut.status.v1')
status_env = [(json.loads(v), tag) for _, _, _, v, tag in status_all]
committed_tags = {tag for e, tag in status_env if e['payload'].get('status') == 'checkpoint' and tag}
# A transaction aborted in process (its commit failed after the marker was
# written) is named by the gap event that reports the rewind.
aborted = set()
for e, tag in status_env:
    m = re.search(r'torghut-txn ([^) ]+)', e['payload'].get('detail') or '')
    if e['payload'].get('status') == 'gap' and m and tag in committed_tags:
        aborted.add(m.group(1))
print('# %d transactions aborted in process, named by their gap events' % len(aborted & committed_tags))
committed_tags -= aborted
# Per transactional.id (a role=ingest and a role=ta daemon share the topic).
markers = collections.defaultdict(list)
for e, _ in status_env:
    if e['payload'].get('status') == 'checkpoint':
        m = re.search(r'txn=(\S+)', e['payload'].get('detail') or '')
        markers[m.group(1) if m else None].append(e['payload']['attempt'])
check('checkpoint markers were committed', len(markers) > 0, len(markers))
check('checkpoint marker ids only grow (ids are never reused)',
      all(ms == sorted(ms) and len(set(ms)) == len(ms) for ms in markers.values()),
      {t: [m for i, m in enumerate(ms) if i and m <= ms[i - 1]][:5] for t, ms in markers.items()})


# --untagged-committed: records without a tag were written in the
# low-latency profile (no transactions: visible to every reader).
untagged_ok = '--untagged-committed' in sys.argv


def committed(recs, what):
    notag = [] if untagged_ok else [r for r in recs if not r[4]]
    keep = [r for r in recs if r[4] in committed_tags or (untagged_ok and not r[4])]
    print('# %s: %d records in the log, %d committed, %d of transactions that did not commit'
          % (what, len(recs), len(keep), len(recs) - len(keep) - len(notag)))
    if untagged_ok:
        print('# %s: %d written in the low-latency profile' % (what, sum(1 for r in recs if not r[4])))
    check(what + ': every record names its transaction', not notag, len(notag))
    return keep


# ---------------------------------------------------------------- trades
trades = [json.loads(v) for _, _, _, v, _ in committed(read_topic('torghut.trades.v1'), 'trades')]
ids = [(e['symbol'], e['payload']['i']) for e in trades]
dup = [k for k, n in collections.Counter(ids).items() if n > 1]
check('committed trades: each trade id once', not dup, dup[:5])
seqs = collections.defaultdict(list)
for e in trades:
    seqs[e['symbol']].append(e['seq'])
check('committed trades: seq per symbol runs 1..N (durable across restarts)',
      all(sorted(s) == list(range(1, len(s) + 1)) for s in seqs.values()),
      {k: [x for i, x in enumerate(sorted(s)) if x != i + 1][:3] for k, s in seqs.items()})

gaps = []
for e, tag in status_env:
    p = e['payload']
    if p.get('status') == 'gap' and tag in committed_tags and p.get('gap_end'):
        # no start: the restored state had seen no data, so the loss may
        # reach back to the start of the run before
        start = ns(p['gap_start']) if p.get('gap_start') else 0
        gaps.append((start, ns(p['gap_end']), p.get('error_class'), p.get('detail')))
recovery = [g for g in gaps if g[2] == 'recovery']
print('# %d gaps reported (%d after a recovery)' % (len(gaps), len(recovery)))
got = set(ids)
sent = {}
for r in csv.DictReader(open(sendlog_path)):
    if r['type'] == 't':
        sent.setdefault((r['symbol'], int(r['id'])), ns(r['t']))
missing = [(k, t) for k, t in sent.items() if k not in got]
unreported = [(k, t) for k, t in missing if not any(a - slack <= t <= b + slack for a, b, _, _ in gaps)]
print('# %d trades sent, %d committed, %d missing' % (len(sent), len(got & set(sent)), len(missing)))
check('every trade sent is committed or inside a reported gap', not unreported, unreported[:5])

# ---------------------------------------------------------------- TA


dec_bar, dec_sig = decoder(schema_dir, 'ta-bars-1s.avsc'), decoder(schema_dir, 'ta-signals.avsc')
bars = [dec_bar(v) for _, _, _, v, _ in committed(read_topic('torghut.ta.bars.1s.v1'), 'TA bars')]
sigs = [dec_sig(v) for _, _, _, v, _ in committed(read_topic('torghut.ta.signals.v1'), 'TA signals')]
ident = collections.Counter((b['symbol'], b['event_ts'], b['seq']) for b in bars)
check('committed TA bars: no duplicate identity (symbol, event_ts, seq)', all(n == 1 for n in ident.values()),
      [k for k, n in ident.items() if n > 1][:5])
secs = collections.Counter((b['symbol'], b['window']['start']) for b in bars)
check('committed TA bars: one bar per symbol and second', all(n == 1 for n in secs.values()),
      [k for k, n in secs.items() if n > 1][:5])
sident = collections.Counter((s['symbol'], s['event_ts'], s['seq'], s['window']['size']) for s in sigs)
check('committed TA signals: no duplicate identity', all(n == 1 for n in sident.values()),
      [k for k, n in sident.items() if n > 1][:5])
bseq = collections.defaultdict(list)
for b in bars:
    bseq[b['symbol']].append(b['seq'])
check('committed TA bars: seq per symbol runs 1..N', all(sorted(s) == list(range(1, len(s) + 1)) for s in bseq.values()))

expect = collections.defaultdict(list)
for k, e in enumerate(trades):
    t = ns(e['eventTs'])
    expect[(e['symbol'], t // 10**9)].append((t, k, e['payload']['p'], e['payload']['s']))
mism = []
for b in bars:
    tr = sorted(expect.get((b['symbol'], ns(b['window']['start']) // 10**9), []))
    if not tr:
        mism.append(('no committed trades for', b['window']['start']))
        continue
    v = sum(s for _, _, _, s in tr)
    want = dict(o=tr[0][2], h=max(p for _, _, p, _ in tr), l=min(p for _, _, p, _ in tr), c=tr[-1][2], v=v)
    if not all(abs(b[k] - want[k]) <= 1e-9 * max(1, abs(want[k])) for k in want) or b['count'] != len(tr):
        mism.append((b['window']['start'], {k: b[k] for k in ('o', 'h', 'l', 'c', 'v', 'count')}, want, len(tr)))
check('every committed 1 s bar equals the recomputation from the committed trades', bars and not mism, mism[:3])
last = max((ns(e['eventTs']) for e in trades), default=0)
have = {(b['symbol'], ns(b['window']['start']) // 10**9) for b in bars}
nobar = [k for k in expect if k not in have and k[1] * 10**9 < last - slack - 10**9]
check('a committed 1 s bar for every second with committed trades (but the last open ones)', not nobar, nobar[:5])
sigs1s = [s for s in sigs if s['window']['size'] == 'PT1S']
bad = indicator_mismatches(bars, sigs1s)
check('indicators equal a recomputation over the committed bars (as a run without kills over the same input)',
      not bad, bad[:3])

if starts_path:
    times = []
    for line in open(starts_path):
        launch, log = line.split()
        for l in open(log, errors='replace'):
            if ' subscribed (attempt' in l:
                ts = l.split()[0]
                times.append((ns(ts) - int(launch)) / 1e6)
                break
    if times:
        times.sort()
        print('# restart to streaming (launch -> Alpaca subscribed): median %.0f ms, max %.0f ms over %d starts'
              % (times[len(times) // 2], times[-1], len(times)))
        print('restart_ms median=%.1f max=%.1f n=%d' % (times[len(times) // 2], times[-1], len(times)))

sys.exit(checks.summary())
