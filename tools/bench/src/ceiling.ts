import { connect } from '@nats-io/transport-node';
import { nanos } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { events, SCHEMAS } from '@kairos/contracts';
import { table } from './table';

/** A realistic event payload (~400 bytes encoded), the same shape ingest publishes. */
export function realisticEventPayload(i: number): Uint8Array {
  return SCHEMAS.Event.type
    .encode(
      events.Event.fromPartial({
        id: `0192f8a4-7c1e-7d3a-9b2f-${String(i).padStart(12, '0')}`,
        type: 'cart.item_added',
        category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
        customerId: `customer-${i % 100_000}`,
        occurredAt: new Date(1_760_000_000_000 + i),
        receivedAt: new Date(1_760_000_000_000 + i),
        source: 'web-storefront',
        properties: {
          sku: `SKU-${i % 5000}`,
          name: 'Merino wool crew-neck sweater',
          price: 89.95,
          currency: 'EUR',
          quantity: 1,
          category: 'apparel/knitwear',
          cart_id: `cart-${i % 20000}`,
          campaign: 'autumn-sale',
        },
        context: {
          ip: '203.0.113.7',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0',
          locale: 'fr-FR',
          appVersion: '4.18.2',
          sessionId: `sess-${i % 30000}`,
          attributes: {},
        },
      }),
    )
    .finish();
}

export interface CeilingResult {
  jetstream_ceiling_msgs_per_s: number;
  jetstream_publish_msgs_per_s: number;
  payload_bytes: number;
  table: string;
}

/**
 * The raw JetStream ceiling on this machine: one file-backed stream, publishers pipelining acked
 * publishes with de-duplication ids (as every Kairos hop does) while a pull consumer acks each
 * message. Throughput = messages / time until the last one is consumed.
 */
export async function runCeilingBenchmark(
  natsUrl: string,
  messages = 50_000,
  window = 512,
): Promise<CeilingResult> {
  // The same client options every Kairos service uses (libs/messaging connectNats).
  const nc = await connect({ servers: natsUrl, name: 'bench-ceiling', noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const stream = 'BENCH_CEILING';
  await jsm.streams.delete(stream).catch(() => undefined);
  await jsm.streams.add({
    name: stream,
    subjects: ['bench.ceiling.>'],
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
  });
  await jsm.consumers.add(stream, {
    durable_name: 'ceiling',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 10_000,
  });
  const js = jetstream(nc);
  const payloads = Array.from({ length: 1000 }, (_, i) => realisticEventPayload(i));

  // Publish-only ceiling first (the reference for ingest), into a second subject space.
  const publishOnly = async (prefix: string, count: number) => {
    const started = performance.now();
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const p = js.publish(`bench.ceiling.${prefix}.${i % 16}`, payloads[i % payloads.length], {
        msgID: `${prefix}-${i}`,
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    return performance.now() - started;
  };
  /** Empties the stream and starts the `ceiling` consumer afresh. */
  const reset = async () => {
    await jsm.streams.purge(stream);
    await jsm.consumers.delete(stream, 'ceiling');
    await jsm.consumers.add(stream, {
      durable_name: 'ceiling',
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 10_000,
    });
  };
  const warm = await publishOnly('warm', 5_000);
  void warm;
  await reset();
  const publishMs = await publishOnly('pub', messages);
  const publishRate = messages / (publishMs / 1000);
  await reset();

  // Publish and consume at the same time.
  const consumer = await js.consumers.get(stream, 'ceiling');
  const started = performance.now();
  let consumed = 0;
  const consuming = (async () => {
    const iter = await consumer.consume({ max_messages: 1_000 });
    for await (const m of iter) {
      m.ack();
      if (++consumed >= messages) break;
    }
  })();
  await publishOnly('pc', messages);
  await consuming;
  const totalMs = performance.now() - started;
  const ceiling = messages / (totalMs / 1000);
  await jsm.streams.delete(stream);
  await nc.close();
  return {
    jetstream_ceiling_msgs_per_s: Math.round(ceiling),
    jetstream_publish_msgs_per_s: Math.round(publishRate),
    payload_bytes: payloads[0].length,
    table: table(
      `JetStream ceiling (file storage, ${payloads[0].length}-byte event payload, ${messages.toLocaleString('en-US')} messages)`,
      ['measure', 'msgs/s'],
      [
        ['publish only (acked, pipelined)', Math.round(publishRate)],
        ['publish + consume (explicit ack)', Math.round(ceiling)],
      ],
    ),
  };
}
