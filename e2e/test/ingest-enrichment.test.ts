import assert from 'node:assert/strict';
import { SpanKind } from '@opentelemetry/api';
import { KairosClient } from '@kairos/client';
import { SCHEMAS, STREAMS } from '@kairos/contracts';
import { connectNats, silentLogger, type NatsConnection } from '@kairos/messaging';
import { assertTraceEdges, spanOf, waitForTraceSpan } from '@kairos/testkit';
import { Mesh } from '../src/mesh';
import { readUntil } from '../src/streams';

describe('e2e: a client event is ingested and enriched, in one trace', function () {
  this.timeout(180_000);
  const mesh = new Mesh();
  let nc: NatsConnection;

  before(async () => {
    await mesh.startInfrastructure();
    await mesh.startService('enrichment');
    await mesh.startService('ingest');
    nc = await connectNats({ servers: mesh.nats.url, name: 'e2e', logger: silentLogger });
  });
  after(async () => {
    await nc?.close();
    await mesh.stop();
  });

  it('@kairos/client track → events.raw → enrichment → events.enriched carrying the profile, one trace from the caller', async () => {
    const ingestPort = mesh.services.get('ingest')!.grpcPort;
    const client = new KairosClient({ address: `127.0.0.1:${ingestPort}`, flushIntervalMs: 10 });
    const eventId = `e2e-${Date.now()}`;
    let traceId = '';
    await mesh.tracer.startActiveSpan('client track', { kind: SpanKind.CLIENT }, async (span) => {
      traceId = span.spanContext().traceId;
      // Batched: the TrackBatch call is made later from the client's timer, so the event carries its trace.
      const result = await client.track({
        id: eventId,
        type: 'cart.item_added',
        customerId: 'e2e-customer-1',
        properties: { sku: 'SKU-1', price: 42 },
      });
      span.end();
      assert.equal(result.outcome, 'accepted');
    });
    await client.close();

    const enriched = await readUntil(
      nc,
      STREAMS.EVENTS.name,
      'events.enriched.>',
      (m) => SCHEMAS.EnrichedEvent.type.decode(m.data),
      (items) => items.some((e) => e.event?.id === eventId),
    );
    const mine = enriched.find((e) => e.event?.id === eventId)!;
    assert.equal(mine.profile?.customerId, 'e2e-customer-1');
    assert.equal(mine.profile?.counters?.eventsByType?.['cart.item_added'], 1);

    await waitForTraceSpan(mesh.otlp, traceId, 'enrichment', 'PRODUCER', 20_000);
    assertTraceEdges(
      mesh.otlp.spans,
      traceId,
      [
        ['client track', spanOf('ingest', 'PRODUCER', /^events\.raw\./)],
        [spanOf('ingest', 'PRODUCER'), spanOf('enrichment', 'CONSUMER', /^events\.raw\./)],
        [spanOf('enrichment', 'CONSUMER'), spanOf('enrichment', 'PRODUCER', /^events\.enriched\./)],
      ],
      { indirect: true },
    );
  });
});
