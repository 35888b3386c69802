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
/** Per node of a run: [status, start (first event time, NaN if none), aux (sequence step / any winner), doneAt]. */
const STRIDE = 4;
/** Width of an expiry bucket: partial matches are dropped once the watermark passes their bucket. */
const EXPIRY_BUCKET_MS = 1000;
/** TriggerState.expiryBucket when the state is in no bucket. */
const NO_BUCKET = -(2 ** 30);
/** Shared by runs of triggers without aliases: never written to. */
const NO_BINDINGS: Record<string, BoundEvent> = Object.freeze({}) as Record<string, BoundEvent>;
const EMPTY_PROFILE: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** A run's numbers past its node entries: its seq, next absence deadline (Infinity if none), */
const R_SEQ = 0;
const R_DEADLINE = 1;
/** the sequence node waiting on that deadline (-1 if none), */
const R_DEADLINE_NODE = 2;
/** and the time after which it can no longer complete (a window ended; Infinity if unbounded). */
const R_EXPIRY = 3;
const META = 4;

/**
 * The partial matches (runs) of one trigger, for all customers, in flat arrays: a run is an index.
 * Run objects with their own arrays were most of the engine's long-lived objects, so most of its
 * garbage-collection time; numbers in a Float64Array are not even scanned.
 * Run r: numbers nums[r * width + node * STRIDE + k] and, from r * width + meta, the META entries;
 * events evs[r * nodes + node] (event node: its event; count node: the events in its window);
 * links[r]: the next run of its trigger state, or of the free list (-1 ends a list). Links are int32
 * so that run indexes stay small integers (a double read from nums is boxed when passed around).
 * Released runs are kept reset; runs from `used` on were never handed out.
 */
class RunArena {
  readonly width: number;
  /** Offset of the META entries in a run (nodes * STRIDE). */
  readonly meta: number;
  nums = new Float64Array(0);
  evs: Array<BoundEvent | BoundEvent[] | null> = [];
  links = new Int32Array(0);
  private capacity = 0;
  private used = 0;
  private free = -1;

  constructor(readonly nodes: number) {
    this.meta = nodes * STRIDE;
    this.width = this.meta + META;
  }

  alloc(): number {
    const r = this.free;
    if (r >= 0) {
      this.free = this.links[r];
      return r;
    }
    if (this.used === this.capacity) this.grow();
    this.reset(this.used);
    return this.used++;
  }

  release(r: number): void {
    this.reset(r);
    this.links[r] = this.free;
    this.free = r;
  }

  next(r: number): number {
    return this.links[r];
  }

  setNext(r: number, next: number): void {
    this.links[r] = next;
  }

  reset(r: number): void {
    const n = this.nums;
    const base = r * this.width;
    for (let b = base; b < base + this.meta; b += STRIDE) {
      n[b] = PENDING;
      n[b + 1] = NaN;
      n[b + 2] = 0;
      n[b + 3] = NaN;
    }
    const m = base + this.meta;
    n[m + R_SEQ] = 0;
    n[m + R_DEADLINE] = Infinity;
    n[m + R_DEADLINE_NODE] = -1;
    n[m + R_EXPIRY] = Infinity;
    this.evs.fill(null, r * this.nodes, (r + 1) * this.nodes);
  }

  private grow(): void {
    const to = Math.max(16, this.capacity * 2);
    const nums = new Float64Array(to * this.width);
    nums.set(this.nums);
    this.nums = nums;
    const links = new Int32Array(to);
    links.set(this.links);
    this.links = links;
    for (let k = this.evs.length; k < to * this.nodes; k++) this.evs.push(null);
    this.capacity = to;
  }
}

interface FailureRecord {
  eventId: string;
  eventTime: number;
  error?: string;
}

interface TriggerState {
  customerId: string;
  /** The state's runs, oldest first: a list through its slot's arena links (-1: none). */
  first: number;
  last: number;
  runs: number;
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

function newState(customerId: string): TriggerState {
  return {
    customerId,
    first: -1,
    last: -1,
    runs: 0,
    runSeq: 0,
    lastFiredAt: undefined,
    lastSuppressed: undefined,
    failures: undefined,
    timerAt: Infinity,
    timerSeq: -1,
    expiryBucket: NO_BUCKET,
  };
}

/** Adds run r as the newest of a state's runs. */
function appendRun(a: RunArena, st: TriggerState, r: number): void {
  if (st.runs === 0) st.first = r;
  else a.setNext(st.last, r);
  a.setNext(r, -1);
  st.last = r;
  st.runs++;
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
  /** The trigger's runs (a trigger kept by setTriggers keeps its arena). */
  arena: RunArena;
  /** A reset run to offer start events to (-1: none yet). */
  scratch: number;
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
    st.runs === 0 &&
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
      st = newState(customerId);
      rec.states[slot.index] = st;
      rec.live++;
    }
    return st;
  }

  private dropState(slot: Slot, customerId: string, st: TriggerState): void {
    // Invalidate its timer entries; only delete the map entry if it still is this state.
    st.timerAt = -Infinity;
    if (st.runs > 0) this.releaseRuns(slot, st);
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
    const a = slot.arena;
    const cid = e.customerId;
    this.curSlot = slot;
    const rec = this.curRec;
    const st = rec === undefined ? undefined : rec.states[slot.index];
    if (st !== undefined && st.runs > 0) {
      if (t.hasTimers) this.advanceState(slot, st, e.time);
      let removed = false;
      for (let r = st.first; r >= 0; r = a.next(r)) {
        const progressed = this.offer(t, a, r, 0, e);
        const s = a.nums[r * a.width];
        if (s === DONE) {
          this.complete(slot, cid, st, r, e.time, e.id, undefined);
          return;
        }
        if (s === DEAD) removed = true;
        else if (progressed && t.hasTimers) this.computeTimers(t, a, r);
      }
      if (removed) this.removeRuns(slot, st, -Infinity);
      if (t.hasTimers) this.schedule(slot, cid, st);
      if (t.singleRun && st.runs > 0) return;
    }
    let r = -1;
    if (t.startTypes.has(e.type)) {
      r = slot.scratch < 0 ? (slot.scratch = a.alloc()) : slot.scratch;
      if (!this.offer(t, a, r, 0, e)) r = -1;
    }
    if (r < 0) {
      if (st !== undefined && isEmpty(st)) this.dropState(slot, cid, st);
      return;
    }
    slot.scratch = -1;
    const state = st ?? this.stateFor(slot, cid);
    if (a.nums[r * a.width] === DONE) {
      this.complete(slot, cid, state, r, e.time, e.id, undefined);
      a.reset(r);
      slot.scratch = r;
      return;
    }
    a.nums[r * a.width + a.meta + R_SEQ] = state.runSeq++;
    appendRun(a, state, r);
    if (state.runs > this.maxRuns) {
      const oldest = state.first;
      state.first = a.next(oldest);
      state.runs--;
      a.release(oldest);
      this.stats.partialMatchesEvicted++;
    }
    if (t.hasTimers) {
      this.computeTimers(t, a, r);
      this.schedule(slot, cid, state);
    }
  }

  /** Applies absence deadlines up to `t` in time order, then drops partial matches whose window ended before `t`. */
  private advanceState(slot: Slot, st: TriggerState, t: number): void {
    const trig = slot.compiled;
    const a = slot.arena;
    const d = a.meta + R_DEADLINE;
    for (;;) {
      let best = -1;
      let deadline = Infinity;
      for (let r = st.first; r >= 0; r = a.next(r)) {
        const at = a.nums[r * a.width + d];
        if (at <= t && (best < 0 || at < deadline)) {
          best = r;
          deadline = at;
        }
      }
      if (best < 0) break;
      this.applyDeadline(trig, a, best);
      const s = a.nums[best * a.width];
      if (s === DONE) {
        this.complete(slot, this.curCustomer, st, best, deadline, null, deadline);
        return;
      }
      if (s === DEAD) this.removeRuns(slot, st, -Infinity);
      else this.computeTimers(trig, a, best);
    }
    const x = a.meta + R_EXPIRY;
    let expired = false;
    for (let r = st.first; r >= 0; r = a.next(r)) if (a.nums[r * a.width + x] < t) expired = true;
    if (expired) this.removeRuns(slot, st, t);
  }

  /** Keeps one heap entry at the state's earliest absence deadline (stale entries are skipped when popped). */
  private schedule(slot: Slot, customerId: string, st: TriggerState): void {
    let at = Infinity;
    let expiry = Infinity;
    const a = slot.arena;
    const n = a.nums;
    for (let r = st.first; r >= 0; r = a.next(r)) {
      const m = r * a.width + a.meta;
      if (n[m + R_DEADLINE] < at) at = n[m + R_DEADLINE];
      if (n[m + R_EXPIRY] < expiry) expiry = n[m + R_EXPIRY];
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
    run: number,
    at: number,
    completingEventId: string | null,
    deadline: number | undefined,
  ): void {
    const spec = slot.compiled.spec;
    const matched: MatchedStep[] = [];
    this.collect(slot.compiled, slot.arena, run, 0, matched, true);
    this.releaseRuns(slot, st);
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

  /** Removes runs that are not pending or whose expiry is before `t`, recycling them. */
  private removeRuns(slot: Slot, st: TriggerState, t: number): void {
    const a = slot.arena;
    const n = a.nums;
    let prev = -1;
    for (let r = st.first; r >= 0;) {
      const next = a.next(r);
      const base = r * a.width;
      if (n[base] === PENDING && !(n[base + a.meta + R_EXPIRY] < t)) prev = r;
      else {
        if (prev < 0) st.first = next;
        else a.setNext(prev, next);
        if (st.last === r) st.last = prev;
        st.runs--;
        a.release(r);
      }
      r = next;
    }
  }

  /** Discards every run of a state. */
  private releaseRuns(slot: Slot, st: TriggerState): void {
    const a = slot.arena;
    for (let r = st.first; r >= 0;) {
      const next = a.next(r);
      a.release(r);
      r = next;
    }
    st.first = st.last = -1;
    st.runs = 0;
  }

  private check(
    node: CompiledNode,
    where: Condition,
    t: CompiledTrigger,
    a: RunArena,
    run: number,
    e: EngineEvent,
  ): boolean {
    const ctx = this.ctx;
    ctx.event = e;
    ctx.profile = e.profile ?? EMPTY_PROFILE;
    ctx.bindings = t.aliasNodes.length === 0 ? NO_BINDINGS : this.bindingsOf(t, a, run);
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
  private bindingsOf(t: CompiledTrigger, a: RunArena, run: number): Record<string, BoundEvent> {
    const bindings: Record<string, BoundEvent> = {};
    for (const i of t.aliasNodes) {
      if (a.nums[run * a.width + i * STRIDE] !== DONE) continue;
      const bound = a.evs[run * a.nodes + i] as BoundEvent | BoundEvent[];
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
  private offer(t: CompiledTrigger, a: RunArena, run: number, i: number, e: EngineEvent): boolean {
    const n = a.nums;
    const base = run * a.width;
    const b = base + i * STRIDE;
    if (n[b] !== PENDING) return false;
    const node = t.nodes[i];
    switch (node.kind) {
      case K_EVENT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, a, run, e)) return false;
        a.evs[run * a.nodes + i] = this.bound ?? (this.bound = strip(e));
        n[b] = DONE;
        n[b + 1] = e.time;
        n[b + 3] = e.time;
        return true;
      }
      case K_COUNT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, a, run, e)) return false;
        const s = this.bound ?? (this.bound = strip(e));
        const k = run * a.nodes + i;
        let list = a.evs[k] as BoundEvent[] | null;
        if (list === null) list = a.evs[k] = [s];
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
            (child.where === undefined || this.check(child, child.where, t, a, run, e))
          ) {
            const deadline = n[base + node.children[cur - 1] * STRIDE + 3] + child.forMs;
            if (e.time < deadline) n[b] = DEAD;
          }
          return false;
        }
        const progressed = this.offer(t, a, run, c, e);
        const cs = n[base + c * STRIDE];
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
            n[b + 3] = n[base + c * STRIDE + 3];
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
          const cb = base + c * STRIDE;
          if (n[cb] === PENDING && this.offer(t, a, run, c, e)) progressed = true;
          const cs = n[cb];
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
          const cb = base + c * STRIDE;
          if (n[cb] === PENDING && this.offer(t, a, run, c, e)) progressed = true;
          const cs = n[cb];
          if (cs === DONE) {
            if (n[b + 1] !== n[b + 1]) n[b + 1] = e.time;
            n[b] = DONE;
            n[b + 2] = k;
            n[b + 3] = n[cb + 3];
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
  private kill(t: CompiledTrigger, a: RunArena, run: number, i: number): void {
    const n = a.nums;
    const base = run * a.width;
    n[base + i * STRIDE] = DEAD;
    for (let p = t.nodes[i].parent; p >= 0 && n[base + p * STRIDE] === PENDING; p = t.nodes[p].parent) {
      const pn = t.nodes[p];
      if (pn.kind === K_ANY && pn.children.some((c) => n[base + c * STRIDE] !== DEAD)) return;
      n[base + p * STRIDE] = DEAD;
    }
  }

  /** Completes the absence the run's earliest deadline belongs to (or kills expired windows on its path). */
  private applyDeadline(t: CompiledTrigger, a: RunArena, run: number): void {
    const n = a.nums;
    const base = run * a.width;
    const target = n[base + a.meta + R_DEADLINE_NODE];
    const d = n[base + a.meta + R_DEADLINE];
    for (let i = target; i >= 0; i = t.nodes[i].parent) {
      const node = t.nodes[i];
      const start = n[base + i * STRIDE + 1];
      if (
        n[base + i * STRIDE] === PENDING &&
        (node.kind === K_SEQUENCE || node.kind === K_ALL) &&
        d > start + node.withinMs
      )
        this.kill(t, a, run, i);
    }
    for (let i = target; i >= 0; i = t.nodes[i].parent) if (n[base + i * STRIDE] !== PENDING) return;
    const seq = t.nodes[target];
    const absent = seq.children[n[base + target * STRIDE + 2]];
    const ab = base + absent * STRIDE;
    n[ab] = DONE;
    n[ab + 1] = d - t.nodes[absent].forMs;
    n[ab + 3] = d;
    // propagate completion upwards
    let child = absent;
    for (let p = target; p >= 0; child = p, p = t.nodes[p].parent) {
      const pn = t.nodes[p];
      const pb = base + p * STRIDE;
      if (pn.kind === K_SEQUENCE) {
        const cur = n[pb + 2] + 1;
        n[pb + 2] = cur;
        if (cur < pn.children.length) return;
      } else if (pn.kind === K_ALL) {
        if (pn.children.some((c) => n[base + c * STRIDE] !== DONE)) return;
      } else if (pn.kind === K_ANY) {
        n[pb + 2] = t.nodes[child].position;
      }
      n[pb] = DONE;
      n[pb + 3] = d;
    }
  }

  /** Recomputes the run's next absence deadline and its expiry (the time after which it cannot complete). */
  private computeTimers(t: CompiledTrigger, a: RunArena, run: number): void {
    const m = run * a.width + a.meta;
    a.nums[m + R_DEADLINE] = Infinity;
    a.nums[m + R_DEADLINE_NODE] = -1;
    a.nums[m + R_EXPIRY] = this.expiryOf(t, a, run, 0);
  }

  private expiryOf(t: CompiledTrigger, a: RunArena, run: number, i: number): number {
    const n = a.nums;
    const base = run * a.width;
    const b = base + i * STRIDE;
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
          const d = n[base + node.children[cur - 1] * STRIDE + 3] + child.forMs;
          const m = base + a.meta;
          if (d < n[m + R_DEADLINE]) {
            n[m + R_DEADLINE] = d;
            n[m + R_DEADLINE_NODE] = i;
          }
          return own;
        }
        return Math.min(own, this.expiryOf(t, a, run, c));
      }
      case K_ALL: {
        let e = own;
        for (const c of node.children) e = Math.min(e, this.expiryOf(t, a, run, c));
        return e;
      }
      case K_ANY: {
        let e = -Infinity;
        for (const c of node.children) e = Math.max(e, this.expiryOf(t, a, run, c));
        return e;
      }
      default:
        return Infinity;
    }
  }

  /** Collects matched steps in step order; `completed` restricts `any` to its winning branch. */
  private collect(
    t: CompiledTrigger,
    a: RunArena,
    run: number,
    i: number,
    out: MatchedStep[],
    completed: boolean,
  ): void {
    const node = t.nodes[i];
    const n = a.nums;
    const base = run * a.width;
    const b = base + i * STRIDE;
    switch (node.kind) {
      case K_EVENT: {
        const e = a.evs[run * a.nodes + i] as BoundEvent | null;
        if (e === null) return;
        const m: MatchedStep = { path: node.path, kind: 'event', type: node.type, event: e, time: e.time };
        if (node.alias !== undefined) m.alias = node.alias;
        out.push(m);
        return;
      }
      case K_COUNT: {
        const list = a.evs[run * a.nodes + i] as BoundEvent[] | null;
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
          this.collect(t, a, run, node.children[n[b + 2]], out, completed);
          return;
        }
        for (const c of node.children)
          if (n[base + c * STRIDE] !== DEAD) this.collect(t, a, run, c, out, completed);
        return;
      default:
        for (const c of node.children) this.collect(t, a, run, c, out, completed);
    }
  }

  private waiting(t: CompiledTrigger, a: RunArena, run: number, i: number, out: WaitingStep[]): void {
    const node = t.nodes[i];
    const n = a.nums;
    const base = run * a.width;
    const b = base + i * STRIDE;
    if (n[b] !== PENDING) return;
    switch (node.kind) {
      case K_EVENT: {
        const w: WaitingStep = { path: node.path, kind: 'event', type: node.type };
        if (node.where !== undefined) w.condition = node.where.source;
        out.push(w);
        return;
      }
      case K_COUNT: {
        const list = a.evs[run * a.nodes + i] as BoundEvent[] | null;
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
            deadline: n[base + node.children[cur - 1] * STRIDE + 3] + child.forMs,
          };
          if (child.where !== undefined) w.condition = child.where.source;
          out.push(w);
          return;
        }
        this.waiting(t, a, run, c, out);
        return;
      }
      default:
        for (const c of node.children) this.waiting(t, a, run, c, out);
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
      arena: new RunArena(c.nodes.length),
      scratch: -1,
      active: true,
    }));
    // Per new slot: the old slot index whose states it keeps, or (~old index) to keep only cooldowns.
    const from = slots.map((slot) => {
      const prev = old.get(slot.compiled.spec.name);
      if (prev === undefined) return undefined;
      const same =
        prev.compiled.spec.version === slot.compiled.spec.version &&
        signature(prev.compiled) === signature(slot.compiled);
      if (!same) return ~prev.index;
      // Its runs stay where they are.
      slot.arena = prev.arena;
      slot.scratch = prev.scratch;
      return prev.index;
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
          const st = newState(cid);
          st.lastFiredAt = prevSt.lastFiredAt;
          st.lastSuppressed = prevSt.lastSuppressed;
          states[i] = st;
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
        const a = slot.arena;
        for (let r = st.first; r >= 0; r = a.next(r)) this.computeTimers(slot.compiled, a, r);
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
      const a = slot.arena;
      for (let r = st.first; r >= 0; r = a.next(r)) {
        const matchedSoFar: MatchedStep[] = [];
        this.collect(t, a, r, 0, matchedSoFar, false);
        const waitingFor: WaitingStep[] = [];
        this.waiting(t, a, r, 0, waitingFor);
        const base = r * a.width;
        const pm: PartialMatchExplanation = { startedAt: a.nums[base + 1], matchedSoFar, waitingFor };
        const expiry = a.nums[base + a.meta + R_EXPIRY];
        if (expiry !== Infinity) pm.expiresAfter = expiry;
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

  private serializeState(slot: Slot, st: TriggerState): SerializedState {
    const out: SerializedState = {};
    if (st.runs > 0) {
      const a = slot.arena;
      const runs: SerializedRun[] = (out.runs = []);
      for (let r = st.first; r >= 0; r = a.next(r)) {
        const base = r * a.width;
        const n: Array<number | null> = [];
        for (let k = base; k < base + a.meta; k++) n.push(a.nums[k] === a.nums[k] ? a.nums[k] : null);
        runs.push({
          seq: a.nums[base + a.meta + R_SEQ],
          n,
          ev: a.evs.slice(r * a.nodes, (r + 1) * a.nodes),
        });
      }
    }
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
          ([cid, st]) => [cid, this.serializeState(s, st)] as [string, SerializedState],
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
      slot.arena = new RunArena(slot.compiled.nodes.length);
      slot.scratch = -1;
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
        const a = slot.arena;
        for (const saved of s.runs ?? []) {
          if (saved.n.length !== width)
            throw new Error(`snapshot does not fit trigger '${slot.compiled.spec.name}'`);
          const r = a.alloc();
          const base = r * a.width;
          saved.n.forEach((x, k) => (a.nums[base + k] = x === null ? NaN : x));
          a.nums[base + a.meta + R_SEQ] = saved.seq;
          saved.ev.forEach((x, k) => (a.evs[r * a.nodes + k] = x));
          appendRun(a, st, r);
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
      for (const [cid, rec] of this.customers) bytes += this.recordSize(cid, rec);
      return bytes;
    }
    const rec = this.customers.get(customerId);
    return rec === undefined ? 0 : this.recordSize(customerId, rec);
  }

  /** Bytes of one customer's trigger states in a snapshot, each with its customer key. */
  private recordSize(customerId: string, rec: CustomerRecord): number {
    let bytes = 0;
    for (const slot of this.slots) {
      const st = rec.states[slot.index];
      if (st !== undefined)
        bytes +=
          Buffer.byteLength(JSON.stringify(this.serializeState(slot, st))) +
          Buffer.byteLength(customerId) +
          6;
    }
    return bytes;
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
