import { main, openNats, serviceDefinition } from '@kairos/service-kit';
import { startIngest } from './app';
import { loadIngestConfig } from './config';

main(() => {
  const config = loadIngestConfig();
  return serviceDefinition('ingest', config, async (ctx) => {
    const nc = await openNats(ctx, config);
    const app = await startIngest(config, { ...ctx, nc });
    ctx.onDrain(() => app.stop());
  });
});
