import 'reflect-metadata';
import { main, openMongo, openNats, serviceDefinition } from '@kairos/service-kit';
import { startDelivery } from './app';
import { loadDeliveryConfig } from './config';

main(() => {
  const config = loadDeliveryConfig();
  return serviceDefinition('delivery', config, async (ctx) => {
    const nc = await openNats(ctx, config);
    const db = await openMongo(ctx, config);
    const app = await startDelivery(config, {
      nc,
      db,
      logger: ctx.logger,
      http: ctx.http,
      access: ctx.access,
    });
    ctx.onDrain(() => app.stop());
  });
});
