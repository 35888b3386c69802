import { credentials, Metadata } from '@grpc/grpc-js';
import type { Db } from 'mongodb';
import { events, partitionOf, predictions, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import { createPopulation } from '@kairos/loadgen';
import { DAY_MS, parseEventRecord, PredictionEngine, type FeatureEvent } from '../../src';
import { MongoCheckpointStore } from '../../src/checkpoints';

const { EventCategory } = events;

/** Event time of the test histories' day 0 (a Monday, UTC). */
export const T0 = Date.parse('2025-01-06T00:00:00Z');

/**
 * Models trained on `days` of the loadgen population, stored as partition 99's versions: the warm
 * start of any partition without a checkpoint.
 */
export async function seedModels(db: Db, customers: number, days: number): Promise<PredictionEngine> {
  const population = createPopulation({ seed: 16, customers, horizonDays: 30, churnDeclineDays: 21 });
  const engine = new PredictionEngine({ minExamples: 0 });
  for (const e of population.eventsUntil(population.options.startTime + days * DAY_MS))
    engine.process(parseEventRecord(e) as FeatureEvent);
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
