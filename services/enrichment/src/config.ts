import { readFileSync } from 'node:fs';
import { commonConfig, ConfigError, env, loadConfig, type RetentionRule } from '@kairos/service-kit';
import { COMMUNICATIONS } from './communications';
import { PROFILES } from './profile-store';
import { TIME_OCCURRENCES } from './time-events';
import type { ProfileBudget } from './domain/profile-budget';
import { DEFAULT_SETTINGS, parseSettings, type EnrichmentSettings } from './domain/settings';

export const enrichmentConfig = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50052),
  KAIROS_HTTP_PORT: env.port(8082),
  /** Optional YAML with journey rules, date-attribute rules and purchase event types. */
  KAIROS_ENRICHMENT_CONFIG: env.optionalString(),
  /** How often the time-based event scheduler scans MongoDB for due occurrences (0: never by itself). */
  KAIROS_TIME_EVENTS_INTERVAL: env.duration('60s'),
  /** Profiles kept in memory per process (write-through LRU). */
  KAIROS_PROFILE_CACHE_SIZE: env.int(50_000, 0, 10_000_000),
  /** and at most this many bytes of them (BSON size; the heap holds about twice that). */
  KAIROS_PROFILE_CACHE_BYTES: env.bytes('256MiB'),
  /** How long a profile changed by events waits for more changes before it is written (write-behind). */
  KAIROS_PROFILE_FLUSH_INTERVAL: env.duration('100ms'),
  /** Size budget of a whole stored profile (README, "Profile size budget"). */
  KAIROS_PROFILE_MAX_BYTES: env.bytes('256KiB'),
  /** Size of one trait, its name and value. */
  KAIROS_PROFILE_MAX_TRAIT_BYTES: env.bytes('32KiB'),
  /** Traits embedded in an enriched event; the largest are left out beyond it. */
  KAIROS_ENRICHED_MAX_TRAITS_BYTES: env.bytes('64KiB'),
  /** Profiles not updated for this long are deleted (0s: kept until erased). */
  KAIROS_PROFILE_RETENTION: env.duration('0s'),
  /** Communication history entries are deleted this long after they were sent (0s: kept). */
  KAIROS_COMMUNICATIONS_RETENTION: env.duration('365d'),
  /** Emitted, skipped or cancelled time-based occurrences are deleted this long after their time. */
  KAIROS_TIME_OCCURRENCES_RETENTION: env.duration('400d'),
  /** How often the retention sweep runs (0s: never). */
  KAIROS_RETENTION_SWEEP_INTERVAL: env.duration('1h'),
};

/** A year and a bit: the next occurrence of a yearly date is scheduled before the last one may go. */
const MIN_OCCURRENCE_RETENTION_MS = 370 * 86_400_000;

/** Consumer settings that are not environment variables (they follow from the write-behind's design). */
export const CONSUMER_TUNING = {
  /** Events per partition batch (one profile write per touched customer per batch). */
  batchSize: 128,
  /** How long a partition's batch waits for more delivered events (ms). */
  batchWaitMs: 2,
  /** Events wait unacked for the profile write-behind: room for a few seconds of writes behind. */
  eventsMaxAckPending: 2_000,
} as const;

export type EnrichmentConfig = ReturnType<typeof loadEnrichmentConfig>;

const MIN_BUDGET_BYTES = 1024;

export function loadEnrichmentConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(enrichmentConfig, source);
  const problems: string[] = [];
  for (const name of [
    'KAIROS_PROFILE_MAX_BYTES',
    'KAIROS_PROFILE_MAX_TRAIT_BYTES',
    'KAIROS_ENRICHED_MAX_TRAITS_BYTES',
  ] as const) {
    if (config[name] < MIN_BUDGET_BYTES) problems.push(`${name}: must be at least ${MIN_BUDGET_BYTES} bytes`);
  }
  if (config.KAIROS_PROFILE_MAX_TRAIT_BYTES > config.KAIROS_PROFILE_MAX_BYTES)
    problems.push('KAIROS_PROFILE_MAX_TRAIT_BYTES: must not exceed KAIROS_PROFILE_MAX_BYTES');
  const occurrences = config.KAIROS_TIME_OCCURRENCES_RETENTION;
  if (occurrences > 0 && occurrences < MIN_OCCURRENCE_RETENTION_MS)
    problems.push(
      'KAIROS_TIME_OCCURRENCES_RETENTION: 0s or at least 370d (an occurrence marks its date emitted until the next is scheduled)',
    );
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The collections enrichment expires by age (see docs/operations.md, "Data retention"). */
export function retentionRules(config: EnrichmentConfig): RetentionRule[] {
  return [
    { collection: PROFILES, field: 'updated_at', maxAgeMs: config.KAIROS_PROFILE_RETENTION },
    { collection: COMMUNICATIONS, field: 'at', maxAgeMs: config.KAIROS_COMMUNICATIONS_RETENTION },
    {
      collection: TIME_OCCURRENCES,
      field: 'fire_at',
      maxAgeMs: config.KAIROS_TIME_OCCURRENCES_RETENTION,
      filter: { status: { $ne: 'pending' } },
    },
  ];
}

/** The profile size budget the configuration sets. */
export function profileBudget(config: EnrichmentConfig): ProfileBudget {
  return {
    maxProfileBytes: config.KAIROS_PROFILE_MAX_BYTES,
    maxTraitBytes: config.KAIROS_PROFILE_MAX_TRAIT_BYTES,
    enrichedTraitsBytes: config.KAIROS_ENRICHED_MAX_TRAITS_BYTES,
  };
}

/** The settings file KAIROS_ENRICHMENT_CONFIG names, read and validated; no file: the defaults. */
export function loadSettings(path: string | undefined): EnrichmentSettings {
  if (!path) return DEFAULT_SETTINGS;
  return parseSettings(readFileSync(path, 'utf8'), path);
}
