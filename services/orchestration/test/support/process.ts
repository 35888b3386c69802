import * as nodePath from 'node:path';
import { freePort, startServiceProcess, type ServiceProcess } from '@kairos/testkit';

const PKG = nodePath.resolve(__dirname, '../../..');
const ROOT = nodePath.resolve(PKG, '../..');

export interface OrchestrationProcessOptions {
  natsUrl: string;
  mongo: { url: string; dbName: string };
  profileAddress: string;
  /** Settings on top of the test defaults (fixture definitions, a 100 ms timer poll, no telemetry). */
  env?: Record<string, string>;
}

/**
 * Starts the built orchestration service as a child process on free ports, with the test fixture
 * definitions, and resolves once its gRPC health answers SERVING.
 */
export async function startOrchestrationProcess(
  options: OrchestrationProcessOptions,
): Promise<{ proc: ServiceProcess; grpcPort: number; httpPort: number }> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const proc = await startServiceProcess({
    name: 'orchestration',
    script: nodePath.join(PKG, 'dist/src/main.js'),
    requireTelemetry: nodePath.join(ROOT, 'libs/telemetry/dist/src/register.js'),
    env: {
      NATS_URL: options.natsUrl,
      MONGO_URL: options.mongo.url,
      MONGO_DB: options.mongo.dbName,
      KAIROS_GRPC_PORT: String(grpcPort),
      KAIROS_HTTP_PORT: String(httpPort),
      KAIROS_PROFILE_ADDR: options.profileAddress,
      KAIROS_DEFINITIONS_DIR: nodePath.join(PKG, 'test/fixtures/definitions'),
      KAIROS_TIMER_POLL: '100ms',
      OTEL_SDK_DISABLED: 'true',
      ...options.env,
    },
    readiness: { grpcPort },
  });
  return { proc, grpcPort, httpPort };
}
