#!/usr/bin/env python3
"""Validates Prometheus text exposition (format 0.0.4) read from stdin:
every line is a comment, HELP/TYPE, or `name{labels} value`; every sample's
family has a TYPE; histogram buckets are cumulative and end in +Inf with
_count equal to it. Exit 0 when valid; prints the first problem otherwise."""
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(\{(?:%s)(?:,%s)*\}|\{\})? (\S+)( -?\d+)?$' % (NAME, LABEL, LABEL))
types, buckets, counts = {}, {}, {}
for n, line in enumerate(sys.stdin.read().splitlines(), 1):
    if not line:
        continue
    if line.startswith('# TYPE '):
        parts = line.split(' ')
        if len(parts) != 4 or parts[3] not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
            sys.exit('line %d: bad TYPE: %s' % (n, line))
        types[parts[2]] = parts[3]
        continue
    if line.startswith('#'):
        continue
    m = SAMPLE.match(line)
    if not m:
        sys.exit('line %d: not a sample: %s' % (n, line))
    name, labels, value = m.group(1), m.group(2) or '', m.group(3)
    try:
        v = float(value.replace('+Inf', 'inf').replace('-Inf', '-inf'))
    except ValueError:
        sys.exit('line %d: bad value %s' % (n, value))
    family = re.sub(r'_(bucket|sum|count|total)$', '', name)
    if name not in types and family not in types and name.rsplit('_', 1)[0] not in types:
        sys.exit('line %d: %s has no TYPE' % (n, name))
    if name.endswith('_bucket'):
        key = (family, re.sub(r',?le="[^"]*"', '', labels))
        prev = buckets.get(key, [])
        if prev and v < prev[-1]:
            sys.exit('line %d: buckets not cumulative' % n)
        buckets[key] = prev + [v]
        if 'le="+Inf"' in labels:
            counts[key] = v
    elif name.endswith('_count') and types.get(family) == 'histogram':
        key = (family, labels)
        if key in counts and counts[key] != v:
            sys.exit('line %d: _count %s != +Inf bucket %s' % (n, v, counts[key]))
print('ok: %d families' % len(types))
