import { commonConfig, env, loadConfig } from '@kairos/service-kit';

export const enrichmentConfig = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50052),
  KAIROS_HTTP_PORT: env.port(8082),
  /** Optional YAML with journey rules, date-attribute rules and purchase event types. */
  KAIROS_ENRICHMENT_CONFIG: env.optionalString(),
  /** How often the time-based event scheduler scans MongoDB for due occurrences. */
  KAIROS_TIME_EVENTS_INTERVAL: env.duration('60s'),
  /** Profiles kept in memory per process (write-through LRU). */
  KAIROS_PROFILE_CACHE_SIZE: env.int(50_000, 0, 10_000_000),
  /** and at most this many bytes of them (BSON size; the heap holds about twice that). */
  KAIROS_PROFILE_CACHE_BYTES: env.bytes('256MiB'),
  /** How long a profile changed by events waits for more changes before it is written (write-behind). */
  KAIROS_PROFILE_FLUSH_INTERVAL: env.duration('100ms'),
};

export type EnrichmentConfig = ReturnType<typeof loadEnrichmentConfig>;

export function loadEnrichmentConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(enrichmentConfig, source);
}
