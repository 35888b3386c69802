import * as grpc from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { profiles } from '@kairos/contracts';
import type { NatsConnection, Publisher } from '@kairos/messaging';
import { createLogger, GrpcServer, systemClock } from '@kairos/service-kit';
import { percentile } from '@kairos/telemetry';
import { enrichmentContainer } from './app';
import { newProfile, type ProfileDoc } from './profile-model';
import { ProfileServiceImpl, PROFILE_SERVICE_NAME } from './profile-service';
import { DEFAULT_SETTINGS } from './settings';

export interface ProfileBenchmarkOptions {
  mongoUrl: string;
  dbName: string;
  profiles?: number;
  lookups?: number;
}

export interface ProfileBenchmarkResult {
  profile_get_p50_ms: number;
  profile_get_p99_ms: number;
  table: string;
}

function benchProfile(i: number, now: Date): ProfileDoc {
  const p = newProfile(`bench-${i}`, now);
  p.traits = { name: `Customer ${i}`, plan: i % 3 === 0 ? 'pro' : 'free', country: 'FR' };
  p.contacts.email = `c${i}@example.test`;
  p.time_zone = 'Europe/Paris';
  p.journey_stage = 'active';
  p.counters = {
    first_seen: now,
    last_seen: now,
    total_events: 42,
    events_by_type: [
      { t: 'page.viewed', n: 30 },
      { t: 'cart.item_added', n: 10 },
      { t: 'order.completed', n: 2 },
    ],
    purchases: 2,
    lifetime_value: 120.5,
  };
  p.dates = { birthday: '1990-05-01' };
  p.applied_event_ids = Array.from({ length: 50 }, (_, k) => `evt-${i}-${k}`).join(' ');
  p.version = 1;
  return p;
}

/**
 * Seeds `profiles` profiles (bulk insert), serves ProfileService on a free port in-process and
 * measures Get latency over a real gRPC socket (sequential calls on one channel, random customers).
 */
export async function runProfileBenchmark(opts: ProfileBenchmarkOptions): Promise<ProfileBenchmarkResult> {
  const total = opts.profiles ?? 100_000;
  const lookups = opts.lookups ?? 20_000;
  const logger = createLogger('enrichment-bench', 'warn');
  const mongo = new MongoClient(opts.mongoUrl);
  await mongo.connect();
  const db = mongo.db(opts.dbName);
  const server = new GrpcServer(logger);
  let client: profiles.ProfileServiceClient | undefined;
  try {
    const seedStarted = Date.now();
    const now = new Date();
    // Re-use a seeded database (count() scans on FerretDB, so probe the last id instead).
    const seeded = await db.collection<ProfileDoc>('profiles').findOne({ _id: `bench-${total - 1}` });
    for (let i = seeded ? total : 0; i < total; i += 1_000) {
      const batch: ProfileDoc[] = [];
      for (let k = i; k < Math.min(total, i + 1_000); k++) batch.push(benchProfile(k, now));
      await db.collection<ProfileDoc>('profiles').insertMany(batch, { ordered: false });
    }
    const seedSeconds = (Date.now() - seedStarted) / 1000;

    // Get never publishes; the scheduler only needs a publisher to exist. No cache: Get reads MongoDB.
    const container = enrichmentContainer({
      logger,
      nc: {} as NatsConnection,
      publisher: {} as Publisher,
      clock: systemClock,
      db,
      settings: DEFAULT_SETTINGS,
      partitions: 16,
      owned: [],
      cacheSize: 0,
    });
    const service = container.resolve(ProfileServiceImpl);
    server.addService(profiles.ProfileServiceService, service.handlers(), PROFILE_SERVICE_NAME);
    const port = await server.start(0, '127.0.0.1');
    client = new profiles.ProfileServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const c = client;
    const get = (id: string) =>
      new Promise<void>((resolve, reject) =>
        c.get({ customerId: id }, (err) => (err ? reject(err) : resolve())),
      );

    for (let i = 0; i < Math.min(1_000, lookups); i++)
      await get(`bench-${Math.floor(Math.random() * total)}`);
    const latencies: number[] = [];
    const started = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) {
      const t0 = process.hrtime.bigint();
      await get(`bench-${Math.floor(Math.random() * total)}`);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const p99 = percentile(latencies, 99);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const table = [
      '\nProfileService.Get over gRPC (sequential, random customers)',
      `profiles ${total}  lookups ${lookups}  seed ${seedSeconds.toFixed(1)} s  throughput ${Math.round(lookups / elapsed)} calls/s`,
      `p50 ${round(p50)} ms  p95 ${round(p95)} ms  p99 ${round(p99)} ms  max ${round(latencies[latencies.length - 1])} ms`,
    ].join('\n');
    return { profile_get_p50_ms: round(p50), profile_get_p99_ms: round(p99), table };
  } finally {
    client?.close();
    await server.shutdown(1_000);
    await mongo.close();
  }
}
