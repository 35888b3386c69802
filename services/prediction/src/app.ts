import { STREAMS } from '@kairos/contracts';
import {
  ErasureConsumer,
  CheckpointedPartitions,
  everyInterval,
  Publisher,
  storedMessageIds,
  type Logger as MessagingLogger,
} from '@kairos/messaging';
import {
  ensureIndexes,
  killAt,
  ownedPartitions,
  partitionRuntime,
  provide,
  serviceContainer,
  systemClock,
  type DbServiceInfrastructure,
} from '@kairos/service-kit';
import { MongoCheckpointStore } from './checkpoints';
import {
  engineOptions,
  MODEL_VERSIONS_KEPT,
  TRACE_CONTEXTS_PER_PARTITION,
  type PredictionConfig,
} from './config';
import type { FaultPoint } from './faults';
import { PartitionPredictor, type PredictorSettings } from './partition-predictor';
import { PredictionServiceImpl } from './prediction-service';
import { PREDICTION_TOKENS } from './tokens';
import { predictedSubjects, predictionProvisioning, SERVICE_NAME } from './provisioning';

export { SERVICE_NAME };

/** What prediction runs on; tests pass their own. */
/** NATS, the service's own database (`kairos_prediction`), a logger and a clock. */
export type PredictionInfrastructure = DbServiceInfrastructure;

export interface PredictionApp {
  service: PredictionServiceImpl;
  predictors: Map<number, PartitionPredictor>;
  ownedPartitions: number[];
  /** One caught-up check, idle advance and checkpoint round over every partition (the timer's work). */
  tick(): Promise<void>;
  /** Stops the timer and the loops, then writes a final checkpoint per partition. */
  stop(): Promise<void>;
}

/** How often the timer checks checkpoints and the caught-up state (the idle advance has its own interval). */
const TICK_MS = 1_000;

/**
 * The composition root's body (shared by main.ts and in-process tests): one engine per owned
 * partition restored from its checkpoint (or warm-started), one ordered consume loop per partition
 * on `events.enriched.<p>.>` from the checkpoint's next sequence, and the timer for checkpoints and
 * the idle advance.
 */
export async function startPrediction(
  config: PredictionConfig,
  infra: PredictionInfrastructure,
): Promise<PredictionApp> {
  const { logger, nc, db } = infra;
  const clock = infra.clock ?? systemClock;
  const owned = ownedPartitions(config);
  const publisher = new Publisher(nc, { logger: logger as MessagingLogger });
  const fault = killAt<FaultPoint>(config.KAIROS_FAULT_POINT, logger);
  const store = new MongoCheckpointStore(db, MODEL_VERSIONS_KEPT, fault);
  await ensureIndexes(db, predictionProvisioning.indexes, config);
  const settings: PredictorSettings = {
    engine: engineOptions(config),
    checkpointIntervalMs: config.KAIROS_CHECKPOINT_INTERVAL,
    checkpointEvents: config.KAIROS_CHECKPOINT_EVENTS,
    traceContexts: TRACE_CONTEXTS_PER_PARTITION,
  };

  const partitions = await CheckpointedPartitions.start(nc, {
    service: SERVICE_NAME,
    partitions: owned,
    provision: config.KAIROS_PROVISION,
    open: async (p) => {
      const worker = new PartitionPredictor(p, settings, publisher, store, clock, logger, fault);
      const startSequence = await worker.restore(config.KAIROS_WARM_START, (sinceMs) =>
        storedMessageIds(nc, {
          stream: STREAMS.EVENTS.name,
          filter: predictedSubjects(p),
          sinceMs,
        }),
      );
      return { worker, startSequence };
    },
    logger: logger as MessagingLogger,
    publisher,
  });
  const predictors = partitions.workers;
  const erasure = new ErasureConsumer(nc, {
    provision: config.KAIROS_PROVISION,
    service: SERVICE_NAME,
    partitions: owned,
    erase: (customerId, p) => predictors.get(p!)!.erase(customerId),
    inputs: (p) => partitions.inputsOf(p!),
    publisher,
    logger: logger as MessagingLogger,
  });
  await erasure.start();

  let lastIdleAdvance = -Infinity;
  const tick = async () => {
    const advance =
      config.KAIROS_IDLE_ADVANCE_INTERVAL > 0 &&
      clock.now() - lastIdleAdvance >= config.KAIROS_IDLE_ADVANCE_INTERVAL;
    if (advance) lastIdleAdvance = clock.now();
    await partitions.round('prediction tick failed', async (predictor) => {
      if (advance) await predictor.advanceIdle();
      await predictor.tick();
    });
  };
  const stopTimer = everyInterval(tick, TICK_MS);

  const container = serviceContainer(config, { logger, nc, clock }, [
    provide(PREDICTION_TOKENS.Runtime, partitionRuntime(config, predictors)),
  ]);
  container.registerSingleton(PredictionServiceImpl);
  const service = container.resolve(PredictionServiceImpl);

  return {
    service,
    predictors,
    ownedPartitions: owned,
    tick,
    async stop() {
      stopTimer();
      await erasure.drain();
      await partitions.stop();
    },
  };
}
