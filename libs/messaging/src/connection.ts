import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from './logger';

export interface NatsOptions {
  servers: string | string[];
  /** Connection name shown by the server (e.g. the service name). */
  name: string;
  logger: Logger;
  /** How long to keep trying the first connection (ms). Reconnects after that are unlimited. */
  connectTimeoutMs?: number;
}

/**
 * Connects with unlimited reconnects (a service rides out server restarts) and logs every
 * connection status change. The first connection is retried until `connectTimeoutMs`, so a
 * service started before NATS waits for it instead of crashing.
 */
export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers: opts.servers,
        name: opts.name,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
        // Capturing a stack for every request (each JetStream publish) was a fifth of ingest's CPU;
        // our logs carry the subject and message id instead.
        noAsyncTraces: true,
      });
      opts.logger.info({ server: nc.getServer() }, 'connected to NATS');
      void logStatus(nc, opts.logger);
      return nc;
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`cannot connect to NATS at ${String(opts.servers)}: ${(err as Error).message}`);
      }
      if (attempt === 1)
        opts.logger.warn({ err: (err as Error).message }, 'NATS not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
    }
  }
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
        logger.warn({ server: s.server }, 'NATS disconnected; reconnecting');
        break;
      case 'reconnect':
        logger.info({ server: s.server }, 'NATS reconnected');
        break;
      case 'error':
        logger.error({ err: String(s.error) }, 'NATS connection error');
        break;
      default:
        break;
    }
  }
}
