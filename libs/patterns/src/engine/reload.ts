/**
 * Hot reload: a new trigger set replaces the old one; states are kept, reset or dropped by the rule
 * of setTriggers. Also rebuilds the timers and the expiry queue from the states (after a reload or
 * a restore).
 */
import type { TriggerSpec } from '../ast';
import { compileTrigger, type CompiledTrigger } from '../compile';
import type { Cursor, EngineCore, Route, Slot } from './core';
import { CustomerTable } from './customer-table';
import { makeAllRuns } from './deferral';
import { queueKept, schedule } from './expiry-queue';
import { firedIdPrefix } from './fired-id';
import { Defer, Expiry, S } from './layout';
import { RunArena } from './run-arena';
import { deferral, StartGroup } from './start-group';
import { StateTable } from './state-table';
import { computeTimers } from './transitions';

function signature(t: CompiledTrigger): string {
  return t.nodes.map((n) => `${n.kind}:${n.children.length}`).join(',');
}

function whereNodes(t: CompiledTrigger): number[] {
  return t.nodes.filter((n) => n.where !== undefined).map((n) => n.index);
}

/** An empty state table for a trigger. */
export function newStateTable(core: EngineCore, t: CompiledTrigger): StateTable {
  return new StateTable(t.nodes.length, whereNodes(t), t.spec.cooldownMs, core.retentionMs);
}

/**
 * Replaces the trigger set. Rule: a trigger with the same name and version keeps its state; a
 * trigger whose version changed loses its partial matches and condition-failure records but keeps
 * its last firing time (so its cooldown, with the new duration, still applies); a removed trigger's
 * state is dropped. Throws (changing nothing) if any trigger is invalid or names repeat.
 */
export function setTriggers(core: EngineCore, cur: Cursor, triggers: TriggerSpec[]): void {
  const compiled = triggers.map(compileTrigger);
  const names = new Set<string>();
  for (const c of compiled) {
    if (names.has(c.spec.name)) throw new Error(`duplicate trigger name '${c.spec.name}'`);
    names.add(c.spec.name);
  }
  // Deferred partial matches are made first: the rules below apply to partial matches.
  makeAllRuns(core, cur);
  const old = new Map(core.slots.map((s) => [s.compiled.spec.name, s]));
  const slots: Slot[] = compiled.map((c, index) => ({
    compiled: c,
    defer: Defer.NONE,
    groups: [],
    bits: [],
    deferMs: 0,
    atLeast: 0,
    index,
    arena: new RunArena(c.nodes.length, c.evNodes.length),
    states: newStateTable(core, c),
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
  const groups = core.deferStarts ? startGroups(core, slots) : [];
  const from = core.customers;
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
  for (const s of core.slots) s.active = false;
  core.slots = slots;
  core.customers = to;
  cur.row = -1;
  core.groups = groups;
  core.byType = new Map();
  const routeOf = (type: string): Route => {
    let route = core.byType.get(type);
    if (route === undefined) core.byType.set(type, (route = { slots: [], starts: [], groups: [] }));
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
  rebuildTimers(core);
}

/** The start groups of the slots that defer their starts (setting how each defers). */
function startGroups(core: EngineCore, slots: Slot[]): StartGroup[] {
  const groups: StartGroup[] = [];
  for (const slot of slots) {
    const how = deferral(slot.compiled);
    if (how === undefined) continue;
    slot.defer = how.defer;
    slot.deferMs = how.windowMs;
    slot.atLeast = how.nodes[0].atLeast;
    for (const { type } of how.nodes) {
      let g = groups.find((x) => x.type === type && x.members.length < 31);
      if (g === undefined) groups.push((g = new StartGroup(type, groups.length, core.maxRuns)));
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
  return groups;
}

/** One trigger's states, by customer. */
function statesOf(core: EngineCore, slot: Slot): Array<[string, number]> {
  const C = core.customers;
  const out: Array<[string, number]> = [];
  for (const [cid, row] of C.rows) {
    const st = C.cell(row, slot.index);
    if (st >= 0) out.push([cid, st]);
  }
  return out;
}

/** Rebuilds the timer entries and the expiry queue from the states' runs and bookkeeping. */
export function rebuildTimers(core: EngineCore): void {
  core.timers.clear();
  core.expiryBuckets.clear();
  core.expiryKeys.clear();
  for (const slot of core.slots) {
    const T = slot.states;
    const a = slot.arena;
    for (const [, st] of statesOf(core, slot)) {
      T.set(st, S.BUCKET, Expiry.NO_BUCKET);
      if (!slot.compiled.hasTimers) {
        if (T.get(st, S.KEPT) !== -Infinity) queueKept(core, slot, st);
        continue;
      }
      for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) computeTimers(slot.compiled, a, r);
      // Keep a live entry (same time and sequence number) so ties fire in the same order as before.
      const at = T.get(st, S.TIMER_AT);
      const seq = T.get(st, S.TIMER_SEQ);
      if (at !== Infinity && seq >= 0) {
        schedule(core, slot, st);
        if (T.get(st, S.TIMER_AT) === at) core.timers.push(at, seq, slot, st);
      } else {
        T.set(st, S.TIMER_AT, Infinity);
        schedule(core, slot, st);
      }
    }
  }
}
