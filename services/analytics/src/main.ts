import 'reflect-metadata';
import { analytics } from '@kairos/contracts';
import { main, serviceDefinition, startWithDb } from '@kairos/service-kit';
import { SERVICE_NAME, startAnalytics } from './app';
import { loadAnalyticsConfig } from './config';
import { ANALYTICS_SERVICE_NAME } from './grpc-service';

main(() => {
  const config = loadAnalyticsConfig();
  return serviceDefinition(SERVICE_NAME, config, async (ctx) => {
    const app = await startWithDb(ctx, config, (infra) => startAnalytics(config, infra));
    ctx.grpc.addService(analytics.AnalyticsServiceService, app.handlers, ANALYTICS_SERVICE_NAME);
    ctx.logger.info({ dashboard: `http://127.0.0.1:${ctx.http.port}/` }, 'analytics dashboard');
  });
});
