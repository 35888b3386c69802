import { main, openMongo, openNats, serviceDefinition } from '@kairos/service-kit';
import { startOrchestration } from './app';
import { loadOrchestrationConfig } from './config';

main(() => {
  const config = loadOrchestrationConfig();
  return serviceDefinition('orchestration', config, async (ctx) => {
    const nc = await openNats(ctx, config);
    const db = await openMongo(ctx, config);
    const app = await startOrchestration(config, {
      nc,
      db,
      logger: ctx.logger,
      http: ctx.http,
      access: ctx.access,
    });
    ctx.onDrain(() => app.stop());
  });
});
