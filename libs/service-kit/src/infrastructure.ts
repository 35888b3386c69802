import type { Db } from 'mongodb';
import { connectNats, provisionStreams, type NatsConnection } from '@kairos/messaging';
import type { CommonConfig } from './config';
import type { Clock } from './container';
import type { GrpcServer } from './grpc-server';
import type { HttpServer } from './http-server';
import type { ServiceContext, ServiceDefinition } from './lifecycle';
import type { Logger } from './logger';
import { connectMongo } from './mongo';

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
 * The process side of a service's `src/main.ts`: the ports and drain timeout from the common
 * settings, and `start`, which connects the infrastructure and calls the service's `start<Service>`.
 */
export function serviceDefinition(
  name: string,
  config: Pick<CommonConfig, 'KAIROS_GRPC_PORT' | 'KAIROS_HTTP_PORT' | 'KAIROS_DRAIN_TIMEOUT'>,
  start: (ctx: ServiceContext) => Promise<unknown>,
): ServiceDefinition {
  return {
    name,
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    start: async (ctx) => {
      await start(ctx);
    },
  };
}

/**
 * Connects to `NATS_URL` (a comma-separated server list) and provisions the streams. The drain is
 * registered now, so it runs after every step registered later (those stop the loops and ack).
 */
export async function openNats(
  ctx: ServiceContext,
  config: Pick<CommonConfig, 'NATS_URL' | 'KAIROS_STREAM_REPLICAS'>,
): Promise<NatsConnection> {
  const nc = await connectNats({ servers: config.NATS_URL, name: ctx.name, logger: ctx.logger });
  ctx.onDrain(() => nc.drain());
  await provisionStreams(nc, { replicas: config.KAIROS_STREAM_REPLICAS, logger: ctx.logger });
  return nc;
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
  config: Pick<CommonConfig, 'NATS_URL' | 'KAIROS_STREAM_REPLICAS'>,
  start: (infra: ProcessInfrastructure) => Promise<A>,
): Promise<A> {
  const nc = await openNats(ctx, config);
  const app = await start({ nc, logger: ctx.logger, grpc: ctx.grpc, http: ctx.http });
  ctx.onDrain(() => app.stop());
  return app;
}

/**
 * The body of a service process with a database of its own: opens NATS, then the database, runs
 * `start` on both and registers the app's stop as a drain step (it runs before both close).
 */
export async function startWithDb<A extends StoppableApp>(
  ctx: ServiceContext,
  config: Pick<CommonConfig, 'NATS_URL' | 'KAIROS_STREAM_REPLICAS' | 'MONGO_URL' | 'MONGO_DB'>,
  start: (infra: ProcessInfrastructure & DbServiceInfrastructure) => Promise<A>,
): Promise<A> {
  return startWithNats(ctx, config, async (infra) => start({ ...infra, db: await openMongo(ctx, config) }));
}
