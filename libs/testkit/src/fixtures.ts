import { Db, MongoClient } from 'mongodb';
import { MongoServer, startMongo, StartMongoOptions, uniqueDbName } from './mongo';
import { InfraSource, NatsServer, startNats, StartNatsOptions } from './nats';

function notReady(what: string): Error {
  return new Error(
    `testkit: the ${what}() handle is read before its mocha 'before' hook ran; ` +
      `call ${what}() directly inside describe() and use the handle inside hooks/tests only`,
  );
}

export interface UseNatsOptions extends StartNatsOptions {
  /** Timeout for the `before` hook. Default: startup timeout + 10 s (container path: 180 s). */
  hookTimeoutMs?: number;
}

/** Handle returned by `useNats()`: every field and method works once the suite's `before` hook ran. */
export class NatsFixture implements NatsServer {
  private current: NatsServer | undefined;

  /** @internal */
  set(server: NatsServer | undefined): void {
    this.current = server;
  }

  get server(): NatsServer {
    if (!this.current) throw notReady('useNats');
    return this.current;
  }

  get url(): string {
    return this.server.url;
  }
  get host(): string {
    return this.server.host;
  }
  get port(): number {
    return this.server.port;
  }
  get source(): InfraSource {
    return this.server.source;
  }
  get storeDir(): string | undefined {
    return this.server.storeDir;
  }
  get running(): boolean {
    return this.server.running;
  }
  stop(): Promise<void> {
    return this.server.stop();
  }
  kill(): Promise<void> {
    return this.server.kill();
  }
  start(): Promise<void> {
    return this.server.start();
  }
  restart(): Promise<void> {
    return this.server.restart();
  }
  dispose(): Promise<void> {
    return this.server.dispose();
  }
  logs(): string[] {
    return this.server.logs();
  }
}

/**
 * Mocha fixture: registers `before`/`after` hooks in the current `describe` that start a NATS server
 * with JetStream (see `startNats`) and dispose of it. Fields of the returned handle are filled in `before`.
 */
export function useNats(options: UseNatsOptions = {}): NatsFixture {
  const fixture = new NatsFixture();
  before(async function () {
    this.timeout(options.hookTimeoutMs ?? (options.startupTimeoutMs ?? 20_000) + 180_000);
    fixture.set(await startNats(options));
  });
  after(async function () {
    this.timeout(30_000);
    let server: NatsServer | undefined;
    try {
      server = fixture.server;
    } catch {
      return;
    }
    fixture.set(undefined);
    await server.dispose();
  });
  return fixture;
}

export interface UseMongoOptions extends StartMongoOptions {
  /** Prefix of the per-suite database name. Default `kt`. */
  dbPrefix?: string;
  hookTimeoutMs?: number;
}

/** Handle returned by `useMongo()`: fields work once the suite's `before` hook ran. */
export class MongoFixture {
  private state: { server: MongoServer; client: MongoClient; dbName: string } | undefined;

  /** @internal */
  set(state: MongoFixture['state']): void {
    this.state = state;
  }

  private get ready(): NonNullable<MongoFixture['state']> {
    if (!this.state) throw notReady('useMongo');
    return this.state;
  }

  /** Server URL (no database in the path). */
  get url(): string {
    return this.ready.server.url;
  }
  /** A database name fresh for this suite; dropped in `after`. */
  get dbName(): string {
    return this.ready.dbName;
  }
  /** A connected client owned by the fixture (closed in `after`). */
  get client(): MongoClient {
    return this.ready.client;
  }
  /** The suite's database on the fixture's client. */
  get db(): Db {
    return this.ready.client.db(this.ready.dbName);
  }
  get server(): MongoServer {
    return this.ready.server;
  }
}

/**
 * Mocha fixture: registers `before`/`after` hooks that provide a MongoDB-wire server (see `startMongo`)
 * and a fresh database name, dropping the database and stopping the server afterwards.
 */
export function useMongo(options: UseMongoOptions = {}): MongoFixture {
  const fixture = new MongoFixture();
  let server: MongoServer | undefined;
  let client: MongoClient | undefined;
  let dbName: string | undefined;
  before(async function () {
    this.timeout(options.hookTimeoutMs ?? (options.startupTimeoutMs ?? 30_000) + 180_000);
    server = await startMongo(options);
    client = new MongoClient(server.url, { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    dbName = uniqueDbName(options.dbPrefix);
    fixture.set({ server, client, dbName });
  });
  after(async function () {
    this.timeout(30_000);
    fixture.set(undefined);
    try {
      if (client && dbName) await client.db(dbName).dropDatabase();
    } finally {
      await client?.close().catch(() => undefined);
      await server?.stop();
      client = undefined;
      server = undefined;
    }
  });
  return fixture;
}
