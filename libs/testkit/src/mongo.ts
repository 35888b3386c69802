import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import type { StartedTestContainer } from 'testcontainers';
import { findBinary, missingBinaryError } from './binaries';
import { containerRuntimeAvailable } from './container-runtime';
import { logOnce } from './log';
import type { InfraSource } from './nats';
import { freePort } from './ports';
import { ManagedProcess } from './process';
import { makeTempDir, removeTempDir } from './tempdir';
import { waitForServer } from './wait';

export interface StartMongoOptions {
  /** Host port; a free one by default. */
  port?: number;
  /** Deadline for the server to answer `ping`. Default 30 000 ms. */
  startupTimeoutMs?: number;
  /** Container image for the testcontainers path. Default `KAIROS_MONGO_IMAGE` or `mongo:7`. */
  image?: string;
  /** Ignore `MONGO_URL`. */
  ignoreEnv?: boolean;
}

export interface MongoServer {
  /** `mongodb://127.0.0.1:<port>/` (or `MONGO_URL`). */
  readonly url: string;
  readonly source: InfraSource;
  /** Which engine answers: `mongod`, `ferretdb`, `container` or `external`. */
  readonly engine: 'mongod' | 'ferretdb' | 'container' | 'external';
  /** Stops the server and removes its data (no-op for `MONGO_URL`). */
  stop(): Promise<void>;
  /**
   * Stops the server and keeps its data, so `resume()` brings the same database back on the same
   * port (an outage; local binary only, it rejects otherwise).
   */
  halt(): Promise<void>;
  /** Starts a halted server again and waits until it answers `ping`. */
  resume(): Promise<void>;
  logs(): string[];
}

function unsupported(what: string): () => Promise<void> {
  return () => Promise.reject(new Error(`testkit: ${what}() needs a local mongod or ferretdb binary`));
}

/** Resolves when `url` answers the `ping` command, rejects when it does not. */
async function pingMongo(url: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Waits until `url` answers the `ping` command (see waitForServer for `isAlive`). */
export function waitForMongo(
  url: string,
  timeoutMs: number,
  isAlive?: () => string | undefined,
): Promise<void> {
  const message = `a MongoDB-wire server at ${url}`;
  return waitForServer(() => pingMongo(url), { timeoutMs, intervalMs: 100, message, isAlive });
}

async function startBinary(
  name: 'mongod' | 'ferretdb',
  binary: string,
  options: StartMongoOptions,
  timeoutMs: number,
): Promise<MongoServer> {
  const port = options.port ?? (await freePort());
  const dir = makeTempDir(name);
  const host = '127.0.0.1';
  const args =
    name === 'mongod'
      ? ['--dbpath', dir, '--port', String(port), '--bind_ip', host, '--quiet']
      : [
          '--handler=sqlite',
          // WAL is FerretDB's default; NORMAL syncs at checkpoints instead of every commit, so an
          // update does not wait for an fsync. Test data need not survive a crash.
          `--sqlite-url=file:${dir}/?_pragma=synchronous(NORMAL)`,
          `--state-dir=${dir}`,
          `--listen-addr=${host}:${port}`,
          `--debug-addr=${host}:${await freePort()}`,
          '--telemetry=disable',
          '--log-level=warn',
        ];
  // Go's collector at its default (GOGC=100) runs often enough on FerretDB's small heap to show in
  // the ProfileService Get tail; GOGC=400 trades some memory for fewer collections.
  const env = name === 'ferretdb' ? { ...process.env, GOGC: process.env.GOGC ?? '400' } : undefined;
  const url = `mongodb://${host}:${port}/`;
  const history: string[] = [];
  let proc: ManagedProcess;
  const launch = async (): Promise<void> => {
    const started = new ManagedProcess({ name, command: binary, args, env });
    proc = started;
    await waitForMongo(url, timeoutMs, () =>
      started.running
        ? undefined
        : `${name} ${started.describeExit()} before becoming ready:\n${started.tail()}`,
    );
  };
  const halt = async (): Promise<void> => {
    await proc.stop('SIGTERM');
    history.push(...proc.logs());
  };
  const stop = async (): Promise<void> => {
    await proc.stop('SIGTERM');
    removeTempDir(dir);
  };
  try {
    await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  logOnce('mongo-source', `MongoDB: using local ${name} ${binary} (first at ${url})`);
  if (name === 'ferretdb') await warnWhenIdLookupsScan(url, binary);
  const resume = async (): Promise<void> => {
    if (!proc.running) await launch();
  };
  return {
    url,
    source: 'binary',
    engine: name,
    stop,
    halt,
    resume,
    logs: () => [...history, ...proc.logs()],
  };
}

/** Plan text of `find({_id})` on a scratch collection, as FerretDB's SQLite backend explains it. */
export async function explainIdLookup(
  url: string,
  extraFilter: Record<string, unknown> = {},
): Promise<string> {
  const client = new MongoClient(url);
  const db = client.db(`kt_explain_${process.pid}_${randomBytes(3).toString('hex')}`);
  try {
    await client.connect();
    await db.collection('probe').insertOne({ _id: 'probe' as never });
    const res = await db.command({ explain: { find: 'probe', filter: { _id: 'probe', ...extraFilter } } });
    return JSON.stringify(res.queryPlanner ?? {});
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

const checkedBinaries = new Set<string>();

/**
 * An unpatched FerretDB v1 SQLite build scans the whole table for every `_id` lookup (see
 * scripts/install-tools.sh); say so once per binary instead of letting tests get mysteriously slow.
 */
async function warnWhenIdLookupsScan(url: string, binary: string): Promise<void> {
  if (checkedBinaries.has(binary)) return;
  checkedBinaries.add(binary);
  const plan = await explainIdLookup(url).catch(() => '');
  if (/\bSCAN\b/.test(plan) && !/USING INDEX/.test(plan)) {
    logOnce(
      `ferretdb-scan:${binary}`,
      `warning: ${binary} does not use the _id index for _id lookups (${plan}); ` +
        `re-run 'scripts/install-tools.sh ferretdb' to build the patched FerretDB.`,
    );
  }
}

async function startContainer(options: StartMongoOptions, timeoutMs: number): Promise<MongoServer> {
  const { GenericContainer } = await import('testcontainers');
  const image = options.image ?? process.env.KAIROS_MONGO_IMAGE ?? 'mongo:7';
  const container: StartedTestContainer = await new GenericContainer(image)
    .withExposedPorts(27017)
    .withStartupTimeout(timeoutMs)
    .start();
  const url = `mongodb://${container.getHost()}:${container.getMappedPort(27017)}/`;
  await waitForMongo(url, timeoutMs);
  logOnce('mongo-source', `MongoDB: using a testcontainers container (${image})`);
  return {
    url,
    source: 'container',
    engine: 'container',
    stop: async () => {
      await container.stop({ timeout: 0 });
    },
    halt: unsupported('halt'),
    resume: unsupported('resume'),
    logs: () => [],
  };
}

/**
 * Provides a MongoDB-wire server: `MONGO_URL` when set; a container when a container runtime answers;
 * otherwise a local `mongod`, then `ferretdb` (SQLite backend), on a free port with a temporary dir.
 * FerretDB's PostgreSQL backend is not used: its `_id` lookups grow with the collection and it is no
 * more atomic (docs/operations.md, "MongoDB-wire database on this machine").
 */
export async function startMongo(options: StartMongoOptions = {}): Promise<MongoServer> {
  const timeoutMs = options.startupTimeoutMs ?? 30_000;
  const envUrl = options.ignoreEnv ? undefined : process.env.MONGO_URL;
  if (envUrl) {
    logOnce('mongo-source', `MongoDB: using MONGO_URL`);
    await waitForMongo(envUrl, timeoutMs);
    return {
      url: envUrl,
      source: 'env',
      engine: 'external',
      stop: async () => undefined,
      halt: unsupported('halt'),
      resume: unsupported('resume'),
      logs: () => [],
    };
  }
  if (await containerRuntimeAvailable()) return startContainer(options, Math.max(timeoutMs, 120_000));
  const mongod = findBinary('mongod');
  if (mongod) return startBinary('mongod', mongod, options, timeoutMs);
  const ferretdb = findBinary('ferretdb');
  if (ferretdb) return startBinary('ferretdb', ferretdb, options, timeoutMs);
  throw missingBinaryError('MongoDB', ['mongod', 'ferretdb']);
}

/** A database name unique to this process and call, usable on MongoDB and FerretDB (≤ 38 chars). */
export function uniqueDbName(prefix = 'kt'): string {
  const clean = prefix.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 16);
  return `${clean}_${process.pid}_${randomBytes(4).toString('hex')}`;
}
