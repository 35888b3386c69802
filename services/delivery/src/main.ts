import 'reflect-metadata';
import { main, serviceDefinition, startWithDb } from '@kairos/service-kit';
import { startDelivery } from './app';
import { loadDeliveryConfig } from './config';

main(() => {
  const config = loadDeliveryConfig();
  return serviceDefinition('delivery', config, (ctx) =>
    startWithDb(ctx, config, (infra) => startDelivery(config, infra)),
  );
});
