import { main, serviceDefinition, startWithDb } from '@kairos/service-kit';
import { startOrchestration } from './app';
import { loadOrchestrationConfig } from './config';

main(() => {
  const config = loadOrchestrationConfig();
  return serviceDefinition('orchestration', config, (ctx) =>
    startWithDb(ctx, config, (infra) => startOrchestration(config, infra)),
  );
});
