import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { Binary, MongoClient } from 'mongodb';
import {
  analytics,
  DEFAULT_PARTITIONS,
  ERASURE_SERVICES,
  events,
  ingest,
  predictions,
  profiles,
  SCHEMAS,
  STREAMS,
} from '@kairos/contracts';
import { runCli } from '@kairos/kairosctl';
import { connectNats, silentLogger, type NatsConnection } from '@kairos/messaging';
import { KvCheckpointStore } from '@kairos/pattern-detection';
import { MongoCheckpointStore } from '@kairos/prediction';
import {
  adminMetadata,
  emailOnCartDefinitions,
  startSmtpSink,
  testCredentials,
  waitFor,
  type SmtpSink,
} from '@kairos/testkit';
import { newCustomer, unary } from '../src/customers';
import { leaksIn } from '../src/leak-scan';
import { Mesh } from '../src/mesh';
import { readUntil } from '../src/streams';

/**
 * The cart trigger of the shared e2e definitions with a workflow of its own (an inbox message, a
 * one-hour wait on a durable timer, then an email), and a trigger that keeps a partial match open
 * (a view waiting for an order), so the pattern engine holds state for the customer at the erasure.
 */
const CART = emailOnCartDefinitions('priv');
const DEFINITIONS = `${CART.yaml.split('---')[0]}---
apiVersion: kairos/v1
kind: Trigger
metadata: { name: priv-viewed-no-order }
spec:
  priority: 10
  pattern:
    sequence:
      - event: product.viewed
        as: view
      - absent:
          event: order.completed
        for: 6h
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: priv-cart-nudge }
spec:
  trigger: ${CART.trigger}
  conditions: "profile.consent.marketing"
  steps:
    - send: { channel: in_app, template: cart-reminder }
    - wait: { duration: 1h }
    - send: { channel: email, template: cart-reminder }
`;

/**
 * A document as text, with binary fields (analytics keeps messages as their protobuf bytes) as the
 * text of their bytes rather than base64, so an id inside them is found.
 */
function asText(doc: unknown): string {
  return JSON.stringify(doc, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return original instanceof Binary ? Buffer.from(original.buffer).toString('latin1') : value;
  });
}

/** Every document of every collection of the mesh's service databases that mentions `needle`. */
async function documentsMentioning(mongo: MongoClient, dbPrefix: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const { databases } = await mongo.db('admin').admin().listDatabases();
  for (const { name } of databases.filter((d) => d.name.startsWith(dbPrefix))) {
    const db = mongo.db(name);
    for (const { name: collection } of await db.listCollections().toArray()) {
      for await (const doc of db.collection(collection).find()) {
        if (asText(doc).includes(needle)) found.push(`${name}.${collection} ${String(doc._id)}`);
      }
    }
  }
  return found.sort();
}

describe('e2e: erasing a customer removes them from every store of every service', function () {
  this.timeout(300_000);
  const mesh = new Mesh();
  let nc: NatsConnection;
  let smtp: SmtpSink;
  let mongo: MongoClient;
  let defsDir: string;
  const partitions = Array.from({ length: DEFAULT_PARTITIONS }, (_, p) => p);

  before(async () => {
    await mesh.startInfrastructure();
    smtp = await startSmtpSink();
    defsDir = mkdtempSync(join(tmpdir(), 'kairos-e2e-erase-'));
    writeFileSync(join(defsDir, 'erase.yaml'), DEFINITIONS);
    const enrichment = await mesh.startService('enrichment');
    await Promise.all([
      mesh.startService('ingest'),
      // Checkpoints every second: the engine state is in a checkpoint before the erasure.
      mesh.startService('pattern-detection', {
        KAIROS_DEFINITIONS_DIR: defsDir,
        KAIROS_CHECKPOINT_INTERVAL: '1s',
      }),
      mesh.startService('orchestration', {
        KAIROS_DEFINITIONS_DIR: defsDir,
        KAIROS_PROFILE_ADDR: `127.0.0.1:${enrichment.grpcPort}`,
      }),
      mesh.startService('delivery', { KAIROS_SMTP_URL: smtp.url }),
      mesh.startService('analytics', { KAIROS_DEFINITIONS_DIR: defsDir, KAIROS_DEFINITIONS_WATCH: 'false' }),
      mesh.startService('prediction', { KAIROS_CHECKPOINT_INTERVAL: '1s' }),
    ]);
    nc = await connectNats({ servers: mesh.nats.url, name: 'e2e-erase', logger: silentLogger });
    mongo = new MongoClient(mesh.mongo.url);
    await mongo.connect();
  });
  after(async () => {
    await mongo?.close();
    await nc?.close();
    await mesh.stop();
    await smtp?.close();
  });

  const addr = (service: string) => `127.0.0.1:${mesh.services.get(service)!.grpcPort}`;

  async function track(customerId: string, types: string[]): Promise<void> {
    const client = new ingest.IngestServiceClient(addr('ingest'), credentials.createInsecure());
    try {
      const now = Date.now();
      for (const [i, type] of types.entries()) {
        const res = await unary<ingest.TrackRequest, ingest.TrackResponse>(client.track.bind(client), {
          event: events.Event.fromPartial({
            id: `${customerId}-${i}`,
            type,
            customerId,
            occurredAt: new Date(now - 1_000 + i * 200),
            properties: { sku: 'SKU-7', price: 30 },
          }),
        });
        assert.equal(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
      }
    } finally {
      client.close();
    }
  }

  /** The customer's inbox messages, straight from delivery's database. */
  const inboxOf = (customerId: string) =>
    mongo.db(`${mesh.dbName}_delivery`).collection('inbox').countDocuments({ customer_id: customerId });

  async function score(customerId: string): Promise<predictions.ScoreResponse> {
    const client = new predictions.PredictionServiceClient(addr('prediction'), credentials.createInsecure());
    try {
      return await unary(client.score.bind(client), { customerId }, adminMetadata());
    } finally {
      client.close();
    }
  }

  async function analyticsRows(customerId: string): Promise<number> {
    const client = new analytics.AnalyticsServiceClient(addr('analytics'), credentials.createInsecure());
    try {
      const res = await unary<analytics.OutcomesRequest, analytics.OutcomesResponse>(
        client.outcomes.bind(client),
        analytics.OutcomesRequest.fromPartial({ query: { limit: 10_000 } }),
        adminMetadata(),
      );
      return (res.report?.rows ?? []).filter((r) => r.customerId === customerId).length;
    } finally {
      client.close();
    }
  }

  /** The checkpoints (pattern engine in KV, prediction in MongoDB) that mention the customer. */
  async function checkpointsMentioning(customerId: string): Promise<string[]> {
    const engine = await KvCheckpointStore.open(nc, { replicas: 1 });
    const prediction = new MongoCheckpointStore(mongo.db(`${mesh.dbName}_prediction`), 1);
    const found: string[] = [];
    for (const p of partitions) {
      if (JSON.stringify((await engine.load(p)) ?? {}).includes(customerId)) found.push(`pattern p${p}`);
      if (JSON.stringify((await prediction.load(p)) ?? {}).includes(customerId))
        found.push(`prediction p${p}`);
    }
    return found;
  }

  it('erases profile, history, occurrences, engine state, runs and timers, inbox, features and analytics rows; a service down at the time erases when back; others are unaffected', async () => {
    const { customerId, email } = await newCustomer(mesh, 'forget-me', 'Ada');
    const profileClient = new profiles.ProfileServiceClient(addr('enrichment'), credentials.createInsecure());
    await unary(
      profileClient.upsert.bind(profileClient),
      profiles.UpsertRequest.fromPartial({ customerId, dates: { birthday: '1990-03-14' } }),
      adminMetadata(),
    );
    await track(customerId, ['product.viewed', 'cart.item_added']);

    // State in every store: the inbox message went out, the run waits on its timer, the history,
    // analytics and prediction recorded it, the engines' checkpoints hold the customer.
    await waitFor(async () => (await inboxOf(customerId)) === 1, {
      timeoutMs: 60_000,
      message: 'the inbox message of the workflow',
    });
    const orchestration = mongo.db(`${mesh.dbName}_orchestration`);
    await waitFor(
      async () => (await orchestration.collection('timers').countDocuments({ customerId })) === 1,
      {
        timeoutMs: 30_000,
        message: "the run's one-hour wait as a durable timer",
      },
    );
    await waitFor(async () => (await analyticsRows(customerId)) > 0, {
      timeoutMs: 30_000,
      message: 'analytics to record the sent message',
    });
    await waitFor(
      () =>
        score(customerId).then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        message: "prediction to keep the customer's features",
      },
    );
    await waitFor(async () => (await checkpointsMentioning(customerId)).length >= 2, {
      timeoutMs: 30_000,
      message: 'both engines to checkpoint the customer',
    });
    const before = await documentsMentioning(mongo, mesh.dbName, customerId);
    for (const store of [
      'enrichment.profiles',
      'enrichment.communications',
      'enrichment.time_occurrences',
      'orchestration.runs',
      'orchestration.timers',
      'delivery.inbox',
      'delivery.deliveries',
      'analytics.fact_segments',
    ]) {
      const [service, collection] = store.split('.');
      assert.ok(
        before.some((d) => d.startsWith(`${mesh.dbName}_${service}.${collection} `)),
        `${store} holds the customer before the erasure:\n${before.join('\n')}`,
      );
    }

    // Prediction is down when the erasure is requested.
    await mesh.services.get('prediction')!.process.stop('SIGTERM', 20_000);
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(`ERR ${l}`),
      env: {
        NATS_URL: mesh.nats.url,
        KAIROS_PROFILE_ADDR: addr('enrichment'),
        KAIROS_ADMIN_TOKEN_FILE: testCredentials().adminTokenFile,
      },
      now: () => Date.now(),
    };
    const code = await runCli(['profile', 'erase', customerId, '--wait', '30s', '-o', 'json'], io);
    assert.equal(code, 1, `prediction cannot acknowledge while down:\n${lines.join('\n')}`);
    assert.match(lines.at(-1)!, /^ERR .*no acknowledgement within 30s from: prediction/);
    const report = JSON.parse(lines.slice(0, -1).join('\n')) as {
      erasureId: string;
      enrichment: Record<string, number>;
      services: Record<string, { erased: Record<string, number> | null }>;
    };
    assert.equal(report.enrichment.profiles, 1);
    assert.ok(report.enrichment.communications >= 1, 'the inbox message was in the history');
    assert.ok(report.enrichment.time_occurrences >= 1, 'the birthday was scheduled');
    assert.deepEqual(Object.keys(report.services), [...ERASURE_SERVICES]);
    assert.equal(report.services.prediction.erased, null);
    assert.ok(Number(report.services.orchestration.erased!.timers) >= 1, 'the timer was erased');
    assert.ok(Number(report.services.delivery.erased!.inbox) >= 1, 'the inbox message was erased');

    // Back up, prediction replays its backlog, then erases and acknowledges.
    await mesh.startService('prediction', { KAIROS_CHECKPOINT_INTERVAL: '1s' });
    const [ack] = (
      await readUntil(
        nc,
        STREAMS.PRIVACY.name,
        'privacy.erased.prediction',
        (m) => SCHEMAS.CustomerErased.type.decode(m.data),
        (acks) => acks.some((a) => a.erasureId === report.erasureId),
        60_000,
      )
    ).filter((a) => a.erasureId === report.erasureId);
    assert.equal(ack.removed.feature_states, 1);

    // Nothing of the customer is left in any collection of any service's database, in any
    // engine checkpoint, in prediction's memory or in analytics' rows.
    assert.deepEqual(await documentsMentioning(mongo, mesh.dbName, customerId), []);
    assert.deepEqual(await documentsMentioning(mongo, mesh.dbName, email), []);
    assert.deepEqual(await checkpointsMentioning(customerId), []);
    await assert.rejects(score(customerId), (err: ServiceError) => err.code === status.NOT_FOUND);
    assert.equal(await analyticsRows(customerId), 0);
    await assert.rejects(
      unary(profileClient.get.bind(profileClient), { customerId }, adminMetadata()),
      (err: ServiceError) => err.code === status.NOT_FOUND,
    );
    profileClient.close();

    // Erasing again is harmless: every service acknowledges, having nothing left to remove.
    lines.length = 0;
    assert.equal(await runCli(['profile', 'erase', customerId, '--wait', '60s'], io), 0, lines.join('\n'));
    assert.match(
      lines.join('\n'),
      /enrichment erased at once: profiles=0 communications=0 time_occurrences=0/,
    );
    for (const service of ERASURE_SERVICES)
      assert.match(lines.join('\n'), new RegExp(`${service}\\s+erased`));

    // Another customer goes through the mesh as before.
    const other = await newCustomer(mesh, 'keep-me', 'Bo');
    await track(other.customerId, ['product.viewed', 'cart.item_added']);
    await waitFor(async () => (await inboxOf(other.customerId)) === 1, {
      timeoutMs: 60_000,
      message: "the other customer's inbox message",
    });
    await waitFor(
      () =>
        score(other.customerId).then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        message: "prediction to keep the other customer's features",
      },
    );
  });

  it('no log line or span holds a contact point, a message body, or the erased customer in the erasure flow', () => {
    const { leaks, scanned } = leaksIn(mesh, [
      /@example\.test/i,
      /waiting in your cart/i,
      /You left something in your cart/i,
      // The erasure's log lines name the erasure id only.
      /eras[^\n]*forget-me-\d+|forget-me-\d+[^\n]*eras/i,
    ]);
    assert.ok(scanned > 0, 'there were logs and spans to scan');
    assert.deepEqual(leaks, [], `${leaks.length} log lines or spans leak`);
  });
});
