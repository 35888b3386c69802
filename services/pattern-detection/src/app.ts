import { jetstreamManager } from '@nats-io/jetstream';
import {
  consumerSpec,
  filters,
  partitionDurable,
  partitionsOwnedBy,
  SCHEMAS,
  STREAMS,
  type ConsumerSpec,
} from '@kairos/contracts';
import {
  formatErrors,
  loadDefinitionsFromPath,
  openNatsDefinitionStore,
  type DefinitionStore,
  type WatchHandle,
} from '@kairos/definitions';
import {
  ConsumeLoop,
  isNotFound,
  Publisher,
  type Logger as MessagingLogger,
  type NatsConnection,
} from '@kairos/messaging';
import { createContainer, systemClock, TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { KvCheckpointStore, type CheckpointStore } from './checkpoints';
import { publishedFireIds } from './published';
import { PartitionDetector, type DetectorSettings } from './partition-detector';
import { PatternServiceImpl, type DetectionRuntime, type PatternServiceSettings } from './pattern-service';
import { TriggerRegistry } from './trigger-registry';
import { PD_TOKENS } from './tokens';

export const SERVICE_NAME = 'pattern-detection';

export interface PatternDetectionOptions {
  nc: NatsConnection;
  logger: Logger;
  partitions: number;
  replicaOrdinal?: number;
  replicas?: number;
  streamReplicas?: number;
  allowedLatenessMs?: number;
  /** 0 disables the timer (tests call tick()). */
  watermarkIntervalMs?: number;
  checkpointIntervalMs?: number;
  checkpointEvents?: number;
  maxPartialMatches?: number;
  explainRetentionMs?: number;
  /** Trigger YAML applied to the store before the engines start. */
  definitionsDir?: string;
  simulateMaxEvents?: number;
  clock?: Clock;
  checkpoints?: CheckpointStore;
}

export interface PatternDetectionApp {
  service: PatternServiceImpl;
  registry: TriggerRegistry;
  store: DefinitionStore;
  detectors: Map<number, PartitionDetector>;
  ownedPartitions: number[];
  /** One watermark/checkpoint round over every partition (what the timer runs). */
  tick(): Promise<void>;
  /** Stops the timer and the loops, then writes a final checkpoint per partition. */
  stop(): Promise<void>;
}

/** Applies the Trigger documents of a directory (or file); throws with every validation error. */
export async function applyDefinitionsDir(
  store: DefinitionStore,
  dir: string,
  logger: Logger,
): Promise<void> {
  const result = await loadDefinitionsFromPath(dir, { unknownTriggers: 'allow' });
  if (result.errors.length) throw new Error(`invalid definitions in ${dir}:\n${formatErrors(result.errors)}`);
  const triggerDocs = result.documents.filter((d) => d.kind === 'Trigger');
  for (let attempt = 1; ; attempt++) {
    try {
      const applied = await store.apply(triggerDocs);
      logger.info(
        { dir, applied: applied.map((a) => `${a.name}:${a.action}:v${a.version}`) },
        'definitions applied from directory',
      );
      return;
    } catch (err) {
      // Another replica may apply the same directory at the same time (revision conflict): re-read.
      if (attempt >= 3) throw err;
    }
  }
}

async function deleteConsumer(nc: NatsConnection, spec: ConsumerSpec): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.delete(spec.stream, spec.durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * The composition root's body (shared by main.ts and in-process tests): definition store and
 * watch, one engine per owned partition restored from its checkpoint, one ordered consume loop per
 * partition replaying from the checkpoint's next sequence, and the watermark/checkpoint timer.
 */
export async function startPatternDetection(opts: PatternDetectionOptions): Promise<PatternDetectionApp> {
  const logger = opts.logger;
  const clock = opts.clock ?? systemClock;
  const replicas = opts.replicas ?? 1;
  const replicaOrdinal = opts.replicaOrdinal ?? 0;
  const owned = partitionsOwnedBy(replicaOrdinal, replicas, opts.partitions);
  const publisher = new Publisher(opts.nc, { logger: logger as MessagingLogger });

  const store = await openNatsDefinitionStore(opts.nc, { replicas: opts.streamReplicas });
  if (opts.definitionsDir) await applyDefinitionsDir(store, opts.definitionsDir, logger);
  const registry = new TriggerRegistry(logger);
  const watch: WatchHandle = await store.watch((change) => registry.handle(change));
  await watch.ready;

  const checkpoints =
    opts.checkpoints ?? (await KvCheckpointStore.open(opts.nc, { replicas: opts.streamReplicas }));
  const settings: DetectorSettings = {
    allowedLatenessMs: opts.allowedLatenessMs ?? 5_000,
    checkpointIntervalMs: opts.checkpointIntervalMs ?? 5_000,
    checkpointEvents: opts.checkpointEvents ?? 5_000,
    maxPartialMatches: opts.maxPartialMatches ?? 32,
    explainRetentionMs: opts.explainRetentionMs,
  };
  const detectors = new Map<number, PartitionDetector>();
  const loops: Array<{ detector: PartitionDetector; loop: ConsumeLoop<unknown>; spec: ConsumerSpec }> = [];
  for (const p of owned) {
    const detector = new PartitionDetector(
      p,
      registry.current(),
      settings,
      publisher,
      checkpoints,
      clock,
      logger,
    );
    const startSequence = await detector.restore((since) => publishedFireIds(opts.nc, p, since));
    // The engine state is the source of truth: the consumer restarts right after the checkpoint.
    const spec = consumerSpec(
      STREAMS.EVENTS.name,
      partitionDurable(SERVICE_NAME, p),
      filters.enrichedPartition(p),
      {
        startSequence,
      },
    );
    await deleteConsumer(opts.nc, spec);
    const loop = new ConsumeLoop(opts.nc, {
      spec,
      schema: SCHEMAS.EnrichedEvent,
      handler: (m, ctx) => detector.handle(m, ctx),
      mode: { kind: 'ordered' },
      logger: logger as MessagingLogger,
      publisher,
    });
    detectors.set(p, detector);
    loops.push({ detector, loop: loop as ConsumeLoop<unknown>, spec });
  }
  for (const { loop } of loops) await loop.start();

  const unsubscribe = registry.onChange((triggers) => {
    for (const d of detectors.values()) {
      d.setTriggers(triggers).catch((err: unknown) =>
        logger.error({ partition: d.partition, err: (err as Error).message }, 'trigger reload rejected'),
      );
    }
    logger.info({ triggers: triggers.map((t) => `${t.name}:v${t.version}`) }, 'triggers reloaded');
  });

  const jsm = await jetstreamManager(opts.nc);
  const tick = async () => {
    for (const { detector, spec } of loops) {
      try {
        if (!detector.caughtUp) {
          // Wall-clock advance waits for the replay: replayed events must not be judged late.
          const info = await jsm.consumers.info(spec.stream, spec.durable);
          if (info.num_pending === 0 && info.num_ack_pending === 0) detector.markCaughtUp();
        }
        await detector.tick();
      } catch (err) {
        logger.warn({ partition: detector.partition, err: (err as Error).message }, 'watermark tick failed');
      }
    }
  };
  let ticking = false;
  const interval = opts.watermarkIntervalMs ?? 1_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          if (ticking) return;
          ticking = true;
          void tick().finally(() => (ticking = false));
        }, interval)
      : undefined;

  const container = createContainer([
    [TOKENS.Logger, logger],
    [TOKENS.Nats, opts.nc],
    [TOKENS.Clock, clock],
    [
      PD_TOKENS.Runtime,
      { partitions: opts.partitions, replicaOrdinal, replicas, detectors } satisfies DetectionRuntime,
    ],
    [
      PD_TOKENS.Settings,
      {
        simulateMaxEvents: opts.simulateMaxEvents ?? 1_000_000,
        defaultSimulateRangeMs: 24 * 3_600_000,
      } satisfies PatternServiceSettings,
    ],
  ]);
  container.registerSingleton(PatternServiceImpl);
  const service = container.resolve(PatternServiceImpl);

  return {
    service,
    registry,
    store,
    detectors,
    ownedPartitions: owned,
    tick,
    async stop() {
      if (timer) clearInterval(timer);
      unsubscribe();
      await watch.stop();
      await Promise.all(loops.map(({ loop }) => loop.drain()));
      await Promise.all([...detectors.values()].map((d) => d.close()));
    },
  };
}
