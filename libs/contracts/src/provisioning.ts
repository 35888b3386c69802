import type { ConsumerSpec } from './streams';

/**
 * Who creates the JetStream streams, durable consumers, KV buckets and MongoDB indexes a service
 * uses (`KAIROS_PROVISION`): `self`, the service at start (idempotent; the local runner and the
 * tests), or `external`, the provisioning Job (`tools/provision`) before the service starts. Under
 * `external` a service only binds to what exists, so its NATS user needs no admin rights.
 */
export const PROVISION_MODES = ['self', 'external'] as const;
export type ProvisionMode = (typeof PROVISION_MODES)[number];

/** A MongoDB index of one collection of the service's database. */
export interface IndexSpec {
  collection: string;
  keys: Record<string, 1 | -1>;
  options?: { unique?: boolean; expireAfterSeconds?: number; name?: string };
}

/** A JetStream KV bucket a service uses; `write` when it puts, deletes or purges keys. */
export interface KvBucketUse {
  bucket: string;
  /** Values kept per key (the bucket's `history`, used when it is created). */
  history: number;
  write: boolean;
}

/**
 * A stream a service reads with short-lived ordered consumers (restores, simulations), limited to
 * the subjects under `filter`.
 */
export interface StreamScan {
  stream: string;
  filter: string;
}

/** What the provisioning Job needs to know to build a service's consumers. */
export interface ConsumerOptions {
  partitions: number;
  /** The Job's environment: a service whose consumer settings are env vars reads the same names. */
  env: NodeJS.ProcessEnv;
}

/**
 * Everything a service needs provisioned, and the NATS subjects it may use: the one source of
 * the provisioning Job (consumers, buckets, indexes) and of the service's NATS permissions.
 */
export interface ServiceProvisioning {
  service: string;
  /** Its durable pull consumers (one per partition where partitioned). */
  consumers(options: ConsumerOptions): ConsumerSpec[];
  /** Subjects it publishes to (wildcards allowed), besides the dead letters of what it consumes. */
  publishes: string[];
  kv: KvBucketUse[];
  scans: StreamScan[];
  /** Indexes in its own database. */
  indexes: IndexSpec[];
}
