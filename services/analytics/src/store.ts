/**
 * The facts in MongoDB (database `kairos_analytics`), one collection per kind, each keyed by the
 * fact's own id: a replayed or redelivered message inserts nothing, and only what was new is
 * folded into the aggregates. At start every stored fact is read back (a restart loses nothing).
 * Retention removes message-level facts past the configured age and rolls trigger volumes up into
 * daily counts first.
 */
import type { Collection, Db } from 'mongodb';
import { duplicateKeyWrites } from '@kairos/service-kit';
import type { CampaignSendFact, ConversionFact, FireFact, OutcomeFact, RequestFact } from './domain/facts';
import { bucketStart } from './domain/buckets';
import { fireKey, type AnalyticsState } from './domain/state';

type Doc<T> = T & { _id: string };

interface VolumeDayDoc {
  _id: string;
  key: string;
  day: number;
  count: number;
}

const DAY = 86_400_000;

export class FactStore {
  readonly outcomes: Collection<Doc<OutcomeFact>>;
  readonly requests: Collection<Doc<RequestFact>>;
  readonly fires: Collection<Doc<FireFact>>;
  readonly conversions: Collection<Doc<ConversionFact>>;
  readonly campaigns: Collection<Doc<CampaignSendFact>>;
  readonly anomalies: Collection<Doc<{ id: string; series: string; bucket: number; at: Date }>>;
  private readonly volumeDays: Collection<VolumeDayDoc>;
  private readonly rolledDays: Collection<{ _id: number }>;

  constructor(db: Db) {
    this.outcomes = db.collection('outcomes');
    this.requests = db.collection('requests');
    this.fires = db.collection('fires');
    this.conversions = db.collection('conversions');
    this.campaigns = db.collection('campaign_sends');
    this.anomalies = db.collection('anomalies');
    this.volumeDays = db.collection('volume_days');
    this.rolledDays = db.collection('rolled_days');
  }

  async init(): Promise<void> {
    await Promise.all([
      this.outcomes.createIndex({ at: 1 }),
      this.requests.createIndex({ requestedAt: 1 }),
      this.fires.createIndex({ at: 1 }),
      this.conversions.createIndex({ at: 1 }),
      this.campaigns.createIndex({ at: 1 }),
    ]);
  }

  /** Inserts the facts; returns those that were not stored before (in input order). */
  async insertNew<T extends object>(
    coll: Collection<Doc<T>>,
    facts: T[],
    idOf: (f: T) => string,
  ): Promise<T[]> {
    if (facts.length === 0) return [];
    // A batch may carry the same fact twice (a redelivery beside the original): keep the first.
    const unique = new Map<string, T>();
    for (const f of facts) if (!unique.has(idOf(f))) unique.set(idOf(f), f);
    const list = [...unique.entries()];
    try {
      await coll.insertMany(
        list.map(([id, f]) => ({ ...f, _id: id }) as never),
        { ordered: false },
      );
      return list.map(([, f]) => f);
    } catch (err) {
      const lost = duplicateKeyWrites(err);
      if (!lost) throw err;
      const dup = new Set(lost);
      return list.filter((_, i) => !dup.has(i)).map(([, f]) => f);
    }
  }

  /** Folds every stored fact into a fresh state, in the order the aggregates need. */
  async loadInto(state: AnalyticsState): Promise<{ outcomes: number; fires: number; conversions: number }> {
    for await (const d of this.volumeDays.find()) state.fires.addCount(d.key, d.day, d.count, ['day']);
    let fires = 0;
    for await (const f of this.fires.find().sort({ at: 1 })) {
      state.addFire(strip(f));
      fires++;
    }
    for await (const r of this.requests.find().sort({ requestedAt: 1 })) state.addRequest(strip(r));
    let outcomes = 0;
    for await (const o of this.outcomes.find().sort({ at: 1 })) {
      state.addOutcome(strip(o));
      outcomes++;
    }
    let conversions = 0;
    for await (const c of this.conversions.find().sort({ at: 1 })) {
      state.addConversion(strip(c));
      conversions++;
    }
    for await (const c of this.campaigns.find().sort({ at: 1 })) state.addCampaignSend(strip(c));
    return { outcomes, fires, conversions };
  }

  /**
   * Removes the facts before `cutoffMs`. Fires of each whole day before it are first counted into
   * `volume_days` (with a marker, so a crash between the count and the removal never counts a day
   * twice or from a partial set).
   */
  async removeBefore(cutoffMs: number): Promise<{ days: number }> {
    const lastDay = bucketStart(cutoffMs, 'day');
    const oldest = await this.fires
      .find({ at: { $lt: lastDay } })
      .sort({ at: 1 })
      .limit(1)
      .next();
    let days = 0;
    for (let day = oldest ? bucketStart(oldest.at, 'day') : lastDay; day < lastDay; day += DAY) {
      if (!(await this.rolledDays.findOne({ _id: day }))) {
        const counts = new Map<string, number>();
        for await (const f of this.fires.find({ at: { $gte: day, $lt: day + DAY } })) {
          const k = fireKey(f);
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        if (counts.size) {
          await this.volumeDays.bulkWrite(
            [...counts].map(([key, count]) => ({
              updateOne: {
                filter: { _id: `${day}|${key}` },
                update: { $set: { key, day, count } },
                upsert: true,
              },
            })),
          );
        }
        await this.rolledDays.updateOne({ _id: day }, { $set: { _id: day } }, { upsert: true });
      }
      await this.fires.deleteMany({ at: { $gte: day, $lt: day + DAY } });
      days++;
    }
    await Promise.all([
      this.outcomes.deleteMany({ at: { $lt: cutoffMs } }),
      this.requests.deleteMany({ requestedAt: { $lt: cutoffMs } }),
      this.conversions.deleteMany({ at: { $lt: cutoffMs } }),
      this.campaigns.deleteMany({ at: { $lt: cutoffMs } }),
    ]);
    return { days };
  }
}

function strip<T>(doc: Doc<T>): T {
  const { _id: _ignored, ...rest } = doc as Doc<T> & Record<string, unknown>;
  return rest as T;
}
