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
import { Binary, type Collection, type Db } from 'mongodb';
import type { CampaignSendFact, ConversionFact, FireFact, OutcomeFact, RequestFact } from './domain/facts';
import { bucketStart } from './domain/buckets';
import type { AnalyticsState } from './domain/state';
import { factOfBytes, FACT_OF_BYTES, type BytesKind } from './facts-from-messages';

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
  facts?: string;
  /**
   * Or the messages the facts came from, as delivered (fires, requests, outcomes): each a 4-byte
   * big-endian length and the protobuf bytes. Kept without encoding anything again; read back
   * through FACT_OF_BYTES.
   */
  messages?: Binary;
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

  /**
   * Appends one segment of new facts (nothing when the list is empty). With `messages` (the bytes
   * each fact was decoded from, in the same order) of a kind FACT_OF_BYTES reads, the bytes are
   * stored instead of the facts' JSON.
   */
  async append<K extends FactKind>(
    kind: K,
    facts: FactKinds[K][],
    messages?: ReadonlyArray<Uint8Array | undefined>,
  ): Promise<void> {
    if (facts.length === 0) return;
    let minAt = Infinity;
    let maxAt = -Infinity;
    for (const f of facts) {
      const t = timeOf(kind, f);
      if (t < minAt) minAt = t;
      if (t > maxAt) maxAt = t;
    }
    const bytes = kind in FACT_OF_BYTES && messages ? frame(messages) : undefined;
    await this.segments.insertOne({
      kind,
      minAt,
      maxAt,
      ...(bytes ? { messages: new Binary(bytes) } : { facts: JSON.stringify(facts) }),
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
        const facts = seg.messages
          ? unframe(seg.messages.buffer).map((b) => factOfBytes(kind as BytesKind, b))
          : (JSON.parse(seg.facts ?? '[]') as unknown[]);
        for (const f of facts) {
          if (kind === 'fire' && (f as FireFact).at < rolledUntil) continue; // counted in volume_days
          if (fold(state, kind, f as FactKinds[FactKind])) counts[kind]++;
        }
      }
    }
    return counts;
  }

  /**
   * Erasure: rewrites every segment that holds facts of the customer without them (a segment left
   * empty is deleted). Erasures are rare and segments are bounded by retention, so each segment is
   * read; a cheap search for the id's text (in the JSON, or in the protobuf bytes) skips most.
   * Returns the facts removed.
   */
  async eraseCustomer(customerId: string): Promise<{ facts: number; segments: number }> {
    let facts = 0;
    let segments = 0;
    const needle = JSON.stringify(customerId);
    const raw = Buffer.from(customerId, 'utf8');
    for await (const seg of this.segments.find({}, { projection: { kind: 1, facts: 1, messages: 1 } })) {
      let removed = 0;
      let update: Partial<SegmentDoc> | undefined;
      if (seg.messages) {
        const bytes = Buffer.from(seg.messages.buffer);
        if (bytes.indexOf(raw) < 0) continue;
        const all = unframe(bytes);
        const kept = all.filter(
          (b) => (factOfBytes(seg.kind as BytesKind, b) as { customerId: string }).customerId !== customerId,
        );
        removed = all.length - kept.length;
        if (kept.length > 0) update = { messages: new Binary(frame(kept)!) };
      } else {
        if (!seg.facts?.includes(needle)) continue;
        const all = JSON.parse(seg.facts) as Array<{ customerId: string }>;
        const kept = all.filter((f) => f.customerId !== customerId);
        removed = all.length - kept.length;
        if (kept.length > 0) update = { facts: JSON.stringify(kept) };
      }
      if (removed === 0) continue;
      facts += removed;
      segments++;
      if (update) await this.segments.updateOne({ _id: seg._id }, { $set: update });
      else await this.segments.deleteOne({ _id: seg._id });
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

/** Messages as one buffer: each a 4-byte big-endian length and its bytes; undefined if one is missing. */
export function frame(messages: ReadonlyArray<Uint8Array | undefined>): Buffer | undefined {
  let size = 0;
  for (const m of messages) {
    if (!m) return undefined;
    size += 4 + m.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const m of messages as Uint8Array[]) {
    out.writeUInt32BE(m.length, at);
    out.set(m, at + 4);
    at += 4 + m.length;
  }
  return out;
}

/** The messages of a `frame` buffer (views into it). */
export function unframe(buf: Uint8Array): Uint8Array[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < buf.length;) {
    const n = view.getUint32(at);
    out.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
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
