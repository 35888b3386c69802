import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { partitionOf, SCHEMAS, STREAMS, events, subjects } from '@kairos/contracts';
import { DEFINITIONS_BUCKET } from '@kairos/definitions';
import { loadAnalyticsConfig, startAnalytics } from '@kairos/analytics';
import { loadDeliveryConfig, startDelivery } from '@kairos/delivery';
import { loadEnrichmentConfig, startEnrichment } from '@kairos/enrichment';
import { loadIngestConfig, startIngest } from '@kairos/ingest';
import { loadOrchestrationConfig, startOrchestration } from '@kairos/orchestration';
import { loadPatternDetectionConfig, startPatternDetection } from '@kairos/pattern-detection';
import { loadPredictionConfig, startPrediction } from '@kairos/prediction';
import {
  connectNats,
  natsAuthOptions,
  Publisher,
  silentLogger,
  type NatsConnection,
} from '@kairos/messaging';
import {
  createLogger,
  databaseName,
  GrpcServer,
  HttpServer,
  openNats,
  type ServiceContext,
} from '@kairos/service-kit';
import { useMongo, useNats, waitFor } from '@kairos/testkit';
import { loadProvisionConfig } from '../../src/config';
import { provision } from '../../src/main';
import { ADMIN_USER, natsAuthorization, renderAuthorization } from '../../src/permissions';
import { SERVICE_PROVISIONING } from '../../src/services';

const PARTITIONS = 2;
const logger = createLogger('least-privilege-test', 'silent');
const USERS = [ADMIN_USER, ...SERVICE_PROVISIONING.map((s) => s.service)];

/** The password files of every user, as a mounted Secret holds them. */
function passwordFiles(): { dir: string; passwords: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-nats-users-'));
  const passwords: Record<string, string> = {};
  for (const user of USERS) {
    passwords[user] = `pw-${user}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, user), `${passwords[user]}\n`);
  }
  return { dir, passwords };
}

/** Rejects with the server's permissions error for `subject`. */
async function assertRefused(action: Promise<unknown>, subject: string): Promise<void> {
  await assert.rejects(action, (err: Error) => {
    const text = `${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}`;
    assert.match(text, /Permissions Violation for (Publish|Subscription) to/);
    assert.ok(text.includes(`"${subject}"`), `expected the refusal to name ${subject}: ${text}`);
    return true;
  });
}

describe('least-privilege NATS users from the generated authorization, KAIROS_PROVISION=external', function () {
  this.timeout(180_000);
  const { dir, passwords } = passwordFiles();
  const authorization = natsAuthorization(SERVICE_PROVISIONING, {
    partitions: PARTITIONS,
    env: {},
    passwords,
  });
  const nats = useNats({
    config: renderAuthorization(authorization),
    client: { user: ADMIN_USER, pass: passwords[ADMIN_USER] },
  });
  const mongo = useMongo({ dbPrefix: 'lp' });
  const connections = new Map<string, NatsConnection>();
  /** Errors the server sent each service's connection (a refused publish or subscription shows here). */
  const asyncErrors = new Map<string, string[]>();
  const drains: Array<() => Promise<void>> = [];

  /** The settings a service's chart gives it: its own user, its password file, external provisioning. */
  const envOf = (service: string): NodeJS.ProcessEnv => ({
    NATS_URL: nats.url,
    MONGO_URL: mongo.url,
    NATS_USER: service,
    NATS_PASSWORD_FILE: join(dir, service),
    KAIROS_PROVISION: 'external',
    KAIROS_PARTITIONS: String(PARTITIONS),
    KAIROS_PROFILE_ADDR: 'none',
    KAIROS_PREDICTION_ADDR: 'none',
    KAIROS_WATERMARK_INTERVAL: '0s',
    KAIROS_TIME_EVENTS_INTERVAL: '0s',
    LOG_LEVEL: 'silent',
  });

  /** What main.ts does: openNats with the service's settings, then start<Service>. */
  async function open(service: string, config: Parameters<typeof openNats>[1]) {
    const ctx = {
      name: service,
      logger,
      grpc: new GrpcServer(logger),
      http: new HttpServer(logger),
      onDrain: (step: () => Promise<void>) => drains.push(step),
    } as unknown as ServiceContext;
    const nc = await openNats(ctx, config);
    connections.set(service, nc);
    const errors: string[] = [];
    asyncErrors.set(service, errors);
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    return { ctx, nc, db: mongo.client.db(databaseName({ MONGO_DB: undefined }, service)) };
  }

  before(async () => {
    await provision(
      loadProvisionConfig({
        NATS_URL: nats.url,
        NATS_USER: ADMIN_USER,
        NATS_PASSWORD_FILE: join(dir, ADMIN_USER),
        KAIROS_PARTITIONS: String(PARTITIONS),
        MONGO_URL: mongo.url,
      }),
      silentLogger,
    );
  });

  after(async () => {
    for (const step of drains.reverse()) await step().catch(() => undefined);
  });

  it('starts every service with its own user, binding to what the Job provisioned, and an event flows', async () => {
    const started: string[] = [];
    {
      const cfg = loadIngestConfig(envOf('ingest'));
      const { ctx, nc } = await open('ingest', cfg);
      const app = await startIngest(cfg, { nc, logger, grpc: ctx.grpc, http: ctx.http });
      drains.push(() => app.stop());
      started.push('ingest');
    }
    {
      const cfg = loadEnrichmentConfig(envOf('enrichment'));
      const { nc, db } = await open('enrichment', cfg);
      const app = await startEnrichment(cfg, { nc, db, logger });
      drains.push(() => app.stop());
      started.push('enrichment');
    }
    {
      const cfg = loadPatternDetectionConfig(envOf('pattern-detection'));
      const { nc } = await open('pattern-detection', cfg);
      const app = await startPatternDetection(cfg, { nc, logger });
      await app.tick();
      drains.push(() => app.stop());
      started.push('pattern-detection');
    }
    {
      const cfg = loadOrchestrationConfig(envOf('orchestration'));
      const { ctx, nc, db } = await open('orchestration', cfg);
      const app = await startOrchestration(cfg, { nc, db, logger, http: ctx.http });
      drains.push(() => app.stop());
      started.push('orchestration');
    }
    {
      const cfg = loadDeliveryConfig(envOf('delivery'));
      const { ctx, nc, db } = await open('delivery', cfg);
      const app = await startDelivery(cfg, { nc, db, logger, http: ctx.http });
      drains.push(() => app.stop());
      started.push('delivery');
    }
    {
      const cfg = loadPredictionConfig(envOf('prediction'));
      const { nc, db } = await open('prediction', cfg);
      const app = await startPrediction(cfg, { nc, db, logger });
      await app.tick();
      drains.push(() => app.stop());
      started.push('prediction');
    }
    {
      const cfg = loadAnalyticsConfig(envOf('analytics'));
      const { ctx, nc, db } = await open('analytics', cfg);
      const app = await startAnalytics(cfg, { nc, db, logger, http: ctx.http });
      drains.push(() => app.stop());
      started.push('analytics');
    }
    assert.deepEqual(
      started,
      SERVICE_PROVISIONING.map((s) => s.service),
    );

    // Ingest's user publishes a raw event; enrichment's user consumes it and publishes it enriched.
    const ingestNc = connections.get('ingest')!;
    const event = events.Event.fromPartial({
      id: 'lp-1',
      customerId: 'c-1',
      type: 'product.viewed',
      category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
      occurredAt: new Date(),
      source: 'test',
    });
    const publisher = new Publisher(ingestNc, { logger: silentLogger });
    await publisher.publish(
      subjects.rawEvent(partitionOf(event.customerId, PARTITIONS), event.category, event.type),
      SCHEMAS.Event,
      event,
      { msgId: event.id },
    );
    const admin = await jetstreamManager(await adminConnection());
    await waitFor(
      async () => {
        const info = await admin.streams.info(STREAMS.EVENTS.name, { subjects_filter: 'events.enriched.>' });
        return Object.keys(info.state.subjects ?? {}).length > 0;
      },
      { timeoutMs: 30_000, message: 'the event enriched by the enrichment user' },
    );
    // Nothing a service did while starting and handling the event was refused.
    for (const service of started) assert.deepEqual(asyncErrors.get(service), [], service);
    for (const step of drains.splice(0).reverse()) await step();
  });

  async function adminConnection(): Promise<NatsConnection> {
    const nc = await connectNats({
      servers: nats.url,
      name: 'admin',
      logger: silentLogger,
      ...natsAuthOptions({
        NATS_URL: nats.url,
        NATS_USER: ADMIN_USER,
        NATS_PASSWORD_FILE: join(dir, ADMIN_USER),
      }),
    });
    connections.set('admin', nc);
    drains.push(() => nc.close());
    return nc;
  }

  /** A connection as `service`, opened the way the service opens it (without starting it). */
  async function as(service: string): Promise<NatsConnection> {
    const { nc } = await open(service, { ...loadIngestConfig(envOf(service)) });
    return nc;
  }

  it("refuses a publish outside the service's own subjects", async () => {
    const nc = await as('ingest');
    await assertRefused(jetstream(nc).publish('triggers.fired.0.t', 'x'), 'triggers.fired.0.t');
    const prediction = await as('prediction');
    // Prediction publishes predicted events only, not customer actions.
    await assertRefused(
      jetstream(prediction).publish('events.raw.0.customer_action.order.placed', 'x'),
      'events.raw.0.customer_action.order.placed',
    );
  });

  it("refuses consuming another service's consumer, or subscribing to its subjects or replies", async () => {
    const delivery = await as('delivery');
    await assertRefused(
      jetstream(delivery).consumers.get(STREAMS.EVENTS.name, 'enrichment-p00'),
      '$JS.API.CONSUMER.INFO.EVENTS.enrichment-p00',
    );
    // Pattern-detection may read consumer infos on EVENTS (its ordered scans), never pull another's.
    const pd = await as('pattern-detection');
    await assertRefused(
      pd.request('$JS.API.CONSUMER.MSG.NEXT.EVENTS.enrichment-p00', JSON.stringify({ batch: 1 })),
      '$JS.API.CONSUMER.MSG.NEXT.EVENTS.enrichment-p00',
    );
    for (const subject of ['events.>', '_INBOX.ingest.>']) {
      const sub = delivery.subscribe(subject);
      await assertRefused(
        (async () => {
          for await (const _ of sub) return;
        })(),
        subject,
      );
    }
    // An ordered consumer outside the subjects pattern-detection scans.
    await assert.rejects(
      jetstream(pd).consumers.get(STREAMS.EVENTS.name, { filter_subjects: 'events.raw.>' }),
      /Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.CREATE\.EVENTS\.[^.]+\.events\.raw\.>"/,
    );
  });

  it('refuses the JetStream administration the Job does: streams, consumers, buckets', async () => {
    const orchestration = await as('orchestration');
    const jsm = await jetstreamManager(orchestration);
    await assertRefused(jsm.streams.delete(STREAMS.EVENTS.name), '$JS.API.STREAM.DELETE.EVENTS');
    await assertRefused(
      jsm.streams.add({ name: 'ROGUE', subjects: ['rogue.>'] }),
      '$JS.API.STREAM.CREATE.ROGUE',
    );
    await assertRefused(
      jsm.consumers.add(STREAMS.TRIGGERS.name, {
        durable_name: 'orchestration-p00',
        filter_subject: 'triggers.fired.0.>',
      }),
      '$JS.API.CONSUMER.CREATE.TRIGGERS.orchestration-p00.triggers.fired.0.>',
    );
    const pd = await jetstreamManager(await as('pattern-detection'));
    // Its own partition consumer: reset to a sequence, yes; delete, no (the wildcard is denied for durables).
    await assertRefused(
      pd.consumers.delete(STREAMS.EVENTS.name, 'pattern-detection-p00'),
      '$JS.API.CONSUMER.DELETE.EVENTS.pattern-detection-p00',
    );
    const analytics = await as('analytics');
    const definitions = await new Kvm(analytics).open(DEFINITIONS_BUCKET);
    await assertRefused(definitions.put('Trigger.rogue', 'x'), `$KV.${DEFINITIONS_BUCKET}.Trigger.rogue`);
  });
});
