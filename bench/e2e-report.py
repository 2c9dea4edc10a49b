#!/usr/bin/python3
"""Replaces the "## End-to-end" section of docs/benchmarks.md with what
bench/e2e-latency.sh measured, and draws its plots with gnuplot.

usage: e2e-report.py BENCHMARKS_MD PLOT_DIR [--sweep F...] [--soak F] [--tuning F...]

--sweep: one run per offered rate (low-latency profile defaults); the one at
100 k msgs/s should carry histogram buckets (E2E_HIST=1). --soak: a long run
with RSS samples (E2E_RSS_EVERY). --tuning: runs at one rate with E2E_SET
knobs. Plots go to PLOT_DIR (docs/bench) and are linked relative to docs/."""
import json
import os
import subprocess
import sys
import tempfile

GOAL_SUSTAINED = 500000
GOAL_F2P_P99_US = 50
GOAL_C2S_P99_US = 1000
GOAL_LAG_P999_US = 1000
GOAL_RSS_MIB = 64


def parse_args(argv):
    md, plot_dir = argv[0], argv[1]
    groups = {'--sweep': [], '--soak': [], '--tuning': []}
    cur = None
    for a in argv[2:]:
        if a in groups:
            cur = a
        elif cur:
            groups[cur].append(a)
        else:
            sys.exit('e2e-report.py: file before --sweep/--soak/--tuning: ' + a)
    load = lambda fs: [json.load(open(f)) for f in fs]
    return md, plot_dir, load(groups['--sweep']), load(groups['--soak']), load(groups['--tuning'])


def us(h, k):
    return '%.0f' % (h[k] * 1e6) if h and h.get(k) is not None else '-'


def ms(h, k):
    return '%.1f' % (h[k] * 1e3) if h and h.get(k) is not None else '-'


def sustained(r):
    """Nothing refused, no slow-client disconnect, in >= 98 % of offered."""
    return r['in_rate'] >= 0.98 * r['offered_rate'] and not r['kafka_refused'] and not r.get('reconnects')


def status(ok, missed_by=''):
    return 'met' if ok else '**missed**' + (' (%s)' % missed_by if missed_by else '')


def gnuplot(script, log):
    try:
        p = subprocess.run(['gnuplot'], input=script, text=True, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.append('gnuplot failed: %s' % e)
        return False
    if p.returncode != 0:
        log.append('gnuplot failed: ' + p.stderr.strip()[:300])
        return False
    return True


HEAD = '''set terminal pngcairo size 1000,520 noenhanced font ",10"
set grid
set key top left
'''


def plot_rates(runs, out, tmp, log):
    dat = os.path.join(tmp, 'rates.dat')
    with open(dat, 'w') as f:
        f.write('# offered f2p_p50 f2p_p99 f2p_p999 c2s_p50 c2s_p99 c2s_p999 lag_p99 lag_p999 ack_p99 (us)\n')
        for r in sorted(runs, key=lambda r: r['offered_rate']):
            row = [r['offered_rate']]
            for key, ks in (('frame_to_produce_s', ('p50', 'p99', 'p999')),
                            ('bar_close_to_signal_s', ('p50', 'p99', 'p999')),
                            ('loop_lag_s', ('p99', 'p999')), ('produce_to_ack_s', ('p99',))):
                h = r.get(key) or {}
                row += [max((h.get(k) or 0) * 1e6, 1) for k in ks]
            f.write(' '.join(str(x) for x in row) + '\n')
    return gnuplot(HEAD + '''set output '%s'
set title "latency percentiles vs offered rate (low-latency profile, one run per rate; goals dashed)"
set logscale xy
set xlabel 'offered msgs/s'
set ylabel 'microseconds (log)'
set key outside right
plot '%s' u 1:2 w lp t 'frame->produce p50', '' u 1:3 w lp t 'frame->produce p99', '' u 1:4 w lp t 'frame->produce p99.9', \\
     '' u 1:6 w lp t 'close->signal p99', '' u 1:7 w lp t 'close->signal p99.9', \\
     '' u 1:8 w lp t 'loop lag p99', '' u 1:9 w lp t 'loop lag p99.9', '' u 1:10 w lp t 'produce->ack p99', \\
     %d w l dt 2 lc rgb 'gray' t 'goal frame->produce p99', %d w l dt 3 lc rgb 'black' t 'goal close->signal p99 and lag p99.9'
''' % (out, dat, GOAL_F2P_P99_US, GOAL_C2S_P99_US), log)


def plot_hist(run, out, tmp, log):
    dat = os.path.join(tmp, 'hist.dat')
    names = ['frame_to_produce', 'bar_close_to_signal', 'produce_to_ack', 'loop_lag']
    with open(dat, 'w') as f:
        for k in names:
            cum = [(le, c) for le, c in run['hist'].get(k, []) if le != float('inf') and le is not None]
            total = max([c for _, c in run['hist'].get(k, [])] or [1])
            f.write('# %s\n' % k)
            prev = 0
            for le, c in cum:
                f.write('%g %g\n' % (le * 1e6, 100.0 * (c - prev) / total if total else 0))
                prev = c
            f.write('\n\n')
    return gnuplot(HEAD + '''set output '%s'
set title "latency histograms at %d msgs/s offered (share of samples per Prometheus bucket, by upper bound)"
set logscale x
set xrange [5:200000]
set xlabel 'bucket upper bound, microseconds (log)'
set ylabel 'percent of samples'
plot '%s' index 0 u 1:2 w lp t 'frame->produce', '' index 1 u 1:2 w lp t 'close->signal', \\
     '' index 2 u 1:2 w lp t 'produce->ack', '' index 3 u 1:2 w lp t 'loop lag'
''' % (out, run['offered_rate'], dat), log)


def plot_soak(run, out, tmp, log):
    dat = os.path.join(tmp, 'soak.dat')
    with open(dat, 'w') as f:
        for t, kib in run['rss_series']:
            f.write('%g %g\n' % (t / 60.0, kib / 1024.0))
    return gnuplot(HEAD + '''set output '%s'
set title "torghutd RSS over a %d s soak: %d symbols at %d msgs/s offered"
set xlabel 'minutes'
set ylabel 'RSS MiB'
set yrange [0:*]
plot '%s' u 1:2 w lp t 'VmRSS', %d w l dt 2 lc rgb 'gray' t 'goal'
''' % (out, run['seconds'], run['symbols'], run['offered_rate'], dat, GOAL_RSS_MIB), log)


def soak_summary(run):
    s = run['rss_series']
    mib = [v / 1024.0 for _, v in s]
    half = [v / 1024.0 for t, v in s if t >= s[-1][0] / 2]
    mins = (s[-1][0] - s[0][0]) / 60.0 or 1
    second = (half[-1] - half[0]) / (mins / 2) if len(half) > 1 else 0
    return max(mib), mib[0], mib[-1], second


def main():
    md_path, plot_dir, sweep, soak, tuning = parse_args(sys.argv[1:])
    log = []
    tmp = tempfile.mkdtemp(prefix='e2e-report.')
    docs_dir = os.path.dirname(os.path.abspath(md_path))
    rel = os.path.relpath(os.path.abspath(plot_dir), docs_dir)
    L = ['## End-to-end (daemon under load)', '',
         'Generated by `bench/e2e-latency.sh` (run by `bench/run`): `torghut-replay serve --rate R --batch 10` over '
         'loopback ws:// into `torghutd` (low-latency profile, every symbol, trades+quotes+bars), the Kafka mock '
         'cluster in a helper process, all on the same 2 cores. Latencies are the daemon\'s own histograms '
         '(`torghutctl metrics`): "frame->produce" is socket read to `produce()` returned per event; "close->signal" '
         'is the moment the watermark passed bar end + slack to the signal produced; "produce->ack" is `produce()` '
         'to the delivery report (Kafka delivery latency, busiest topic); loop lag is how late a 10 ms timer ran. '
         'Cores are CPU seconds per second of the daemon (with librdkafka\'s threads), the replay server and the '
         'broker. A rate is sustained when >= 98 % of it came in, nothing was refused by Kafka and the replay never '
         'dropped the daemon as a slow client (reconnects 0; its send queue bound is 64 MiB, about 1 s at 500 k '
         'msgs/s). After a reconnect the replay starts its session over, so the late-trade counts of such rows are '
         'replayed history, not lateness.', '']
    by_rate = {r['offered_rate']: r for r in sweep}
    at100 = by_rate.get(100000)
    good = [r['offered_rate'] for r in sweep if sustained(r)]
    best = max(good) if good else 0
    peak_in = max([r['in_rate'] for r in sweep] or [0])
    # goals
    L += ['### Goals measured end to end (issue 8)', '',
          '| goal | target | measured | status |', '|---|---:|---:|---|']
    L.append('| sustained rate, low-latency profile | >= %d msgs/s | %d msgs/s (highest sustained offered rate; '
             'peak %d msgs/s in) | %s |' % (GOAL_SUSTAINED, best, peak_in,
                                            status(best >= GOAL_SUSTAINED, '%+.0f %%' % ((best / GOAL_SUSTAINED - 1) * 100))))
    if at100:
        f, c, l = at100['frame_to_produce_s'], at100['bar_close_to_signal_s'], at100['loop_lag_s']
        for name, h, k, goal in (('frame->produce p99 at 100 k msgs/s', f, 'p99', GOAL_F2P_P99_US),
                                 ('close->signal p99 at 100 k msgs/s', c, 'p99', GOAL_C2S_P99_US),
                                 ('loop stall (lag) p99.9 at 100 k msgs/s', l, 'p999', GOAL_LAG_P999_US)):
            v = h[k] * 1e6 if h and h.get(k) is not None else None
            L.append('| %s | <= %d us | %s us | %s |' % (
                name, goal, '-' if v is None else '%.0f' % v,
                '-' if v is None else status(v <= goal, 'x%.1f' % (v / goal))))
    if soak:
        s = soak[0]
        mx, first, last, slope = soak_summary(s)
        L.append('| RSS with %d symbols over a %d s soak | <= %d MiB, flat | max %.1f MiB, %.1f -> %.1f MiB, '
                 'second half %+.2f MiB/min | %s |' % (
                     s['symbols'], s['seconds'], GOAL_RSS_MIB, mx, first, last, slope,
                     status(mx <= GOAL_RSS_MIB and abs(slope) < 0.5)))
    L += ['', 'The parse + TA goal is in the micro-benchmark section above.', '']
    # sweep
    L += ['### Offered rate sweep', '',
          '| offered msgs/s | in msgs/s | sustained | refused | reconnects | late | cores daemon / replay / broker | CPU us/msg | RSS MiB | frame->produce p50 / p99 / p99.9 us | close->signal p50 / p99 / p99.9 us | produce->ack p50 / p99 ms | loop lag p99 / p99.9 / max us |',
          '|---:|---:|---|---:|---:|---:|---|---:|---:|---|---|---|---|']
    for r in sorted(sweep, key=lambda r: r['offered_rate']):
        f, c, l, a = r['frame_to_produce_s'], r['bar_close_to_signal_s'], r['loop_lag_s'], r.get('produce_to_ack_s')
        L.append('| %d | %d | %s | %d | %d | %d | %.2f / %.2f / %.2f | %.2f | %d | %s / %s / %s | %s / %s / %s | %s / %s | %s / %s / %s |' % (
            r['offered_rate'], r['in_rate'], 'yes' if sustained(r) else '**no**', r['kafka_refused'],
            r.get('reconnects', 0), r['late_trades'], r.get('cores_daemon', 0), r.get('cores_replay', 0),
            r.get('cores_broker', 0), r['cpu_us_per_msg'], r['rss_kib'] // 1024, us(f, 'p50'), us(f, 'p99'),
            us(f, 'p999'), us(c, 'p50'), us(c, 'p99'), us(c, 'p999'), ms(a, 'p50'), ms(a, 'p99'),
            us(l, 'p99'), us(l, 'p999'), us(l, 'max')))
    L.append('')
    os.makedirs(plot_dir, exist_ok=True)
    if sweep and plot_rates(sweep, os.path.join(plot_dir, 'latency-vs-rate.png'), tmp, log):
        L += ['![latency percentiles vs offered rate](%s/latency-vs-rate.png)' % rel, '']
    if at100 and at100.get('hist') and plot_hist(at100, os.path.join(plot_dir, 'latency-hist-100k.png'), tmp, log):
        L += ['![latency histograms at 100 k msgs/s](%s/latency-hist-100k.png)' % rel, '']
    # soak
    if soak:
        s = soak[0]
        mx, first, last, slope = soak_summary(s)
        L += ['### Soak', '',
              '%d s at %d msgs/s offered with %d symbols (%d in msgs/s, %d reconnects, %d refused, %s TA heartbeats, '
              '%s TA records that failed to encode); RSS sampled every '
              'few seconds: first %.1f MiB, last %.1f MiB, max %.1f MiB, peak (VmHWM) %.1f MiB; second half %+.2f '
              'MiB/min. At the end: %.1f MiB anonymous (the TA engine\'s own count: %.1f MiB) and %.1f MiB '
              'file-backed (shared libraries). The micro-benchmarks, the instruction profile and the tuning runs ran during the soak '
              '(they share the CPU with it, not its memory).' % (s['seconds'], s['offered_rate'], s['symbols'], s['in_rate'], s.get('reconnects', 0),
                               s['kafka_refused'], s.get('ta_heartbeats', '-'), s.get('ta_encode_errors', '-'), first, last, mx,
                               s['rss_peak_kib'] / 1024.0, slope, s.get('rss_anon_kib', 0) / 1024.0,
                               (s.get('ta_mem_bytes') or 0) / 1048576.0, s.get('rss_file_kib', 0) / 1024.0), '']
        if plot_soak(s, os.path.join(plot_dir, 'rss-soak.png'), tmp, log):
            L += ['![RSS over the soak](%s/rss-soak.png)' % rel, '']
    # tuning
    if tuning:
        L += ['### Knobs (tuning examples)', '',
              'Same harness at one rate, one knob changed from the low-latency profile per row (see the tuning '
              'guide in docs/operations.md). One short run per row on a shared machine: read the direction and '
              'size of a change, not the last digit.', '',
              '| settings | offered | in msgs/s | late trades | CPU us/msg | frame->produce p99 us | close->signal p50 / p99 us | produce->ack p50 / p99 ms | loop lag p99.9 us |',
              '|---|---:|---:|---:|---:|---:|---|---|---:|']
        for r in tuning:
            f, c, a, l = r['frame_to_produce_s'], r['bar_close_to_signal_s'], r.get('produce_to_ack_s'), r['loop_lag_s']
            L.append('| %s | %d | %d | %d | %.2f | %s | %s / %s | %s / %s | %s |' % (
                r.get('settings') or 'low-latency defaults', r['offered_rate'], r['in_rate'], r['late_trades'],
                r['cpu_us_per_msg'], us(f, 'p99'), us(c, 'p50'), us(c, 'p99'), ms(a, 'p50'),
                ms(a, 'p99'), us(l, 'p999')))
        L += ['', 'A signal leaves at bar end + slack (`watermark.max-out-of-orderness`) + close->signal: slack is '
              'added latency by design, and it is what keeps out-of-order trades in their bar (late trades '
              'above). The replay paces by rate, not by event time, so bar end->signal is not meaningful here.']
        L.append('')
    for m in log:
        L += ['(%s)' % m, '']
    md = open(md_path).read()
    start = md.index('## End-to-end')
    end = md.find('\n## ', start + 3)
    end = len(md) if end < 0 else end
    open(md_path, 'w').write(md[:start] + '\n'.join(L) + md[end:])


main()
