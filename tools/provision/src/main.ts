/**
 * The charts' pre-install/pre-upgrade hook: creates or updates every JetStream stream, KV bucket and
 * durable consumer the services use, and their MongoDB indexes, from the services' provisioning
 * declarations (`services/<name>/src/provisioning.ts`), then exits. Idempotent (create when
 * missing, update to the spec when present), so it runs on every install and upgrade, and the
 * services can run with `KAIROS_PROVISION=external` and NATS users that only publish and consume.
 * Exit 0 on success, 1 on failure, 2 on invalid configuration.
 */
import { MongoClient } from 'mongodb';
import { ALL_STREAMS, type ServiceProvisioning } from '@kairos/contracts';
import {
  connectNats,
  ensureConsumer,
  ensureKv,
  natsAuthOptions,
  provisionStreams,
  type Logger,
} from '@kairos/messaging';
import { createLogger, databaseName, ensureIndexes, loadOrExit } from '@kairos/service-kit';
import { loadProvisionConfig, type ProvisionConfig } from './config';
import { SERVICE_PROVISIONING } from './services';

/** What one run created or updated, for the log and the tests. */
export interface ProvisionReport {
  streams: string[];
  buckets: string[];
  consumers: string[];
  indexes: number;
}

export async function provision(
  config: ProvisionConfig,
  logger: Logger = createLogger('provision'),
  services: readonly ServiceProvisioning[] = SERVICE_PROVISIONING,
): Promise<ProvisionReport> {
  const replicas = config.KAIROS_STREAM_REPLICAS;
  const nc = await connectNats({
    servers: config.NATS_URL,
    name: 'kairos-provision',
    logger,
    connectTimeoutMs: config.KAIROS_PROVISION_TIMEOUT,
    ...natsAuthOptions(config),
  });
  const report: ProvisionReport = {
    streams: ALL_STREAMS.map((s) => s.name),
    buckets: [],
    consumers: [],
    indexes: 0,
  };
  try {
    await provisionStreams(nc, { replicas, logger });
    const buckets = new Map<string, number>();
    for (const s of services)
      for (const kv of s.kv) buckets.set(kv.bucket, Math.max(kv.history, buckets.get(kv.bucket) ?? 1));
    for (const [bucket, history] of buckets) {
      await ensureKv(nc, bucket, { history, replicas });
      report.buckets.push(bucket);
    }
    const options = { partitions: config.KAIROS_PARTITIONS, env: process.env };
    for (const s of services) {
      for (const spec of s.consumers(options)) {
        await ensureConsumer(nc, spec);
        report.consumers.push(`${spec.stream}/${spec.durable}`);
      }
    }
  } finally {
    await nc.drain();
  }
  if (config.KAIROS_PROVISION_INDEXES) report.indexes = await provisionIndexes(config, services);
  logger.info({ ...report, consumers: report.consumers.length, replicas }, 'provisioned');
  return report;
}

/** Creates every service's indexes in its own database; returns how many were asked for. */
async function provisionIndexes(
  config: ProvisionConfig,
  services: readonly ServiceProvisioning[],
): Promise<number> {
  const withIndexes = services.filter((s) => s.indexes.length);
  if (!withIndexes.length) return 0;
  const client = new MongoClient(config.MONGO_URL, {
    serverSelectionTimeoutMS: config.KAIROS_PROVISION_TIMEOUT,
  });
  try {
    await client.connect();
    let count = 0;
    for (const s of withIndexes) {
      await ensureIndexes(client.db(databaseName({ MONGO_DB: undefined }, s.service)), s.indexes);
      count += s.indexes.length;
    }
    return count;
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  provision(loadOrExit(() => loadProvisionConfig())).then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`provision failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
