/**
 * PatternEngine: per-customer complex-event processing over event time (semantics in
 * docs/definitions.md, "Pattern semantics").
 *
 * Usage:
 *   const engine = new PatternEngine(triggers, { allowedLatenessMs: 5_000, maxPartialMatchesPerTrigger: 32 });
 *   engine.process(event)      -> FiredTrigger[]   (events of one partition, in arrival order)
 *   engine.advanceTo(wm)       -> FiredTrigger[]   (idle timer: e.g. wallClock - allowedLateness)
 *   engine.setTriggers(specs)                      (hot reload: changed version resets partial matches)
 *   engine.explain(name, customerId)               (why it fired / did not fire)
 *   engine.snapshot() / engine.restore(snapshot)   (JSON-serializable checkpoint)
 *   engine.stateBytes(customerId?) / engine.customersWithState()
 *
 * Events are processed in event-time order: an event is buffered until the watermark
 * (max(event time seen) - allowedLateness, or advanceTo) reaches its time, then released in
 * (time, arrival) order. Events older than the watermark are late: dropped and counted.
 * With allowedLatenessMs = 0 an in-order event is processed immediately.
 */
import { hash as oneShotHash } from 'node:crypto';
import type { Condition, ConditionContext, EngineEvent, TriggerSpec } from './ast';
import {
  compileTrigger,
  K_ABSENT,
  K_ALL,
  K_ANY,
  K_COUNT,
  K_EVENT,
  K_SEQUENCE,
  type CompiledNode,
  type CompiledTrigger,
} from './compile';
import { MinHeap } from './heap';
import type {
  BoundEvent,
  ConditionFailure,
  EngineStats,
  Explanation,
  FiredTrigger,
  MatchedStep,
  PartialMatchExplanation,
  WaitingStep,
} from './types';

export interface PatternEngineOptions {
  /** How far behind the newest event time an event may arrive and still be processed. Default 0. */
  allowedLatenessMs?: number;
  /** Cap of partial matches per trigger per customer; the oldest is evicted beyond it. Default 32. */
  maxPartialMatchesPerTrigger?: number;
}

const PENDING = 0;
const DONE = 1;
const DEAD = 2;
/** Per node in Run.n: [status, start (first event time, NaN if none), aux (sequence step / any winner), doneAt]. */
const STRIDE = 4;
/** Width of an expiry bucket: partial matches are dropped once the watermark passes their bucket. */
const EXPIRY_BUCKET_MS = 1000;
/** TriggerState.expiryBucket when the state is in no bucket. */
const NO_BUCKET = -(2 ** 30);
const RUN_POOL_SIZE = 1024;
/** Shared by runs of triggers without aliases: never written to. */
const NO_BINDINGS: Record<string, BoundEvent> = Object.freeze({}) as Record<string, BoundEvent>;
const EMPTY_PROFILE: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Run.n past the node entries: [seq, deadline, deadlineNode, expiry]. */
const META = 4;

/**
 * One partial match. Its numbers live in one double array (node entries, then META): number fields
 * of objects are boxed heap numbers, and partial matches are the engine's bulk of long-lived objects.
 */
class Run {
  constructor(
    /** Node entries (STRIDE per node), then seq, deadline, deadlineNode, expiry. */
    readonly n: number[],
    /** event node: its event; count node: the events in its window. */
    readonly ev: Array<BoundEvent | BoundEvent[] | null>,
    /** Index of the META entries in n (nodes * STRIDE). */
    readonly m: number,
  ) {}

  get seq(): number {
    return this.n[this.m];
  }
  set seq(v: number) {
    this.n[this.m] = v;
  }
  /** Next absence deadline in this run (Infinity if none). */
  get deadline(): number {
    return this.n[this.m + 1];
  }
  set deadline(v: number) {
    this.n[this.m + 1] = v;
  }
  /** The sequence node waiting on `deadline` (-1 if none). */
  get deadlineNode(): number {
    return this.n[this.m + 2];
  }
  set deadlineNode(v: number) {
    this.n[this.m + 2] = v;
  }
  /** After this time the run can no longer complete (a window ended); Infinity if unbounded. */
  get expiry(): number {
    return this.n[this.m + 3];
  }
  set expiry(v: number) {
    this.n[this.m + 3] = v;
  }
}

interface FailureRecord {
  eventId: string;
  eventTime: number;
  error?: string;
}

interface TriggerState {
  customerId: string;
  runs: Run[];
  runSeq: number;
  lastFiredAt: number | undefined;
  lastSuppressed: { at: number; eventIds: string[] } | undefined;
  failures: Record<number, FailureRecord> | undefined;
  /** Time of this state's entry in the timer heap (Infinity: none). */
  timerAt: number;
  /** Sequence number of that entry: ties at the same time fire in entry order, also after restore. */
  timerSeq: number;
  /** Expiry bucket this state is queued in (NO_BUCKET: none); at most its earliest run expiry's. */
  expiryBucket: number;
}

/** Everything the engine keeps for one customer: one map lookup per event instead of one per trigger. */
interface CustomerRecord {
  /** Trigger states indexed by Slot.index (undefined: none). */
  states: Array<TriggerState | undefined>;
  /** Defined entries of `states`; the record is removed when it drops to 0. */
  live: number;
}

interface Slot {
  compiled: CompiledTrigger;
  /** Position in PatternEngine.slots and in CustomerRecord.states. */
  index: number;
  scratch: Run | null;
  /** Discarded runs kept for reuse: fewer allocations of long-lived objects on the hot path. */
  pool: Run[];
  active: boolean;
}

/** An absence deadline of one trigger state: fires when the watermark reaches `at`. */
interface Timer {
  at: number;
  seq: number;
  slot: Slot;
  customerId: string;
  state: TriggerState;
}

interface Buffered {
  event: EngineEvent;
  seq: number;
}

/** JSON-serializable checkpoint of an engine. */
export interface EngineSnapshot {
  format: 'kairos.patterns.v1';
  watermark: number | null;
  arrivalSeq: number;
  /** Next timer entry sequence number (absent in snapshots of earlier builds). */
  timerSeq?: number;
  buffer: Buffered[];
  stats: EngineStats;
  triggers: Array<{ name: string; version: number; states: Array<[string, SerializedState]> }>;
}

/** Bindings are not stored: they are rebuilt from the completed aliased steps. */
interface SerializedRun {
  seq: number;
  n: Array<number | null>;
  ev: Array<BoundEvent | BoundEvent[] | null>;
}

interface SerializedState {
  runs?: SerializedRun[];
  runSeq?: number;
  lastFiredAt?: number;
  lastSuppressed?: { at: number; eventIds: string[] };
  failures?: Record<string, FailureRecord>;
  /** The state's live timer entry [at, seq] (absent in snapshots of earlier builds: recomputed). */
  timer?: [number, number];
}

/** Nothing worth keeping: no partial match, no cooldown bookkeeping, no failure record. */
function isEmpty(st: TriggerState): boolean {
  return (
    st.runs.length === 0 &&
    st.failures === undefined &&
    st.lastFiredAt === undefined &&
    st.lastSuppressed === undefined
  );
}

function strip(e: EngineEvent): BoundEvent {
  return { id: e.id, type: e.type, customerId: e.customerId, time: e.time, properties: e.properties };
}

/** Largest epoch ms whose ISO string still has a 4-digit year (9999-12-31T23:59:59.999Z). */
const ISO_FAST_MAX = 253_402_300_800_000;

/** "00".."99" and "000".."999": formatting many times per firing without building digit strings. */
const DIGITS2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** The date part (`YYYY-MM-DDT`) of the last day formatted: times in one firing share their day. */
let isoDay = NaN;
let isoDayPrefix = '';

/**
 * `new Date(t).toISOString()` (or String(t) for an invalid date), computed arithmetically for integer
 * times in [1970, 10000): explanations format many times per firing and Date objects are costly.
 */
export function iso(t: number): string {
  if (!(t >= 0 && t < ISO_FAST_MAX && t % 1 === 0)) {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
  }
  const days = Math.floor(t / 86_400_000);
  let rest = t - days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const s = Math.floor(rest / 1000);
  const ms = rest - s * 1000;
  if (days !== isoDay) {
    isoDay = days;
    isoDayPrefix = isoDate(days);
  }
  return `${isoDayPrefix}${DIGITS2[h]}:${DIGITS2[mi]}:${DIGITS2[s]}.${DIGITS3[ms]}Z`;
}

/** `YYYY-MM-DDT` of a day number (days since 1970-01-01, >= 0): civil-from-days (H. Hinnant). */
function isoDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const yyyy = y < 1000 ? `000${y}`.slice(-4) : `${y}`;
  return `${yyyy}-${DIGITS2[m]}-${DIGITS2[d]}T`;
}

export function firedTriggerId(
  trigger: string,
  version: number,
  customerId: string,
  matchedEventIds: readonly string[],
  deadline: number | undefined,
): string {
  return oneShotHash(
    'sha256',
    JSON.stringify([trigger, version, customerId, matchedEventIds, deadline ?? null]),
    'hex',
  ).slice(0, 32);
}

function signature(t: CompiledTrigger): string {
  return t.nodes.map((n) => `${n.kind}:${n.children.length}`).join(',');
}

export class PatternEngine {
  private slots: Slot[] = [];
  private customers = new Map<string, CustomerRecord>();
  private byType = new Map<string, Slot[]>();
  private watermark = -Infinity;
  private arrivalSeq = 0;
  private timerSeq = 0;
  private readonly allowedLatenessMs: number;
  private readonly maxRuns: number;
  private buffer = new MinHeap<Buffered>(
    (a, b) => a.event.time < b.event.time || (a.event.time === b.event.time && a.seq < b.seq),
  );
  private timers = new MinHeap<Timer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  /**
   * States with partial matches that can expire, by expiry bucket (index = floor(expiry / width)):
   * once the watermark passes a bucket its runs are dropped, so idle customers release their state.
   */
  private expiryBuckets = new Map<number, { slots: Slot[]; states: TriggerState[] }>();
  private expiryKeys = new MinHeap<number>((a, b) => a < b);
  /** Reused condition context: conditions must not keep a reference to it. */
  private readonly ctx: {
    event: EngineEvent;
    profile: Record<string, unknown>;
    bindings: Record<string, EngineEvent>;
  };
  private out: FiredTrigger[] = [];
  /** The current event as stored in partial matches, shared by every trigger that binds it. */
  private bound: BoundEvent | null = null;
  private curSlot: Slot | null = null;
  private curCustomer = '';
  /** The record of curCustomer while an event is handled (a dropped record reads as all-undefined). */
  private curRec: CustomerRecord | undefined = undefined;
  readonly stats: EngineStats = {
    eventsProcessed: 0,
    lateEventsDropped: 0,
    fired: 0,
    suppressedByCooldown: 0,
    partialMatchesEvicted: 0,
    conditionErrors: 0,
  };

  constructor(triggers: TriggerSpec[], options: PatternEngineOptions = {}) {
    this.allowedLatenessMs = options.allowedLatenessMs ?? 0;
    this.maxRuns = options.maxPartialMatchesPerTrigger ?? 32;
    if (!(this.allowedLatenessMs >= 0)) throw new Error('allowedLatenessMs must be >= 0');
    if (!(this.maxRuns >= 1)) throw new Error('maxPartialMatchesPerTrigger must be >= 1');
    this.ctx = { event: undefined as unknown as EngineEvent, profile: EMPTY_PROFILE, bindings: {} };
    this.setTriggers(triggers);
  }

  /** Current watermark: events with an earlier time are late. -Infinity before the first event. */
  get currentWatermark(): number {
    return this.watermark;
  }

  /** Events received but not yet released by the watermark. */
  get bufferedEvents(): number {
    return this.buffer.size;
  }

  // ---------------------------------------------------------------- input

  process(event: EngineEvent): FiredTrigger[] {
    const out: FiredTrigger[] = (this.out = []);
    if (!(event.time >= this.watermark)) {
      this.stats.lateEventsDropped++;
      return out;
    }
    const w = Math.max(this.watermark, event.time - this.allowedLatenessMs);
    if (this.buffer.size === 0 && event.time <= w) {
      this.arrivalSeq++;
      this.watermark = w;
      this.handle(event);
      this.fireTimers(w);
    } else {
      this.buffer.push({ event, seq: this.arrivalSeq++ });
      this.advance(w);
    }
    this.expire(this.watermark, false);
    return out;
  }

  /** Advances the watermark (never backwards): releases buffered events and fires due absences. */
  advanceTo(watermarkMs: number): FiredTrigger[] {
    const out: FiredTrigger[] = (this.out = []);
    if (watermarkMs > this.watermark) {
      this.advance(watermarkMs);
      this.expire(this.watermark, true);
    }
    return out;
  }

  private advance(w: number): void {
    this.watermark = w;
    for (let top = this.buffer.peek(); top !== undefined && top.event.time <= w; top = this.buffer.peek()) {
      this.buffer.pop();
      this.handle(top.event);
    }
    this.fireTimers(w);
  }

  private handle(e: EngineEvent): void {
    this.stats.eventsProcessed++;
    this.bound = null;
    const slots = this.byType.get(e.type);
    if (slots === undefined) return;
    this.curCustomer = e.customerId;
    this.curRec = this.customers.get(e.customerId);
    for (let i = 0; i < slots.length; i++) this.processSlot(slots[i], e);
    this.curRec = undefined;
  }

  private fireTimers(w: number): void {
    for (let top = this.timers.peek(); top !== undefined; top = this.timers.peek()) {
      if (top.at > w) break;
      this.timers.pop();
      const st = top.state;
      if (!top.slot.active || st.timerAt !== top.at || st.timerSeq !== top.seq) continue;
      st.timerAt = Infinity;
      this.curSlot = top.slot;
      this.curCustomer = top.customerId;
      this.advanceState(top.slot, st, w);
      if (isEmpty(st)) this.dropState(top.slot, top.customerId, st);
      else this.schedule(top.slot, top.customerId, st);
    }
  }

  // ---------------------------------------------------------------- per trigger and customer

  private stateFor(slot: Slot, customerId: string): TriggerState {
    let rec = customerId === this.curCustomer ? this.curRec : undefined;
    if (rec === undefined) rec = this.customers.get(customerId);
    if (rec === undefined) {
      rec = { states: new Array<TriggerState | undefined>(this.slots.length), live: 0 };
      this.customers.set(customerId, rec);
    }
    if (customerId === this.curCustomer) this.curRec = rec;
    let st = rec.states[slot.index];
    if (st === undefined) {
      st = {
        customerId,
        runs: [],
        runSeq: 0,
        lastFiredAt: undefined,
        lastSuppressed: undefined,
        failures: undefined,
        timerAt: Infinity,
        timerSeq: -1,
        expiryBucket: NO_BUCKET,
      };
      rec.states[slot.index] = st;
      rec.live++;
    }
    return st;
  }

  private dropState(slot: Slot, customerId: string, st: TriggerState): void {
    // Invalidate its timer entries; only delete the map entry if it still is this state.
    st.timerAt = -Infinity;
    const rec =
      customerId === this.curCustomer && this.curRec !== undefined
        ? this.curRec
        : this.customers.get(customerId);
    if (rec === undefined || rec.states[slot.index] !== st) return;
    rec.states[slot.index] = undefined;
    if (--rec.live === 0) {
      this.customers.delete(customerId);
      if (rec === this.curRec) this.curRec = undefined;
    }
  }

  private processSlot(slot: Slot, e: EngineEvent): void {
    const t = slot.compiled;
    const cid = e.customerId;
    this.curSlot = slot;
    const rec = this.curRec;
    const st = rec === undefined ? undefined : rec.states[slot.index];
    if (st !== undefined && st.runs.length > 0) {
      if (t.hasTimers) this.advanceState(slot, st, e.time);
      let removed = false;
      const runs = st.runs;
      for (let i = 0; i < runs.length; i++) {
        const run = runs[i];
        const progressed = this.offer(t, run, 0, e);
        const s = run.n[0];
        if (s === DONE) {
          this.complete(slot, cid, st, run, e.time, e.id, undefined);
          return;
        }
        if (s === DEAD) removed = true;
        else if (progressed && t.hasTimers) this.computeTimers(t, run);
      }
      if (removed) this.removeRuns(slot, st, -Infinity);
      if (t.hasTimers) this.schedule(slot, cid, st);
      if (t.singleRun && st.runs.length > 0) return;
    }
    let run = slot.scratch;
    if (run === null) run = slot.scratch = slot.pool.pop() ?? this.newRun(t);
    if (!t.startTypes.has(e.type) || !this.offer(t, run, 0, e)) {
      if (st !== undefined && isEmpty(st)) this.dropState(slot, cid, st);
      return;
    }
    slot.scratch = null;
    const state = st ?? this.stateFor(slot, cid);
    if (run.n[0] === DONE) {
      this.complete(slot, cid, state, run, e.time, e.id, undefined);
      this.resetRun(t, run);
      slot.scratch = run;
      return;
    }
    run.seq = state.runSeq++;
    // A literal holds exactly one element; push onto [] would reserve 17 (most states keep one run).
    if (state.runs.length === 0) state.runs = [run];
    else state.runs.push(run);
    if (state.runs.length > this.maxRuns) {
      this.release(slot, state.runs.shift() as Run);
      this.stats.partialMatchesEvicted++;
    }
    if (t.hasTimers) {
      this.computeTimers(t, run);
      this.schedule(slot, cid, state);
    }
  }

  /** Applies absence deadlines up to `t` in time order, then drops partial matches whose window ended before `t`. */
  private advanceState(slot: Slot, st: TriggerState, t: number): void {
    const trig = slot.compiled;
    for (;;) {
      let best: Run | null = null;
      for (const r of st.runs) if (r.deadline <= t && (best === null || r.deadline < best.deadline)) best = r;
      if (best === null) break;
      const deadline = best.deadline;
      this.applyDeadline(trig, best);
      const s = best.n[0];
      if (s === DONE) {
        this.complete(slot, this.curCustomer, st, best, deadline, null, deadline);
        return;
      }
      if (s === DEAD) this.removeRuns(slot, st, -Infinity);
      else this.computeTimers(trig, best);
    }
    let expired = false;
    for (const r of st.runs) if (r.expiry < t) expired = true;
    if (expired) this.removeRuns(slot, st, t);
  }

  /** Keeps one heap entry at the state's earliest absence deadline (stale entries are skipped when popped). */
  private schedule(slot: Slot, customerId: string, st: TriggerState): void {
    let at = Infinity;
    let expiry = Infinity;
    for (const r of st.runs) {
      if (r.deadline < at) at = r.deadline;
      if (r.expiry < expiry) expiry = r.expiry;
    }
    if (expiry !== Infinity) {
      const k = Math.floor(expiry / EXPIRY_BUCKET_MS);
      if (st.expiryBucket === NO_BUCKET || k < st.expiryBucket) {
        st.expiryBucket = k;
        let bucket = this.expiryBuckets.get(k);
        if (bucket === undefined) {
          this.expiryBuckets.set(k, (bucket = { slots: [], states: [] }));
          this.expiryKeys.push(k);
        }
        bucket.slots.push(slot);
        bucket.states.push(st);
      }
    }
    if (at < st.timerAt) {
      st.timerAt = at;
      st.timerSeq = this.timerSeq++;
      this.timers.push({ at, seq: st.timerSeq, slot, customerId, state: st });
    }
  }

  /**
   * Drops partial matches whose window ended before the watermark, bucket by bucket (states touched by
   * events or deadlines are cleaned on the spot too; this reaches the idle ones). process() handles
   * buckets the watermark has passed; advanceTo() (the idle timer) also the current one, so an idle
   * customer's state is gone as soon as its windows end. Which runs are dropped depends only on the
   * calls made, so a restored engine drops the same ones.
   */
  private expire(w: number, current: boolean): void {
    let requeue: Array<{ slot: Slot; st: TriggerState }> | null = null;
    for (let k = this.expiryKeys.peek(); k !== undefined; k = this.expiryKeys.peek()) {
      const end = (k + 1) * EXPIRY_BUCKET_MS;
      const full = end <= w;
      if (!full && !(current && k * EXPIRY_BUCKET_MS < w)) break;
      this.expiryKeys.pop();
      const bucket = this.expiryBuckets.get(k) as { slots: Slot[]; states: TriggerState[] };
      this.expiryBuckets.delete(k);
      for (let i = 0; i < bucket.states.length; i++) {
        const st = bucket.states[i];
        const slot = bucket.slots[i];
        // Skip entries of dropped states and stale entries (the state was queued again earlier).
        if (st.expiryBucket !== k || st.timerAt === -Infinity || !slot.active) continue;
        st.expiryBucket = NO_BUCKET;
        this.removeRuns(slot, st, full ? end : w);
        if (isEmpty(st)) this.dropState(slot, st.customerId, st);
        else if (full) this.schedule(slot, st.customerId, st);
        else (requeue ??= []).push({ slot, st });
      }
    }
    // Runs of the current bucket not expired yet: queued again after the loop (it would revisit them).
    if (requeue !== null) for (const { slot, st } of requeue) this.schedule(slot, st.customerId, st);
  }

  private complete(
    slot: Slot,
    customerId: string,
    st: TriggerState,
    run: Run,
    at: number,
    completingEventId: string | null,
    deadline: number | undefined,
  ): void {
    const spec = slot.compiled.spec;
    const matched: MatchedStep[] = [];
    this.collect(slot.compiled, run, 0, matched, true);
    for (const r of st.runs) this.release(slot, r);
    st.runs.length = 0;
    const eventIds: string[] = [];
    for (const m of matched) if (m.event !== undefined) eventIds.push(m.event.id);
    if (st.lastFiredAt !== undefined && at < st.lastFiredAt + spec.cooldownMs) {
      st.lastSuppressed = { at, eventIds };
      this.stats.suppressedByCooldown++;
      return;
    }
    st.lastFiredAt = at;
    const bindings: Record<string, BoundEvent> = {};
    for (const m of matched) if (m.alias !== undefined && m.event !== undefined) bindings[m.alias] = m.event;
    this.stats.fired++;
    const fired: FiredTrigger = {
      id: firedTriggerId(spec.name, spec.version, customerId, eventIds, deadline),
      trigger: spec.name,
      version: spec.version,
      customerId,
      firedAt: at,
      priority: spec.priority,
      matched,
      bindings,
      explanation: describeFire(spec, customerId, at, matched, deadline),
      completingEventId,
    };
    if (spec.category !== undefined) fired.category = spec.category;
    if (spec.description !== undefined) fired.description = spec.description;
    if (deadline !== undefined) fired.completedByDeadline = deadline;
    this.out.push(fired);
  }

  // ---------------------------------------------------------------- run mechanics

  /** Removes (in place) runs that are not pending or whose expiry is before `t`, recycling them. */
  private removeRuns(slot: Slot, st: TriggerState, t: number): void {
    const runs = st.runs;
    let k = 0;
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i];
      if (r.n[0] === PENDING && !(r.expiry < t)) runs[k++] = r;
      else this.release(slot, r);
    }
    runs.length = k;
  }

  private release(slot: Slot, run: Run): void {
    if (slot.pool.length < RUN_POOL_SIZE) {
      this.resetRun(slot.compiled, run);
      slot.pool.push(run);
    }
  }

  private newRun(t: CompiledTrigger): Run {
    const m = t.nodes.length * STRIDE;
    const n = new Array<number>(m + META);
    const ev = new Array<BoundEvent | BoundEvent[] | null>(t.nodes.length);
    const run = new Run(n, ev, m);
    this.resetRun(t, run);
    return run;
  }

  private resetRun(t: CompiledTrigger, run: Run): void {
    const n = run.n;
    for (let i = 0; i < run.m; i += STRIDE) {
      n[i] = PENDING;
      n[i + 1] = NaN;
      n[i + 2] = 0;
      n[i + 3] = NaN;
    }
    run.ev.fill(null);
    run.seq = 0;
    run.deadline = Infinity;
    run.deadlineNode = -1;
    run.expiry = Infinity;
  }

  private check(node: CompiledNode, where: Condition, t: CompiledTrigger, run: Run, e: EngineEvent): boolean {
    const ctx = this.ctx;
    ctx.event = e;
    ctx.profile = e.profile ?? EMPTY_PROFILE;
    ctx.bindings = t.aliasNodes.length === 0 ? NO_BINDINGS : this.bindingsOf(t, run);
    let ok = false;
    let error: string | undefined;
    try {
      ok = where.evaluate(ctx as ConditionContext) === true;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      this.stats.conditionErrors++;
    }
    if (!ok) this.recordFailure(node, e, error);
    return ok;
  }

  /**
   * The aliases bound so far in a run, built when a condition needs them (rather than kept per run,
   * so long-lived partial matches hold fewer objects): a completed aliased event step binds its
   * event, a completed count its last event.
   */
  private bindingsOf(t: CompiledTrigger, run: Run): Record<string, BoundEvent> {
    const bindings: Record<string, BoundEvent> = {};
    for (const i of t.aliasNodes) {
      if (run.n[i * STRIDE] !== DONE) continue;
      const bound = run.ev[i] as BoundEvent | BoundEvent[];
      bindings[t.nodes[i].alias as string] = Array.isArray(bound) ? bound[bound.length - 1] : bound;
    }
    return bindings;
  }

  private recordFailure(node: CompiledNode, e: EngineEvent, error: string | undefined): void {
    const st = this.stateFor(this.curSlot as Slot, this.curCustomer);
    const failures = (st.failures ??= {});
    const rec = failures[node.index];
    if (rec === undefined) {
      failures[node.index] =
        error === undefined
          ? { eventId: e.id, eventTime: e.time }
          : { eventId: e.id, eventTime: e.time, error };
    } else {
      rec.eventId = e.id;
      rec.eventTime = e.time;
      if (error !== undefined) rec.error = error;
      else delete rec.error;
    }
  }

  /** Offers an event to node i of a run; returns whether the node made progress. */
  private offer(t: CompiledTrigger, run: Run, i: number, e: EngineEvent): boolean {
    const n = run.n;
    const b = i * STRIDE;
    if (n[b] !== PENDING) return false;
    const node = t.nodes[i];
    switch (node.kind) {
      case K_EVENT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, run, e)) return false;
        const s = this.bound ?? (this.bound = strip(e));
        run.ev[i] = s;
        n[b] = DONE;
        n[b + 1] = e.time;
        n[b + 3] = e.time;
        return true;
      }
      case K_COUNT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, run, e)) return false;
        const s = this.bound ?? (this.bound = strip(e));
        let list = run.ev[i] as BoundEvent[] | null;
        if (list === null) list = run.ev[i] = [s];
        else {
          const from = e.time - node.withinMs;
          let drop = 0;
          while (drop < list.length && list[drop].time < from) drop++;
          if (drop > 0) list.splice(0, drop);
          list.push(s);
        }
        n[b + 1] = list[0].time;
        if (list.length >= node.atLeast) {
          n[b] = DONE;
          n[b + 3] = e.time;
        }
        return true;
      }
      case K_SEQUENCE: {
        const start = n[b + 1];
        if (start === start && e.time > start + node.withinMs) {
          n[b] = DEAD;
          return false;
        }
        const cur = n[b + 2];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          if (
            e.type === child.type &&
            (child.where === undefined || this.check(child, child.where, t, run, e))
          ) {
            const deadline = n[node.children[cur - 1] * STRIDE + 3] + child.forMs;
            if (e.time < deadline) n[b] = DEAD;
          }
          return false;
        }
        const progressed = this.offer(t, run, c, e);
        const cs = n[c * STRIDE];
        if (cs === DEAD) {
          n[b] = DEAD;
          return false;
        }
        if (!progressed) return false;
        if (start !== start) n[b + 1] = e.time;
        if (cs === DONE) {
          n[b + 2] = cur + 1;
          if (cur + 1 === node.children.length) {
            n[b] = DONE;
            n[b + 3] = n[c * STRIDE + 3];
          }
        }
        return true;
      }
      case K_ALL: {
        const start = n[b + 1];
        if (start === start && e.time > start + node.withinMs) {
          n[b] = DEAD;
          return false;
        }
        let progressed = false;
        let allDone = true;
        const children = node.children;
        for (let k = 0; k < children.length; k++) {
          const c = children[k];
          if (n[c * STRIDE] === PENDING && this.offer(t, run, c, e)) progressed = true;
          const cs = n[c * STRIDE];
          if (cs === DEAD) {
            n[b] = DEAD;
            return false;
          }
          if (cs !== DONE) allDone = false;
        }
        if (!progressed) return false;
        if (start !== start) n[b + 1] = e.time;
        if (allDone) {
          n[b] = DONE;
          n[b + 3] = e.time;
        }
        return true;
      }
      case K_ANY: {
        let progressed = false;
        let allDead = true;
        const children = node.children;
        for (let k = 0; k < children.length; k++) {
          const c = children[k];
          if (n[c * STRIDE] === PENDING && this.offer(t, run, c, e)) progressed = true;
          const cs = n[c * STRIDE];
          if (cs === DONE) {
            if (n[b + 1] !== n[b + 1]) n[b + 1] = e.time;
            n[b] = DONE;
            n[b + 2] = k;
            n[b + 3] = n[c * STRIDE + 3];
            return true;
          }
          if (cs !== DEAD) allDead = false;
        }
        if (allDead) {
          n[b] = DEAD;
          return false;
        }
        if (progressed && n[b + 1] !== n[b + 1]) n[b + 1] = e.time;
        return progressed;
      }
      default:
        return false;
    }
  }

  /** Marks node i dead and propagates: sequence/all die with a child; any dies when all its children are dead. */
  private kill(t: CompiledTrigger, run: Run, i: number): void {
    const n = run.n;
    n[i * STRIDE] = DEAD;
    for (let p = t.nodes[i].parent; p >= 0 && n[p * STRIDE] === PENDING; p = t.nodes[p].parent) {
      const pn = t.nodes[p];
      if (pn.kind === K_ANY && pn.children.some((c) => n[c * STRIDE] !== DEAD)) return;
      n[p * STRIDE] = DEAD;
    }
  }

  /** Completes the absence the run's earliest deadline belongs to (or kills expired windows on its path). */
  private applyDeadline(t: CompiledTrigger, run: Run): void {
    const n = run.n;
    const target = run.deadlineNode;
    const d = run.deadline;
    for (let a = target; a >= 0; a = t.nodes[a].parent) {
      const node = t.nodes[a];
      const start = n[a * STRIDE + 1];
      if (
        n[a * STRIDE] === PENDING &&
        (node.kind === K_SEQUENCE || node.kind === K_ALL) &&
        d > start + node.withinMs
      )
        this.kill(t, run, a);
    }
    for (let a = target; a >= 0; a = t.nodes[a].parent) if (n[a * STRIDE] !== PENDING) return;
    const seq = t.nodes[target];
    const absent = seq.children[n[target * STRIDE + 2]];
    const ab = absent * STRIDE;
    n[ab] = DONE;
    n[ab + 1] = d - t.nodes[absent].forMs;
    n[ab + 3] = d;
    // propagate completion upwards
    let child = absent;
    for (let p = target; p >= 0; child = p, p = t.nodes[p].parent) {
      const pn = t.nodes[p];
      const pb = p * STRIDE;
      if (pn.kind === K_SEQUENCE) {
        const cur = n[pb + 2] + 1;
        n[pb + 2] = cur;
        if (cur < pn.children.length) return;
      } else if (pn.kind === K_ALL) {
        if (pn.children.some((c) => n[c * STRIDE] !== DONE)) return;
      } else if (pn.kind === K_ANY) {
        n[pb + 2] = t.nodes[child].position;
      }
      n[pb] = DONE;
      n[pb + 3] = d;
    }
  }

  /** Recomputes the run's next absence deadline and its expiry (the time after which it cannot complete). */
  private computeTimers(t: CompiledTrigger, run: Run): void {
    run.deadline = Infinity;
    run.deadlineNode = -1;
    run.expiry = this.expiryOf(t, run, 0);
  }

  private expiryOf(t: CompiledTrigger, run: Run, i: number): number {
    const n = run.n;
    const b = i * STRIDE;
    const s = n[b];
    if (s === DONE) return Infinity;
    if (s === DEAD) return -Infinity;
    const node = t.nodes[i];
    const start = n[b + 1];
    const own = start === start ? start + node.withinMs : Infinity;
    switch (node.kind) {
      case K_SEQUENCE: {
        const cur = n[b + 2];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          const d = n[node.children[cur - 1] * STRIDE + 3] + child.forMs;
          if (d < run.deadline) {
            run.deadline = d;
            run.deadlineNode = i;
          }
          return own;
        }
        return Math.min(own, this.expiryOf(t, run, c));
      }
      case K_ALL: {
        let e = own;
        for (const c of node.children) e = Math.min(e, this.expiryOf(t, run, c));
        return e;
      }
      case K_ANY: {
        let e = -Infinity;
        for (const c of node.children) e = Math.max(e, this.expiryOf(t, run, c));
        return e;
      }
      default:
        return Infinity;
    }
  }

  /** Collects matched steps in step order; `completed` restricts `any` to its winning branch. */
  private collect(t: CompiledTrigger, run: Run, i: number, out: MatchedStep[], completed: boolean): void {
    const node = t.nodes[i];
    const n = run.n;
    const b = i * STRIDE;
    switch (node.kind) {
      case K_EVENT: {
        const e = run.ev[i] as BoundEvent | null;
        if (e === null) return;
        const m: MatchedStep = { path: node.path, kind: 'event', type: node.type, event: e, time: e.time };
        if (node.alias !== undefined) m.alias = node.alias;
        out.push(m);
        return;
      }
      case K_COUNT: {
        const list = run.ev[i] as BoundEvent[] | null;
        if (list === null) return;
        for (const e of list) {
          const m: MatchedStep = { path: node.path, kind: 'count', type: node.type, event: e, time: e.time };
          if (node.alias !== undefined && e === list[list.length - 1] && n[b] === DONE) m.alias = node.alias;
          out.push(m);
        }
        return;
      }
      case K_ABSENT:
        if (n[b] === DONE)
          out.push({
            path: node.path,
            kind: 'absent',
            type: node.type,
            time: n[b + 3],
            absentFrom: n[b + 1],
            absentUntil: n[b + 3],
          });
        return;
      case K_ANY:
        if (completed && n[b] === DONE) {
          this.collect(t, run, node.children[n[b + 2]], out, completed);
          return;
        }
        for (const c of node.children) if (n[c * STRIDE] !== DEAD) this.collect(t, run, c, out, completed);
        return;
      default:
        for (const c of node.children) this.collect(t, run, c, out, completed);
    }
  }

  private waiting(t: CompiledTrigger, run: Run, i: number, out: WaitingStep[]): void {
    const node = t.nodes[i];
    const n = run.n;
    const b = i * STRIDE;
    if (n[b] !== PENDING) return;
    switch (node.kind) {
      case K_EVENT: {
        const w: WaitingStep = { path: node.path, kind: 'event', type: node.type };
        if (node.where !== undefined) w.condition = node.where.source;
        out.push(w);
        return;
      }
      case K_COUNT: {
        const list = run.ev[i] as BoundEvent[] | null;
        const w: WaitingStep = {
          path: node.path,
          kind: 'count',
          type: node.type,
          counted: list === null ? 0 : list.length,
          atLeast: node.atLeast,
        };
        if (node.where !== undefined) w.condition = node.where.source;
        out.push(w);
        return;
      }
      case K_SEQUENCE: {
        const cur = n[b + 2];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          const w: WaitingStep = {
            path: child.path,
            kind: 'absent',
            type: child.type,
            deadline: n[node.children[cur - 1] * STRIDE + 3] + child.forMs,
          };
          if (child.where !== undefined) w.condition = child.where.source;
          out.push(w);
          return;
        }
        this.waiting(t, run, c, out);
        return;
      }
      default:
        for (const c of node.children) this.waiting(t, run, c, out);
    }
  }

  // ---------------------------------------------------------------- triggers (hot reload)

  /**
   * Replaces the trigger set. Rule: a trigger with the same name and version keeps its state; a
   * trigger whose version changed loses its partial matches and condition-failure records but keeps
   * its last firing time (so its cooldown, with the new duration, still applies); a removed trigger's
   * state is dropped. Throws (changing nothing) if any trigger is invalid or names repeat.
   */
  setTriggers(triggers: TriggerSpec[]): void {
    const compiled = triggers.map(compileTrigger);
    const names = new Set<string>();
    for (const c of compiled) {
      if (names.has(c.spec.name)) throw new Error(`duplicate trigger name '${c.spec.name}'`);
      names.add(c.spec.name);
    }
    const old = new Map(this.slots.map((s) => [s.compiled.spec.name, s]));
    const slots: Slot[] = compiled.map((c, index) => ({
      compiled: c,
      index,
      scratch: null,
      pool: [],
      active: true,
    }));
    // Per new slot: the old slot index whose states it keeps, or (~old index) to keep only cooldowns.
    const from = slots.map((slot) => {
      const prev = old.get(slot.compiled.spec.name);
      if (prev === undefined) return undefined;
      const same =
        prev.compiled.spec.version === slot.compiled.spec.version &&
        signature(prev.compiled) === signature(slot.compiled);
      return same ? prev.index : ~prev.index;
    });
    for (const [cid, rec] of this.customers) {
      const states = new Array<TriggerState | undefined>(slots.length);
      let live = 0;
      for (let i = 0; i < slots.length; i++) {
        const f = from[i];
        if (f === undefined) continue;
        const prevSt = rec.states[f >= 0 ? f : ~f];
        if (prevSt === undefined) continue;
        if (f >= 0) {
          states[i] = prevSt;
          live++;
        } else if (prevSt.lastFiredAt !== undefined) {
          states[i] = {
            customerId: cid,
            runs: [],
            runSeq: 0,
            lastFiredAt: prevSt.lastFiredAt,
            lastSuppressed: prevSt.lastSuppressed,
            failures: undefined,
            timerAt: Infinity,
            timerSeq: -1,
            expiryBucket: NO_BUCKET,
          };
          live++;
        }
      }
      if (live === 0) this.customers.delete(cid);
      else {
        rec.states = states;
        rec.live = live;
      }
    }
    for (const s of this.slots) s.active = false;
    this.slots = slots;
    this.byType = new Map();
    for (const s of slots) {
      for (const type of s.compiled.types) {
        let list = this.byType.get(type);
        if (list === undefined) this.byType.set(type, (list = []));
        list.push(s);
      }
    }
    this.rebuildTimers();
  }

  private rebuildTimers(): void {
    this.timers.clear();
    this.expiryBuckets = new Map();
    this.expiryKeys.clear();
    for (const slot of this.slots) {
      if (!slot.compiled.hasTimers) continue;
      for (const [cid, rec] of this.customers) {
        const st = rec.states[slot.index];
        if (st === undefined) continue;
        st.expiryBucket = NO_BUCKET;
        for (const r of st.runs) this.computeTimers(slot.compiled, r);
        // Keep a live entry (same time and sequence number) so ties fire in the same order as before.
        const at = st.timerAt;
        if (at !== Infinity && st.timerSeq >= 0) {
          this.schedule(slot, cid, st);
          if (st.timerAt === at) this.timers.push({ at, seq: st.timerSeq, slot, customerId: cid, state: st });
        } else {
          st.timerAt = Infinity;
          this.schedule(slot, cid, st);
        }
      }
    }
  }

  triggerNames(): string[] {
    return this.slots.map((s) => s.compiled.spec.name);
  }

  // ---------------------------------------------------------------- explain

  /** Why `trigger` fired or did not fire for `customerId`, as of the current watermark. */
  explain(trigger: string, customerId: string): Explanation {
    const slot = this.slots.find((s) => s.compiled.spec.name === trigger);
    const base = {
      trigger,
      customerId,
      watermark: this.watermark,
      partialMatches: [],
      conditionFailures: [],
    };
    if (slot === undefined) {
      return { ...base, status: 'unknown-trigger', summary: `No trigger named '${trigger}' is loaded.` };
    }
    const t = slot.compiled;
    const spec = t.spec;
    const st = this.customers.get(customerId)?.states[slot.index];
    const partialMatches: PartialMatchExplanation[] = [];
    const conditionFailures: ConditionFailure[] = [];
    const ex: Explanation = {
      ...base,
      version: spec.version,
      status: 'idle',
      partialMatches,
      conditionFailures,
      summary: '',
    };
    const lines: string[] = [];
    if (st !== undefined) {
      for (const r of st.runs) {
        const matchedSoFar: MatchedStep[] = [];
        this.collect(t, r, 0, matchedSoFar, false);
        const waitingFor: WaitingStep[] = [];
        this.waiting(t, r, 0, waitingFor);
        const pm: PartialMatchExplanation = { startedAt: r.n[1], matchedSoFar, waitingFor };
        if (r.expiry !== Infinity) pm.expiresAfter = r.expiry;
        partialMatches.push(pm);
      }
      if (st.failures !== undefined) {
        for (const [k, f] of Object.entries(st.failures)) {
          const node = t.nodes[Number(k)];
          const cf: ConditionFailure = {
            path: node.path,
            condition: node.where?.source ?? '',
            eventId: f.eventId,
            eventTime: f.eventTime,
          };
          if (f.error !== undefined) cf.error = f.error;
          conditionFailures.push(cf);
        }
      }
      if (st.lastFiredAt !== undefined) {
        ex.lastFiredAt = st.lastFiredAt;
        if (spec.cooldownMs > 0) ex.cooldownUntil = st.lastFiredAt + spec.cooldownMs;
      }
      if (st.lastSuppressed !== undefined) ex.lastSuppressed = st.lastSuppressed;
    }
    const cooldownActive = ex.cooldownUntil !== undefined && this.watermark < ex.cooldownUntil;
    if (cooldownActive) ex.status = 'cooldown';
    else if (partialMatches.length > 0) ex.status = 'waiting';
    lines.push(
      `Trigger '${trigger}' v${spec.version} for customer ${customerId} (watermark ${iso(this.watermark)}):`,
    );
    if (ex.lastFiredAt !== undefined) lines.push(`last fired at ${iso(ex.lastFiredAt)}.`);
    else lines.push('has not fired.');
    if (cooldownActive) lines.push(`Cooldown active until ${iso(ex.cooldownUntil as number)}.`);
    if (ex.lastSuppressed !== undefined)
      lines.push(`A match completed at ${iso(ex.lastSuppressed.at)} was suppressed by the cooldown.`);
    if (partialMatches.length === 0) lines.push('No partial match is in progress.');
    partialMatches.forEach((pm, k) => {
      const waits = pm.waitingFor
        .map((w) =>
          w.kind === 'absent'
            ? `${w.path}: no ${w.type} until ${iso(w.deadline as number)}`
            : w.kind === 'count'
              ? `${w.path}: ${w.counted}/${w.atLeast} ${w.type}`
              : `${w.path}: ${w.type}${w.condition !== undefined ? ` where ${w.condition}` : ''}`,
        )
        .join('; ');
      const got = pm.matchedSoFar.map((m) => `${m.path}=${m.event?.id ?? m.kind}`).join(', ');
      lines.push(`Partial match ${k + 1} started ${iso(pm.startedAt)} (matched ${got}) waits for ${waits}.`);
    });
    for (const f of conditionFailures) {
      lines.push(
        `Last condition failure at ${f.path}: '${f.condition}' was ${f.error !== undefined ? `an error (${f.error})` : 'false'} for event ${f.eventId} at ${iso(f.eventTime)}.`,
      );
    }
    ex.summary = lines.join(' ');
    return ex;
  }

  // ---------------------------------------------------------------- checkpoint and memory

  private serializeState(st: TriggerState): SerializedState {
    const out: SerializedState = {};
    if (st.runs.length > 0)
      out.runs = st.runs.map((r) => ({
        seq: r.seq,
        n: r.n.slice(0, r.m).map((x) => (x === x ? x : null)),
        ev: r.ev,
      }));
    if (st.runSeq > 0) out.runSeq = st.runSeq;
    if (st.lastFiredAt !== undefined) out.lastFiredAt = st.lastFiredAt;
    if (st.lastSuppressed !== undefined) out.lastSuppressed = st.lastSuppressed;
    if (st.failures !== undefined) out.failures = st.failures;
    if (st.timerAt !== Infinity && st.timerSeq >= 0) out.timer = [st.timerAt, st.timerSeq];
    return out;
  }

  /** One trigger's states, by customer. */
  private statesOf(slot: Slot): Array<[string, TriggerState]> {
    const out: Array<[string, TriggerState]> = [];
    for (const [cid, rec] of this.customers) {
      const st = rec.states[slot.index];
      if (st !== undefined) out.push([cid, st]);
    }
    return out;
  }

  /** A JSON-serializable deep copy of the whole engine state (buffered events included). */
  snapshot(): EngineSnapshot {
    const snap: EngineSnapshot = {
      format: 'kairos.patterns.v1',
      watermark: Number.isFinite(this.watermark) ? this.watermark : null,
      arrivalSeq: this.arrivalSeq,
      timerSeq: this.timerSeq,
      buffer: this.buffer.toArray(),
      stats: { ...this.stats },
      triggers: this.slots.map((s) => ({
        name: s.compiled.spec.name,
        version: s.compiled.spec.version,
        states: this.statesOf(s).map(
          ([cid, st]) => [cid, this.serializeState(st)] as [string, SerializedState],
        ),
      })),
    };
    return JSON.parse(JSON.stringify(snap)) as EngineSnapshot;
  }

  /**
   * Replaces all state with a snapshot (taken from an engine with possibly other triggers): states of
   * triggers with the same name and version are restored, others follow the hot-reload rule.
   */
  restore(snapshot: EngineSnapshot): void {
    if (snapshot === null || typeof snapshot !== 'object' || snapshot.format !== 'kairos.patterns.v1')
      throw new Error('not a kairos.patterns.v1 snapshot');
    const snap = JSON.parse(JSON.stringify(snapshot)) as EngineSnapshot;
    this.watermark = snap.watermark === null ? -Infinity : snap.watermark;
    this.arrivalSeq = snap.arrivalSeq;
    if (snap.timerSeq !== undefined) this.timerSeq = snap.timerSeq;
    this.buffer.clear();
    for (const b of snap.buffer) this.buffer.push(b);
    this.customers = new Map();
    Object.assign(this.stats, snap.stats);
    const byName = new Map(snap.triggers.map((t) => [t.name, t]));
    for (const slot of this.slots) {
      slot.scratch = null;
      const saved = byName.get(slot.compiled.spec.name);
      if (saved === undefined) continue;
      const sameVersion = saved.version === slot.compiled.spec.version;
      const width = slot.compiled.nodes.length * STRIDE;
      for (const [cid, s] of saved.states) {
        const st = this.stateFor(slot, cid);
        st.lastFiredAt = s.lastFiredAt;
        st.lastSuppressed = s.lastSuppressed;
        if (!sameVersion) continue;
        st.runSeq = s.runSeq ?? 0;
        if (s.timer !== undefined) [st.timerAt, st.timerSeq] = s.timer;
        if (s.failures !== undefined) st.failures = s.failures as unknown as Record<number, FailureRecord>;
        for (const r of s.runs ?? []) {
          if (r.n.length !== width)
            throw new Error(`snapshot does not fit trigger '${slot.compiled.spec.name}'`);
          const n = r.n.map((x) => (x === null ? NaN : x));
          n.push(r.seq, Infinity, -1, Infinity);
          st.runs.push(new Run(n, r.ev, width));
        }
      }
    }
    this.rebuildTimers();
  }

  /** Serialized size (UTF-8 bytes of the JSON) of one customer's state, or of the whole engine. */
  stateBytes(customerId?: string): number {
    let bytes = 0;
    if (customerId === undefined) {
      for (const b of this.buffer.toArray()) bytes += Buffer.byteLength(JSON.stringify(b));
      for (const [cid, rec] of this.customers)
        for (const st of rec.states) if (st !== undefined) bytes += this.stateSize(cid, st);
      return bytes;
    }
    const rec = this.customers.get(customerId);
    if (rec !== undefined)
      for (const st of rec.states) if (st !== undefined) bytes += this.stateSize(customerId, st);
    return bytes;
  }

  /** Bytes of one trigger state in a snapshot, with its customer key. */
  private stateSize(customerId: string, st: TriggerState): number {
    return Buffer.byteLength(JSON.stringify(this.serializeState(st))) + Buffer.byteLength(customerId) + 6;
  }

  /** Customers with any state (partial matches, cooldown bookkeeping, condition-failure records). */
  customersWithState(): string[] {
    return [...this.customers.keys()].sort();
  }

  /** Forgets one customer (e.g. erasure request). */
  dropCustomer(customerId: string): void {
    const rec = this.customers.get(customerId);
    if (rec === undefined) return;
    for (const slot of this.slots) {
      const st = rec.states[slot.index];
      if (st !== undefined) this.dropState(slot, customerId, st);
    }
  }
}

function describeFire(
  spec: TriggerSpec,
  customerId: string,
  at: number,
  matched: MatchedStep[],
  deadline: number | undefined,
): string {
  const steps = matched.map((m) => {
    if (m.kind === 'absent')
      return `${m.path}: no ${m.type} from ${iso(m.absentFrom as number)} until ${iso(m.absentUntil as number)}`;
    const e = m.event as BoundEvent;
    return `${m.path}${m.alias !== undefined ? ` (${m.alias})` : ''}: ${e.type} ${e.id} at ${iso(e.time)}`;
  });
  const how =
    deadline !== undefined
      ? `when the absence deadline ${iso(deadline)} passed`
      : 'on the last matched event';
  return `Trigger '${spec.name}' v${spec.version} fired for customer ${customerId} at ${iso(at)} ${how}: ${steps.join('; ')}.`;
}
