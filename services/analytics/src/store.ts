/**
 * The facts in MongoDB (database `kairos_analytics`) as an append-only log of segments: one document
 * per consumed batch holds the batch's new facts of one kind (a few hundred), so the database does
 * one write per batch rather than one per message. Exactly-once counting rests on two rules:
 * - a fact is new when the aggregates do not know it yet (its key: outcome = action + status, the
 *   others their id); the aggregates hold every stored fact, since they are rebuilt from the log
 *   at start, so a replayed or redelivered message adds nothing;
 * - a batch's segment is written before its facts are folded in and before its messages are acked:
 *   a crash in between redelivers them to a process whose rebuilt aggregates decide again.
 * Retention removes segments whose facts are all older than the configured age, after writing the
 * daily trigger volumes of those days to `volume_days` (absolute counts, so a crash and a re-run
 * write the same values).
 */
import type { Collection, Db } from 'mongodb';
import type { CampaignSendFact, ConversionFact, FireFact, OutcomeFact, RequestFact } from './domain/facts';
import { bucketStart } from './domain/buckets';
import type { AnalyticsState } from './domain/state';

export interface FactKinds {
  fire: FireFact;
  request: RequestFact;
  outcome: OutcomeFact;
  conversion: ConversionFact;
  campaign: CampaignSendFact;
}
export type FactKind = keyof FactKinds;
/** The order a rebuild folds the kinds in: a fire before the requests that name it, sends before conversions. */
export const FACT_KINDS: FactKind[] = ['fire', 'request', 'outcome', 'conversion', 'campaign'];

interface SegmentDoc {
  kind: FactKind;
  /** Earliest and latest fact time in the segment (retention removes a segment by its latest). */
  minAt: number;
  maxAt: number;
  /** The facts as one JSON text: one string field reads and writes far faster than an array of documents. */
  facts: string;
  writtenAt: Date;
}

interface VolumeDayDoc {
  _id: string;
  key: string;
  day: number;
  count: number;
}

const ROLLED_UNTIL = 'rolled_until';

/** A fact's own time. */
export const timeOf = (kind: FactKind, f: FactKinds[FactKind]): number =>
  kind === 'request' ? (f as RequestFact).requestedAt : (f as { at: number }).at;

export class FactStore {
  private readonly segments: Collection<SegmentDoc>;
  private readonly volumeDays: Collection<VolumeDayDoc>;
  private readonly meta: Collection<{ _id: string; value: number }>;
  readonly anomalies: Collection<{ _id: string; series: string; bucket: number; at: Date }>;

  constructor(db: Db) {
    this.segments = db.collection('fact_segments');
    this.volumeDays = db.collection('volume_days');
    this.meta = db.collection('meta');
    this.anomalies = db.collection('anomalies');
  }

  /** Appends one segment of new facts (nothing when the list is empty). */
  async append<K extends FactKind>(kind: K, facts: FactKinds[K][]): Promise<void> {
    if (facts.length === 0) return;
    let minAt = Infinity;
    let maxAt = -Infinity;
    for (const f of facts) {
      const t = timeOf(kind, f);
      if (t < minAt) minAt = t;
      if (t > maxAt) maxAt = t;
    }
    await this.segments.insertOne({
      kind,
      minAt,
      maxAt,
      facts: JSON.stringify(facts),
      writtenAt: new Date(),
    });
  }

  /** Records an anomaly alert once; false when it was recorded before. */
  async recordAnomaly(id: string, series: string, bucket: number, at: Date): Promise<boolean> {
    const r = await this.anomalies.updateOne(
      { _id: id },
      { $setOnInsert: { series, bucket, at } },
      { upsert: true },
    );
    return r.upsertedCount === 1;
  }

  /** Folds every stored fact into a fresh state, kind by kind in write order. */
  async loadInto(state: AnalyticsState): Promise<Record<FactKind, number>> {
    const rolledUntil = (await this.meta.findOne({ _id: ROLLED_UNTIL }))?.value ?? -Infinity;
    for await (const d of this.volumeDays.find()) state.fires.addCount(d.key, d.day, d.count, ['day']);
    const counts = { fire: 0, request: 0, outcome: 0, conversion: 0, campaign: 0 };
    for (const kind of FACT_KINDS) {
      for await (const seg of this.segments.find({ kind }).sort({ _id: 1 })) {
        for (const f of JSON.parse(seg.facts) as unknown[]) {
          if (kind === 'fire' && (f as FireFact).at < rolledUntil) continue; // counted in volume_days
          if (fold(state, kind, f as FactKinds[FactKind])) counts[kind]++;
        }
      }
    }
    return counts;
  }

  /**
   * Erasure: rewrites every segment that holds facts of the customer without them (a segment left
   * empty is deleted). Facts are one JSON text per segment, so each segment is read; erasures are
   * rare and segments are bounded by retention. Returns the facts removed.
   */
  async eraseCustomer(customerId: string): Promise<{ facts: number; segments: number }> {
    let facts = 0;
    let segments = 0;
    // A cheap text test first: only segments whose JSON mentions the id are parsed.
    const needle = JSON.stringify(customerId);
    for await (const seg of this.segments.find({}, { projection: { facts: 1 } })) {
      if (!seg.facts.includes(needle)) continue;
      const all = JSON.parse(seg.facts) as Array<{ customerId: string }>;
      const kept = all.filter((f) => f.customerId !== customerId);
      if (kept.length === all.length) continue;
      facts += all.length - kept.length;
      segments++;
      if (kept.length === 0) await this.segments.deleteOne({ _id: seg._id });
      else await this.segments.updateOne({ _id: seg._id }, { $set: { facts: JSON.stringify(kept) } });
    }
    return { facts, segments };
  }

  /**
   * Writes the daily trigger volumes of every day before `cutoffMs`'s day from the state (whose day
   * counts are exact), then removes the segments whose facts are all older than `cutoffMs`.
   */
  async removeBefore(cutoffMs: number, state: AnalyticsState): Promise<{ segments: number }> {
    const until = bucketStart(cutoffMs, 'day');
    const writes = [];
    for (const [key, s] of state.fires.byKey) {
      for (const [day, count] of s.day.entries()) {
        if (day < until)
          writes.push({
            updateOne: {
              filter: { _id: `${day}|${key}` },
              update: { $set: { key, day, count } },
              upsert: true,
            },
          });
      }
    }
    if (writes.length) await this.volumeDays.bulkWrite(writes, { ordered: false });
    await this.meta.updateOne({ _id: ROLLED_UNTIL }, { $max: { value: until } }, { upsert: true });
    const r = await this.segments.deleteMany({ maxAt: { $lt: cutoffMs } });
    return { segments: r.deletedCount };
  }
}

/** Folds one fact of a kind into the state; false when it was known. */
export function fold<K extends FactKind>(state: AnalyticsState, kind: K, f: FactKinds[K]): boolean {
  switch (kind) {
    case 'fire':
      return state.addFire(f as FireFact);
    case 'request':
      return state.addRequest(f as RequestFact);
    case 'outcome':
      return state.addOutcome(f as OutcomeFact);
    case 'conversion':
      return state.addConversion(f as ConversionFact);
    default:
      return state.addCampaignSend(f as CampaignSendFact);
  }
}
