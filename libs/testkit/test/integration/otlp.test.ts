import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { assertTraceEdges, CollectedSpan, OtlpReceiver, startOtlpReceiver } from '../../src';

const TRACE = '5b8efff798038103d269b633813fc60c';
const ROOT = 'eee19b7ec3c1b174';
const CHILD = 'eee19b7ec3c1b173';
const GRANDCHILD = '0102030405060708';

function post(
  url: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function payload(): unknown {
  const span = (spanId: string, parentSpanId: string, name: string, kind: number) => ({
    traceId: TRACE.toUpperCase(),
    spanId,
    parentSpanId,
    name,
    kind,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000500000000',
    attributes: [
      { key: 'messaging.system', value: { stringValue: 'nats' } },
      { key: 'kairos.partition', value: { intValue: '3' } },
      { key: 'kairos.redelivered', value: { boolValue: false } },
    ],
    status: {},
  });
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ingest' } }] },
        scopeSpans: [
          {
            scope: { name: 'kairos-messaging' },
            spans: [
              span(ROOT, '', 'kairos.ingest.v1.IngestService/Send', 2),
              span(CHILD, ROOT, 'send events.raw', 4),
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'enrichment' } }] },
        scopeSpans: [
          { scope: { name: 'kairos-messaging' }, spans: [span(GRANDCHILD, CHILD, 'process events.raw', 5)] },
        ],
      },
    ],
  };
}

describe('startOtlpReceiver', () => {
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('flattens OTLP JSON resourceSpans into spans with hex ids, kinds, service names and attributes', async () => {
    const res = await post(`${receiver.url}/v1/traces`, JSON.stringify(payload()), {
      'content-type': 'application/json',
    });
    assert.equal(res.status, 200);
    const spans = await receiver.waitForSpans((s) => s.length === 3, 5000);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const consumer = byName.get('process events.raw') as CollectedSpan;
    assert.deepEqual(
      {
        traceId: consumer.traceId,
        spanId: consumer.spanId,
        parentSpanId: consumer.parentSpanId,
        kind: consumer.kind,
        serviceName: consumer.serviceName,
        attributes: consumer.attributes,
        startTimeUnixNano: consumer.startTimeUnixNano,
        endTimeUnixNano: consumer.endTimeUnixNano,
      },
      {
        traceId: TRACE,
        spanId: GRANDCHILD,
        parentSpanId: CHILD,
        kind: 'CONSUMER',
        serviceName: 'enrichment',
        attributes: { 'messaging.system': 'nats', 'kairos.partition': 3, 'kairos.redelivered': false },
        startTimeUnixNano: '1700000000000000000',
        endTimeUnixNano: '1700000000500000000',
      },
    );
    assert.equal(byName.get('kairos.ingest.v1.IngestService/Send')?.parentSpanId, undefined);
    assert.equal(byName.get('kairos.ingest.v1.IngestService/Send')?.kind, 'SERVER');
  });

  it('accepts gzip-compressed JSON and resolves a pending waitForSpans when the spans arrive', async () => {
    const waiting = receiver.waitForSpans((s) => s.some((x) => x.name === 'process events.raw'), 5000);
    const res = await post(`${receiver.url}/v1/traces`, gzipSync(JSON.stringify(payload())), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    assert.equal(res.status, 200);
    const spans = await waiting;
    assert.equal(spans.length, 3);
  });

  it('answers 415 to protobuf payloads and collects nothing from them', async () => {
    const res = await post(`${receiver.url}/v1/traces`, Buffer.from([0x0a, 0x00]), {
      'content-type': 'application/x-protobuf',
    });
    assert.equal(res.status, 415);
    assert.equal(receiver.spans.length, 0);
  });

  it('rejects waitForSpans with the collected spans listed when the condition is not met in time', async () => {
    await assert.rejects(
      receiver.waitForSpans((s) => s.length > 0, 200),
      /condition not met within 200 ms/,
    );
  });

  it('assertTraceEdges accepts present parent/child edges and reports missing ones with the trace tree', async () => {
    await post(`${receiver.url}/v1/traces`, JSON.stringify(payload()), {
      'content-type': 'application/json',
    });
    const spans = await receiver.waitForSpans((s) => s.length === 3, 5000);
    assertTraceEdges(spans, TRACE, [
      [/IngestService\/Send$/, 'send events.raw'],
      ['send events.raw', (s) => s.kind === 'CONSUMER' && s.serviceName === 'enrichment'],
    ]);
    assertTraceEdges(spans, TRACE, [[/IngestService/, 'process events.raw']], { indirect: true });
    assert.throws(
      () => assertTraceEdges(spans, TRACE, [[/IngestService/, 'process events.raw']]),
      (err: Error) => {
        assert.match(err.message, /lacks the edge\(s\):\n {2}\/IngestService\/ -> process events.raw/);
        assert.match(err.message, /\n {4}process events.raw \[CONSUMER enrichment\]/);
        return true;
      },
    );
  });
});
