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
import { CustomerTable } from './engine/customer-table';
import { firedIdPrefix, firedIdTail } from './engine/fired-id';
import { CH, Defer, Expiry, N, R, S, Status } from './engine/layout';
import { counted, RunArena } from './engine/run-arena';
import { StateTable, type FailureRecord } from './engine/state-table';
import { iso } from './engine/time-format';
import { MinHeap, TimeQueue } from './heap';
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

export { firedTriggerId } from './engine/fired-id';
export { iso } from './engine/time-format';

export interface PatternEngineOptions {
  /** How far behind the newest event time an event may arrive and still be processed. Default 0. */
  allowedLatenessMs?: number;
  /** Cap of partial matches per trigger per customer; the oldest is evicted beyond it. Default 32. */
  maxPartialMatchesPerTrigger?: number;
  /**
   * Keep the start events of deferred-start triggers once, and make their partial matches only when
   * another event of the trigger arrives (see StartGroup). Default true; false makes every partial
   * match at its start event (the tests compare both).
   */
  deferStarts?: boolean;
  /**
   * How long a trigger's last firing, a match suppressed by its cooldown and a failed condition stay
   * with a customer for `explain` once no partial match needs them (a firing also stays until its
   * cooldown ends). Then they are dropped, so a customer who goes quiet holds no state. Default 24 h.
   */
  explainRetentionMs?: number;
}

/** Shared by runs of triggers without aliases: never written to. */
const NO_BINDINGS: Record<string, BoundEvent> = Object.freeze({}) as Record<string, BoundEvent>;
const EMPTY_PROFILE: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * The start events of the deferred-start triggers that start with one event type (at most 31 of
 * them: a bit each). A trigger defers its starts when its pattern is a sequence with a window whose
 * first step is that event type without a condition, its second step not an absence, and the type
 * is in no other step: a partial match it starts is then fully described by its start event, so the
 * engine keeps that event once (not one partial match per trigger, most of which expire untouched)
 * and makes the trigger's partial matches from it only when another event of the trigger arrives for
 * the customer (or on explain and reload; a completion releases them, a checkpoint serializes them
 * as made). The result is the same as making them at the start event: they would have seen no other
 * event meanwhile. A trigger already holding partial matches for the customer takes the start event
 * at once (it could evict one, or an absence deadline could be due first).
 *
 * Entries are kept in a ring in the order they were handled (event-time order), by id (ids only
 * grow): each customer's entries are also a list (CustomerTable chains, next[]), and `consumed` has a
 * trigger's bit once it made (or dropped) its partial match from the entry. A customer keeps its
 * newest `keep` entries (maxPartialMatchesPerTrigger, or more for a count); entries leave when every
 * trigger consumed them or their longest window ended.
 *
 * A single-run count (root count, or root any of events and one count) defers the same way: its
 * one partial match is the count's events, so the start events are all it needs, and it is made by
 * feeding them to it in order when another event of the trigger arrives, or when a start event
 * brings the events in the count's window to atLeast (it completes then). A windowed root `all` of
 * plain events of distinct types is in one group per type, and defers while the customer's start
 * events for it are of one type (partial matches they start do not meet); the first of another type
 * feeds them to it in order.
 */
class StartGroup {
  readonly members: Slot[] = [];
  maxWithinMs = 0;
  /** Bits of all members, and of the counts among them. */
  all = 0;
  counts = 0;
  /** Ids [head, end) are in the ring (some dropped: row -1). */
  head = 0;
  end = 0;
  /** A power of two: `id & mask` is id's ring position for any integer id below 2^53. */
  private capacity = 0;
  private mask = 0;
  rowOf = new Int32Array(0);
  next = new Float64Array(0);
  consumed = new Int32Array(0);
  events: Array<BoundEvent | null> = [];
  /** The events' times, read by the expiry sweep without touching the events. */
  times = new Float64Array(0);

  constructor(
    readonly type: string,
    /** Column in CustomerTable chains. */
    readonly index: number,
    /** Entries kept per customer (the newest). */
    public keep: number,
  ) {}

  /** Ring position of id. */
  at(id: number): number {
    return id & this.mask;
  }

  push(row: number, e: BoundEvent): number {
    if (this.end - this.head === this.capacity) this.grow();
    const id = this.end++;
    const k = id & this.mask;
    this.rowOf[k] = row;
    this.next[k] = -1;
    this.consumed[k] = 0;
    this.events[k] = e;
    this.times[k] = e.time;
    return id;
  }

  /** Drops an entry (it stays in the ring until it reaches the head). */
  drop(id: number): void {
    const k = id & this.mask;
    this.rowOf[k] = -1;
    this.events[k] = null;
  }

  clear(): void {
    this.head = this.end = 0;
    this.events.fill(null);
    this.rowOf.fill(-1);
  }

  private grow(): void {
    const to = Math.max(64, this.capacity * 2);
    const rowOf = new Int32Array(to).fill(-1);
    const next = new Float64Array(to);
    const consumed = new Int32Array(to);
    const events = new Array<BoundEvent | null>(to).fill(null);
    const times = new Float64Array(to);
    for (let id = this.head; id < this.end; id++) {
      const from = id & this.mask;
      const k = id & (to - 1);
      rowOf[k] = this.rowOf[from];
      next[k] = this.next[from];
      consumed[k] = this.consumed[from];
      events[k] = this.events[from];
      times[k] = this.times[from];
    }
    this.rowOf = rowOf;
    this.next = next;
    this.consumed = consumed;
    this.events = events;
    this.times = times;
    this.capacity = to;
    this.mask = to - 1;
  }
}

function bitCount(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) n++;
  return n;
}

/**
 * How a trigger can defer (see StartGroup), or undefined: a windowed sequence by its first step; a
 * single-run count (root count, or root any of events and one count) by its count; a windowed root
 * `all` of plain events by all of them.
 */
function deferral(
  t: CompiledTrigger,
): { nodes: CompiledNode[]; defer: number; windowMs: number } | undefined {
  const root = t.nodes[0];
  let nodes: CompiledNode[];
  let defer: number;
  if (t.singleRun) {
    nodes = t.nodes.filter((n) => n.kind === K_COUNT);
    if (nodes.length !== 1) return undefined;
    defer = Defer.COUNT;
  } else if (root.kind === K_ALL) {
    if (!(root.withinMs < Infinity) || root.children.length < 2) return undefined;
    nodes = root.children.map((c) => t.nodes[c]);
    if (nodes.some((n) => n.kind !== K_EVENT)) return undefined;
    defer = Defer.ALL;
  } else {
    if (root.kind !== K_SEQUENCE || !(root.withinMs < Infinity) || root.children.length < 2) return undefined;
    nodes = [t.nodes[root.children[0]]];
    if (nodes[0].kind !== K_EVENT || t.nodes[root.children[1]].kind === K_ABSENT) return undefined;
    defer = Defer.SEQUENCE;
  }
  for (const node of nodes)
    if (node.where !== undefined || t.nodes.some((n) => n !== node && n.type === node.type)) return undefined;
  return { nodes, defer, windowMs: defer === Defer.COUNT ? nodes[0].withinMs : root.withinMs };
}

interface Slot {
  compiled: CompiledTrigger;
  /** How it defers its starts (Defer.*), and the start groups keeping them (one per deferred type). */
  defer: number;
  groups: StartGroup[];
  /** Its bit in each of them. */
  bits: number[];
  /** Window of its deferred partial matches (the sequence's, the count's, the all's). */
  deferMs: number;
  /** The count's atLeast (counts only). */
  atLeast: number;
  /** Position in PatternEngine.slots and in a CustomerTable row. */
  index: number;
  /** The trigger's runs and states (a trigger kept by setTriggers keeps both). */
  arena: RunArena;
  states: StateTable;
  /** A reset run to offer start events to (-1: none yet). */
  scratch: number;
  active: boolean;
  /** What every firing's id text and explanation start with (see complete). */
  idPrefix: string;
  fireText: string;
}

/** What an event type reaches: triggers that mention it (and whether it can start them), and start groups. */
interface Route {
  slots: Slot[];
  starts: boolean[];
  groups: StartGroup[];
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

function whereNodes(t: CompiledTrigger): number[] {
  return t.nodes.filter((n) => n.where !== undefined).map((n) => n.index);
}

function strip(e: EngineEvent): BoundEvent {
  return { id: e.id, type: e.type, customerId: e.customerId, time: e.time, properties: e.properties };
}

function signature(t: CompiledTrigger): string {
  return t.nodes.map((n) => `${n.kind}:${n.children.length}`).join(',');
}

export class PatternEngine {
  private slots: Slot[] = [];
  private customers = new CustomerTable(0);
  /** Per event type: the triggers that mention it, and whether it can start their pattern. */
  private byType = new Map<string, Route>();
  /** Start groups of the deferred-start triggers (see StartGroup), by CustomerTable column. */
  private groups: StartGroup[] = [];
  private readonly deferStarts: boolean;
  private watermark = -Infinity;
  private arrivalSeq = 0;
  private timerSeq = 0;
  private readonly allowedLatenessMs: number;
  private readonly retentionMs: number;
  private readonly maxRuns: number;
  /** Events not yet released by the watermark: (time, arrival seq, event). */
  private buffer = new TimeQueue<EngineEvent>();
  /** Absence deadlines: (time, timer seq, slot, state); fire when the watermark reaches the time. */
  private timers = new TimeQueue<Slot>();
  /**
   * States with partial matches that can expire, by expiry bucket (index = floor(expiry / width)):
   * once the watermark passes a bucket its runs are dropped, so idle customers release their state.
   * A bucket is a list, in queueing order, threaded through the states (S.BUCKET_NEXT / PREV) by
   * queue id (state * slots.length + slot index). A state is in at most one bucket (its earliest),
   * so nothing is allocated per entry and nothing goes stale.
   */
  private expiryBuckets = new Map<number, { head: number; tail: number }>();
  /** Bucket indexes, each pushed when its bucket is created (emptied buckets leave a key behind). */
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
  /** The row of curCustomer in `customers`, or -1 (none, or not looked up). */
  private curRow = -1;
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
    this.deferStarts = options.deferStarts ?? true;
    this.retentionMs = options.explainRetentionMs ?? 24 * 3_600_000;
    if (!(this.retentionMs >= 0)) throw new Error('explainRetentionMs must be >= 0');
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
      this.buffer.push(event.time, this.arrivalSeq++, event);
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
    while (this.buffer.size > 0 && this.buffer.peekAt() <= w) {
      const e = this.buffer.peekItem();
      this.buffer.pop();
      this.handle(e);
    }
    this.fireTimers(w);
  }

  private handle(e: EngineEvent): void {
    this.stats.eventsProcessed++;
    this.bound = null;
    const route = this.byType.get(e.type);
    if (route === undefined) return;
    this.curCustomer = e.customerId;
    this.curRow = this.customers.rows.get(e.customerId) ?? -1;
    const { slots, starts, groups } = route;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot.defer !== Defer.NONE && this.curRow >= 0) this.makeRuns(slot, this.curRow, e.time);
      this.processSlot(slot, e, starts[i]);
    }
    for (let i = 0; i < groups.length; i++) this.addStart(groups[i], e);
  }

  // ---------------------------------------------------------------- deferred starts (StartGroup)

  /** Keeps a start event for the group's triggers. */
  private addStart(g: StartGroup, e: EngineEvent): void {
    const C = this.customers;
    let row = this.curRow;
    // A customer new to the engine holds no partial matches.
    const fresh = row < 0;
    if (fresh) row = this.curRow = C.add(e.customerId);
    const id = g.push(row, this.bound ?? (this.bound = strip(e)));
    const tail = C.chain(row, g.index, CH.TAIL);
    if (tail < 0) {
      C.setChain(row, g.index, CH.HEAD, id);
      C.live[row]++;
    } else g.next[g.at(tail)] = id;
    C.setChain(row, g.index, CH.TAIL, id);
    C.setChain(row, g.index, CH.COUNT, C.chain(row, g.index, CH.COUNT) + 1);
    // A trigger that holds partial matches takes the event now, as if it did not defer: they see it
    // (windows end, a count grows), absence deadlines due by now apply first, and a new one may
    // evict the oldest. So only triggers without partial matches defer. A count whose window now
    // holds atLeast events completes now.
    if (!fresh || g.counts !== 0)
      for (let i = 0; i < g.members.length; i++) {
        const m = g.members[i];
        const st = fresh ? -1 : C.cell(row, m.index);
        const runs = st >= 0 && m.states.int(st, S.RUNS) > 0;
        if (m.defer === Defer.SEQUENCE) {
          if (runs) {
            this.processSlot(m, e, false);
            this.makeRuns(m, row, e.time);
          }
        } else if (m.defer === Defer.COUNT) {
          if (runs) {
            this.processSlot(m, e, true);
            g.consumed[g.at(id)] |= 1 << i;
          } else if (this.countReached(m, row, e.time)) this.makeRuns(m, row, e.time);
        } else if (runs || this.hasDeferred(m, row, g)) {
          // An all defers while the customer's start events for it are of one type (they do not meet).
          this.feed(m, row, g);
        }
      }
    const count = C.chain(row, g.index, CH.COUNT);
    if (count <= g.keep) {
      if (g.counts !== 0) this.dropConsumed(g, row);
      return;
    }
    // Each sequence that defers would evict its oldest partial match: drop the oldest entry.
    const head = C.chain(row, g.index, CH.HEAD);
    this.stats.partialMatchesEvicted += bitCount(g.all & ~g.counts & ~g.consumed[g.at(head)]);
    const next = g.next[g.at(head)];
    g.drop(head);
    this.setChainHead(g, row, next, count - 1);
    this.dropConsumed(g, row);
  }

  /** Whether the count's window at `t` holds atLeast of the customer's start events it has not consumed. */
  private countReached(slot: Slot, row: number, t: number): boolean {
    const g = slot.groups[0];
    const bit = slot.bits[0];
    const from = t - slot.deferMs;
    let n = 0;
    for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
      const k = g.at(id);
      if ((g.consumed[k] & bit) === 0 && !(g.times[k] < from)) n++;
    }
    return n >= slot.atLeast;
  }

  /**
   * Makes the slot's partial matches from the start events of the customer in `row` that it has not
   * consumed, in order, as processSlot would have at each (absence deadlines due by then applied
   * first); those whose window ended before `t` are consumed without one.
   */
  private makeRuns(slot: Slot, row: number, t: number): void {
    if (slot.defer !== Defer.SEQUENCE) {
      this.feed(slot, row);
      return;
    }
    const g = slot.groups[0];
    const C = this.customers;
    let id = C.chain(row, g.index, CH.HEAD);
    if (id < 0) return;
    const trig = slot.compiled;
    const a = slot.arena;
    const T = slot.states;
    const within = slot.deferMs;
    const bit = slot.bits[0];
    const bound = this.bound;
    for (; id >= 0; id = g.next[g.at(id)]) {
      const k = g.at(id);
      const consumed = g.consumed[k];
      if ((consumed & bit) !== 0) continue;
      g.consumed[k] = consumed | bit;
      const e = g.events[k] as BoundEvent;
      if (e.time + within < t) continue;
      let st = C.cell(row, slot.index);
      if (st >= 0 && T.int(st, S.RUNS) > 0 && this.due(T, st, e.time)) {
        this.curSlot = slot;
        this.advanceState(slot, st, e.time);
      }
      if (st < 0) st = this.stateAt(slot, row);
      const r = a.alloc();
      this.bound = e;
      this.offer(trig, a, r, 0, e as EngineEvent);
      this.addRun(slot, st, r);
    }
    this.bound = bound;
    this.dropConsumed(g, row);
  }

  /**
   * Feeds the customer's start events the slot (a count or an all) has not consumed to it in order,
   * as processSlot would have at each: it held no partial match, and its deferred start events are
   * of one type (one group), so nothing happened in between. `newest`: the group holding the newest
   * (fed last).
   */
  private feed(slot: Slot, row: number, newest?: StartGroup): void {
    const { bound, curRow, curCustomer } = this;
    const n = slot.groups.length;
    for (let j = 0; j < n; j++) {
      // The group `newest` last, the others in order.
      const at = newest === undefined ? j : (slot.groups.indexOf(newest) + 1 + j) % n;
      const g = slot.groups[at];
      const bit = slot.bits[at];
      for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
        const k = g.at(id);
        if ((g.consumed[k] & bit) !== 0) continue;
        g.consumed[k] |= bit;
        const e = g.events[k] as BoundEvent;
        this.bound = e;
        this.curRow = row;
        this.curCustomer = e.customerId;
        this.processSlot(slot, e as EngineEvent, true);
      }
    }
    this.bound = bound;
    this.curRow = curRow;
    this.curCustomer = curCustomer;
    for (const g of slot.groups) this.dropConsumed(g, row);
  }

  /** Marks the customer's start events before `before` consumed by the slot (its partial matches were released). */
  private consumeStarts(slot: Slot, row: number, before: number): void {
    for (let i = 0; i < slot.groups.length; i++) {
      const g = slot.groups[i];
      for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
        const k = g.at(id);
        if (g.times[k] >= before) break;
        g.consumed[k] |= slot.bits[i];
      }
      this.dropConsumed(g, row);
    }
  }

  /** Drops the customer's oldest start events while every trigger of the group consumed them. */
  private dropConsumed(g: StartGroup, row: number): void {
    const C = this.customers;
    let id = C.chain(row, g.index, CH.HEAD);
    let count = C.chain(row, g.index, CH.COUNT);
    while (id >= 0 && g.consumed[g.at(id)] === g.all) {
      const next = g.next[g.at(id)];
      g.drop(id);
      count--;
      id = next;
    }
    this.setChainHead(g, row, id, count);
  }

  /** Sets the head (and count) of a chain; an emptied chain releases its hold on the row. */
  private setChainHead(g: StartGroup, row: number, head: number, count: number): void {
    const C = this.customers;
    C.setChain(row, g.index, CH.HEAD, head);
    C.setChain(row, g.index, CH.COUNT, count);
    if (head >= 0 || C.chain(row, g.index, CH.TAIL) < 0) return;
    C.setChain(row, g.index, CH.TAIL, -1);
    if (--C.live[row] === 0) {
      C.remove(row);
      if (row === this.curRow) this.curRow = -1;
    }
  }

  /** Drops start events whose longest window ended before the watermark (idle customers' too). */
  private expireStarts(w: number): void {
    for (const g of this.groups) {
      while (g.head < g.end) {
        const k = g.at(g.head);
        const row = g.rowOf[k];
        if (row >= 0) {
          if (g.times[k] + g.maxWithinMs >= w) break;
          // The oldest entry of its customer (entries leave chains from the head only).
          const next = g.next[k];
          g.drop(g.head);
          this.setChainHead(g, row, next, this.customers.chain(row, g.index, CH.COUNT) - 1);
        }
        g.head++;
      }
    }
  }

  /** Makes every deferred partial match (before a reload: its rules are about partial matches). */
  private makeAllRuns(): void {
    if (this.groups.length === 0) return;
    const C = this.customers;
    for (const row of [...C.rows.values()])
      for (const g of this.groups)
        for (const slot of g.members)
          // (An emptied chain may have removed the row meanwhile: its chains are then empty.)
          if (C.chain(row, g.index, CH.HEAD) >= 0) this.makeRuns(slot, row, this.watermark);
    for (const g of this.groups) g.clear();
  }

  private fireTimers(w: number): void {
    const timers = this.timers;
    while (timers.size > 0 && timers.peekAt() <= w) {
      const at = timers.peekAt();
      const seq = timers.peekSeq();
      const slot = timers.peekItem();
      const s = timers.peekAux();
      timers.pop();
      const T = slot.states;
      if (!slot.active || T.get(s, S.TIMER_AT) !== at || T.get(s, S.TIMER_SEQ) !== seq) continue;
      T.set(s, S.TIMER_AT, Infinity);
      this.curSlot = slot;
      this.curRow = T.int(s, S.ROW);
      this.curCustomer = this.customers.ids[this.curRow];
      this.advanceState(slot, s, w);
      if (T.isEmpty(s)) this.dropState(slot, s);
      else this.schedule(slot, s);
    }
  }

  // ---------------------------------------------------------------- per trigger and customer

  private stateFor(slot: Slot, customerId: string): number {
    const C = this.customers;
    let row = customerId === this.curCustomer ? this.curRow : -1;
    if (row < 0) row = C.rows.get(customerId) ?? C.add(customerId);
    if (customerId === this.curCustomer) this.curRow = row;
    return this.stateAt(slot, row);
  }

  private stateAt(slot: Slot, row: number): number {
    const C = this.customers;
    let s = C.cell(row, slot.index);
    if (s < 0) {
      s = slot.states.alloc(row);
      C.setCell(row, slot.index, s);
      C.live[row]++;
    }
    return s;
  }

  /** Forgets a state (its runs included); its timer and expiry entries become stale. */
  private dropState(slot: Slot, s: number): void {
    const T = slot.states;
    if (T.int(s, S.RUNS) > 0) this.releaseRuns(slot, s);
    if (T.get(s, S.BUCKET) !== Expiry.NO_BUCKET) this.unqueue(slot, s);
    const C = this.customers;
    const row = T.int(s, S.ROW);
    T.release(s);
    C.setCell(row, slot.index, -1);
    if (--C.live[row] === 0) {
      C.remove(row);
      if (row === this.curRow) this.curRow = -1;
    }
  }

  /** `starts`: the event's type can start the trigger's pattern. */
  private processSlot(slot: Slot, e: EngineEvent, starts: boolean): void {
    const t = slot.compiled;
    const a = slot.arena;
    const T = slot.states;
    this.curSlot = slot;
    const row = this.curRow;
    const st = row < 0 ? -1 : this.customers.cell(row, slot.index);
    if (st >= 0 && T.int(st, S.RUNS) > 0) {
      if (t.hasTimers && this.due(T, st, e.time)) this.advanceState(slot, st, e.time);
      let removed = false;
      for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
        const progressed = this.offer(t, a, r, 0, e);
        const s = a.numsOf(r)[a.at(r)];
        if (s === Status.DONE) {
          this.complete(slot, st, r, e.time, e.id, undefined);
          return;
        }
        if (s === Status.DEAD) removed = true;
        else if (progressed && t.hasTimers) this.computeTimers(t, a, r);
      }
      if (removed) this.removeRuns(slot, st, -Infinity);
      if (t.hasTimers) this.schedule(slot, st);
      if (t.singleRun && T.int(st, S.RUNS) > 0) return;
    }
    let r = -1;
    if (starts) {
      r = slot.scratch < 0 ? (slot.scratch = a.alloc()) : slot.scratch;
      if (!this.offer(t, a, r, 0, e)) r = -1;
    }
    if (r < 0) {
      if (st >= 0 && T.isEmpty(st)) this.dropState(slot, st);
      return;
    }
    slot.scratch = -1;
    // (A failed condition may have created the state meanwhile.)
    const state = st >= 0 ? st : this.stateFor(slot, e.customerId);
    if (a.numsOf(r)[a.at(r)] === Status.DONE) {
      this.complete(slot, state, r, e.time, e.id, undefined);
      a.reset(r);
      slot.scratch = r;
      return;
    }
    this.addRun(slot, state, r);
  }

  /** Adds a started run as the state's newest (evicting its oldest beyond the cap). */
  private addRun(slot: Slot, state: number, r: number): void {
    const t = slot.compiled;
    const a = slot.arena;
    const T = slot.states;
    const seq = T.get(state, S.RUN_SEQ);
    T.set(state, S.RUN_SEQ, seq + 1);
    a.numsOf(r)[a.at(r) + R.SEQ] = seq;
    T.appendRun(a, state, r);
    if (T.int(state, S.RUNS) > this.maxRuns) {
      const oldest = T.int(state, S.FIRST);
      T.set(state, S.FIRST, a.next(oldest));
      T.set(state, S.RUNS, T.int(state, S.RUNS) - 1);
      a.release(oldest);
      this.stats.partialMatchesEvicted++;
    }
    if (t.hasTimers) {
      this.computeTimers(t, a, r);
      this.schedule(slot, state);
    }
  }

  /**
   * Whether advanceState(…, t) could change the state, from bounds kept without walking its runs:
   * S.TIMER_AT is at most its earliest absence deadline, and its expiry bucket starts at most at its
   * earliest expiry (no bucket: no run can expire). Both hold whenever an event reaches the state:
   * every change of a run's deadline or expiry is followed by schedule().
   */
  private due(T: StateTable, st: number, t: number): boolean {
    if (T.get(st, S.TIMER_AT) <= t) return true;
    const k = T.get(st, S.BUCKET);
    return k !== Expiry.NO_BUCKET && k * Expiry.BUCKET_MS < t;
  }

  /** Applies absence deadlines up to `t` in time order, then drops partial matches whose window ended before `t`. */
  private advanceState(slot: Slot, st: number, t: number): void {
    const trig = slot.compiled;
    const a = slot.arena;
    const T = slot.states;
    const d = R.DEADLINE;
    for (;;) {
      let best = -1;
      let deadline = Infinity;
      for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
        const at = a.numsOf(r)[a.at(r) + d];
        if (at <= t && (best < 0 || at < deadline)) {
          best = r;
          deadline = at;
        }
      }
      if (best < 0) break;
      this.applyDeadline(trig, a, best);
      const s = a.numsOf(best)[a.at(best)];
      if (s === Status.DONE) {
        this.complete(slot, st, best, deadline, null, deadline);
        return;
      }
      if (s === Status.DEAD) this.removeRuns(slot, st, -Infinity);
      else this.computeTimers(trig, a, best);
    }
    const x = R.EXPIRY;
    let expired = false;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) if (a.numsOf(r)[a.at(r) + x] < t) expired = true;
    if (expired) this.removeRuns(slot, st, t);
  }

  /** Keeps one heap entry at the state's earliest absence deadline (stale entries are skipped when popped). */
  private schedule(slot: Slot, st: number): void {
    let at = Infinity;
    let expiry = Infinity;
    const a = slot.arena;
    const T = slot.states;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
      const n = a.numsOf(r);
      const m = a.at(r);
      if (n[m + R.DEADLINE] < at) at = n[m + R.DEADLINE];
      if (n[m + R.EXPIRY] < expiry) expiry = n[m + R.EXPIRY];
    }
    const kept = T.get(st, S.KEPT);
    if (kept !== -Infinity && kept < expiry) expiry = kept;
    if (expiry !== Infinity) this.queueBy(slot, st, expiry);
    if (at < T.get(st, S.TIMER_AT)) {
      const seq = this.timerSeq++;
      T.set(st, S.TIMER_AT, at);
      T.set(st, S.TIMER_SEQ, seq);
      this.timers.push(at, seq, slot, st);
    }
  }

  /** Queues the state in the expiry bucket of `t` unless it is queued in that one or an earlier one. */
  private queueBy(slot: Slot, st: number, t: number): void {
    const k = Math.floor(t / Expiry.BUCKET_MS);
    const queued = slot.states.get(st, S.BUCKET);
    if (queued === Expiry.NO_BUCKET || k < queued) {
      if (queued !== Expiry.NO_BUCKET) this.unqueue(slot, st);
      this.enqueue(slot, st, k);
    }
  }

  /** Queues a state for the end of its bookkeeping (S.KEPT), which expire() then drops. */
  private queueKept(slot: Slot, st: number): void {
    this.queueBy(slot, st, slot.states.get(st, S.KEPT));
  }

  /**
   * Drops partial matches whose window ended before the watermark, bucket by bucket (states touched by
   * events or deadlines are cleaned on the spot too; this reaches the idle ones). process() handles
   * buckets the watermark has passed; advanceTo() (the idle timer) also the current one, so an idle
   * customer's state is gone as soon as its windows end. Which runs are dropped depends only on the
   * calls made, so a restored engine drops the same ones.
   */
  private expire(w: number, current: boolean): void {
    if (this.groups.length > 0) this.expireStarts(w);
    let requeue: Array<{ slot: Slot; st: number }> | null = null;
    for (let k = this.expiryKeys.peek(); k !== undefined; k = this.expiryKeys.peek()) {
      const end = (k + 1) * Expiry.BUCKET_MS;
      const full = end <= w;
      if (!full && !(current && k * Expiry.BUCKET_MS < w)) break;
      this.expiryKeys.pop();
      const bucket = this.expiryBuckets.get(k);
      if (bucket === undefined) continue;
      this.expiryBuckets.delete(k);
      const span = this.slots.length;
      for (let id = bucket.head; id >= 0;) {
        const slot = this.slotOf(id);
        const st = Math.floor(id / span);
        const T = slot.states;
        // Read before the state is queued elsewhere; the detached list is not fixed up.
        const next = T.get(st, S.BUCKET_NEXT);
        T.set(st, S.BUCKET, Expiry.NO_BUCKET);
        const t = full ? end : w;
        this.removeRuns(slot, st, t);
        if (T.get(st, S.KEPT) < t) T.forget(st);
        if (T.isEmpty(st)) this.dropState(slot, st);
        else if (full) this.schedule(slot, st);
        else (requeue ??= []).push({ slot, st });
        id = next;
      }
    }
    // Runs of the current bucket not expired yet: queued again after the loop (it would revisit them).
    if (requeue !== null) for (const { slot, st } of requeue) this.schedule(slot, st);
  }

  private slotOf(id: number): Slot {
    return this.slots[id % this.slots.length];
  }

  /** Sets a link field of the state with queue id `id`. */
  private setLink(id: number, field: number, v: number): void {
    this.slotOf(id).states.set(Math.floor(id / this.slots.length), field, v);
  }

  /** Appends a state to expiry bucket k. */
  private enqueue(slot: Slot, st: number, k: number): void {
    const T = slot.states;
    const id = st * this.slots.length + slot.index;
    T.set(st, S.BUCKET, k);
    T.set(st, S.BUCKET_NEXT, -1);
    const bucket = this.expiryBuckets.get(k);
    if (bucket === undefined) {
      T.set(st, S.BUCKET_PREV, -1);
      this.expiryBuckets.set(k, { head: id, tail: id });
      this.expiryKeys.push(k);
      return;
    }
    T.set(st, S.BUCKET_PREV, bucket.tail);
    this.setLink(bucket.tail, S.BUCKET_NEXT, id);
    bucket.tail = id;
  }

  /** Takes a state out of its expiry bucket. */
  private unqueue(slot: Slot, st: number): void {
    const T = slot.states;
    const k = T.get(st, S.BUCKET);
    const bucket = this.expiryBuckets.get(k) as { head: number; tail: number };
    T.set(st, S.BUCKET, Expiry.NO_BUCKET);
    const prev = T.get(st, S.BUCKET_PREV);
    const next = T.get(st, S.BUCKET_NEXT);
    if (prev < 0) bucket.head = next;
    else this.setLink(prev, S.BUCKET_NEXT, next);
    if (next < 0) bucket.tail = prev;
    else this.setLink(next, S.BUCKET_PREV, prev);
    if (bucket.head < 0) this.expiryBuckets.delete(k);
  }

  private complete(
    slot: Slot,
    st: number,
    run: number,
    at: number,
    completingEventId: string | null,
    deadline: number | undefined,
  ): void {
    const spec = slot.compiled.spec;
    const T = slot.states;
    const customerId = this.customers.ids[T.int(st, S.ROW)];
    const matched: MatchedStep[] = [];
    this.collect(slot.compiled, slot.arena, run, 0, matched, true);
    this.releaseRuns(slot, st);
    // Partial matches it would have made from start events before `at` are released too.
    if (slot.defer !== Defer.NONE) this.consumeStarts(slot, T.int(st, S.ROW), at);
    const lastFiredAt = T.get(st, S.LAST_FIRED);
    if (at < lastFiredAt + spec.cooldownMs) {
      const eventIds: string[] = [];
      for (const m of matched) if (m.event !== undefined) eventIds.push(m.event.id);
      T.setSuppressed(st, { at, eventIds });
      this.queueKept(slot, st);
      this.stats.suppressedByCooldown++;
      return;
    }
    T.setLastFired(st, at);
    this.queueKept(slot, st);
    const bindings: Record<string, BoundEvent> = {};
    for (const m of matched) if (m.alias !== undefined && m.event !== undefined) bindings[m.alias] = m.event;
    this.stats.fired++;
    const fired: FiredTrigger = {
      id: `${slot.idPrefix}${firedIdTail(customerId, completingEventId, deadline)}`,
      trigger: spec.name,
      version: spec.version,
      customerId,
      firedAt: at,
      priority: spec.priority,
      matched,
      bindings,
      explanation: describeFire(slot.fireText, customerId, at, matched, deadline),
      completingEventId,
    };
    if (spec.category !== undefined) fired.category = spec.category;
    if (spec.description !== undefined) fired.description = spec.description;
    if (deadline !== undefined) fired.completedByDeadline = deadline;
    this.out.push(fired);
  }

  // ---------------------------------------------------------------- run mechanics

  /** Removes runs that are not pending or whose expiry is before `t`, recycling them. */
  private removeRuns(slot: Slot, st: number, t: number): void {
    const a = slot.arena;
    const T = slot.states;
    let prev = -1;
    for (let r = T.int(st, S.FIRST); r >= 0;) {
      const next = a.next(r);
      const n = a.numsOf(r);
      const base = a.at(r);
      if (n[base] === Status.PENDING && !(n[base + R.EXPIRY] < t)) prev = r;
      else {
        if (prev < 0) T.set(st, S.FIRST, next);
        else a.setNext(prev, next);
        if (T.int(st, S.LAST) === r) T.set(st, S.LAST, prev);
        T.set(st, S.RUNS, T.int(st, S.RUNS) - 1);
        a.release(r);
      }
      r = next;
    }
  }

  /** Discards every run of a state. */
  private releaseRuns(slot: Slot, st: number): void {
    const a = slot.arena;
    const T = slot.states;
    for (let r = T.int(st, S.FIRST); r >= 0;) {
      const next = a.next(r);
      a.release(r);
      r = next;
    }
    T.set(st, S.FIRST, -1);
    T.set(st, S.LAST, -1);
    T.set(st, S.RUNS, 0);
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
      if (a.numsOf(run)[a.at(run) + i * N.STRIDE] !== Status.DONE) continue;
      const bound = a.evsOf(run)[a.evAt(run) + t.evSlot[i]] as BoundEvent | BoundEvent[];
      bindings[t.nodes[i].alias as string] = Array.isArray(bound) ? bound[bound.length - 1] : bound;
    }
    return bindings;
  }

  private recordFailure(node: CompiledNode, e: EngineEvent, error: string | undefined): void {
    const slot = this.curSlot as Slot;
    const st = this.stateFor(slot, this.curCustomer);
    slot.states.recordFailure(st, node.index, e, error);
    this.queueKept(slot, st);
  }

  /** Offers an event to node i of a run; returns whether the node made progress. */
  private offer(t: CompiledTrigger, a: RunArena, run: number, i: number, e: EngineEvent): boolean {
    const n = a.numsOf(run);
    const base = a.at(run);
    const b = base + i * N.STRIDE;
    if (n[b] !== Status.PENDING) return false;
    const node = t.nodes[i];
    switch (node.kind) {
      case K_EVENT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, a, run, e)) return false;
        a.evsOf(run)[a.evAt(run) + t.evSlot[i]] = this.bound ?? (this.bound = strip(e));
        n[b] = Status.DONE;
        n[b + N.START] = e.time;
        n[b + N.DONE_AT] = e.time;
        return true;
      }
      case K_COUNT: {
        if (e.type !== node.type) return false;
        if (node.where !== undefined && !this.check(node, node.where, t, a, run, e)) return false;
        const s = this.bound ?? (this.bound = strip(e));
        const evs = a.evsOf(run);
        const k = a.evAt(run) + t.evSlot[i];
        const held = evs[k];
        const from = e.time - node.withinMs;
        let first = s;
        let count = 1;
        if (held === null) evs[k] = s;
        else if (!Array.isArray(held)) {
          if (held.time < from) evs[k] = s;
          else {
            evs[k] = [held, s];
            first = held;
            count = 2;
          }
        } else {
          let drop = 0;
          while (drop < held.length && held[drop].time < from) drop++;
          if (drop > 0) held.splice(0, drop);
          held.push(s);
          first = held[0];
          count = held.length;
        }
        n[b + N.START] = first.time;
        if (count >= node.atLeast) {
          n[b] = Status.DONE;
          n[b + N.DONE_AT] = e.time;
        }
        return true;
      }
      case K_SEQUENCE: {
        const start = n[b + N.START];
        if (start === start && e.time > start + node.withinMs) {
          n[b] = Status.DEAD;
          return false;
        }
        const cur = n[b + N.AUX];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          if (
            e.type === child.type &&
            (child.where === undefined || this.check(child, child.where, t, a, run, e))
          ) {
            const deadline = n[base + node.children[cur - 1] * N.STRIDE + N.DONE_AT] + child.forMs;
            if (e.time < deadline) n[b] = Status.DEAD;
          }
          return false;
        }
        const progressed = this.offer(t, a, run, c, e);
        const cs = n[base + c * N.STRIDE];
        if (cs === Status.DEAD) {
          n[b] = Status.DEAD;
          return false;
        }
        if (!progressed) return false;
        if (start !== start) n[b + N.START] = e.time;
        if (cs === Status.DONE) {
          n[b + N.AUX] = cur + 1;
          if (cur + 1 === node.children.length) {
            n[b] = Status.DONE;
            n[b + N.DONE_AT] = n[base + c * N.STRIDE + N.DONE_AT];
          }
        }
        return true;
      }
      case K_ALL: {
        const start = n[b + N.START];
        if (start === start && e.time > start + node.withinMs) {
          n[b] = Status.DEAD;
          return false;
        }
        let progressed = false;
        let allDone = true;
        const children = node.children;
        for (let k = 0; k < children.length; k++) {
          const c = children[k];
          const cb = base + c * N.STRIDE;
          if (n[cb] === Status.PENDING && this.offer(t, a, run, c, e)) progressed = true;
          const cs = n[cb];
          if (cs === Status.DEAD) {
            n[b] = Status.DEAD;
            return false;
          }
          if (cs !== Status.DONE) allDone = false;
        }
        if (!progressed) return false;
        if (start !== start) n[b + N.START] = e.time;
        if (allDone) {
          n[b] = Status.DONE;
          n[b + N.DONE_AT] = e.time;
        }
        return true;
      }
      case K_ANY: {
        let progressed = false;
        let allDead = true;
        const children = node.children;
        for (let k = 0; k < children.length; k++) {
          const c = children[k];
          const cb = base + c * N.STRIDE;
          if (n[cb] === Status.PENDING && this.offer(t, a, run, c, e)) progressed = true;
          const cs = n[cb];
          if (cs === Status.DONE) {
            if (n[b + N.START] !== n[b + N.START]) n[b + N.START] = e.time;
            n[b] = Status.DONE;
            n[b + N.AUX] = k;
            n[b + N.DONE_AT] = n[cb + N.DONE_AT];
            return true;
          }
          if (cs !== Status.DEAD) allDead = false;
        }
        if (allDead) {
          n[b] = Status.DEAD;
          return false;
        }
        if (progressed && n[b + N.START] !== n[b + N.START]) n[b + N.START] = e.time;
        return progressed;
      }
      default:
        return false;
    }
  }

  /** Marks node i dead and propagates: sequence/all die with a child; any dies when all its children are dead. */
  private kill(t: CompiledTrigger, a: RunArena, run: number, i: number): void {
    const n = a.numsOf(run);
    const base = a.at(run);
    n[base + i * N.STRIDE] = Status.DEAD;
    for (
      let p = t.nodes[i].parent;
      p >= 0 && n[base + p * N.STRIDE] === Status.PENDING;
      p = t.nodes[p].parent
    ) {
      const pn = t.nodes[p];
      if (pn.kind === K_ANY && pn.children.some((c) => n[base + c * N.STRIDE] !== Status.DEAD)) return;
      n[base + p * N.STRIDE] = Status.DEAD;
    }
  }

  /** Completes the absence the run's earliest deadline belongs to (or kills expired windows on its path). */
  private applyDeadline(t: CompiledTrigger, a: RunArena, run: number): void {
    const n = a.numsOf(run);
    const base = a.at(run);
    const target = n[base + R.DEADLINE_NODE];
    const d = n[base + R.DEADLINE];
    for (let i = target; i >= 0; i = t.nodes[i].parent) {
      const node = t.nodes[i];
      const start = n[base + i * N.STRIDE + N.START];
      if (
        n[base + i * N.STRIDE] === Status.PENDING &&
        (node.kind === K_SEQUENCE || node.kind === K_ALL) &&
        d > start + node.withinMs
      )
        this.kill(t, a, run, i);
    }
    for (let i = target; i >= 0; i = t.nodes[i].parent) if (n[base + i * N.STRIDE] !== Status.PENDING) return;
    const seq = t.nodes[target];
    const absent = seq.children[n[base + target * N.STRIDE + N.AUX]];
    const ab = base + absent * N.STRIDE;
    n[ab] = Status.DONE;
    n[ab + N.START] = d - t.nodes[absent].forMs;
    n[ab + N.DONE_AT] = d;
    // propagate completion upwards
    let child = absent;
    for (let p = target; p >= 0; child = p, p = t.nodes[p].parent) {
      const pn = t.nodes[p];
      const pb = base + p * N.STRIDE;
      if (pn.kind === K_SEQUENCE) {
        const cur = n[pb + N.AUX] + 1;
        n[pb + N.AUX] = cur;
        if (cur < pn.children.length) return;
      } else if (pn.kind === K_ALL) {
        if (pn.children.some((c) => n[base + c * N.STRIDE] !== Status.DONE)) return;
      } else if (pn.kind === K_ANY) {
        n[pb + N.AUX] = t.nodes[child].position;
      }
      n[pb] = Status.DONE;
      n[pb + N.DONE_AT] = d;
    }
  }

  /** Recomputes the run's next absence deadline and its expiry (the time after which it cannot complete). */
  private computeTimers(t: CompiledTrigger, a: RunArena, run: number): void {
    const n = a.numsOf(run);
    const m = a.at(run);
    n[m + R.DEADLINE] = Infinity;
    n[m + R.DEADLINE_NODE] = -1;
    n[m + R.EXPIRY] = t.singleRun ? this.heldUntil(t, a, run) : this.expiryOf(t, a, run, 0);
  }

  /**
   * Expiry of a single-run trigger's run (root count, root any of event/count): the last time at
   * which an event it holds still counts. After it the run holds nothing a new run would not, so
   * dropping it changes no firing and bounds an idle customer's state.
   */
  private heldUntil(t: CompiledTrigger, a: RunArena, run: number): number {
    const evs = a.evsOf(run);
    const at = a.evAt(run);
    let until = -Infinity;
    for (const i of t.evNodes) {
      const node = t.nodes[i];
      const held = evs[at + t.evSlot[i]];
      if (node.kind !== K_COUNT || held === null) continue;
      const last = Array.isArray(held) ? held[held.length - 1] : held;
      if (last.time + node.withinMs > until) until = last.time + node.withinMs;
    }
    return until;
  }

  private expiryOf(t: CompiledTrigger, a: RunArena, run: number, i: number): number {
    const n = a.numsOf(run);
    const base = a.at(run);
    const b = base + i * N.STRIDE;
    const s = n[b];
    if (s === Status.DONE) return Infinity;
    if (s === Status.DEAD) return -Infinity;
    const node = t.nodes[i];
    const start = n[b + N.START];
    const own = start === start ? start + node.withinMs : Infinity;
    switch (node.kind) {
      case K_SEQUENCE: {
        const cur = n[b + N.AUX];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          const d = n[base + node.children[cur - 1] * N.STRIDE + N.DONE_AT] + child.forMs;
          const m = base;
          if (d < n[m + R.DEADLINE]) {
            n[m + R.DEADLINE] = d;
            n[m + R.DEADLINE_NODE] = i;
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
    const n = a.numsOf(run);
    const base = a.at(run);
    const b = base + i * N.STRIDE;
    switch (node.kind) {
      case K_EVENT: {
        const e = a.evsOf(run)[a.evAt(run) + t.evSlot[i]] as BoundEvent | null;
        if (e === null) return;
        const m: MatchedStep = { path: node.path, kind: 'event', type: node.type, event: e, time: e.time };
        if (node.alias !== undefined) m.alias = node.alias;
        out.push(m);
        return;
      }
      case K_COUNT: {
        const list = counted(a.evsOf(run)[a.evAt(run) + t.evSlot[i]]);
        for (const e of list) {
          const m: MatchedStep = { path: node.path, kind: 'count', type: node.type, event: e, time: e.time };
          if (node.alias !== undefined && e === list[list.length - 1] && n[b] === Status.DONE)
            m.alias = node.alias;
          out.push(m);
        }
        return;
      }
      case K_ABSENT:
        if (n[b] === Status.DONE)
          out.push({
            path: node.path,
            kind: 'absent',
            type: node.type,
            time: n[b + N.DONE_AT],
            absentFrom: n[b + N.START],
            absentUntil: n[b + N.DONE_AT],
          });
        return;
      case K_ANY:
        if (completed && n[b] === Status.DONE) {
          this.collect(t, a, run, node.children[n[b + N.AUX]], out, completed);
          return;
        }
        for (const c of node.children)
          if (n[base + c * N.STRIDE] !== Status.DEAD) this.collect(t, a, run, c, out, completed);
        return;
      default:
        for (const c of node.children) this.collect(t, a, run, c, out, completed);
    }
  }

  private waiting(t: CompiledTrigger, a: RunArena, run: number, i: number, out: WaitingStep[]): void {
    const node = t.nodes[i];
    const n = a.numsOf(run);
    const base = a.at(run);
    const b = base + i * N.STRIDE;
    if (n[b] !== Status.PENDING) return;
    switch (node.kind) {
      case K_EVENT: {
        const w: WaitingStep = { path: node.path, kind: 'event', type: node.type };
        if (node.where !== undefined) w.condition = node.where.source;
        out.push(w);
        return;
      }
      case K_COUNT: {
        const w: WaitingStep = {
          path: node.path,
          kind: 'count',
          type: node.type,
          counted: counted(a.evsOf(run)[a.evAt(run) + t.evSlot[i]]).length,
          atLeast: node.atLeast,
        };
        if (node.where !== undefined) w.condition = node.where.source;
        out.push(w);
        return;
      }
      case K_SEQUENCE: {
        const cur = n[b + N.AUX];
        const c = node.children[cur];
        const child = t.nodes[c];
        if (child.kind === K_ABSENT) {
          const w: WaitingStep = {
            path: child.path,
            kind: 'absent',
            type: child.type,
            deadline: n[base + node.children[cur - 1] * N.STRIDE + N.DONE_AT] + child.forMs,
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
    // Deferred partial matches are made first: the rules below apply to partial matches.
    this.makeAllRuns();
    const old = new Map(this.slots.map((s) => [s.compiled.spec.name, s]));
    const slots: Slot[] = compiled.map((c, index) => ({
      compiled: c,
      defer: Defer.NONE,
      groups: [],
      bits: [],
      deferMs: 0,
      atLeast: 0,
      index,
      arena: new RunArena(c.nodes.length, c.evNodes.length),
      states: this.stateTable(c),
      scratch: -1,
      active: true,
      idPrefix: firedIdPrefix(c.spec.name, c.spec.version),
      fireText: `Trigger '${c.spec.name}' v${c.spec.version} fired for customer `,
    }));
    // Per new slot: the old slot whose states it keeps, or the one whose cooldowns it keeps.
    const keep: Array<Slot | undefined> = [];
    const cooldowns: Array<Slot | undefined> = [];
    for (const slot of slots) {
      const prev = old.get(slot.compiled.spec.name);
      const same =
        prev !== undefined &&
        prev.compiled.spec.version === slot.compiled.spec.version &&
        signature(prev.compiled) === signature(slot.compiled) &&
        // Its states keep their firings for the cooldown they were made with.
        prev.compiled.spec.cooldownMs === slot.compiled.spec.cooldownMs;
      keep.push(same ? prev : undefined);
      cooldowns.push(same ? undefined : prev);
      if (same) {
        // Its runs and states stay where they are.
        slot.arena = prev.arena;
        slot.states = prev.states;
        slot.scratch = prev.scratch;
      }
    }
    const groups: StartGroup[] = [];
    if (this.deferStarts) {
      for (const slot of slots) {
        const how = deferral(slot.compiled);
        if (how === undefined) continue;
        slot.defer = how.defer;
        slot.deferMs = how.windowMs;
        slot.atLeast = how.nodes[0].atLeast;
        for (const { type } of how.nodes) {
          let g = groups.find((x) => x.type === type && x.members.length < 31);
          if (g === undefined) groups.push((g = new StartGroup(type, groups.length, this.maxRuns)));
          const bit = 1 << g.members.length;
          slot.groups.push(g);
          slot.bits.push(bit);
          g.members.push(slot);
          g.all |= bit;
          if (how.defer === Defer.COUNT) g.counts |= bit;
          g.maxWithinMs = Math.max(g.maxWithinMs, slot.deferMs);
          // A count holds fewer than atLeast events: it fires at atLeast.
          if (how.defer === Defer.COUNT) g.keep = Math.max(g.keep, slot.atLeast - 1);
        }
      }
    }
    const from = this.customers;
    const to = new CustomerTable(slots.length, groups.length);
    for (const [cid, oldRow] of from.rows) {
      let row = -1;
      for (let i = 0; i < slots.length; i++) {
        const kept = keep[i];
        const reset = cooldowns[i];
        let s = -1;
        if (kept !== undefined) s = from.cell(oldRow, kept.index);
        else if (reset !== undefined && from.cell(oldRow, reset.index) >= 0) {
          const prevT = reset.states;
          const prevS = from.cell(oldRow, reset.index);
          if (prevT.lastFiredAt(prevS) === undefined) continue;
          if (row < 0) row = to.add(cid);
          s = slots[i].states.alloc(row);
          slots[i].states.setLastFired(s, prevT.lastFiredAt(prevS));
          slots[i].states.setSuppressed(s, prevT.suppressed.get(prevS));
        }
        if (s < 0) continue;
        if (row < 0) row = to.add(cid);
        slots[i].states.set(s, S.ROW, row);
        to.setCell(row, i, s);
        to.live[row]++;
      }
    }
    for (const s of this.slots) s.active = false;
    this.slots = slots;
    this.customers = to;
    this.curRow = -1;
    this.groups = groups;
    this.byType = new Map();
    const routeOf = (type: string): Route => {
      let route = this.byType.get(type);
      if (route === undefined) this.byType.set(type, (route = { slots: [], starts: [], groups: [] }));
      return route;
    };
    for (const s of slots) {
      for (const type of s.compiled.types) {
        // A deferred-start trigger's start events go to its group instead.
        if (s.groups.some((g) => g.type === type)) continue;
        const route = routeOf(type);
        route.slots.push(s);
        route.starts.push(s.compiled.startTypes.has(type));
      }
    }
    for (const g of groups) routeOf(g.type).groups.push(g);
    this.rebuildTimers();
  }

  private stateTable(t: CompiledTrigger): StateTable {
    return new StateTable(t.nodes.length, whereNodes(t), t.spec.cooldownMs, this.retentionMs);
  }

  private rebuildTimers(): void {
    this.timers.clear();
    this.expiryBuckets.clear();
    this.expiryKeys.clear();
    for (const slot of this.slots) {
      const T = slot.states;
      const a = slot.arena;
      for (const [, st] of this.statesOf(slot)) {
        T.set(st, S.BUCKET, Expiry.NO_BUCKET);
        if (!slot.compiled.hasTimers) {
          if (T.get(st, S.KEPT) !== -Infinity) this.queueKept(slot, st);
          continue;
        }
        for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) this.computeTimers(slot.compiled, a, r);
        // Keep a live entry (same time and sequence number) so ties fire in the same order as before.
        const at = T.get(st, S.TIMER_AT);
        const seq = T.get(st, S.TIMER_SEQ);
        if (at !== Infinity && seq >= 0) {
          this.schedule(slot, st);
          if (T.get(st, S.TIMER_AT) === at) this.timers.push(at, seq, slot, st);
        } else {
          T.set(st, S.TIMER_AT, Infinity);
          this.schedule(slot, st);
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
    const row = this.customers.rows.get(customerId);
    if (slot.defer !== Defer.NONE && row !== undefined) this.makeRuns(slot, row, this.watermark);
    const st = this.stateOf(slot, customerId);
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
    if (st >= 0) {
      const a = slot.arena;
      const T = slot.states;
      for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
        const matchedSoFar: MatchedStep[] = [];
        this.collect(t, a, r, 0, matchedSoFar, false);
        const waitingFor: WaitingStep[] = [];
        this.waiting(t, a, r, 0, waitingFor);
        const n = a.numsOf(r);
        const base = a.at(r);
        const pm: PartialMatchExplanation = { startedAt: n[base + N.START], matchedSoFar, waitingFor };
        const expiry = n[base + R.EXPIRY];
        if (expiry !== Infinity) pm.expiresAfter = expiry;
        partialMatches.push(pm);
      }
      for (const [k, f] of T.failuresOf(st)) {
        const node = t.nodes[k];
        const cf: ConditionFailure = {
          path: node.path,
          condition: node.where?.source ?? '',
          eventId: f.eventId,
          eventTime: f.eventTime,
        };
        if (f.error !== undefined) cf.error = f.error;
        conditionFailures.push(cf);
      }
      const lastFiredAt = T.lastFiredAt(st);
      if (lastFiredAt !== undefined) {
        ex.lastFiredAt = lastFiredAt;
        if (spec.cooldownMs > 0) ex.cooldownUntil = lastFiredAt + spec.cooldownMs;
      }
      const suppressed = T.suppressed.get(st);
      if (suppressed !== undefined) ex.lastSuppressed = suppressed;
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

  /** Buffered events as snapshots list them (in queue order). */
  private bufferedList(): Buffered[] {
    return this.buffer.entries().map(({ seq, item }) => ({ event: item, seq }));
  }

  /** The state of a trigger for a customer (-1: none). */
  private stateOf(slot: Slot, customerId: string): number {
    const row = this.customers.rows.get(customerId);
    return row === undefined ? -1 : this.customers.cell(row, slot.index);
  }

  private serializeRun(slot: Slot, r: number, seq: number): SerializedRun {
    const a = slot.arena;
    const nums = a.numsOf(r);
    const base = a.at(r);
    const n: Array<number | null> = [];
    for (let k = base; k < base + a.nodeNums; k++) n.push(nums[k] === nums[k] ? nums[k] : null);
    const t = slot.compiled;
    const ev: Array<BoundEvent | BoundEvent[] | null> = new Array<null>(t.nodes.length).fill(null);
    for (const i of t.evNodes) {
      const held = a.evsOf(r)[a.evAt(r) + t.evSlot[i]];
      ev[i] = t.nodes[i].kind === K_COUNT && held !== null ? counted(held) : held;
    }
    return { seq, n, ev };
  }

  /** Whether the customer in `row` has start events the slot has not consumed (in groups other than `except`). */
  private hasDeferred(slot: Slot, row: number, except?: StartGroup): boolean {
    for (let i = 0; i < slot.groups.length; i++) {
      const g = slot.groups[i];
      if (g === except) continue;
      for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)])
        if ((g.consumed[g.at(id)] & slot.bits[i]) === 0) return true;
    }
    return false;
  }

  /**
   * A trigger state as a checkpoint holds it (`st` -1: none yet), with the partial matches the
   * trigger defers made (serialized, not kept: a restored engine holds them as made), so checkpoints
   * neither depend on nor undo deferring.
   */
  private serializeState(slot: Slot, st: number, row: number): SerializedState {
    const out: SerializedState = {};
    const runs: SerializedRun[] = [];
    let runSeq = 0;
    if (st >= 0) {
      const T = slot.states;
      const a = slot.arena;
      for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r))
        runs.push(this.serializeRun(slot, r, a.numsOf(r)[a.at(r) + R.SEQ]));
      runSeq = T.get(st, S.RUN_SEQ);
    }
    for (let i = 0; i < slot.groups.length; i++) {
      const g = slot.groups[i];
      const a = slot.arena;
      const t = slot.compiled;
      const bound = this.bound;
      // A count's one partial match: restarted when its events all left the window (as it expires).
      let count = -1;
      const expiry = R.EXPIRY;
      for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
        const k = g.at(id);
        const e = g.events[k] as BoundEvent;
        if ((g.consumed[k] & slot.bits[i]) !== 0) continue;
        this.bound = e;
        if (slot.defer === Defer.COUNT) {
          if (count >= 0 && a.numsOf(count)[a.at(count) + expiry] < e.time) {
            a.release(count);
            count = -1;
          }
          if (count < 0) count = a.alloc();
          this.offer(t, a, count, 0, e as EngineEvent);
          this.computeTimers(t, a, count);
          continue;
        }
        if (e.time + slot.deferMs < this.watermark) continue;
        const r = a.alloc();
        this.offer(t, a, r, 0, e as EngineEvent);
        runs.push(this.serializeRun(slot, r, runSeq++));
        a.release(r);
        // The newest beyond the cap would have evicted the oldest.
        if (runs.length > this.maxRuns) runs.shift();
      }
      if (count >= 0) {
        if (!(a.numsOf(count)[a.at(count) + expiry] < this.watermark))
          runs.push(this.serializeRun(slot, count, runSeq++));
        a.release(count);
      }
      this.bound = bound;
    }
    if (runs.length > 0) out.runs = runs;
    if (runSeq > 0) out.runSeq = runSeq;
    if (st < 0) return out;
    const T = slot.states;
    const lastFiredAt = T.lastFiredAt(st);
    if (lastFiredAt !== undefined) out.lastFiredAt = lastFiredAt;
    const suppressed = T.suppressed.get(st);
    if (suppressed !== undefined) out.lastSuppressed = suppressed;
    const failures = T.failuresOf(st);
    if (failures.length > 0) {
      out.failures = {};
      for (const [i, f] of failures) out.failures[String(i)] = f;
    }
    const at = T.get(st, S.TIMER_AT);
    const seq = T.get(st, S.TIMER_SEQ);
    if (at !== Infinity && seq >= 0) out.timer = [at, seq];
    return out;
  }

  /** One trigger's states as checkpoints hold them (see serializeState), by customer. */
  private serializedStates(slot: Slot): Array<[string, SerializedState]> {
    const C = this.customers;
    const out: Array<[string, SerializedState]> = [];
    for (const [cid, row] of C.rows) {
      const st = C.cell(row, slot.index);
      if (st >= 0 || this.hasDeferred(slot, row)) out.push([cid, this.serializeState(slot, st, row)]);
    }
    return out;
  }

  /** One trigger's states, by customer. */
  private statesOf(slot: Slot): Array<[string, number]> {
    const C = this.customers;
    const out: Array<[string, number]> = [];
    for (const [cid, row] of C.rows) {
      const st = C.cell(row, slot.index);
      if (st >= 0) out.push([cid, st]);
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
      buffer: this.bufferedList(),
      stats: { ...this.stats },
      triggers: this.slots.map((s) => ({
        name: s.compiled.spec.name,
        version: s.compiled.spec.version,
        states: this.serializedStates(s),
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
    for (const b of snap.buffer) this.buffer.push(b.event.time, b.seq, b.event);
    this.customers = new CustomerTable(this.slots.length, this.groups.length);
    for (const g of this.groups) g.clear();
    this.curRow = -1;
    Object.assign(this.stats, snap.stats);
    const byName = new Map(snap.triggers.map((t) => [t.name, t]));
    for (const slot of this.slots) {
      slot.arena = new RunArena(slot.compiled.nodes.length, slot.compiled.evNodes.length);
      slot.states = this.stateTable(slot.compiled);
      slot.scratch = -1;
      const saved = byName.get(slot.compiled.spec.name);
      if (saved === undefined) continue;
      const sameVersion = saved.version === slot.compiled.spec.version;
      const width = slot.compiled.nodes.length * N.STRIDE;
      const T = slot.states;
      for (const [cid, s] of saved.states) {
        const st = this.stateFor(slot, cid);
        T.setLastFired(st, s.lastFiredAt);
        T.setSuppressed(st, s.lastSuppressed);
        if (!sameVersion) continue;
        T.set(st, S.RUN_SEQ, s.runSeq ?? 0);
        if (s.timer !== undefined) {
          T.set(st, S.TIMER_AT, s.timer[0]);
          T.set(st, S.TIMER_SEQ, s.timer[1]);
        }
        for (const [k, f] of Object.entries(s.failures ?? {})) T.setFailure(st, Number(k), f);
        const a = slot.arena;
        for (const saved of s.runs ?? []) {
          if (saved.n.length !== width)
            throw new Error(`snapshot does not fit trigger '${slot.compiled.spec.name}'`);
          const r = a.alloc();
          const nums = a.numsOf(r);
          const base = a.at(r);
          saved.n.forEach((x, k) => (nums[base + k] = x === null ? NaN : x));
          nums[base + R.SEQ] = saved.seq;
          const evs = a.evsOf(r);
          for (const i of slot.compiled.evNodes) evs[a.evAt(r) + slot.compiled.evSlot[i]] = saved.ev[i];
          T.appendRun(a, st, r);
        }
      }
    }
    this.rebuildTimers();
  }

  /** Serialized size (UTF-8 bytes of the JSON) of one customer's state, or of the whole engine. */
  stateBytes(customerId?: string): number {
    let bytes = 0;
    if (customerId === undefined) {
      for (const b of this.bufferedList()) bytes += Buffer.byteLength(JSON.stringify(b));
      for (const [cid, row] of this.customers.rows) bytes += this.rowSize(cid, row);
      return bytes;
    }
    const row = this.customers.rows.get(customerId);
    return row === undefined ? 0 : this.rowSize(customerId, row);
  }

  /** Bytes of one customer's trigger states in a snapshot, each with its customer key. */
  private rowSize(customerId: string, row: number): number {
    let bytes = 0;
    for (const slot of this.slots) {
      const st = this.customers.cell(row, slot.index);
      if (st >= 0 || this.hasDeferred(slot, row))
        bytes +=
          Buffer.byteLength(JSON.stringify(this.serializeState(slot, st, row))) +
          Buffer.byteLength(customerId) +
          6;
    }
    return bytes;
  }

  /** Customers with any state (partial matches, cooldown bookkeeping, condition-failure records). */
  customersWithState(): string[] {
    return [...this.customers.rows.keys()].sort();
  }

  /** Forgets one customer (e.g. erasure request). */
  dropCustomer(customerId: string): void {
    const row = this.customers.rows.get(customerId);
    if (row !== undefined)
      for (const g of this.groups) {
        for (let id = this.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) g.drop(id);
        this.customers.setChain(row, g.index, CH.COUNT, 0);
        this.customers.setChain(row, g.index, CH.HEAD, -1);
        if (this.customers.chain(row, g.index, CH.TAIL) >= 0) this.setChainHead(g, row, -1, 0);
      }
    for (const slot of this.slots) {
      const st = this.stateOf(slot, customerId);
      if (st >= 0) this.dropState(slot, st);
    }
  }
}

/** The explanation sentence; `fireText` is the trigger's own start of it (Slot.fireText). */
function describeFire(
  fireText: string,
  customerId: string,
  at: number,
  matched: MatchedStep[],
  deadline: number | undefined,
): string {
  let steps = '';
  for (let i = 0; i < matched.length; i++) {
    const m = matched[i];
    if (i > 0) steps += '; ';
    const e = m.event;
    if (e === undefined)
      steps += `${m.path}: no ${m.type} from ${iso(m.absentFrom as number)} until ${iso(m.absentUntil as number)}`;
    else if (m.alias === undefined) steps += `${m.path}: ${e.type} ${e.id} at ${iso(e.time)}`;
    else steps += `${m.path} (${m.alias}): ${e.type} ${e.id} at ${iso(e.time)}`;
  }
  const how =
    deadline !== undefined
      ? `when the absence deadline ${iso(deadline)} passed`
      : 'on the last matched event';
  return `${fireText}${customerId} at ${iso(at)} ${how}: ${steps}.`;
}
