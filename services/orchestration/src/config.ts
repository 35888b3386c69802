import * as nodePath from 'node:path';
import { STREAMS } from '@kairos/contracts';
import {
  commonConfig,
  ConfigError,
  env,
  faultPointSetting,
  loadConfig,
  type RetentionRule,
} from '@kairos/service-kit';
import { ACTIVE_STATES } from './store/documents';
import { parseGlobalCap, type FrequencyCap } from './domain/caps';
import { FAULT_POINTS } from './faults';

const capOrOff = (def: string) =>
  env.string(def).transform((v, ctx): FrequencyCap | undefined => {
    if (/^(off|none)$/i.test(v)) return undefined;
    const cap = parseGlobalCap(v);
    if (!cap) {
      ctx.addIssue({ code: 'custom', message: `expected a cap like 5/24h or 'off', got '${v}'` });
      return undefined;
    }
    return cap;
  });

export const orchestrationConfig = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50054),
  KAIROS_HTTP_PORT: env.port(8084),
  /** ProfileService address; `none` runs without it (always the snapshot fallback). */
  KAIROS_PROFILE_ADDR: env.string('127.0.0.1:50052'),
  KAIROS_PROFILE_DEADLINE: env.duration('200ms'),
  /** PredictionService address (`wait: { until: best_time }`); `none`: such waits do not wait. */
  KAIROS_PREDICTION_ADDR: env.string('127.0.0.1:50057'),
  KAIROS_PREDICTION_DEADLINE: env.duration('300ms'),
  /** Default arbitration settle window; `0s` disables arbitration for workflows without `settle`. */
  KAIROS_SETTLE_WINDOW: env.duration('2s'),
  /** Marketing messages per customer across all workflows, e.g. `5/24h`; `off` disables. */
  KAIROS_GLOBAL_FREQUENCY_CAP: capOrOff('5/24h'),
  KAIROS_TEMPLATES_DIR: env.string(nodePath.resolve(__dirname, '../../templates')),
  /** How long a template file is used before its modification time is checked again. */
  KAIROS_TEMPLATES_RECHECK: env.duration('1s'),
  /** Workflow YAML loaded at start (file or directory), besides the definition store. */
  KAIROS_DEFINITIONS_DIR: env.optionalString(),
  /** Follow the definition store (JetStream KV) for hot reload. */
  KAIROS_DEFINITIONS_WATCH: env.bool(true),
  KAIROS_TIMER_POLL: env.duration('200ms'),
  /** Longest sleep of the timer loop while nothing is due (timers of other processes are found within it). */
  KAIROS_TIMER_MAX_IDLE: env.duration('5s'),
  KAIROS_TIMER_LEASE: env.duration('30s'),
  /** Due timers claimed and fired at once (one look at the collection per batch). */
  KAIROS_TIMER_CONCURRENCY: env.int(8, 1, 1_000),
  /** Failed attempts after which a timer is given up and its runs fail visibly. */
  KAIROS_TIMER_MAX_ATTEMPTS: env.int(10, 1, 1_000),
  /** Test only: SIGKILL the process at this point (see faults.ts); `off` in production. */
  KAIROS_FAULT_POINT: faultPointSetting(FAULT_POINTS),
  /**
   * Ended runs, their lease claims, closed arbitration windows and idle send ledgers are deleted
   * this long after their last change (0s: kept). At least the TRIGGERS stream's max age: a run's
   * id is what makes a redelivered TriggerFired start nothing.
   */
  KAIROS_RUN_RETENTION: env.duration('90d'),
  /** How often the retention sweep runs (0s: never). */
  KAIROS_RETENTION_SWEEP_INTERVAL: env.duration('1h'),
};

export type OrchestrationConfig = ReturnType<typeof loadOrchestrationConfig>;

export function loadOrchestrationConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(orchestrationConfig, source);
  const retention = config.KAIROS_RUN_RETENTION;
  if (retention > 0 && retention < STREAMS.TRIGGERS.maxAgeMs)
    throw new ConfigError([
      `KAIROS_RUN_RETENTION: 0s or at least the TRIGGERS stream's max age (${STREAMS.TRIGGERS.maxAgeMs / 86_400_000}d), so a redelivered TriggerFired finds its run`,
    ]);
  return config;
}

/** The collections orchestration expires by age (see docs/operations.md, "Data retention"). */
export function retentionRules(config: OrchestrationConfig): RetentionRule[] {
  const maxAgeMs = config.KAIROS_RUN_RETENTION;
  return [
    { collection: 'runs', field: 'updatedAt', maxAgeMs, filter: { state: { $nin: ACTIVE_STATES } } },
    { collection: 'timer_claims', field: 'at', maxAgeMs },
    { collection: 'arbitration_windows', field: 'closesAt', maxAgeMs, filter: { state: 'closed' } },
    { collection: 'send_ledger', field: 'updatedAt', maxAgeMs },
  ];
}
