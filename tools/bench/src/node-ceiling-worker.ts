/**
 * One side of the Node client ceiling, run as its own process as the services are (started by
 * node-ceiling.ts): `pub <natsUrl> <count>` publishes `count` events over 16 partition subjects with
 * the services' Publisher; `consume <natsUrl> <count> <run>` consumes them with 16 ordered-batch
 * ConsumeLoops (enrichment's mode and batch size) and a handler that does nothing. Each prints
 * `done <ms>` when finished.
 */
import { consumerSpec, SCHEMAS, STREAMS } from '@kairos/contracts';
import { ConsumeLoop, connectNats, Publisher, silentLogger } from '@kairos/messaging';
import { realisticEventPayload } from './ceiling';

export const NODE_CEILING = {
  partitions: 16,
  subject: (p: number) => `events.raw.${p}.bench.ceiling`,
  /** Publishes in flight at once (ingest and enrichment pipeline theirs). */
  window: 512,
  batchSize: 128,
  batchWaitMs: 2,
};

async function publish(url: string, count: number, run: string): Promise<void> {
  const nc = await connectNats({ servers: url, name: 'ceiling-pub', logger: silentLogger });
  const publisher = new Publisher(nc, { logger: silentLogger });
  const payloads = Array.from({ length: 1000 }, (_, i) => realisticEventPayload(i));
  console.log('ready');
  const started = performance.now();
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const p = publisher.publishBytes(
      NODE_CEILING.subject(i % NODE_CEILING.partitions),
      SCHEMAS.Event.name,
      payloads[i % payloads.length],
      // Ids of their own per run: a repeated id within the stream's duplicate window is not stored.
      { msgId: `node-ceiling-${run}-${i}` },
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= NODE_CEILING.window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  console.log(`done ${Math.round(performance.now() - started)}`);
  await nc.close();
}

async function consume(url: string, count: number, run: string): Promise<void> {
  const nc = await connectNats({ servers: url, name: 'ceiling-consume', logger: silentLogger });
  const publisher = new Publisher(nc, { logger: silentLogger });
  let consumed = 0;
  let started = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const loops = Array.from({ length: NODE_CEILING.partitions }, (_, p) => {
    return new ConsumeLoop(nc, {
      spec: consumerSpec(STREAMS.EVENTS.name, `bench-ceiling-${run}-p${p}`, NODE_CEILING.subject(p), {
        maxAckPending: 2_000,
      }),
      schema: SCHEMAS.Event,
      batchHandler: async (items) => {
        started ||= performance.now();
        consumed += items.length;
        if (consumed >= count) finish();
      },
      mode: { kind: 'ordered-batch', max: NODE_CEILING.batchSize, maxWaitMs: NODE_CEILING.batchWaitMs },
      logger: silentLogger,
      publisher,
    });
  });
  await Promise.all(loops.map((l) => l.start()));
  console.log('ready');
  await finished;
  console.log(`done ${Math.round(performance.now() - started)}`);
  // No drain: the bench deletes the consumers next, and a draining loop would recreate them.
}

if (require.main === module) {
  const [mode, url, count, runId = 'r'] = process.argv.slice(2);
  const run = mode === 'pub' ? publish : mode === 'consume' ? consume : undefined;
  if (!run || !url || !Number(count)) {
    console.error('usage: node-ceiling-worker pub|consume <natsUrl> <count> [<run>]');
    process.exit(2);
  }
  run(url, Number(count), runId).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
