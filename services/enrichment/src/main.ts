import { profiles } from '@kairos/contracts';
import { main, serviceDefinition, startWithDb } from '@kairos/service-kit';
import { startEnrichment } from './app';
import { loadEnrichmentConfig, loadSettings } from './config';
import { PROFILE_SERVICE_ACCESS, PROFILE_SERVICE_NAME } from './profile-service';

main(() => {
  const config = loadEnrichmentConfig();
  const settings = loadSettings(config.KAIROS_ENRICHMENT_CONFIG);
  return serviceDefinition('enrichment', config, async (ctx) => {
    const app = await startWithDb(ctx, config, (infra) => startEnrichment(config, { ...infra, settings }));
    ctx.grpc.addService(
      profiles.ProfileServiceService,
      app.service.handlers(),
      PROFILE_SERVICE_NAME,
      PROFILE_SERVICE_ACCESS,
    );
    ctx.logger.info({ partitions: app.ownedPartitions }, 'enrichment started');
  });
});
