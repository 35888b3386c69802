import { triggers } from '@kairos/contracts';
import { main, serviceDefinition, startWithNats } from '@kairos/service-kit';
import { startPatternDetection } from './app';
import { SERVICE_NAME } from './provisioning';
import { loadPatternDetectionConfig } from './config';
import { PATTERN_SERVICE_NAME } from './pattern-service';

main(() => {
  const config = loadPatternDetectionConfig();
  return serviceDefinition(SERVICE_NAME, config, async (ctx) => {
    const app = await startWithNats(ctx, config, (infra) => startPatternDetection(config, infra));
    ctx.grpc.addService(triggers.PatternServiceService, app.service.handlers(), PATTERN_SERVICE_NAME);
    ctx.logger.info(
      {
        partitions: app.ownedPartitions,
        triggers: app.registry.current().map((t) => `${t.name}:v${t.version}`),
      },
      'pattern-detection started',
    );
  });
});
