/**
 * `pnpm bench actions`: trigger-to-action latency and throughput of the orchestrator on real
 * NATS JetStream and MongoDB-wire storage. A zero-delay workflow (no settle window, no caps) runs
 * in-process; TriggerFired messages are published for distinct customers and each is timed until
 * its ActionRequested is observed.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { actions, partitionOf, SCHEMAS, subjects } from '@kairos/contracts';
import { parseDefinitions } from '@kairos/definitions';
import { connectPublisher } from '@kairos/messaging';
import {
  loadOrchestrationConfig,
  MemoryTemplateCatalog,
  NoProfileGateway,
  startOrchestration,
} from '@kairos/orchestration';
import { createLogger } from '@kairos/service-kit';
import { percentile } from '@kairos/telemetry';
import { triggers } from '@kairos/contracts';

export interface ActionsBenchmarkResult {
  trigger_to_action_p50_ms: number;
  trigger_to_action_p99_ms: number;
  actions_per_s: number;
  table: string;
}

export async function runActionsBenchmark(opts: {
  natsUrl: string;
  mongoUrl: string;
  triggers?: number;
}): Promise<ActionsBenchmarkResult> {
  const count = opts.triggers ?? 2_000;
  const tag = randomBytes(4).toString('hex');
  const triggerName = `bench-${tag}`;
  const dbName = `bench_orch_${tag}`;
  const partitions = 16;
  const { nc, publisher } = await connectPublisher(opts.natsUrl, 'bench-actions');
  const mongo = new MongoClient(opts.mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  const config = loadOrchestrationConfig({
    NATS_URL: opts.natsUrl,
    MONGO_URL: opts.mongoUrl,
    MONGO_DB: dbName,
    KAIROS_PARTITIONS: String(partitions),
    KAIROS_PROFILE_ADDR: 'none',
    KAIROS_SETTLE_WINDOW: '0s',
    KAIROS_GLOBAL_FREQUENCY_CAP: 'off',
    KAIROS_DEFINITIONS_WATCH: 'false',
  });
  const app = await startOrchestration(config, {
    nc,
    db: mongo.db(dbName),
    logger: createLogger('bench-actions', 'silent'),
    http: { addRoute: () => undefined },
    profiles: new NoProfileGateway(),
    templates: new MemoryTemplateCatalog({
      'bench-note': {
        subject: 'Your {{ add.properties.sku }}',
        text: 'Hi {{ profile.customerId }}: {{ add.properties.sku }}',
      },
    }),
  });
  const parsed = parseDefinitions(
    `apiVersion: kairos/v1
kind: Workflow
metadata: { name: bench-immediate }
spec:
  trigger: ${triggerName}
  settle: 0s
  steps:
    - send: { channel: [email], template: bench-note }
`,
    'bench.yaml',
    { unknownTriggers: 'allow' },
  );
  const wf = parsed.documents.find((d) => d.kind === 'Workflow');
  if (!wf || wf.kind !== 'Workflow')
    throw new Error(`bench workflow invalid: ${JSON.stringify(parsed.errors)}`);
  app.workflows.set(wf.workflow);

  // Latency is measured on paced triggers (the next published when the previous action is seen),
  // throughput on a burst of `count`; a burst's latencies would only measure its own queue.
  const latencySamples = Math.min(200, count);
  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  let burstSeen = 0;
  let lastSeen = 0;
  const waiters = new Map<string, () => void>();
  const sub = nc.subscribe('actions.requested.email');
  void (async () => {
    for await (const m of sub) {
      const a = actions.ActionRequested.decode(m.data);
      const t0 = publishedAt.get(a.triggerId);
      if (t0 === undefined) continue;
      publishedAt.delete(a.triggerId);
      lastSeen = performance.now();
      if (a.triggerId.includes('-lat-')) latencies.push(lastSeen - t0);
      else burstSeen++;
      waiters.get(a.triggerId)?.();
    }
  })();

  const publishOne = (phase: string, n: number) => {
    const customerId = `bench-${tag}-${phase}-${n}`;
    const id = `tf-${tag}-${phase}-${n}`;
    const now = new Date();
    const tf = triggers.TriggerFired.fromPartial({
      id,
      trigger: triggerName,
      triggerVersion: 1,
      customerId,
      firedAt: now,
      priority: 50,
      matched: [
        {
          step: 'event',
          alias: 'add',
          eventId: `ev-${id}`,
          type: 'cart.item_added',
          occurredAt: now,
          properties: { sku: `SKU-${n}` },
        },
      ],
    });
    publishedAt.set(id, performance.now());
    return {
      id,
      published: publisher.publish(
        subjects.triggerFired(partitionOf(customerId, partitions), triggerName),
        SCHEMAS.TriggerFired,
        tf,
        { msgId: id },
      ),
    };
  };
  const deadline = (ms: number, what: () => string) =>
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what())), ms).unref());

  let started = 0;
  try {
    for (let n = 0; n < latencySamples; n++) {
      const { id, published } = publishOne('lat', n);
      const seen = new Promise<void>((r) => waiters.set(id, r));
      await published;
      await Promise.race([seen, deadline(30_000, () => `no action for ${id} within 30 s`)]);
      waiters.delete(id);
    }
    started = performance.now();
    const allSeen = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (burstSeen >= count) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) => publishOne('burst', i + j).published),
      );
    }
    await Promise.race([
      allSeen,
      deadline(180_000, () => `only ${burstSeen}/${count} actions observed within 180 s`),
    ]);
  } finally {
    sub.unsubscribe();
    await app.stop();
    await mongo
      .db(dbName)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await nc.drain();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const perSecond = count / ((lastSeen - started) / 1000);
  const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  const table = [
    '| figure | value |',
    '| --- | --- |',
    `| trigger → action p50 (${latencySamples} paced triggers) | ${round(p50)} ms |`,
    `| trigger → action p99 | ${round(p99)} ms |`,
    `| actions/s (burst of ${count} triggers) | ${round(perSecond, 0)} |`,
  ].join('\n');
  return {
    trigger_to_action_p50_ms: round(p50),
    trigger_to_action_p99_ms: round(p99),
    actions_per_s: round(perSecond, 0),
    table,
  };
}
