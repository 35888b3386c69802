import type { Db } from 'mongodb';

/** One collection whose documents expire `maxAgeMs` after the date in `field`. */
export interface RetentionRule {
  collection: string;
  /** A Date field (indexed next to the collection's other indexes). */
  field: string;
  /** 0 keeps the documents forever. */
  maxAgeMs: number;
  /** Extra conditions a document must meet to expire (e.g. a timer that is done). */
  filter?: Record<string, unknown>;
}

/** Documents removed per delete: a sweep never holds the database for long. */
export const RETENTION_DELETE_BATCH = 500;
/** Batches per collection per sweep; what is left waits for the next sweep. */
export const RETENTION_MAX_BATCHES = 20;

/**
 * Enforces retention by age with bounded deletes. TTL indexes (`expireAfterSeconds`) would do this
 * on mongod, but FerretDB v1 refuses the option ("not implemented yet"), so every service sweeps
 * its own collections instead: find at most RETENTION_DELETE_BATCH expired ids, delete them by id,
 * repeat up to RETENTION_MAX_BATCHES times. The same code runs on both servers.
 */
export async function sweepExpired(
  db: Db,
  rules: readonly RetentionRule[],
  nowMs: number,
  bounds: { batch: number; maxBatches: number } = {
    batch: RETENTION_DELETE_BATCH,
    maxBatches: RETENTION_MAX_BATCHES,
  },
): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const rule of rules) {
    if (rule.maxAgeMs <= 0) continue;
    const col = db.collection<{ _id: unknown }>(rule.collection);
    const filter = { ...rule.filter, [rule.field]: { $lt: new Date(nowMs - rule.maxAgeMs) } };
    let total = 0;
    for (let i = 0; i < bounds.maxBatches; i++) {
      const ids = await col
        .find(filter, { projection: { _id: 1 } })
        .limit(bounds.batch)
        .toArray();
      if (ids.length === 0) break;
      const r = await col.deleteMany({ _id: { $in: ids.map((d) => d._id) } });
      total += r.deletedCount;
      if (ids.length < bounds.batch) break;
    }
    if (total) removed[rule.collection] = total;
  }
  return removed;
}

export interface RetentionSweeper {
  stop(): void;
  /** Runs one sweep now (tests, and the first sweep at start). */
  sweep(): Promise<Record<string, number>>;
}

/**
 * Sweeps `rules` every `intervalMs` (0: never) and logs what it removed. Failures are logged and the
 * next interval tries again.
 */
export function startRetentionSweeper(
  db: Db,
  rules: readonly RetentionRule[],
  opts: {
    intervalMs: number;
    clock: { now(): number };
    logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
  },
): RetentionSweeper {
  let running: Promise<Record<string, number>> | undefined;
  const sweep = () => {
    running ??= sweepExpired(db, rules, opts.clock.now()).finally(() => (running = undefined));
    return running;
  };
  const timer =
    opts.intervalMs > 0
      ? setInterval(() => {
          sweep().then(
            (removed) => {
              if (Object.keys(removed).length) opts.logger.info({ removed }, 'retention applied');
            },
            (err: unknown) => opts.logger.warn({ err: (err as Error).message }, 'retention sweep failed'),
          );
        }, opts.intervalMs)
      : undefined;
  timer?.unref();
  return {
    stop: () => clearInterval(timer),
    sweep,
  };
}
