import { readFileSync } from 'node:fs';
import { commonConfig, env, loadConfig } from '@kairos/service-kit';
import { EMPTY_RULES, parseRules, type RulesFile } from './domain/rules-file';

export const ingestConfigShape = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50051),
  KAIROS_HTTP_PORT: env.port(8081),
  /** Most events one TrackBatch call may carry. */
  KAIROS_INGEST_MAX_BATCH: env.int(1000, 1, 100_000),
  /** Largest `properties` an event may carry, in serialized (JSON, UTF-8) bytes. */
  KAIROS_INGEST_MAX_PROPERTIES_BYTES: env.int(32_768, 16, 4 * 1024 * 1024),
  /** Deepest nesting of objects/lists inside `properties` (at most 32, the gRPC decode limit). */
  KAIROS_INGEST_MAX_DEPTH: env.int(8, 1, 32),
  /** How far in the future `occurred_at` may lie (clock skew allowance). */
  KAIROS_INGEST_MAX_FUTURE: env.duration('5m'),
  /** How far in the past `occurred_at` may lie (backfills older than this are refused). */
  KAIROS_INGEST_MAX_PAST: env.duration('30d'),
  /** YAML/JSON file with API keys, rate limits, prioritization, webhook sources, category rules. */
  KAIROS_INGEST_CONFIG: env.optionalString(),
  /** Events published concurrently by one Stream call before it stops reading from the client. */
  KAIROS_INGEST_STREAM_WINDOW: env.int(2048, 1, 100_000),
  /** Longest a Stream call may stay open; then it ends, saying how many messages were processed. */
  KAIROS_INGEST_STREAM_MAX_DURATION: env.duration('10m'),
};

export type IngestConfig = ReturnType<typeof loadIngestConfig>;

export function loadIngestConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(ingestConfigShape, source);
}

/** The rules file KAIROS_INGEST_CONFIG names, read and validated; no file: no rules (authentication off). */
export function loadRulesFile(path: string | undefined): RulesFile {
  if (!path) return EMPTY_RULES;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`KAIROS_INGEST_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  return parseRules(text, path);
}
