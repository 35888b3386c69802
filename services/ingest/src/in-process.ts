import {
  createLogger,
  GrpcServer,
  HttpServer,
  loadServerSecurity,
  openNats,
  type Clock,
  type Logger,
} from '@kairos/service-kit';
import { startIngest } from './app';
import { loadIngestConfig } from './config';
import type { RulesFile } from './domain/rules-file';

export interface InProcessOptions {
  /** Rules given directly instead of KAIROS_INGEST_CONFIG. */
  rules?: RulesFile;
  clock?: Clock;
  logLevel?: string;
}

export interface InProcessIngest {
  grpcPort: number;
  httpPort: number;
  /** The gRPC address, `127.0.0.1:<grpcPort>`. */
  address: string;
  logger: Logger;
  /** Runs the drain steps (finish calls, drain NATS) and closes both servers. */
  stop(): Promise<void>;
}

/**
 * Runs the ingest service inside the current process (tests, embedding clients' tests): the same
 * composition as `main.ts` without signal handling or process.exit. `env` holds KAIROS_* variables (defaults for the
 * rest; ports default to 0 = free ports).
 */
export async function startIngestInProcess(
  env: Record<string, string>,
  opts: InProcessOptions = {},
): Promise<InProcessIngest> {
  const cfg = loadIngestConfig({ KAIROS_GRPC_PORT: '0', KAIROS_HTTP_PORT: '0', ...env });
  const logger = createLogger('ingest', opts.logLevel ?? process.env.LOG_LEVEL ?? 'warn');
  // The TLS settings (KAIROS_TLS_*) apply here as in the process.
  const security = loadServerSecurity(cfg);
  const grpc = new GrpcServer(logger, security);
  const http = new HttpServer(logger, security.tls);
  const drainSteps: Array<() => Promise<void>> = [];
  await grpc.start(cfg.KAIROS_GRPC_PORT, '127.0.0.1');
  await http.start(cfg.KAIROS_HTTP_PORT, '127.0.0.1');
  try {
    const ctx = {
      name: 'ingest',
      logger,
      grpc,
      http,
      access: security.access,
      onDrain: (s: () => Promise<void>) => void drainSteps.push(s),
    };
    const nc = await openNats(ctx, cfg);
    const app = await startIngest(cfg, { ...ctx, nc, rules: opts.rules, clock: opts.clock });
    ctx.onDrain(() => app.stop());
  } catch (err) {
    await grpc.shutdown(100);
    await http.close();
    throw err;
  }
  grpc.setServing(true);
  http.ready = true;
  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    address: `127.0.0.1:${grpc.port}`,
    logger,
    async stop() {
      grpc.setServing(false);
      for (const step of drainSteps.reverse()) await step().catch(() => undefined);
      await grpc.shutdown(2_000);
      await http.close();
    },
  };
}
