import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { events } from '@kairos/contracts';
import { storedEvents, stream, trackBatch, useIngestProcess } from '../helpers/grpc';

function traceparent(): { header: string; traceId: string } {
  const traceId = randomBytes(16).toString('hex');
  return { header: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, traceId };
}

function withTrace(header: string): Metadata {
  const md = new Metadata();
  md.set('traceparent', header);
  return md;
}

/** The trace id in the traceparent header of each stored raw event whose id starts with `prefix`. */
async function storedTraceIds(natsUrl: string, prefix: string): Promise<Map<string, string>> {
  const stored = await storedEvents(natsUrl, prefix);
  return new Map(stored.map((s) => [s.event.id, s.traceparent.split('-')[1]]));
}

describe('ingest process: every stored event carries the trace of the call (or client) that sent it', function () {
  // Telemetry on, no exporter: spans are recorded and propagated, not sent anywhere.
  const ingestProcess = useIngestProcess();

  it('TrackBatch: the call trace, or the trace an event names in context.attributes', async () => {
    const { nats, client } = ingestProcess;
    const p = `tb-${randomUUID()}`;
    const call = traceparent();
    const own = traceparent();
    const res = await trackBatch(
      client,
      [
        { id: `${p}-0`, type: 'cart.item_added', customerId: 'c-1', properties: { sku: 'A' } },
        {
          id: `${p}-1`,
          type: 'cart.item_added',
          customerId: 'c-2',
          context: events.EventContext.fromPartial({ attributes: { traceparent: own.header } }),
        },
        { id: `${p}-2`, type: 'page.view', customerId: 'c-3' },
      ],
      withTrace(call.header),
    );
    assert.equal(res.accepted, 3);
    const traces = await storedTraceIds(nats.url, p);
    assert.deepEqual(
      [0, 1, 2].map((i) => traces.get(`${p}-${i}`)),
      [call.traceId, own.traceId, call.traceId],
    );
  });

  it('Stream: the stream call trace', async () => {
    const { nats, client } = ingestProcess;
    const p = `st-${randomUUID()}`;
    const call = traceparent();
    const batch = Array.from({ length: 40 }, (_, i) => ({
      id: `${p}-${i}`,
      type: 'page.view',
      customerId: `c-${i % 7}`,
    }));
    const res = await stream(client, batch, withTrace(call.header));
    assert.equal(res.accepted, 40);
    const traces = await storedTraceIds(nats.url, p);
    assert.equal(traces.size, 40);
    assert.deepEqual(new Set(traces.values()), new Set([call.traceId]));
  });
});
