import type { NatsConnection } from '@nats-io/nats-core';
import { useMongo, useNats, type MongoFixture, type NatsFixture } from './fixtures';

/** Handle returned by `useNatsClient()`: its fields work once the suite's `before` hook ran. */
export class NatsClientFixture<P> {
  private client: { nc: NatsConnection; publisher: P } | undefined;

  /** @internal */
  set(client: { nc: NatsConnection; publisher: P } | undefined): void {
    this.client = client;
  }

  private get ready(): { nc: NatsConnection; publisher: P } {
    if (!this.client) {
      throw new Error(
        'testkit: the useNatsClient() handle is read before its mocha before hook ran; ' +
          'use it inside hooks and tests only',
      );
    }
    return this.client;
  }

  /** The suite's connection. */
  get nc(): NatsConnection {
    return this.ready.nc;
  }

  /** What `open` put on the connection to publish with. */
  get publisher(): P {
    return this.ready.publisher;
  }
}

/**
 * Mocha fixture: opens a NATS client with `open` in `before` and closes it in `after`. Declare it
 * after `useNats()`, whose server is then up when `open` runs. Suites pass @kairos/messaging's
 * `connectPublisher` (streams provisioned, a Publisher on the connection).
 */
export function useNatsClient<P>(
  open: () => Promise<{ nc: NatsConnection; publisher: P }>,
): NatsClientFixture<P> {
  const fixture = new NatsClientFixture<P>();
  let opened: { nc: NatsConnection } | undefined;
  before(async () => {
    const client = await open();
    opened = client;
    fixture.set(client);
  });
  after(async () => {
    fixture.set(undefined);
    await opened?.nc.close();
    opened = undefined;
  });
  return fixture;
}

/** What `useServers()` sets up: a NATS server, a database, and a client connected to that server. */
export interface Servers<P> {
  nats: NatsFixture;
  mongo: MongoFixture;
  bus: NatsClientFixture<P>;
}

/**
 * Mocha fixtures most integration suites run on, in order: `useNats()`, `useMongo({ dbPrefix })`,
 * then `useNatsClient()` opened by `connect` (@kairos/messaging's connectPublisher fits) with the
 * server's URL and the client name `<dbPrefix>-test`.
 */
export function useServers<P>(options: {
  dbPrefix: string;
  connect: (natsUrl: string, clientName: string) => Promise<{ nc: NatsConnection; publisher: P }>;
}): Servers<P> {
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: options.dbPrefix });
  const bus = useNatsClient(() => options.connect(nats.url, `${options.dbPrefix}-test`));
  return { nats, mongo, bus };
}
