import * as grpc from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { events, partitionOf, SCHEMAS, subjects, profiles } from '@kairos/contracts';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import { createLogger, GrpcServer } from '@kairos/service-kit';
import { useMongo, useNats } from '@kairos/testkit';
import { startEnrichment, type EnrichmentApp } from '../../src/app';
import { loadEnrichmentConfig, type EnrichmentConfig } from '../../src/config';
import { PROFILE_SERVICE_NAME } from '../../src/profile-service';
import { DEFAULT_SETTINGS, type EnrichmentSettings } from '../../src/domain/settings';

export const PARTITIONS = 4;

/** The service's settings for tests: the defaults over PARTITIONS partitions. */
export function testConfig(): EnrichmentConfig {
  return loadEnrichmentConfig({ KAIROS_PARTITIONS: String(PARTITIONS) });
}

export class TestClock {
  constructor(public ms: number) {}
  now = () => this.ms;
  set(iso: string) {
    this.ms = Date.parse(iso);
  }
}

/** Collects messages of one schema from a core NATS subscription (JetStream publishes reach it too). */
export class Collector<T> {
  readonly items: Array<{ subject: string; message: T }> = [];
  constructor(nc: NatsConnection, subject: string, decode: (data: Uint8Array) => T) {
    const sub = nc.subscribe(subject);
    void (async () => {
      for await (const m of sub) this.items.push({ subject: m.subject, message: decode(m.data) });
    })();
  }
}

export interface Harness {
  nc: NatsConnection;
  mongo: MongoClient;
  /** The service's database on `mongo`. */
  dbName: string;
  app: EnrichmentApp;
  server: GrpcServer;
  client: profiles.ProfileServiceClient;
  publisher: Publisher;
  clock: TestClock;
  enriched: Collector<events.EnrichedEvent>;
  /** Stops the app and starts a new one (with `overrides` of the test's settings, if given). */
  restartApp(overrides?: Partial<EnrichmentConfig>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the service in-process on `natsUrl` and the database `dbName`, with a ProfileService
 * client; `into` (when given) is the object that becomes the Harness.
 */
export async function startHarness(
  natsUrl: string,
  mongoUrl: string,
  dbName: string,
  settings: EnrichmentSettings = DEFAULT_SETTINGS,
  into: Partial<Harness> = {},
): Promise<Harness> {
  const { nc, publisher } = await connectPublisher(natsUrl, 'enrichment-test');
  const mongo = new MongoClient(mongoUrl);
  await mongo.connect();
  const logger = createLogger('enrichment-test', process.env.KAIROS_TEST_LOGS ? 'info' : 'silent');
  const clock = new TestClock(Date.parse('2026-05-01T06:00:00Z'));
  const enriched = new Collector(nc, 'events.enriched.>', (d) => SCHEMAS.EnrichedEvent.type.decode(d));
  // The scheduler's timer is off (interval 0): tests call scan().
  const config = { ...testConfig(), KAIROS_TIME_EVENTS_INTERVAL: 0 };
  const make = (overrides: Partial<EnrichmentConfig> = {}) =>
    startEnrichment({ ...config, ...overrides }, { nc, db: mongo.db(dbName), logger, settings, clock });
  const h: Harness = Object.assign(into, {
    nc,
    mongo,
    dbName,
    app: await make(),
    server: new GrpcServer(logger),
    client: undefined as unknown as profiles.ProfileServiceClient,
    publisher,
    clock,
    enriched,
    async restartApp(overrides?: Partial<EnrichmentConfig>) {
      await h.app.stop();
      h.app = await make(overrides);
    },
    async close() {
      h.client.close();
      await h.server.shutdown(1_000);
      await h.app.stop();
      await nc.drain();
      await mongo.close();
    },
  });
  // Handlers resolve the current app, so restartApp() keeps the gRPC server valid.
  const service = new Proxy({} as profiles.ProfileServiceServer, {
    get: (_t, key) => (call: unknown, cb: unknown) =>
      (h.app.service.handlers() as unknown as Record<string, (a: unknown, b: unknown) => void>)[
        key as string
      ](call, cb),
  });
  h.server.addService(
    profiles.ProfileServiceService,
    {
      get: service.get,
      batchGet: service.batchGet,
      upsert: service.upsert,
      recordCommunication: service.recordCommunication,
      history: service.history,
      delete: service.delete,
    },
    PROFILE_SERVICE_NAME,
  );
  const port = await h.server.start(0, '127.0.0.1');
  h.client = new profiles.ProfileServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return h;
}

/**
 * NATS, a database named after `dbPrefix` and a Harness on them for the tests of the enclosing
 * suite: started before the tests, the harness closed after them while the servers are still up.
 * The returned object is the Harness once the before hook ran.
 */
export function useHarness(dbPrefix: string): Harness {
  const h = {} as Harness;
  // Registered before the servers' hooks, so it runs before they stop.
  after(async () => {
    await h.close?.();
  });
  const nats = useNats();
  const mongo = useMongo({ dbPrefix });
  before(async () => {
    await startHarness(nats.url, mongo.url, mongo.dbName, DEFAULT_SETTINGS, h);
  });
  return h;
}

export function rawEvent(
  id: string,
  customerId: string,
  type: string,
  properties: Record<string, unknown> = {},
  occurredAt = new Date('2026-05-01T06:00:00Z'),
): events.Event {
  return events.Event.fromPartial({
    id,
    type,
    category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
    customerId,
    occurredAt,
    properties,
    source: 'test',
  });
}

export async function publishRaw(h: Harness, event: events.Event, msgId = event.id): Promise<void> {
  await h.publisher.publish(
    subjects.rawEvent(partitionOf(event.customerId, PARTITIONS), event.category, event.type),
    SCHEMAS.Event,
    event,
    { msgId },
  );
}

/** Promisified unary call. */
export function call<Req, Res>(
  client: profiles.ProfileServiceClient,
  method: 'get' | 'batchGet' | 'upsert' | 'recordCommunication' | 'history' | 'delete',
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    (client[method] as unknown as (r: Req, cb: (e: grpc.ServiceError | null, res: Res) => void) => void).call(
      client,
      req,
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

export function enrichedFor(h: Harness, eventId: string): events.EnrichedEvent | undefined {
  return h.enriched.items.find((i) => i.message.event?.id === eventId)?.message;
}
