import { MongoBulkWriteError, MongoClient, type Db } from 'mongodb';
import { databaseName, type CommonConfig } from './config';

/** The server error code of a unique index violation (E11000). */
export const DUPLICATE_KEY = 11000;

/**
 * True when a write failed only because a document with the same unique key exists. Services use it
 * to make inserts idempotent: a redelivered message finds its record and moves on.
 */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; message?: string } | undefined;
  return e?.code === DUPLICATE_KEY || /E11000|duplicate key/i.test(e?.message ?? '');
}

/**
 * The indexes (into the batch) of the writes an unordered bulk write lost to duplicate keys, or
 * undefined when it failed for any other reason (the caller rethrows then).
 */
export function duplicateKeyWrites(err: unknown): number[] | undefined {
  if (!(err instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) return undefined;
  return errors.map((e) => e.index);
}

export interface MongoConnection {
  client: MongoClient;
  /** The service's database: `MONGO_DB`, else `kairos_<service>`. */
  db: Db;
  close(): Promise<void>;
}

/** How long the first connection waits for a server, so a service started before its database waits. */
const SERVER_SELECTION_TIMEOUT_MS = 30_000;

/** Connects to `MONGO_URL` and opens the service's database (see databaseName). */
export async function connectMongo(
  config: Pick<CommonConfig, 'MONGO_URL' | 'MONGO_DB'>,
  service: string,
): Promise<MongoConnection> {
  const client = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS });
  await client.connect();
  return { client, db: client.db(databaseName(config, service)), close: () => client.close() };
}
