import { isDeepStrictEqual } from 'node:util';
import type { LRUCache } from 'lru-cache';
import { duplicateKeyWrites, inject, injectable, isDuplicateKey, TOKENS } from '@kairos/service-kit';
import type { AnyBulkWriteOperation, Collection, Db, MongoBulkWriteError } from 'mongodb';
import { boundedLru } from './domain/profile-cache';
import { approximateBytes, type ProfileDoc } from './domain/profile-model';
import { ENRICHMENT_TOKENS } from './tokens';

export const PROFILES = 'profiles';

/** Fields the read path never needs. */
const READ_PROJECTION = { applied_event_ids: 0 } as const;

const MAX_CONFLICT_RETRIES = 8;

/**
 * Operations per bulk write. An unpatched FerretDB v1 holds one of its 100 SQLite connections per
 * update statement until the whole command ends, so one larger bulk deadlocks it (see
 * scripts/install-tools.sh); chunks keep any server safe.
 */
const MAX_BULK_OPS = 50;

/** The fields of `next` that differ from `previous`, as a `$set` (the whole document is not rewritten). */
function changedFields(next: ProfileDoc, previous: ProfileDoc): Partial<ProfileDoc> {
  const set: Partial<ProfileDoc> = {};
  for (const key of Object.keys(next) as Array<keyof ProfileDoc>) {
    if (key !== '_id' && !isDeepStrictEqual(next[key], previous[key]))
      (set as Record<string, unknown>)[key] = next[key];
  }
  return set;
}

/**
 * Profiles in MongoDB (`_id` is the customer id: the unique primary index) behind a write-through
 * LRU cache. Every write is conditional on the version read, so a stale cache entry (another replica
 * or a gRPC call wrote meanwhile) causes a reload and a retry, never a lost update.
 */
@injectable()
export class ProfileStore {
  readonly profiles: Collection<ProfileDoc>;
  /** Undefined when caching is off (a bound of 0). */
  private readonly cache: LRUCache<string, ProfileDoc> | undefined;

  constructor(
    @inject(TOKENS.Db) db: Db,
    @inject(ENRICHMENT_TOKENS.CacheSize) cacheSize: number,
    @inject(ENRICHMENT_TOKENS.CacheBytes) cacheBytes: number,
  ) {
    this.profiles = db.collection<ProfileDoc>(PROFILES);
    // Bounded by bytes too: a profile's size varies with its traits and recent history.
    this.cache = boundedLru<string, ProfileDoc>(cacheSize, cacheBytes, approximateBytes);
  }

  /** The profile for a write: from the cache, else MongoDB. Callers must not mutate it. */
  async getForWrite(customerId: string): Promise<ProfileDoc | undefined> {
    const cached = this.cache?.get(customerId);
    if (cached) return cached;
    const doc = (await this.profiles.findOne({ _id: customerId })) ?? undefined;
    if (doc) this.cache?.set(customerId, doc);
    return doc;
  }

  /** A fresh read for the gRPC API (other replicas may write, so no cache). */
  async read(customerId: string): Promise<ProfileDoc | undefined> {
    return (await this.profiles.findOne({ _id: customerId }, { projection: READ_PROJECTION })) ?? undefined;
  }

  async readMany(customerIds: string[]): Promise<ProfileDoc[]> {
    if (customerIds.length === 0) return [];
    return this.profiles.find({ _id: { $in: customerIds } }, { projection: READ_PROJECTION }).toArray();
  }

  /**
   * Writes `next` if the stored version is still `previous.version` (or inserts it when `previous`
   * is undefined). Returns the stored document, or undefined on a conflict (after evicting the
   * stale cache entry).
   */
  async save(next: ProfileDoc, previous: ProfileDoc | undefined): Promise<ProfileDoc | undefined> {
    const id = next._id;
    const written: ProfileDoc = { ...next, version: (previous?.version ?? 0) + 1 };
    try {
      if (!previous) {
        await this.profiles.insertOne(written);
      } else {
        const res = await this.profiles.updateOne(
          { _id: id, version: previous.version },
          { $set: changedFields(written, previous) },
        );
        if (res.matchedCount === 0) {
          this.cache?.delete(id);
          return undefined;
        }
      }
    } catch (err) {
      this.cache?.delete(id);
      if (isDuplicateKey(err)) return undefined;
      throw err;
    }
    this.cache?.set(id, written);
    return written;
  }

  /**
   * Writes several profiles with bulk writes (chunks of MAX_BULK_OPS), each conditional on its stored
   * version still being `previous.version` (or inserted when `previous` is undefined); `next.version`
   * is written as given. Returns the customers whose write may not have landed (a version conflict
   * or a duplicate insert; an unordered bulk write reports only how many updates matched, so a
   * mismatch marks its whole chunk), after evicting their cache entries; callers re-read and redo
   * those (event application is idempotent). Empty when everything was written.
   */
  async saveMany(
    changes: Array<{ next: ProfileDoc; previous: ProfileDoc | undefined }>,
  ): Promise<Set<string>> {
    // Chunks one after another; the write-behind, the only caller, runs one flush at a time.
    const conflicted = new Set<string>();
    try {
      for (let i = 0; i < changes.length; i += MAX_BULK_OPS) {
        const chunk = changes.slice(i, i + MAX_BULK_OPS);
        for (const id of await this.writeChunk(chunk)) conflicted.add(id);
      }
    } catch (err) {
      for (const { next } of changes) this.cache?.delete(next._id);
      throw err;
    }
    for (const { next } of changes) {
      if (conflicted.has(next._id)) this.cache?.delete(next._id);
      else this.cache?.set(next._id, next);
    }
    return conflicted;
  }

  private async writeChunk(
    chunk: Array<{ next: ProfileDoc; previous: ProfileDoc | undefined }>,
  ): Promise<string[]> {
    const ops: Array<AnyBulkWriteOperation<ProfileDoc>> = [];
    const updated: string[] = [];
    for (const { next, previous } of chunk) {
      if (!previous) {
        ops.push({ insertOne: { document: next } });
        continue;
      }
      ops.push({
        updateOne: {
          filter: { _id: next._id, version: previous.version },
          update: { $set: changedFields(next, previous) },
        },
      });
      updated.push(next._id);
    }
    try {
      const res = await this.profiles.bulkWrite(ops, { ordered: false });
      return res.matchedCount < updated.length ? updated : [];
    } catch (err) {
      const lostWrites = duplicateKeyWrites(err);
      if (!lostWrites) throw err;
      // Inserts that lost to another writer, plus the updates if any of them missed too.
      const lost = lostWrites.map((i) => chunk[i]!.next._id);
      return (err as MongoBulkWriteError).result.matchedCount < updated.length ? [...lost, ...updated] : lost;
    }
  }

  /**
   * Read-modify-write with optimistic concurrency: `change` gets the current profile (or undefined)
   * and returns the next one, or undefined to leave it unchanged.
   */
  async update<R>(
    customerId: string,
    change: (current: ProfileDoc | undefined) => { next?: ProfileDoc; result: R },
  ): Promise<{ result: R; previous?: ProfileDoc; profile?: ProfileDoc }> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.getForWrite(customerId);
      const { next, result } = change(current);
      if (!next) return { result, previous: current, profile: current };
      const saved = await this.save(next, current);
      if (saved) return { result, previous: current, profile: saved };
      if (attempt >= MAX_CONFLICT_RETRIES)
        throw new Error(`profile ${customerId}: too many concurrent updates`);
    }
  }

  async delete(customerId: string): Promise<boolean> {
    this.cache?.delete(customerId);
    const res = await this.profiles.deleteOne({ _id: customerId });
    return res.deletedCount > 0;
  }

  get cachedProfiles(): number {
    return this.cache?.size ?? 0;
  }
}
