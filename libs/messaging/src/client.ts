import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats } from './connection';
import { silentLogger, type Logger } from './logger';
import { provisionStreams } from './provision';
import { Publisher } from './publisher';

/**
 * Connects to `servers` as `name`, provisions the streams (idempotent) and puts a Publisher on the
 * connection: what a tool, a benchmark or a test needs to publish into the mesh. Services open
 * NATS with service-kit's openNats instead, which also drains it on shutdown.
 */
export async function connectPublisher(
  servers: string | string[],
  name: string,
  logger: Logger = silentLogger,
): Promise<{ nc: NatsConnection; publisher: Publisher }> {
  const nc = await connectNats({ servers, name, logger });
  await provisionStreams(nc);
  return { nc, publisher: new Publisher(nc, { logger }) };
}
