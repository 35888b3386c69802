import { main } from '@kairos/service-kit';
import { loadIngestConfig } from './config';
import { startIngest } from './service';

main(() => {
  const cfg = loadIngestConfig();
  return {
    name: 'ingest',
    grpcPort: cfg.KAIROS_GRPC_PORT,
    httpPort: cfg.KAIROS_HTTP_PORT,
    drainTimeoutMs: cfg.KAIROS_DRAIN_TIMEOUT,
    start: (ctx) => startIngest(ctx, cfg),
  };
});
