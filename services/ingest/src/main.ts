import { main, serviceDefinition, startWithNats } from '@kairos/service-kit';
import { startIngest } from './app';
import { loadIngestConfig } from './config';

main(() => {
  const config = loadIngestConfig();
  return serviceDefinition('ingest', config, (ctx) =>
    startWithNats(ctx, config, (infra) => startIngest(config, infra)),
  );
});
