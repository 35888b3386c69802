/**
 * The charts' pre-install/pre-upgrade hook: creates or updates every JetStream stream and the
 * definitions KV bucket, then exits. Idempotent (create when missing, update to the spec when
 * present), so it runs on every install and upgrade, and the services can run with credentials that
 * only publish and consume. Exit 0 on success, 1 on failure, 2 on invalid configuration.
 */
import { ALL_STREAMS } from '@kairos/contracts';
import { openNatsDefinitionStore } from '@kairos/definitions';
import { connectNats, provisionStreams, type Logger } from '@kairos/messaging';
import { createLogger, loadOrExit } from '@kairos/service-kit';
import { loadProvisionConfig, type ProvisionConfig } from './config';

export async function provision(
  config: ProvisionConfig,
  logger: Logger = createLogger('provision'),
): Promise<void> {
  const nc = await connectNats({
    servers: config.NATS_URL,
    name: 'kairos-provision',
    logger,
    connectTimeoutMs: config.KAIROS_PROVISION_TIMEOUT,
  });
  try {
    await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger });
    await openNatsDefinitionStore(nc, { replicas: config.KAIROS_STREAM_REPLICAS });
    logger.info(
      { streams: ALL_STREAMS.map((s) => s.name), replicas: config.KAIROS_STREAM_REPLICAS },
      'provisioned',
    );
  } finally {
    await nc.drain();
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
