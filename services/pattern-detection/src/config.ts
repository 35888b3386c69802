// Names zod's types for the declaration emit of the inferred config shape.
import type {} from 'zod';
import { commonConfig, env, loadConfig } from '@kairos/service-kit';

export const patternDetectionConfig = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50053),
  KAIROS_HTTP_PORT: env.port(8083),
  /** How long events wait to be matched in event-time order (also the floor of trigger latency). */
  KAIROS_ALLOWED_LATENESS: env.duration('1s'),
  /** How often idle partitions are advanced with wall clock − lateness (fires absence deadlines; 0: never by itself). */
  KAIROS_WATERMARK_INTERVAL: env.duration('250ms'),
  /** Time between engine checkpoints of a partition that changed. */
  KAIROS_CHECKPOINT_INTERVAL: env.duration('5s'),
  /** Events after which a partition is checkpointed regardless of the interval. */
  KAIROS_CHECKPOINT_EVENTS: env.int(5_000, 1, 10_000_000),
  /** Optional directory (or file) of Trigger/Workflow YAML applied to the definition store at start. */
  KAIROS_DEFINITIONS_DIR: env.optionalString(),
  /** Cap of partial matches per trigger per customer (oldest evicted beyond it). */
  KAIROS_MAX_PARTIAL_MATCHES: env.int(32, 1, 10_000),
  /**
   * How long a customer's last firing, cooldown-suppressed match and failed conditions stay for
   * Explain after their partial matches are gone (a firing stays at least its cooldown).
   */
  KAIROS_EXPLAIN_RETENTION: env.duration('24h'),
  /** Upper bound of stored events one Simulate call may scan. */
  KAIROS_SIMULATE_MAX_EVENTS: env.int(1_000_000, 1, 100_000_000),
};

/** Last profiles a partition keeps for fires completed by an absence deadline. */
export const DETECTOR_PROFILE_CACHE_SIZE = 20_000;

/** The time range Simulate reads when a call names none: the last day. */
export const DEFAULT_SIMULATE_RANGE_MS = 24 * 3_600_000;

export type PatternDetectionConfig = ReturnType<typeof loadPatternDetectionConfig>;

export function loadPatternDetectionConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(patternDetectionConfig, source);
}
