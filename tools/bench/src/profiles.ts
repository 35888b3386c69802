import * as grpc from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { profiles } from '@kairos/contracts';
import { percentile } from '@kairos/telemetry';
import { newProfile, type ProfileDoc } from '@kairos/enrichment';
import { testCredentials } from '@kairos/testkit';

export interface ProfileBenchmarkOptions {
  /** host:port of the enrichment service's gRPC server. */
  address: string;
  mongoUrl: string;
  /** The database the service reads (seeded by seedProfileBenchmark). */
  dbName: string;
  profiles?: number;
  lookups?: number;
}

export interface ProfileBenchmarkResult {
  profile_get_p50_ms: number;
  profile_get_p99_ms: number;
  raw_find_p99_ms: number;
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

interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  perS: number;
}

/**
 * Latency figures of `lookups` sequential calls to each of `calls`, with random customers (after
 * 1,000 warm-up calls each). The calls alternate (one of each, in turn), so every path sees the same
 * machine: this machine's speed drifts within minutes, and paths measured one after the other would
 * compare two different machines.
 */
async function measureAlternating(
  total: number,
  lookups: number,
  calls: ((customerId: string) => Promise<unknown>)[],
): Promise<Latency[]> {
  const id = () => `bench-${Math.floor(Math.random() * total)}`;
  for (let i = 0; i < Math.min(1_000, lookups); i++) for (const call of calls) await call(id());
  const latencies = calls.map(() => [] as number[]);
  const busy = calls.map(() => 0);
  for (let i = 0; i < lookups; i++) {
    for (let c = 0; c < calls.length; c++) {
      const t0 = process.hrtime.bigint();
      await calls[c](id());
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      latencies[c].push(ms);
      busy[c] += ms;
    }
  }
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return latencies.map((l, c) => {
    l.sort((a, b) => a - b);
    return {
      p50: round(percentile(l, 50)),
      p95: round(percentile(l, 95)),
      p99: round(percentile(l, 99)),
      max: round(l[l.length - 1]),
      perS: Math.round((lookups / busy[c]) * 1000),
    };
  });
}

/** Inserts `profiles` bench profiles into `dbName` (kept when already there); returns the seconds taken. */
export async function seedProfileBenchmark(opts: {
  mongoUrl: string;
  dbName: string;
  profiles?: number;
}): Promise<number> {
  const total = opts.profiles ?? 100_000;
  const mongo = new MongoClient(opts.mongoUrl);
  await mongo.connect();
  try {
    const profiles = mongo.db(opts.dbName).collection<ProfileDoc>('profiles');
    const started = Date.now();
    const now = new Date();
    // Re-use a seeded database (count() scans on FerretDB, so probe the last id instead).
    const seeded = await profiles.findOne({ _id: `bench-${total - 1}` });
    for (let i = seeded ? total : 0; i < total; i += 1_000) {
      const batch: ProfileDoc[] = [];
      for (let k = i; k < Math.min(total, i + 1_000); k++) batch.push(benchProfile(k, now));
      await profiles.insertMany(batch, { ordered: false });
    }
    return (Date.now() - started) / 1000;
  } finally {
    await mongo.close();
  }
}

/**
 * Measures ProfileService.Get of a running enrichment service at `address` (its own process, as
 * deployed) over a real gRPC socket: sequential calls on one channel, random customers of the
 * seeded database. Beside it, the same lookups as raw `findOne` calls from this process, so the
 * service's own share of the latency shows.
 */
export async function runProfileBenchmark(opts: ProfileBenchmarkOptions): Promise<ProfileBenchmarkResult> {
  const total = opts.profiles ?? 100_000;
  const lookups = opts.lookups ?? 20_000;
  const mongo = new MongoClient(opts.mongoUrl);
  await mongo.connect();
  const client = new profiles.ProfileServiceClient(opts.address, grpc.credentials.createInsecure());
  // The lookups carry the service token, as orchestration's do (testkit gave it to the process).
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${testCredentials().serviceToken}`);
  try {
    const collection = mongo.db(opts.dbName).collection<ProfileDoc>('profiles');
    const [raw, get] = await measureAlternating(total, lookups, [
      (id) => collection.findOne({ _id: id }),
      (id) =>
        new Promise<void>((resolve, reject) =>
          client.get({ customerId: id }, md, (err) => (err ? reject(err) : resolve())),
        ),
    ]);
    const row = (name: string, m: Latency) =>
      `${name.padEnd(30)} p50 ${m.p50} ms  p95 ${m.p95} ms  p99 ${m.p99} ms  max ${m.max} ms  (${m.perS} calls/s)`;
    const table = [
      `\nsequential lookups of random customers, the two paths alternating: ${total} profiles, ${lookups} calls each`,
      row('ProfileService.Get over gRPC', get),
      row('raw findOne (same database)', raw),
    ].join('\n');
    return { profile_get_p50_ms: get.p50, profile_get_p99_ms: get.p99, raw_find_p99_ms: raw.p99, table };
  } finally {
    client.close();
    await mongo.close();
  }
}
