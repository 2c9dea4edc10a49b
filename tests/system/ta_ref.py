"""Reference TA computations for the system tests' checkers, written from
the TA-Lib definitions (indicators.md), independent of our C code."""
import math
from datetime import datetime, timezone


def ema(xs, n):
    out, k, e = [None] * len(xs), 2 / (n + 1), None
    for i in range(len(xs)):
        if i == n - 1:
            e = sum(xs[:n]) / n
        elif i >= n:
            e = (xs[i] - e) * k + e
        out[i] = e
    return out


def rsi(xs, n=14):
    out = [None] * len(xs)
    if len(xs) <= n:
        return out
    d = [xs[i] - xs[i - 1] for i in range(1, len(xs))]
    g = sum(max(x, 0) for x in d[:n]) / n
    lo = sum(max(-x, 0) for x in d[:n]) / n
    out[n] = 100 * g / (g + lo) if g + lo else 0
    for i in range(n + 1, len(xs)):
        x = d[i - 1]
        g = (g * (n - 1) + max(x, 0)) / n
        lo = (lo * (n - 1) + max(-x, 0)) / n
        out[i] = 100 * g / (g + lo) if g + lo else 0
    return out


def boll(xs, n=20):
    out = [None] * len(xs)
    for i in range(n - 1, len(xs)):
        w = xs[i - n + 1:i + 1]
        m = sum(w) / n
        sd = math.sqrt(max(sum(x * x for x in w) / n - m * m, 0))
        out[i] = (m, m + 2 * sd, m - 2 * sd)
    return out


def macd(xs):
    """TA_MACD(12, 26, 9): the fast EMA is seeded over the 12 closes ending
    at bar 26 (TA-Lib aligns both EMAs to the slow one's first value), the
    signal with the SMA of the first 9 MACD values."""
    out = [None] * len(xs)
    if len(xs) < 34:
        return out
    slow = ema(xs, 26)
    fast, k = [None] * len(xs), 2 / 13
    f = sum(xs[14:26]) / 12
    fast[25] = f
    for i in range(26, len(xs)):
        f = (xs[i] - f) * k + f
        fast[i] = f
    m = [fast[i] - slow[i] for i in range(25, len(xs))]
    sig = ema(m, 9)
    for j in range(8, len(m)):
        out[25 + j] = (m[j], sig[j], m[j] - sig[j])
    return out


def close(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1, abs(b))


def ns(ts):
    """RFC 3339 with up to 9 fractional digits -> ns."""
    base, _, frac = ts.rstrip('Z').partition('.')
    sec = int(datetime.strptime(base, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=timezone.utc).timestamp())
    return sec * 10**9 + int((frac + '000000000')[:9])


def indicator_mismatches(tabars, sigs1s):
    """Per symbol, the 1 s signals against a recomputation over the emitted
    bars' closes in seq order; [] when all agree (null during warm-up)."""
    ind_bad = []
    bseq = {}
    for r in tabars:
        bseq.setdefault(r['symbol'], []).append(r['seq'])
    for sym in bseq:
        bars = sorted((r for r in tabars if r['symbol'] == sym), key=lambda r: r['seq'])
        sig = {s['seq']: s for s in sigs1s if s['symbol'] == sym}
        cs = [b['c'] for b in bars]
        e12, e26, r14, bb, mc = ema(cs, 12), ema(cs, 26), rsi(cs), boll(cs), macd(cs)
        for i, b in enumerate(bars):
            s = sig.get(b['seq'])
            if s is None:
                continue
            if (s['ema'] is None) != (e26[i] is None) or (s['ema'] and not (close(s['ema']['ema12'], e12[i]) and close(s['ema']['ema26'], e26[i]))):
                ind_bad.append(('ema', i, s['ema'], e12[i], e26[i]))
            if (s['rsi14'] is None) != (r14[i] is None) or (s['rsi14'] is not None and not close(s['rsi14'], r14[i])):
                ind_bad.append(('rsi', i, s['rsi14'], r14[i]))
            if (s['boll'] is None) != (bb[i] is None) or (s['boll'] and not close(s['boll']['mid'], bb[i][0])):
                ind_bad.append(('boll', i, s['boll'], bb[i]))
            if (s['macd'] is None) != (mc[i] is None) or (s['macd'] and not all(
                    close(s['macd'][k], mc[i][j]) for j, k in enumerate(('macd', 'signal', 'hist')))):
                ind_bad.append(('macd', i, s['macd'], mc[i]))
            # VWAP over the session so far, and over bars ending in (end - 300 s, end]
            end = ns(b['event_ts'])
            pv = sum(x['vwap'] * x['v'] for x in bars[:i + 1])
            vv = sum(x['v'] for x in bars[:i + 1])
            w = [x for x in bars[:i + 1] if end - 300 * 10**9 < ns(x['event_ts']) <= end]
            w5 = sum(x['vwap'] * x['v'] for x in w) / sum(x['v'] for x in w)
            if not s['vwap'] or not close(s['vwap']['session'], pv / vv) or not close(s['vwap']['w5m'], w5):
                ind_bad.append(('vwap', i, s['vwap'], pv / vv, w5))
    return ind_bad
