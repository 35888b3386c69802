import assert from 'node:assert/strict';
import { join } from 'node:path';
import { events, STREAMS, type predictions } from '@kairos/contracts';
import {
  connectNats,
  provisionStreams,
  Publisher,
  scanStream,
  silentLogger,
  type NatsConnection,
} from '@kairos/messaging';
import {
  freePort,
  startServiceProcess,
  useMongo,
  useNats,
  waitFor,
  type ServiceProcess,
} from '@kairos/testkit';
import {
  DAY_MS,
  DEFAULT_ENGINE_OPTIONS,
  PredictionEngine,
  predictedEventId,
  type FeatureEvent,
  type PredictedEvent,
} from '../../src';
import { predictionClient, publishEnriched, score, seedModels, T0 } from './helpers';

const ROOT = join(__dirname, '..', '..', '..', '..', '..');
const SCRIPT = join(ROOT, 'services', 'prediction', 'dist', 'src', 'main.js');
const MIN_EXAMPLES = 100;

/**
 * Ten steady customers visit every day for 60 days; `quitter` visits daily for 16 days and then goes
 * silent, so its churn score rises while the steady customers move the partition's event time on.
 */
function liveHistory(): Array<FeatureEvent & { id: string }> {
  const start = T0 + 200 * DAY_MS;
  const out: Array<FeatureEvent & { id: string }> = [];
  for (let d = 0; d < 60; d++) {
    for (let c = 0; c < 10; c++)
      out.push({
        id: `s${c}-${d}`,
        customerId: `steady-${c}`,
        type: 'page.viewed',
        at: start + d * DAY_MS + c * 60_000,
      });
    if (d < 16)
      out.push({
        id: `q-${d}`,
        customerId: 'quitter',
        type: 'page.viewed',
        at: start + d * DAY_MS + 3_600_000,
      });
  }
  return out.sort((a, b) => a.at - b.at);
}

describe('prediction process: restart, kill -9 and replay', function () {
  let nc: NatsConnection;
  let proc: ServiceProcess | undefined;
  after(async function () {
    this.timeout(20_000);
    await proc?.kill();
    await nc?.drain();
  });
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'prediction' });

  async function start(grpcPort: number, fault = 'off'): Promise<ServiceProcess> {
    return startServiceProcess({
      name: 'prediction',
      script: SCRIPT,
      readiness: { grpcPort },
      env: {
        NATS_URL: nats.url,
        MONGO_URL: mongo.url,
        MONGO_DB: mongo.dbName,
        KAIROS_PARTITIONS: '1',
        KAIROS_GRPC_PORT: String(grpcPort),
        KAIROS_HTTP_PORT: '0',
        KAIROS_MIN_EXAMPLES: String(MIN_EXAMPLES),
        // Only the event-count rule checkpoints here, and event time moves with events alone.
        KAIROS_CHECKPOINT_INTERVAL: '1h',
        KAIROS_CHECKPOINT_EVENTS: '100',
        KAIROS_IDLE_ADVANCE_INTERVAL: '0s',
        KAIROS_FAULT_POINT: fault,
        LOG_LEVEL: 'info',
      },
    });
  }

  async function storedPredictions(): Promise<events.Event[]> {
    const out: events.Event[] = [];
    for await (const m of scanStream(nc, { stream: STREAMS.EVENTS.name, filter: 'events.raw.0.predicted.>' }))
      out.push(events.Event.decode(m.data));
    return out;
  }

  it('publishes each prediction once across a kill -9 right after a publish, and scores survive restarts', async function () {
    this.timeout(180_000);
    nc = await connectNats({ servers: nats.url, name: 'prediction-test', logger: silentLogger });
    await provisionStreams(nc);
    const publisher = new Publisher(nc, { logger: silentLogger });
    const seeded = await seedModels(mongo.db, 1_500, 120);
    assert.ok(seeded.churn.examples > MIN_EXAMPLES, 'the seeded churn model is trained');

    // What the live run must decide: the same events through an engine warm-started the same way.
    const history = liveHistory();
    const reference = new PredictionEngine({ minExamples: MIN_EXAMPLES });
    reference.adoptModels({ churn: seeded.churn.toJSON(), purchase: seeded.purchase.toJSON() });
    const expected: PredictedEvent[] = history.flatMap((e) => reference.process(e));
    assert.ok(
      expected.some((d) => d.customerId === 'quitter' && d.type === 'churn.predicted'),
      'the silent customer is predicted to churn',
    );

    const port = await freePort();
    proc = await start(port, 'after-predicted-publish');
    let lastSeq = 0;
    for (const e of history)
      lastSeq = await publishEnriched(publisher, 1, {
        id: e.id,
        customer: e.customerId,
        type: e.type,
        at: e.at,
      });
    await waitFor(async () => !proc!.running, {
      timeoutMs: 60_000,
      message: 'the armed fault to kill the process',
    });
    // Only the armed fault ends it (its log line may be lost: SIGKILL does not wait for stdout).

    // Restart: the checkpoint and the replay after it decide the same predictions; none is stored twice.
    proc = await start(port);
    const client = predictionClient(port);
    try {
      const lastAt = history[history.length - 1].at;
      await waitFor(
        async () => {
          const s: predictions.ScoreResponse | undefined = await score(client, 'steady-0').catch(
            () => undefined,
          );
          return s?.asOf?.getTime() === lastAt;
        },
        { timeoutMs: 60_000, message: 'the restarted process to fold every event' },
      );
      const stored = await storedPredictions();
      assert.deepEqual(stored.map((e) => e.id).sort(), expected.map(predictedEventId).sort());
      const churn = stored.find((e) => e.customerId === 'quitter' && e.type === 'churn.predicted')!;
      assert.equal(churn.category, events.EventCategory.EVENT_CATEGORY_PREDICTED);
      const props = churn.properties as Record<string, unknown>;
      assert.ok(
        (props.score as number) >= DEFAULT_ENGINE_OPTIONS.churnGate.enter,
        `score ${String(props.score)} reached the threshold`,
      );
      assert.equal(typeof props.model_version, 'number');
      assert.equal((props.top_features as unknown[]).length, 3);

      // A graceful restart and a kill -9 both come back with the same scores, without a full replay.
      const before: predictions.ScoreResponse = await score(client, 'quitter');
      for (const how of ['SIGTERM', 'SIGKILL'] as const) {
        await (how === 'SIGTERM' ? proc.stop('SIGTERM', 20_000) : proc.kill());
        proc = await start(port);
        await proc.waitForLog('prediction state restored from checkpoint', 30_000);
        let after: predictions.ScoreResponse | undefined;
        await waitFor(
          async () => {
            after = await score(client, 'quitter').catch(() => undefined);
            return after?.asOf?.getTime() === before.asOf?.getTime();
          },
          { timeoutMs: 30_000, message: `scores back after ${how}` },
        );
        assert.deepEqual(after, before, `scores after ${how}`);
      }
      const restored = proc.logs().find((l) => l.includes('prediction state restored from checkpoint'))!;
      assert.equal(JSON.parse(restored).sequence, lastSeq, 'the drain wrote a checkpoint at the last event');
      assert.equal(
        (await storedPredictions()).length,
        expected.length,
        'nothing re-published by the restarts',
      );
    } finally {
      client.close();
    }
  });
});
