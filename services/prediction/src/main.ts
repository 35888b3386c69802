import { predictions } from '@kairos/contracts';
import { main, serviceDefinition, startWithDb } from '@kairos/service-kit';
import { startPrediction } from './app';
import { SERVICE_NAME } from './provisioning';
import { loadPredictionConfig } from './config';
import { PREDICTION_SERVICE_ACCESS, PREDICTION_SERVICE_NAME } from './prediction-service';

main(() => {
  const config = loadPredictionConfig();
  return serviceDefinition(SERVICE_NAME, config, async (ctx) => {
    const app = await startWithDb(ctx, config, (infra) => startPrediction(config, infra));
    ctx.grpc.addService(
      predictions.PredictionServiceService,
      app.service.handlers(),
      PREDICTION_SERVICE_NAME,
      PREDICTION_SERVICE_ACCESS,
    );
    ctx.logger.info({ partitions: app.ownedPartitions }, 'prediction started');
  });
});
