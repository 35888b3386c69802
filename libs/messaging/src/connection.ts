import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from './logger';

/**
 * The server URLs of a NATS server list as `NATS_URL` holds it (`nats://a:4222,nats://b:4222`):
 * split at commas, trimmed, empty entries dropped. nats.js takes a single string as one URL.
 */
export function natsServers(servers: string | string[]): string[] {
  const list = typeof servers === 'string' ? servers.split(',') : servers;
  return list.map((s) => s.trim()).filter(Boolean);
}

export interface NatsOptions {
  /** One URL, a comma-separated list (`NATS_URL`) or the URLs. */
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
  const servers = natsServers(opts.servers);
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers,
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
        throw new Error(`cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`);
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
