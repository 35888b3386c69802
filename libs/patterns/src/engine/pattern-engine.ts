/**
 * PatternEngine: per-customer complex-event processing over event time (semantics in
 * docs/definitions.md, "Pattern semantics"). This class is the facade; the engine's modules are
 * mapped in libs/patterns/README.md.
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
import type { EngineEvent, TriggerSpec } from '../ast';
import type { EngineStats, Explanation, FiredTrigger } from '../types';
import { EngineCore, type Cursor, type PatternEngineOptions } from './core';
import { addStart, makeRuns } from './deferral';
import { explain } from './explain';
import { CH, Defer } from './layout';
import { setTriggers } from './reload';
import {
  restore as restoreSnapshot,
  snapshot as takeSnapshot,
  stateBytes,
  type EngineSnapshot,
} from './snapshot';
import { setChainHead } from './start-group';
import { expire, fireTimers, processSlot } from './step';
import { dropState, stateOf } from './trigger-states';

export class PatternEngine {
  private readonly core: EngineCore;
  /** The per-event cursor (EngineCore.cursor), passed explicitly to the modules. */
  private readonly cur: Cursor;
  readonly stats: EngineStats;

  constructor(triggers: TriggerSpec[], options: PatternEngineOptions = {}) {
    this.core = new EngineCore(options);
    this.cur = this.core.cursor;
    this.stats = this.core.stats;
    this.setTriggers(triggers);
  }

  /** Current watermark: events with an earlier time are late. -Infinity before the first event. */
  get currentWatermark(): number {
    return this.core.watermark;
  }

  /** Events received but not yet released by the watermark. */
  get bufferedEvents(): number {
    return this.core.buffer.size;
  }

  // ---------------------------------------------------------------- input

  process(event: EngineEvent): FiredTrigger[] {
    const core = this.core;
    const cur = this.cur;
    const out: FiredTrigger[] = (cur.out = []);
    if (!(event.time >= core.watermark)) {
      core.stats.lateEventsDropped++;
      return out;
    }
    const w = Math.max(core.watermark, event.time - core.allowedLatenessMs);
    if (core.buffer.size === 0 && event.time <= w) {
      core.arrivalSeq++;
      core.watermark = w;
      handle(core, cur, event);
      fireTimers(core, cur, w);
    } else {
      core.buffer.push(event.time, core.arrivalSeq++, event);
      advance(core, cur, w);
    }
    expire(core, cur, core.watermark, false);
    return out;
  }

  /** Advances the watermark (never backwards): releases buffered events and fires due absences. */
  advanceTo(watermarkMs: number): FiredTrigger[] {
    const core = this.core;
    const cur = this.cur;
    const out: FiredTrigger[] = (cur.out = []);
    if (watermarkMs > core.watermark) {
      advance(core, cur, watermarkMs);
      expire(core, cur, core.watermark, true);
    }
    return out;
  }

  // ---------------------------------------------------------------- triggers, explain, checkpoints

  /**
   * Replaces the trigger set. Rule: a trigger with the same name and version keeps its state; a
   * trigger whose version changed loses its partial matches and condition-failure records but keeps
   * its last firing time (so its cooldown, with the new duration, still applies); a removed trigger's
   * state is dropped. Throws (changing nothing) if any trigger is invalid or names repeat.
   */
  setTriggers(triggers: TriggerSpec[]): void {
    setTriggers(this.core, this.cur, triggers);
  }

  triggerNames(): string[] {
    return this.core.slots.map((s) => s.compiled.spec.name);
  }

  /** Why `trigger` fired or did not fire for `customerId`, as of the current watermark. */
  explain(trigger: string, customerId: string): Explanation {
    return explain(this.core, this.cur, trigger, customerId);
  }

  /** A JSON-serializable deep copy of the whole engine state (buffered events included). */
  snapshot(): EngineSnapshot {
    return takeSnapshot(this.core, this.cur);
  }

  /**
   * Replaces all state with a snapshot (taken from an engine with possibly other triggers): states of
   * triggers with the same name and version are restored, others follow the hot-reload rule.
   */
  restore(snapshot: EngineSnapshot): void {
    restoreSnapshot(this.core, this.cur, snapshot);
  }

  /** Serialized size (UTF-8 bytes of the JSON) of one customer's state, or of the whole engine. */
  stateBytes(customerId?: string): number {
    return stateBytes(this.core, this.cur, customerId);
  }

  /** Customers with any state (partial matches, cooldown bookkeeping, condition-failure records). */
  customersWithState(): string[] {
    return [...this.core.customers.rows.keys()].sort();
  }

  /** Forgets one customer (e.g. erasure request), their events waiting for the watermark included. */
  dropCustomer(customerId: string): void {
    const core = this.core;
    const waiting = core.buffer.entries();
    const kept = waiting.filter((e) => e.item.customerId !== customerId);
    if (kept.length !== waiting.length) {
      core.buffer.clear();
      for (const e of kept) core.buffer.push(e.at, e.seq, e.item, e.aux);
    }
    const C = core.customers;
    const row = C.rows.get(customerId);
    if (row !== undefined)
      for (const g of core.groups) {
        for (let id = C.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) g.drop(id);
        C.setChain(row, g.index, CH.COUNT, 0);
        C.setChain(row, g.index, CH.HEAD, -1);
        if (C.chain(row, g.index, CH.TAIL) >= 0) setChainHead(core, this.cur, g, row, -1, 0);
      }
    for (const slot of core.slots) {
      const st = stateOf(core, slot, customerId);
      if (st >= 0) dropState(core, this.cur, slot, st);
    }
  }
}

/** Moves the watermark to `w`: releases the buffered events it reaches, then fires due absences. */
function advance(core: EngineCore, cur: Cursor, w: number): void {
  core.watermark = w;
  const buffer = core.buffer;
  while (buffer.size > 0 && buffer.peekAt() <= w) {
    const e = buffer.peekItem();
    buffer.pop();
    handle(core, cur, e);
  }
  fireTimers(core, cur, w);
}

/** Applies one released event: to the triggers its type reaches, then to its start groups. */
function handle(core: EngineCore, cur: Cursor, e: EngineEvent): void {
  core.stats.eventsProcessed++;
  cur.bound = null;
  const route = core.byType.get(e.type);
  if (route === undefined) return;
  cur.customer = e.customerId;
  cur.row = core.customers.rows.get(e.customerId) ?? -1;
  const { slots, starts, groups } = route;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (slot.defer !== Defer.NONE && cur.row >= 0) makeRuns(core, cur, slot, cur.row, e.time);
    processSlot(core, cur, slot, e, starts[i]);
  }
  for (let i = 0; i < groups.length; i++) addStart(core, cur, groups[i], e);
}
