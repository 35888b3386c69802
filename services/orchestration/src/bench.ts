/**
 * `pnpm bench actions`: trigger-to-action latency and throughput of the orchestration engine on real
 * NATS JetStream and MongoDB-wire storage. A zero-delay workflow (no settle window, no caps) runs
 * in-process; TriggerFired messages are published for distinct customers and each is timed until
 * its ActionRequested is observed.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { actions, partitionOf, SCHEMAS, subjects } from '@kairos/contracts';
import { parseDefinitions } from '@kairos/definitions';
import { connectNats, provisionStreams, Publisher, silentLogger } from '@kairos/messaging';
import { startOrchestration } from './app';
import { loadOrchestrationConfig } from './config';
import { MemoryTemplateCatalog } from './domain/content';
import { NoProfileGateway } from './profiles';
import { triggers } from '@kairos/contracts';

export interface ActionsBenchmarkResult {
  trigger_to_action_p50_ms: number;
  trigger_to_action_p99_ms: number;
  actions_per_s: number;
  table: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
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
  const nc = await connectNats({ servers: opts.natsUrl, name: 'bench-actions', logger: silentLogger });
  const mongo = new MongoClient(opts.mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  await provisionStreams(nc);
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
  const app = await startOrchestration({
    config,
    nc,
    db: mongo.db(dbName),
    logger: silentLogger,
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

  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  let lastSeen = 0;
  let allSeen!: () => void;
  const done = new Promise<void>((r) => (allSeen = r));
  const sub = nc.subscribe('actions.requested.email');
  void (async () => {
    for await (const m of sub) {
      const a = actions.ActionRequested.decode(m.data);
      const t0 = publishedAt.get(a.triggerId);
      if (t0 === undefined) continue;
      publishedAt.delete(a.triggerId);
      lastSeen = performance.now();
      latencies.push(lastSeen - t0);
      if (latencies.length === count) allSeen();
    }
  })();

  const publisher = new Publisher(nc, { logger: silentLogger });
  const started = performance.now();
  try {
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) => {
          const n = i + j;
          const customerId = `bench-${tag}-${n}`;
          const id = `tf-${tag}-${n}`;
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
          return publisher.publish(
            subjects.triggerFired(partitionOf(customerId, partitions), triggerName),
            SCHEMAS.TriggerFired,
            tf,
            {
              msgId: id,
            },
          );
        }),
      );
    }
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`only ${latencies.length}/${count} actions observed within 120 s`)),
        120_000,
      ).unref(),
    );
    await Promise.race([done, timeout]);
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
    `| triggers | ${count} |`,
    `| trigger → action p50 | ${round(p50)} ms |`,
    `| trigger → action p99 | ${round(p99)} ms |`,
    `| actions/s | ${round(perSecond, 0)} |`,
  ].join('\n');
  return {
    trigger_to_action_p50_ms: round(p50),
    trigger_to_action_p99_ms: round(p99),
    actions_per_s: round(perSecond, 0),
    table,
  };
}
