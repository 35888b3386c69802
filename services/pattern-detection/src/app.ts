import {
  formatErrors,
  loadDefinitionsFromPath,
  openNatsDefinitionStore,
  type DefinitionStore,
  type WatchHandle,
} from '@kairos/definitions';
import {
  ErasureConsumer,
  CheckpointedPartitions,
  everyInterval,
  Publisher,
  type Logger as MessagingLogger,
} from '@kairos/messaging';
import {
  ownedPartitions,
  partitionRuntime,
  provide,
  serviceContainer,
  systemClock,
  type Logger,
  type ServiceInfrastructure,
} from '@kairos/service-kit';
import { KvCheckpointStore, type CheckpointStore } from './checkpoints';
import {
  DEFAULT_SIMULATE_RANGE_MS,
  DETECTOR_PROFILE_CACHE_SIZE,
  type PatternDetectionConfig,
} from './config';
import { publishedFireIds } from './published';
import { PartitionDetector, type DetectorSettings } from './partition-detector';
import { PatternServiceImpl } from './pattern-service';
import { TriggerRegistry } from './domain/trigger-registry';
import { PD_TOKENS } from './tokens';
import { SERVICE_NAME } from './provisioning';

export { SERVICE_NAME };

/** What pattern-detection runs on; tests pass their own. */
export interface PatternDetectionInfrastructure extends ServiceInfrastructure {
  /** Where engine checkpoints go; default a KV bucket on `nc`. */
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

/**
 * The composition root's body (shared by main.ts and in-process tests): definition store and
 * watch, one engine per owned partition restored from its checkpoint, one ordered consume loop per
 * partition replaying from the checkpoint's next sequence, and the watermark/checkpoint timer (a
 * watermark interval of 0 leaves it off; tests call tick()).
 */
export async function startPatternDetection(
  config: PatternDetectionConfig,
  infra: PatternDetectionInfrastructure,
): Promise<PatternDetectionApp> {
  const { logger, nc } = infra;
  const clock = infra.clock ?? systemClock;
  const owned = ownedPartitions(config);
  const publisher = new Publisher(nc, { logger: logger as MessagingLogger });

  const provision = config.KAIROS_PROVISION;
  const store = await openNatsDefinitionStore(nc, { replicas: config.KAIROS_STREAM_REPLICAS, provision });
  if (config.KAIROS_DEFINITIONS_DIR) await applyDefinitionsDir(store, config.KAIROS_DEFINITIONS_DIR, logger);
  const registry = new TriggerRegistry(logger);
  const watch: WatchHandle = await store.watch((change) => registry.handle(change));
  await watch.ready;

  const checkpoints =
    infra.checkpoints ??
    (await KvCheckpointStore.open(nc, { replicas: config.KAIROS_STREAM_REPLICAS, provision }));
  const settings: DetectorSettings = {
    allowedLatenessMs: config.KAIROS_ALLOWED_LATENESS,
    checkpointIntervalMs: config.KAIROS_CHECKPOINT_INTERVAL,
    checkpointEvents: config.KAIROS_CHECKPOINT_EVENTS,
    maxPartialMatches: config.KAIROS_MAX_PARTIAL_MATCHES,
    explainRetentionMs: config.KAIROS_EXPLAIN_RETENTION,
    profileCacheSize: DETECTOR_PROFILE_CACHE_SIZE,
  };
  const partitions = await CheckpointedPartitions.start(nc, {
    service: SERVICE_NAME,
    partitions: owned,
    provision,
    open: async (p) => {
      const worker = new PartitionDetector(
        p,
        registry.current(),
        settings,
        publisher,
        checkpoints,
        clock,
        logger,
      );
      return { worker, startSequence: await worker.restore((since) => publishedFireIds(nc, p, since)) };
    },
    logger: logger as MessagingLogger,
    publisher,
  });
  const detectors = partitions.workers;
  const erasure = new ErasureConsumer(nc, {
    provision: config.KAIROS_PROVISION,
    service: SERVICE_NAME,
    partitions: owned,
    erase: (customerId, p) => detectors.get(p!)!.erase(customerId),
    inputs: (p) => partitions.inputsOf(p!),
    publisher,
    logger: logger as MessagingLogger,
  });
  await erasure.start();

  const unsubscribe = registry.onChange((triggers) => {
    for (const d of detectors.values()) {
      d.setTriggers(triggers).catch((err: unknown) =>
        logger.error({ partition: d.partition, err: (err as Error).message }, 'trigger reload rejected'),
      );
    }
    logger.info({ triggers: triggers.map((t) => `${t.name}:v${t.version}`) }, 'triggers reloaded');
  });

  const tick = () => partitions.round('watermark tick failed', (d) => d.tick());
  const interval = config.KAIROS_WATERMARK_INTERVAL;
  const stopTimer = interval > 0 ? everyInterval(tick, interval) : undefined;

  const container = serviceContainer(config, { logger, nc, clock }, [
    provide(PD_TOKENS.Runtime, partitionRuntime(config, detectors)),
    provide(PD_TOKENS.Settings, {
      simulateMaxEvents: config.KAIROS_SIMULATE_MAX_EVENTS,
      defaultSimulateRangeMs: DEFAULT_SIMULATE_RANGE_MS,
    }),
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
      stopTimer?.();
      unsubscribe();
      await watch.stop();
      await erasure.drain();
      await partitions.stop();
    },
  };
}
