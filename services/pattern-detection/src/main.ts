import { triggers } from '@kairos/contracts';
import { connectNats, provisionStreams } from '@kairos/messaging';
import { main } from '@kairos/service-kit';
import { SERVICE_NAME, startPatternDetection } from './app';
import { loadPatternDetectionConfig } from './config';
import { PATTERN_SERVICE_NAME } from './pattern-service';

main(() => {
  const config = loadPatternDetectionConfig();
  return {
    name: SERVICE_NAME,
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    async start(ctx) {
      const nc = await connectNats({
        servers: config.NATS_URL.split(','),
        name: SERVICE_NAME,
        logger: ctx.logger,
      });
      // Registered first, so it runs last: after the loops have stopped and the final checkpoints.
      ctx.onDrain(() => nc.drain());
      await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger: ctx.logger });
      const app = await startPatternDetection({
        nc,
        logger: ctx.logger,
        partitions: config.KAIROS_PARTITIONS,
        replicaOrdinal: config.KAIROS_REPLICA_ORDINAL,
        replicas: config.KAIROS_REPLICAS,
        streamReplicas: config.KAIROS_STREAM_REPLICAS,
        allowedLatenessMs: config.KAIROS_ALLOWED_LATENESS,
        watermarkIntervalMs: config.KAIROS_WATERMARK_INTERVAL,
        checkpointIntervalMs: config.KAIROS_CHECKPOINT_INTERVAL,
        checkpointEvents: config.KAIROS_CHECKPOINT_EVENTS,
        maxPartialMatches: config.KAIROS_MAX_PARTIAL_MATCHES,
        explainRetentionMs: config.KAIROS_EXPLAIN_RETENTION,
        definitionsDir: config.KAIROS_DEFINITIONS_DIR,
        simulateMaxEvents: config.KAIROS_SIMULATE_MAX_EVENTS,
      });
      ctx.onDrain(() => app.stop());
      ctx.grpc.addService(triggers.PatternServiceService, app.service.handlers(), PATTERN_SERVICE_NAME);
      ctx.logger.info(
        {
          partitions: app.ownedPartitions,
          triggers: app.registry.current().map((t) => `${t.name}:v${t.version}`),
        },
        'pattern-detection started',
      );
    },
  };
});
