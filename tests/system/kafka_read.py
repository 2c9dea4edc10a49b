"""Shared by the system tests' checkers: reading a topic back with a real
consumer (python3-confluent-kafka), Avro decoders (python3-avro), and the
ok/not ok lines."""
import io
import sys

import avro.io
import avro.schema
from confluent_kafka import Consumer, TopicPartition


class Checks:
    """One `ok -` / `not ok -` line per check; summary() prints the count
    line and returns the exit status."""

    def __init__(self):
        self.npass = self.nfail = 0

    def check(self, desc, cond, detail=''):
        if cond:
            self.npass += 1
            print('ok - ' + desc)
        else:
            self.nfail += 1
            print('not ok - ' + desc + (': ' + str(detail) if detail else ''))

    def summary(self):
        print('%d passed, %d failed' % (self.npass, self.nfail))
        return 1 if self.nfail else 0


def read_topic(boot, topic, truncated=None):
    """Every record the cluster holds, read_committed: (partition, offset,
    key, value, torghut-txn header or None). librdkafka 2.0.2's mock keeps a
    bounded log per partition: records it dropped are counted in
    truncated[topic] when a dict is given."""
    c = Consumer({'bootstrap.servers': boot, 'group.id': 'check-' + topic, 'enable.auto.commit': False,
                  'isolation.level': 'read_committed', 'auto.offset.reset': 'earliest'})
    md = c.list_topics(topic, timeout=10)
    out = []
    for p in md.topics[topic].partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if lo > 0:
            if truncated is not None:
                truncated[topic] = truncated.get(topic, 0) + lo
            print('# %s [%d]: the mock dropped the first %d records' % (topic, p, lo), file=sys.stderr)
        if hi <= lo:
            continue
        c.assign([TopicPartition(topic, p, lo)])
        got = 0
        while got < hi - lo:
            m = c.poll(5)
            if m is None:
                break
            if m.error():
                continue
            tag = dict(m.headers() or []).get('torghut-txn')
            out.append((p, m.offset(), m.key(), m.value(), tag.decode() if tag else None))
            got += 1
    c.close()
    return out


def decoder(schema_dir, name):
    """An Avro decoder for schema file `name` (bare Avro bodies)."""
    sch = avro.schema.parse(open('%s/%s' % (schema_dir, name)).read())
    rd = avro.io.DatumReader(sch)
    return lambda b: rd.read(avro.io.BinaryDecoder(io.BytesIO(b)))
