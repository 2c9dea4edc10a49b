#!/usr/bin/python3
"""End-to-end checker: reads what torghutd wrote to Kafka (a real librdkafka
consumer, read_committed), and checks it against what torghut-replay sent
(its send log) and the recording it sent from, recomputing micro-bars and
indicators independently. Avro is decoded with python3-avro, not our code.

usage: e2e_check.py BOOTSTRAP RECORDING SENDLOG SCHEMA_DIR STATUS_JSON

librdkafka 2.0.2's mock cluster keeps a bounded log per partition and drops
the oldest records of a long topic: where that happened (low watermark > 0)
the retained tail is compared record by record, and the daemon's own delivery
counters (from STATUS_JSON, taken before the drain) prove the rest.
Prints one `ok -`/`not ok -` line per check and `N passed, M failed`."""
import csv
import json
import sys
import zoneinfo
from datetime import datetime

import kafka_read
from kafka_read import Checks, decoder
from ta_ref import indicator_mismatches, ns

boot, rec_path, sendlog_path, schema_dir, status_path = sys.argv[1:6]
status = json.load(open(status_path))['subsystems']
truncated = {}
checks = Checks()
check = checks.check


def read_topic(topic):
    return [(k, v) for _, _, k, v, _ in kafka_read.read_topic(boot, topic, truncated)]


# ---------------------------------------------------------------- what was sent
rec_msgs = []
for line in open(rec_path):
    o = json.loads(line)
    if 'msg' in o:
        rec_msgs.append(o['msg'])
sent = list(csv.DictReader(open(sendlog_path)))
sent_trades = [(r['symbol'], int(r['id'])) for r in sent if r['type'] == 't']
unique_trades = set(sent_trades)
check('replay sent trades (and a few duplicate ids)', len(sent_trades) > 100 and len(unique_trades) < len(sent_trades),
      (len(sent_trades), len(unique_trades)))

# ---------------------------------------------------------------- ingest envelopes
KEYS = ['ingestTs', 'eventTs', 'feed', 'channel', 'symbol', 'seq', 'payload', 'accountLabel', 'isFinal',
        'source', 'window', 'version', 'provider', 'marketSession', 'delayClass']
NY = zoneinfo.ZoneInfo('America/New_York')


def session_of(t_ns):
    d = datetime.fromtimestamp(t_ns / 1e9, NY)
    m = d.hour * 60 + d.minute
    return 'pre' if 240 <= m < 570 else 'regular' if 570 <= m < 960 else 'post' if 960 <= m < 1200 else 'overnight'


trades = read_topic('torghut.trades.v1')
envs = [json.loads(v) for _, v in trades]
bad_keys = [e for e in envs if list(e.keys()) != KEYS]
check('trade envelopes have every wire.md key, in order', envs and not bad_keys, bad_keys[:1])
check('trade envelopes: version 2, provider alpaca, source ws, channel trades, isFinal, feed test',
      all(e['version'] == 2 and e['provider'] == 'alpaca' and e['source'] == 'ws' and e['channel'] == 'trades'
          and e['isFinal'] is True and e['feed'] == 'test' and e['accountLabel'] is None and e['window'] is None
          for e in envs))
check('trade keys are the symbol', all(k.decode() == json.loads(v)['symbol'] for k, v in trades))
check('payload keeps Alpaca short keys without T',
      all('T' not in e['payload'] and set('Sixpsctz') <= set(e['payload']) for e in envs))
check('eventTs is the payload t', all(ns(e['eventTs']) == ns(e['payload']['t']) for e in envs))
check('marketSession from eventTs in New York', all(e['marketSession'] == session_of(ns(e['eventTs'])) for e in envs))
got = [(e['symbol'], e['payload']['i']) for e in envs]
dups = len(got) - len(set(got))
check('no trade was dropped by the mock log bound', 'torghut.trades.v1' not in truncated, truncated)
check('every trade sent appears exactly once (by id)', set(got) == unique_trades and dups == 0,
      'missing %d, extra %d, duplicates %d' % (len(unique_trades - set(got)), len(set(got) - unique_trades), dups))
seqs = {}
for e in envs:
    seqs.setdefault(e['symbol'], []).append(e['seq'])
check('seq per (channel, symbol) runs 1..N without holes', all(sorted(s) == list(range(1, len(s) + 1)) for s in seqs.values()))

quotes = [json.loads(v) for _, v in read_topic('torghut.quotes.v1')]
sent_q = [(r['symbol'], ns(r['t'])) for r in sent if r['type'] == 'q']
cut = truncated.get('torghut.quotes.v1', 0)
got_q = [(q['symbol'], ns(q['eventTs'])) for q in quotes]
check('quotes in Kafka are exactly the quotes sent, in order (mock kept the last %d of %d)' % (len(got_q), len(sent_q)),
      got_q == sent_q[cut:], (len(got_q), len(sent_q), cut))
kt = status['kafka']['topics']
check('the daemon delivered one record per message sent (trades, quotes, bars)',
      kt['quotes']['delivered'] == len(sent_q) and kt['trades']['delivered'] == len(unique_trades)
      and kt['bars']['delivered'] == sum(1 for r in sent if r['type'] == 'b')
      and all(t['failed'] == 0 and t['refused'] == 0 and t['rejected'] == 0 for t in kt.values()),
      {k: v for k, v in kt.items() if k in ('trades', 'quotes', 'bars')})
bars1m = [json.loads(v) for _, v in read_topic('torghut.bars.1m.v1')]
check('every minute bar sent appears once', len(bars1m) == sum(1 for r in sent if r['type'] == 'b'))
status = [json.loads(v) for _, v in read_topic('torghut.status.v1')]
states = [s['payload']['status'] for s in status if s['payload'].get('component') == 'torghutd'
          and s['payload']['status'] != 'checkpoint']  # commit markers, see chaos_check.py
check('connection status events: connecting, authenticated, subscribed', states[:3] == ['connecting', 'authenticated', 'subscribed'], states[:5])

# ---------------------------------------------------------------- TA records
dec_bar, dec_sig, dec_st = (decoder(schema_dir, n) for n in ('ta-bars-1s.avsc', 'ta-signals.avsc', 'ta-status.avsc'))
tabars = [dec_bar(v) for _, v in read_topic('torghut.ta.bars.1s.v1')]
tasigs = [dec_sig(v) for _, v in read_topic('torghut.ta.signals.v1')]
tastat = [dec_st(v) for _, v in read_topic('torghut.ta.status.v1')]
check('TA bars, signals and heartbeats decode with the Avro schemas', tabars and tasigs and tastat)

# Independent micro-bars: unique trades, in send order, grouped by second.
by_id = {}
for m in rec_msgs:
    if m['T'] == 't':
        by_id.setdefault((m['S'], m['i']), m)
order = []
seen = set()
for sym, i in sent_trades:
    if (sym, i) not in seen:
        seen.add((sym, i))
        order.append(by_id[(sym, i)])
expect = {}
for arrival, m in enumerate(order):
    t = ns(m['t'])
    sec = t // 10**9
    b = expect.setdefault((m['S'], sec), {'trades': []})
    b['trades'].append((t, arrival, m['p'], m['s']))
bars_ok, mism = 0, []
for rec in tabars:
    start = ns(rec['window']['start'])
    e = expect.get((rec['symbol'], start // 10**9))
    if not e:
        mism.append(('unexpected bar', rec['window']['start']))
        continue
    tr = sorted(e['trades'])
    v = sum(s for _, _, _, s in tr)
    want = dict(o=tr[0][2], h=max(p for _, _, p, _ in tr), l=min(p for _, _, p, _ in tr), c=tr[-1][2], v=v,
                count=len(tr), vwap=sum(p * s for _, _, p, s in tr) / v)
    okb = all(abs(rec[k] - want[k]) <= 1e-9 * max(1, abs(want[k])) for k in ('o', 'h', 'l', 'c', 'v', 'vwap')) \
        and rec['count'] == want['count'] and ns(rec['event_ts']) == start + 10**9 \
        and rec['window']['size'] == 'PT1S' and rec['is_final'] is True and rec['source'] == 'ta'
    if okb:
        bars_ok += 1
    else:
        mism.append((rec['window']['start'], {k: rec[k] for k in ('o', 'h', 'l', 'c', 'v', 'count')}, want))
check('every emitted 1 s bar equals the recomputation from the trades sent', tabars and not mism, mism[:2])
check('a 1 s bar for every second that had trades', len(tabars) == len(expect), (len(tabars), len(expect)))
bseq = {}
for r in tabars:
    bseq.setdefault(r['symbol'], []).append(r['seq'])
check('bar seq per symbol runs 1..N in event-time order', all(s == list(range(1, len(s) + 1)) for s in bseq.values()))

# Independent indicators over the emitted closes: ta_ref.py (TA-Lib definitions).
sigs1s = [s for s in tasigs if s['window']['size'] == 'PT1S']
check('one 1 s signal per 1 s bar, same seq and event_ts',
      sorted((s['symbol'], s['seq'], s['event_ts']) for s in sigs1s) == sorted((b['symbol'], b['seq'], b['event_ts']) for b in tabars))
ind_bad = indicator_mismatches(tabars, sigs1s)
check('EMA12/26, MACD(12,26,9), RSI14, Bollinger and VWAP (session, 5 m) equal an independent recomputation, null during warm-up', not ind_bad, ind_bad[:3])
check('heartbeats carry status ok/degraded and key ta', all(s['status'] in ('ok', 'degraded') and s['heartbeat'] for s in tastat))

sys.exit(checks.summary())
