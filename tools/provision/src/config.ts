// Names zod's types for the declaration emit of the inferred config shape.
import type {} from 'zod';
import { env, loadConfig } from '@kairos/service-kit';

/** The provisioning Job's settings (the same variable names the services read). */
export const provisionConfigShape = {
  NATS_URL: env.url('nats://127.0.0.1:4222', ['nats', 'tls']),
  /** Replicas of each stream and of the definitions bucket (3 on a clustered JetStream). */
  KAIROS_STREAM_REPLICAS: env.int(1, 1, 5),
  /** How long to wait for NATS to answer before failing the Job (the hook retries it). */
  KAIROS_PROVISION_TIMEOUT: env.duration('60s'),
  LOG_LEVEL: env.enumOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
};

export type ProvisionConfig = ReturnType<typeof loadProvisionConfig>;

export function loadProvisionConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(provisionConfigShape, source);
}
