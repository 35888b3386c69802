import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type TlsOptions,
} from '@nats-io/nats-core';
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
  /** Credentials (user and password, token, nkey or JWT), read on every (re)connect. */
  authenticator?: Authenticator;
  /** TLS to the server (CA, client certificate and key files). */
  tls?: TlsOptions;
  /**
   * Prefix of the connection's reply subjects (default `_INBOX`). A least-privilege user subscribes
   * only to its own prefix, so it cannot read the replies other services receive.
   */
  inboxPrefix?: string;
}

/** Where a process's NATS credentials and TLS files are (the `NATS_*` settings). */
export interface NatsCredentialFiles {
  NATS_URL: string;
  NATS_USER?: string;
  NATS_PASSWORD_FILE?: string;
  NATS_TOKEN_FILE?: string;
  NATS_NKEY_FILE?: string;
  NATS_CREDS_FILE?: string;
  NATS_TLS_CA?: string;
  NATS_TLS_CERT?: string;
  NATS_TLS_KEY?: string;
}

const fileText = (path: string) => readFileSync(path, 'utf8').trim();

/**
 * The authenticator and TLS options for connectNats. Credential files are read at every
 * (re)connect, so a rotated Secret takes effect without a restart. TLS is on with a CA, a client
 * certificate or a `tls://` URL.
 */
export function natsAuthOptions(c: NatsCredentialFiles): { authenticator?: Authenticator; tls?: TlsOptions } {
  const { NATS_USER: user, NATS_PASSWORD_FILE: pass, NATS_TOKEN_FILE: token } = c;
  const { NATS_NKEY_FILE: nkey, NATS_CREDS_FILE: creds } = c;
  const authenticator =
    user && pass
      ? usernamePasswordAuthenticator(user, () => fileText(pass))
      : token
        ? tokenAuthenticator(() => fileText(token))
        : nkey
          ? nkeyAuthenticator(() => new TextEncoder().encode(fileText(nkey)))
          : creds
            ? credsAuthenticator(() => readFileSync(creds))
            : undefined;
  const tlsUrl = natsServers(c.NATS_URL).some((u) => u.startsWith('tls://'));
  const tls: TlsOptions | undefined =
    c.NATS_TLS_CA || c.NATS_TLS_CERT || tlsUrl
      ? {
          ...(c.NATS_TLS_CA ? { caFile: c.NATS_TLS_CA } : {}),
          ...(c.NATS_TLS_CERT ? { certFile: c.NATS_TLS_CERT, keyFile: c.NATS_TLS_KEY } : {}),
        }
      : undefined;
  return { ...(authenticator ? { authenticator } : {}), ...(tls ? { tls } : {}) };
}

/** The reply-subject prefix of a connection (`NatsOptions.inboxPrefix`), `_INBOX` by default. */
export function inboxPrefixOf(nc: NatsConnection): string {
  return (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix || '_INBOX';
}

/**
 * Connects with unlimited reconnects (a service rides out server restarts) and logs every
 * connection status change. The first connection is retried until `connectTimeoutMs`, so a
 * service started before NATS waits for it instead of crashing.
 */
export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  const deadline = Date.now() + connectTimeoutMs;
  const servers = natsServers(opts.servers);
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers,
        name: opts.name,
        // One attempt (TCP, TLS handshake, CONNECT) never outlasts the whole deadline.
        timeout: Math.min(20_000, connectTimeoutMs),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
        // Capturing a stack for every request (each JetStream publish) was a fifth of ingest's CPU;
        // our logs carry the subject and message id instead.
        noAsyncTraces: true,
        ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
        ...(opts.tls ? { tls: opts.tls } : {}),
        ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
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
