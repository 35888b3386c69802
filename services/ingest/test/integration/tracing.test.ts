import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { events, SCHEMAS } from '@kairos/contracts';
import { useNats, type ServiceProcess } from '@kairos/testkit';
import { startIngestProcess, stream, trackBatch, type Client } from '../helpers/grpc';

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
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS');
    const out = new Map<string, string>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage('EVENTS', { seq }).catch(() => null);
      if (!msg) continue;
      const event = SCHEMAS.Event.type.decode(msg.data);
      if (event.id.startsWith(prefix)) out.set(event.id, msg.header.get('traceparent').split('-')[1]);
    }
    return out;
  } finally {
    await nc.close();
  }
}

describe('ingest process: every stored event carries the trace of the call (or client) that sent it', function () {
  let proc: ServiceProcess | undefined;
  let client: Client;
  after(async () => {
    client?.close();
    if (proc?.running) await proc.kill();
  });
  const nats = useNats();

  before(async function () {
    this.timeout(40_000);
    // Telemetry on, no exporter: spans are recorded and propagated, not sent anywhere.
    ({ proc, client } = await startIngestProcess(nats.url));
  });

  it('TrackBatch: the call trace, or the trace an event names in context.attributes', async () => {
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
