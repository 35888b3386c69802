import { credentials, Metadata } from '@grpc/grpc-js';
import type { Db } from 'mongodb';
import { events, partitionOf, predictions, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import { DAY_MS, PredictionEngine, type FeatureEvent } from '../../src';
import { MongoCheckpointStore } from '../../src/checkpoints';

const { EventCategory } = events;

/** Event time of the test histories' day 0 (a Monday, UTC). */
export const T0 = Date.parse('2025-01-06T00:00:00Z');

/** A deterministic pseudo-random stream (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A population whose churners go quiet: each customer visits on a day with its own rate, buys on
 * some visits, and half of them stop for good on a random day. Sorted by event time.
 */
export function population(customers: number, days: number, seed = 7): FeatureEvent[] {
  const r = rng(seed);
  const people = Array.from({ length: customers }, (_, c) => ({
    id: `train-${c}`,
    rate: 0.3 + 0.6 * r(),
    stop: r() < 0.5 ? Math.floor(20 + r() * (days - 20)) : days,
    hour: Math.floor(r() * 24),
  }));
  const out: FeatureEvent[] = [];
  for (let d = 0; d < days; d++)
    for (const p of people) {
      if (d >= p.stop || r() > p.rate) continue;
      const at = T0 + d * DAY_MS + p.hour * 3_600_000;
      out.push({ customerId: p.id, type: 'page.viewed', at });
      if (r() < 0.15) out.push({ customerId: p.id, type: 'order.completed', at: at + 60_000, revenue: 30 });
    }
  return out.sort((a, b) => a.at - b.at);
}

/** Trains an engine offline and stores its models as partition 99's versions (a warm start for any partition). */
export async function seedModels(db: Db, history: FeatureEvent[]): Promise<PredictionEngine> {
  const engine = new PredictionEngine({ minExamples: 0 });
  for (const e of history) engine.process(e);
  await new MongoCheckpointStore(db, 20).saveModels(99, engine.toJSON().models);
  return engine;
}

/** Publishes as enrichment would: `events.enriched.<p>.customer_action.<type>`; returns the stream sequence. */
export async function publishEnriched(
  publisher: Publisher,
  partitions: number,
  e: { id: string; customer: string; type: string; at: number; props?: Record<string, unknown> },
): Promise<number> {
  const msg = events.EnrichedEvent.fromPartial({
    event: {
      id: e.id,
      type: e.type,
      category: EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
      customerId: e.customer,
      occurredAt: new Date(e.at),
      receivedAt: new Date(e.at),
      properties: e.props ?? {},
      source: 'test',
    },
    profile: { customerId: e.customer, journeyStage: 'active' },
    enrichedAt: new Date(),
  });
  const ack = await publisher.publish(
    subjects.enrichedEvent(
      partitionOf(e.customer, partitions),
      EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
      e.type,
    ),
    SCHEMAS.EnrichedEvent,
    msg,
    { msgId: `enriched:${e.id}` },
  );
  return ack.seq;
}

export function predictionClient(port: number): predictions.PredictionServiceClient {
  return new predictions.PredictionServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** A customer's scores (Score), rejected with the gRPC error. */
export function score(
  client: predictions.PredictionServiceClient,
  customerId: string,
): Promise<predictions.ScoreResponse> {
  return new Promise((resolve, reject) =>
    client.score({ customerId }, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}
