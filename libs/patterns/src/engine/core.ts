import type { EngineEvent } from '../ast';
import type { CompiledTrigger } from '../compile';
import { MinHeap, TimeQueue } from '../heap';
import type { BoundEvent, EngineStats, FiredTrigger } from '../types';
import { CustomerTable } from './customer-table';
import type { RunArena } from './run-arena';
import type { StartGroup } from './start-group';
import type { StateTable } from './state-table';

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

/** A loaded trigger: its compiled pattern, its runs and states, and how it defers its starts. */
export interface Slot {
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
  /** Position in EngineCore.slots and in a CustomerTable row. */
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
export interface Route {
  slots: Slot[];
  starts: boolean[];
  groups: StartGroup[];
}

/** The condition context, reused for every evaluation: conditions must not keep a reference to it. */
export interface ConditionScratch {
  event: EngineEvent;
  profile: Record<string, unknown>;
  bindings: Record<string, EngineEvent>;
}

export const EMPTY_PROFILE: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * What the engine is doing right now: the event (or deadline) being applied, whose customer, which
 * trigger, and where firings go. Passed explicitly to the functions that read or change it; one per
 * engine, reused for every event.
 */
export class Cursor {
  /** The current event as stored in partial matches, shared by every trigger that binds it (null until one does). */
  bound: BoundEvent | null = null;
  /** The current customer, and its row in the CustomerTable (-1: none, or not looked up). */
  customer = '';
  row = -1;
  /** The trigger the event is being offered to (a failed condition is recorded on its state). */
  slot: Slot | null = null;
  /** Firings of the current process/advanceTo call. */
  out: FiredTrigger[] = [];
}

/** A bucket of the expiry queue: a list of queue ids threaded through the states (see expiry-queue.ts). */
export interface Bucket {
  head: number;
  tail: number;
}

/** The engine's state: everything PatternEngine's modules read and change, in one object of one shape. */
export class EngineCore {
  slots: Slot[] = [];
  customers = new CustomerTable(0);
  /** Per event type: the triggers that mention it, and whether it can start their pattern. */
  byType = new Map<string, Route>();
  /** Start groups of the deferred-start triggers (see StartGroup), by CustomerTable column. */
  groups: StartGroup[] = [];
  readonly deferStarts: boolean;
  watermark = -Infinity;
  arrivalSeq = 0;
  timerSeq = 0;
  readonly allowedLatenessMs: number;
  readonly retentionMs: number;
  readonly maxRuns: number;
  /** Events not yet released by the watermark: (time, arrival seq, event). */
  buffer = new TimeQueue<EngineEvent>();
  /** Absence deadlines: (time, timer seq, slot, state); fire when the watermark reaches the time. */
  timers = new TimeQueue<Slot>();
  /**
   * States with partial matches that can expire, by expiry bucket (index = floor(expiry / width)):
   * once the watermark passes a bucket its runs are dropped, so idle customers release their state.
   * A bucket is a list, in queueing order, threaded through the states (S.BUCKET_NEXT / PREV) by
   * queue id (state * slots.length + slot index). A state is in at most one bucket (its earliest),
   * so nothing is allocated per entry and nothing goes stale.
   */
  expiryBuckets = new Map<number, Bucket>();
  /** Bucket indexes, each pushed when its bucket is created (emptied buckets leave a key behind). */
  expiryKeys = new MinHeap<number>((a, b) => a < b);
  readonly ctx: ConditionScratch;
  readonly cursor = new Cursor();
  readonly stats: EngineStats = {
    eventsProcessed: 0,
    lateEventsDropped: 0,
    fired: 0,
    suppressedByCooldown: 0,
    partialMatchesEvicted: 0,
    conditionErrors: 0,
  };

  constructor(options: PatternEngineOptions) {
    this.allowedLatenessMs = options.allowedLatenessMs ?? 0;
    this.maxRuns = options.maxPartialMatchesPerTrigger ?? 32;
    this.deferStarts = options.deferStarts ?? true;
    this.retentionMs = options.explainRetentionMs ?? 24 * 3_600_000;
    if (!(this.retentionMs >= 0)) throw new Error('explainRetentionMs must be >= 0');
    if (!(this.allowedLatenessMs >= 0)) throw new Error('allowedLatenessMs must be >= 0');
    if (!(this.maxRuns >= 1)) throw new Error('maxPartialMatchesPerTrigger must be >= 1');
    this.ctx = { event: undefined as unknown as EngineEvent, profile: EMPTY_PROFILE, bindings: {} };
  }
}
