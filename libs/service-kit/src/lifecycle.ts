import { shutdownTelemetry, collectProcessMetrics } from '@kairos/telemetry';
import { GrpcServer } from './grpc-server';
import { HttpServer } from './http-server';
import { createLogger, type Logger } from './logger';
import { ConfigError } from './config';
import { AccessControl, type ServerSecurity } from './security';

export interface ServiceContext {
  name: string;
  logger: Logger;
  grpc: GrpcServer;
  http: HttpServer;
  /** Who holds the admin and service credentials (HTTP routes such as the dashboard check it). */
  access: AccessControl;
  /** Registers a drain step; steps run in reverse order of registration on SIGTERM/SIGINT. */
  onDrain(step: () => Promise<void>): void;
}

export interface ServiceDefinition {
  name: string;
  grpcPort: number;
  httpPort: number;
  drainTimeoutMs: number;
  /** TLS and credentials of the servers; absent: plaintext, and admin and service methods refused. */
  security?: ServerSecurity;
  /**
   * Connects dependencies and starts the work. Health stays NOT_SERVING until it resolves, so
   * readiness means every dependency answered.
   */
  start(ctx: ServiceContext): Promise<void>;
}

/**
 * Runs a service: gRPC health + HTTP probes first (NOT_SERVING), then `start`, then SERVING.
 * SIGTERM/SIGINT: NOT_SERVING, drain steps (stop pulling, finish in-flight, ack, close), stop the
 * servers, flush telemetry, exit 0. A second signal or the drain timeout forces exit 1.
 */
export async function runService(def: ServiceDefinition): Promise<void> {
  const logger = createLogger(def.name);
  collectProcessMetrics();
  const security = def.security ?? { access: new AccessControl({}) };
  const grpc = new GrpcServer(logger, security);
  const http = new HttpServer(logger, security.tls);
  if (!security.access.adminConfigured)
    logger.warn('no admin credential configured (KAIROS_ADMIN_TOKEN_FILE): admin methods are refused');
  const drainSteps: Array<() => Promise<void>> = [];
  let draining = false;

  const drain = async (signal: string) => {
    if (draining) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    draining = true;
    logger.info({ signal }, 'draining');
    grpc.setServing(false);
    http.ready = false;
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: def.drainTimeoutMs }, 'drain timed out; exiting');
      process.exit(1);
    }, def.drainTimeoutMs);
    timer.unref();
    for (const step of drainSteps.reverse()) {
      try {
        await step();
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'drain step failed');
      }
    }
    await grpc.shutdown(Math.min(5_000, def.drainTimeoutMs));
    await http.close();
    await shutdownTelemetry();
    logger.info('drained; bye');
    process.exit(0);
  };
  process.on('SIGTERM', () => void drain('SIGTERM'));
  process.on('SIGINT', () => void drain('SIGINT'));

  try {
    await grpc.start(def.grpcPort);
    await http.start(def.httpPort);
    await def.start({
      name: def.name,
      logger,
      grpc,
      http,
      access: security.access,
      onDrain: (s) => void drainSteps.push(s),
    });
    grpc.setServing(true);
    http.ready = true;
    logger.info({ grpcPort: grpc.port, httpPort: http.port }, 'ready');
  } catch (err) {
    logger.fatal({ err: (err as Error).message, stack: (err as Error).stack }, 'start failed');
    await shutdownTelemetry();
    process.exit(1);
  }
}

/**
 * What `load` returns; when it throws a ConfigError, the process writes the error's message (which
 * names the setting) and exits 2.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Entry point helper: loads config (exit 2 with a readable message when invalid) and runs. */
export function main(build: () => ServiceDefinition): void {
  void runService(loadOrExit(build));
}
