import { credentials } from '@grpc/grpc-js';
import type { Db } from 'mongodb';
import { predictions } from '@kairos/contracts';
import { createPopulation } from '@kairos/loadgen';
import { adminMetadata } from '@kairos/testkit';
import { DAY_MS, parseEventRecord, PredictionEngine, type FeatureEvent } from '../../src';
import { MongoCheckpointStore } from '../../src/checkpoints';

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

export { publishEnriched } from '@kairos/testkit';

export function predictionClient(port: number): predictions.PredictionServiceClient {
  return new predictions.PredictionServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** A customer's scores (Score), rejected with the gRPC error. */
export function score(
  client: predictions.PredictionServiceClient,
  customerId: string,
): Promise<predictions.ScoreResponse> {
  return new Promise((resolve, reject) =>
    client.score({ customerId }, adminMetadata(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}
