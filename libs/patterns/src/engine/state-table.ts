import type { EngineEvent } from '../ast';
import { growChunks } from './chunks';
import { Chunk, Expiry, S } from './layout';
import type { RunArena } from './run-arena';

/** A failed condition kept for `explain`. */
export interface FailureRecord {
  eventId: string;
  eventTime: number;
  error?: string;
}

/** A match its cooldown suppressed, kept for `explain`. */
export type Suppressed = { at: number; eventIds: string[] };

/**
 * The states of one trigger (partial matches, cooldown and condition-failure bookkeeping), one per
 * customer that has any, in flat arrays: a state is an index. An object per state would be
 * hundreds of thousands of small long-lived objects for the garbage collector to trace; these
 * arrays hold numbers it does not scan, are allocated once and grow by chunks. Dropped states are reused.
 */
export class StateTable {
  /**
   * `nodes`, `whereNodes`: the trigger's node count and its nodes with a condition; `cooldownMs`
   * and `retentionMs` say how long a firing and the explain bookkeeping are kept.
   */
  constructor(
    private readonly nodes: number,
    private readonly whereNodes: readonly number[],
    private readonly cooldownMs: number,
    private readonly retentionMs: number,
  ) {}

  /** Chunk c holds states [c * Chunk.SIZE, (c + 1) * Chunk.SIZE); chunk 0 starts small and doubles up to Chunk.SIZE. */
  private rows: Float64Array[] = [new Float64Array(0)];
  /**
   * By state, for the few that have them (arrays over all states were a large share of the old
   * generation). Read them directly; write them through setSuppressed / setFailure / recordFailure.
   */
  readonly suppressed = new Map<number, Suppressed>();
  /** The last failed condition by state and node: key state * nodes + node. */
  readonly failures = new Map<number, FailureRecord>();
  private capacity = 0;
  private used = 0;
  /** Dropped states, chained through S.FIRST. */
  private free = -1;

  alloc(row: number): number {
    let s = this.free;
    if (s >= 0) this.free = this.int(s, S.FIRST);
    else {
      if (this.used === this.capacity) this.grow();
      s = this.used++;
    }
    const fields = this.rows[s >>> Chunk.BITS];
    const h = (s & Chunk.MASK) * S.WIDTH;
    fields[h + S.FIRST] = -1;
    fields[h + S.LAST] = -1;
    fields[h + S.RUNS] = 0;
    fields[h + S.ROW] = row;
    fields[h + S.KEPT] = -Infinity;
    fields[h + S.RUN_SEQ] = 0;
    fields[h + S.TIMER_AT] = Infinity;
    fields[h + S.BUCKET] = Expiry.NO_BUCKET;
    this.set(s, S.LAST_FIRED, NaN);
    this.set(s, S.TIMER_SEQ, -1);
    return s;
  }

  /** The state must have no runs left. */
  release(s: number): void {
    this.forget(s);
    this.set(s, S.TIMER_AT, -Infinity);
    this.set(s, S.FIRST, this.free);
    this.free = s;
  }

  get(s: number, field: number): number {
    return this.rows[s >>> Chunk.BITS][(s & Chunk.MASK) * S.WIDTH + field];
  }

  set(s: number, field: number, v: number): void {
    this.rows[s >>> Chunk.BITS][(s & Chunk.MASK) * S.WIDTH + field] = v;
  }

  /** An integer field (| 0 keeps it a small integer, not a boxed double, when passed on). */
  int(s: number, field: number): number {
    return this.rows[s >>> Chunk.BITS][(s & Chunk.MASK) * S.WIDTH + field] | 0;
  }

  lastFiredAt(s: number): number | undefined {
    const t = this.get(s, S.LAST_FIRED);
    return t === t ? t : undefined;
  }

  setLastFired(s: number, at: number | undefined): void {
    this.set(s, S.LAST_FIRED, at ?? NaN);
    if (at !== undefined) this.keep(s, at + Math.max(this.cooldownMs, this.retentionMs));
  }

  setSuppressed(s: number, v: Suppressed | undefined): void {
    if (v === undefined) return;
    this.suppressed.set(s, v);
    this.keep(s, v.at + this.retentionMs);
  }

  /** Keeps the state's bookkeeping at least until `until`. */
  private keep(s: number, until: number): void {
    if (until > this.get(s, S.KEPT)) this.set(s, S.KEPT, until);
  }

  /** Drops the state's bookkeeping: last firing, suppressed match, failed conditions. */
  forget(s: number): void {
    if (this.get(s, S.KEPT) === -Infinity) return;
    this.set(s, S.KEPT, -Infinity);
    this.set(s, S.LAST_FIRED, NaN);
    this.suppressed.delete(s);
    for (const i of this.whereNodes) this.failures.delete(s * this.nodes + i);
  }

  failure(s: number, node: number): FailureRecord | undefined {
    return this.failures.get(s * this.nodes + node);
  }

  setFailure(s: number, node: number, rec: FailureRecord): void {
    this.failures.set(s * this.nodes + node, rec);
    this.keep(s, rec.eventTime + this.retentionMs);
  }

  /** Makes `e` (and `error`, if it threw) the state's last failed condition at `node`. */
  recordFailure(s: number, node: number, e: EngineEvent, error: string | undefined): void {
    const rec = this.failure(s, node);
    if (rec === undefined) {
      this.setFailure(
        s,
        node,
        error === undefined
          ? { eventId: e.id, eventTime: e.time }
          : { eventId: e.id, eventTime: e.time, error },
      );
      return;
    }
    // Updated in place: no new record per failing event.
    rec.eventId = e.id;
    rec.eventTime = e.time;
    if (error !== undefined) rec.error = error;
    else delete rec.error;
    this.keep(s, e.time + this.retentionMs);
  }

  /** The state's failure records by node, in node order. */
  failuresOf(s: number): Array<[number, FailureRecord]> {
    const out: Array<[number, FailureRecord]> = [];
    for (const i of this.whereNodes) {
      const f = this.failures.get(s * this.nodes + i);
      if (f !== undefined) out.push([i, f]);
    }
    return out;
  }

  /** Nothing worth keeping: no partial match, no cooldown bookkeeping, no failure record. */
  isEmpty(s: number): boolean {
    const fields = this.rows[s >>> Chunk.BITS];
    const h = (s & Chunk.MASK) * S.WIDTH;
    return fields[h + S.RUNS] === 0 && fields[h + S.KEPT] === -Infinity;
  }

  /** Adds run r as the newest of a state's runs. */
  appendRun(a: RunArena, s: number, r: number): void {
    const fields = this.rows[s >>> Chunk.BITS];
    const h = (s & Chunk.MASK) * S.WIDTH;
    if (fields[h + S.RUNS] === 0) fields[h + S.FIRST] = r;
    else a.setNext(fields[h + S.LAST] | 0, r);
    a.setNext(r, -1);
    fields[h + S.LAST] = r;
    fields[h + S.RUNS]++;
  }

  private grow(): void {
    this.capacity = growChunks(this.rows, this.capacity, S.WIDTH);
  }
}
