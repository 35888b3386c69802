import { MongoClient } from 'mongodb';
import { profiles } from '@kairos/contracts';
import { connectNats, provisionStreams } from '@kairos/messaging';
import { databaseName, main } from '@kairos/service-kit';
import { startEnrichment } from './app';
import { loadEnrichmentConfig, profileBudget } from './config';
import { PROFILE_SERVICE_NAME } from './profile-service';
import { loadSettings } from './settings';

main(() => {
  const config = loadEnrichmentConfig();
  const settings = loadSettings(config.KAIROS_ENRICHMENT_CONFIG);
  return {
    name: 'enrichment',
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    async start(ctx) {
      const nc = await connectNats({
        servers: config.NATS_URL.split(','),
        name: 'enrichment',
        logger: ctx.logger,
      });
      // Registered first, so it runs last: after the loops have stopped and acked.
      ctx.onDrain(() => nc.drain());
      const mongo = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 30_000 });
      await mongo.connect();
      ctx.onDrain(() => mongo.close());
      await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger: ctx.logger });
      const app = await startEnrichment({
        nc,
        db: mongo.db(databaseName(config, 'enrichment')),
        logger: ctx.logger,
        settings,
        partitions: config.KAIROS_PARTITIONS,
        replicaOrdinal: config.KAIROS_REPLICA_ORDINAL,
        replicas: config.KAIROS_REPLICAS,
        cacheSize: config.KAIROS_PROFILE_CACHE_SIZE,
        cacheBytes: config.KAIROS_PROFILE_CACHE_BYTES,
        profileFlushIntervalMs: config.KAIROS_PROFILE_FLUSH_INTERVAL,
        timeEventsIntervalMs: config.KAIROS_TIME_EVENTS_INTERVAL,
        profileBudget: profileBudget(config),
      });
      ctx.onDrain(() => app.stop());
      ctx.grpc.addService(profiles.ProfileServiceService, app.service.handlers(), PROFILE_SERVICE_NAME);
      ctx.logger.info({ partitions: app.ownedPartitions }, 'enrichment started');
    },
  };
});
