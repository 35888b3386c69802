// Names zod's types for the declaration emit of the inferred config shape.
import type {} from 'zod';
import { commonConfig, env, loadConfig, natsConfig } from '@kairos/service-kit';

/** The provisioning Job's settings (the same variable names the services read). */
export const provisionConfigShape = {
  /** NATS_URL and the admin user's credential and TLS files (NATS_USER, NATS_PASSWORD_FILE, ...). */
  ...natsConfig,
  /** Replicas of each stream and KV bucket (3 on a clustered JetStream). */
  KAIROS_STREAM_REPLICAS: env.int(1, 1, 5),
  /** Partitions of the event subjects: one durable consumer per partition of a partitioned service. */
  KAIROS_PARTITIONS: commonConfig.KAIROS_PARTITIONS,
  /** The database server; each service's indexes go in its own database (`kairos_<service>`). */
  MONGO_URL: commonConfig.MONGO_URL,
  /** Whether to create the MongoDB indexes (off when another tool manages the databases). */
  KAIROS_PROVISION_INDEXES: env.bool(true),
  /** How long to wait for NATS and MongoDB to answer before failing the Job (the hook retries it). */
  KAIROS_PROVISION_TIMEOUT: env.duration('60s'),
  LOG_LEVEL: env.enumOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
};

export type ProvisionConfig = ReturnType<typeof loadProvisionConfig>;

export function loadProvisionConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(provisionConfigShape, source);
}
