import type { Db } from 'mongodb';
import { connectNats, provisionStreams, type NatsConnection } from '@kairos/messaging';
import type { CommonConfig, SecurityConfig } from './config';
import type { Clock } from './container';
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
  start: (ctx: ServiceContext) => Promise<void>,
): ServiceDefinition {
  return {
    name,
    grpcPort: config.KAIROS_GRPC_PORT,
    httpPort: config.KAIROS_HTTP_PORT,
    drainTimeoutMs: config.KAIROS_DRAIN_TIMEOUT,
    security: loadServerSecurity(config),
    start,
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
