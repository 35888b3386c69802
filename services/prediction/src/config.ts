// Names zod's types for the declaration emit of the inferred config shape.
import type {} from 'zod';
import { commonConfig, env, faultPointSetting, loadConfig } from '@kairos/service-kit';
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from './domain/engine';
import { DAY_MS } from './domain/features';
import { FAULT_POINTS } from './faults';

const d = DEFAULT_ENGINE_OPTIONS;

export const predictionConfig = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50057),
  KAIROS_HTTP_PORT: env.port(8087),
  /** Churn = no activity for this many days. */
  KAIROS_CHURN_DAYS: env.int(d.churnDays, 1, 3650),
  /** Both models predict within this many days. */
  KAIROS_HORIZON_DAYS: env.int(d.horizonDays, 1, 3650),
  /** Event-time days between training snapshots. */
  KAIROS_SNAPSHOT_EVERY_DAYS: env.int(d.snapshotEveryDays, 1, 365),
  /** Labels a partition's model needs before its scores fire predicted events (cold start). */
  KAIROS_MIN_EXAMPLES: env.int(d.minExamples, 0, 100_000_000),
  /** `churn.predicted` fires when the churn probability reaches this... */
  KAIROS_CHURN_ENTER: env.number(d.churnGate.enter, 0, 1),
  /** ...and may fire again once it fell below this and the cooldown passed. */
  KAIROS_CHURN_EXIT: env.number(d.churnGate.exit, 0, 1),
  KAIROS_CHURN_COOLDOWN: env.duration(`${d.churnGate.cooldownMs / DAY_MS}d`),
  KAIROS_PURCHASE_ENTER: env.number(d.purchaseGate.enter, 0, 1),
  KAIROS_PURCHASE_EXIT: env.number(d.purchaseGate.exit, 0, 1),
  KAIROS_PURCHASE_COOLDOWN: env.duration(`${d.purchaseGate.cooldownMs / DAY_MS}d`),
  /** Feature state per partition (about 2 KB a customer; least recently active evicted beyond it). */
  KAIROS_MAX_STATE_BYTES: env.bytes('64MiB'),
  /** Training examples waiting for their label, per partition. */
  KAIROS_MAX_PENDING_EXAMPLES: env.int(500_000, 1, 100_000_000),
  /** Time between checkpoints of a partition that changed. */
  KAIROS_CHECKPOINT_INTERVAL: env.duration('30s'),
  /** Events after which a partition is checkpointed regardless of the interval. */
  KAIROS_CHECKPOINT_EVENTS: env.int(50_000, 1, 100_000_000),
  /**
   * How often caught-up partitions move their event time to the start of the current UTC day, so
   * silence is noticed on a quiet partition (0: only events move event time).
   */
  KAIROS_IDLE_ADVANCE_INTERVAL: env.duration('60s'),
  /** A partition without a checkpoint starts from the newest stored model (else cold). */
  KAIROS_WARM_START: env.bool(true),
  /** Test-only: the point where the process SIGKILLs itself (src/faults.ts). */
  KAIROS_FAULT_POINT: faultPointSetting(FAULT_POINTS),
};

/** Model versions kept per model and partition in the `model_versions` collection. */
export const MODEL_VERSIONS_KEPT = 20;

/** Trace contexts of recent events kept per partition (the link of a predicted event). */
export const TRACE_CONTEXTS_PER_PARTITION = 20_000;

export type PredictionConfig = ReturnType<typeof loadPredictionConfig>;

export function loadPredictionConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(predictionConfig, source);
}

/** The engine options the settings name (the rest are the domain's defaults). */
export function engineOptions(config: PredictionConfig): Partial<EngineOptions> {
  return {
    churnDays: config.KAIROS_CHURN_DAYS,
    horizonDays: config.KAIROS_HORIZON_DAYS,
    snapshotEveryDays: config.KAIROS_SNAPSHOT_EVERY_DAYS,
    minExamples: config.KAIROS_MIN_EXAMPLES,
    maxStateBytes: config.KAIROS_MAX_STATE_BYTES,
    maxPendingExamples: config.KAIROS_MAX_PENDING_EXAMPLES,
    churnGate: {
      enter: config.KAIROS_CHURN_ENTER,
      exit: config.KAIROS_CHURN_EXIT,
      cooldownMs: config.KAIROS_CHURN_COOLDOWN,
    },
    purchaseGate: {
      enter: config.KAIROS_PURCHASE_ENTER,
      exit: config.KAIROS_PURCHASE_EXIT,
      cooldownMs: config.KAIROS_PURCHASE_COOLDOWN,
    },
  };
}
