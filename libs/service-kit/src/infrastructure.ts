import type { Db } from 'mongodb';
import type { IndexSpec } from '@kairos/contracts';
import { connectNats, natsAuthOptions, provisionStreams, type NatsConnection } from '@kairos/messaging';
import type { CommonConfig, NatsConfig, SecurityConfig } from './config';
import type { Clock } from './container';
import type { AccessControl } from './security';
import type { GrpcServer } from './grpc-server';
import type { HttpServer } from './http-server';
import type { ServiceContext, ServiceDefinition } from './lifecycle';
import type { Logger } from './logger';
import { connectMongo } from './mongo';
import { loadServerSecurity } from './security';

/** What a service's `start<Service>` runs on (tests pass their own): NATS, its logger, a clock. */
export interface ServiceInfrastructure {
  /** A connection to NATS with the streams provisioned. */
  nc: NatsConnection;
  logger: Logger;
  /** The time source; the system clock when absent. */
  clock?: Clock;
}

/** The infrastructure of a service with a database of its own. */
export interface DbServiceInfrastructure extends ServiceInfrastructure {
  /** The service's database. */
  db: Db;
}

/**
 * The process side of a service's `src/main.ts`: the ports, drain timeout and security (TLS files
 * and credentials, read now so a bad one exits 2 naming the variable) from the common settings,
 * and `start`, which connects the infrastructure and calls the service's `start<Service>`.
 */
export function serviceDefinition(
  name: string,
  config: Pick<CommonConfig, 'KAIROS_GRPC_PORT' | 'KAIROS_HTTP_PORT' | 'KAIROS_DRAIN_TIMEOUT'> &
    SecurityConfig,
  start: (ctx: ServiceContext) => Promise<unknown>,
): ServiceDefinition {
  return {
    name,
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    security: loadServerSecurity(config),
    start: async (ctx) => {
      await start(ctx);
    },
  };
}

/** The reply-subject prefix of a service's connection: its NATS permissions allow only this one. */
export function serviceInboxPrefix(service: string): string {
  return `_INBOX.${service}`;
}

/**
 * Connects to `NATS_URL` (a comma-separated server list) with the credentials and TLS files of the
 * `NATS_*` settings, and provisions the streams unless `KAIROS_PROVISION=external`. The drain is
 * registered now, so it runs after every step registered later (those stop the loops and ack).
 */
export async function openNats(
  ctx: ServiceContext,
  config: Pick<CommonConfig, keyof NatsConfig | 'KAIROS_STREAM_REPLICAS' | 'KAIROS_PROVISION'>,
): Promise<NatsConnection> {
  const nc = await connectNats({
    servers: config.NATS_URL,
    name: ctx.name,
    logger: ctx.logger,
    inboxPrefix: serviceInboxPrefix(ctx.name),
    ...natsAuthOptions(config),
  });
  ctx.onDrain(() => nc.drain());
  if (config.KAIROS_PROVISION === 'self')
    await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger: ctx.logger });
  return nc;
}

/** Creates the indexes (idempotent) unless the provisioning Job does (`KAIROS_PROVISION=external`). */
export async function ensureIndexes(
  db: Db,
  indexes: IndexSpec[],
  config: Pick<CommonConfig, 'KAIROS_PROVISION'> = { KAIROS_PROVISION: 'self' },
): Promise<void> {
  if (config.KAIROS_PROVISION === 'external') return;
  for (const ix of indexes) await db.collection(ix.collection).createIndex(ix.keys, ix.options ?? {});
}

/** Connects to `MONGO_URL` and returns the service's database; the client closes on drain. */
export async function openMongo(
  ctx: ServiceContext,
  config: Pick<CommonConfig, 'MONGO_URL' | 'MONGO_DB'>,
): Promise<Db> {
  const mongo = await connectMongo(config, ctx.name);
  ctx.onDrain(() => mongo.close());
  return mongo.db;
}

/** The infrastructure a service process gives its `start<Service>`: NATS, the logger and its servers. */
export interface ProcessInfrastructure extends ServiceInfrastructure {
  grpc: GrpcServer;
  http: HttpServer;
  /** Who may call the process's admin and service routes. */
  access?: AccessControl;
}

/** What `start<Service>` returns: at least a way to stop the work it started. */
export interface StoppableApp {
  stop(): Promise<void>;
}

/**
 * The body of a service process without a database: opens NATS, runs `start` on it and registers
 * the app's stop as a drain step (it runs before the NATS drain).
 */
export async function startWithNats<A extends StoppableApp>(
  ctx: ServiceContext,
  config: Parameters<typeof openNats>[1],
  start: (infra: ProcessInfrastructure) => Promise<A>,
): Promise<A> {
  const nc = await openNats(ctx, config);
  const app = await start({ nc, logger: ctx.logger, grpc: ctx.grpc, http: ctx.http, access: ctx.access });
  ctx.onDrain(() => app.stop());
  return app;
}

/**
 * The body of a service process with a database of its own: opens NATS, then the database, runs
 * `start` on both and registers the app's stop as a drain step (it runs before both close).
 */
export async function startWithDb<A extends StoppableApp>(
  ctx: ServiceContext,
  config: Parameters<typeof openNats>[1] & Parameters<typeof openMongo>[1],
  start: (infra: ProcessInfrastructure & DbServiceInfrastructure) => Promise<A>,
): Promise<A> {
  return startWithNats(ctx, config, async (infra) => start({ ...infra, db: await openMongo(ctx, config) }));
}
