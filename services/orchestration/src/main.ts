import { MongoClient } from 'mongodb';
import { connectNats, provisionStreams } from '@kairos/messaging';
import { databaseName, main } from '@kairos/service-kit';
import { startOrchestration } from './app';
import { loadOrchestrationConfig } from './config';
import { runRoutes } from './http';

main(() => {
  const config = loadOrchestrationConfig();
  return {
    name: 'orchestration',
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    async start(ctx) {
      const nc = await connectNats({ servers: config.NATS_URL, name: 'orchestration', logger: ctx.logger });
      ctx.onDrain(() => nc.drain());
      await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger: ctx.logger });
      const mongo = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 30_000 });
      await mongo.connect();
      ctx.onDrain(() => mongo.close());
      const app = await startOrchestration({
        config,
        nc,
        db: mongo.db(databaseName(config, 'orchestration')),
        logger: ctx.logger,
      });
      ctx.http.addRoute(runRoutes(app.runs, app.timers));
      ctx.onDrain(() => app.stop());
    },
  };
});
