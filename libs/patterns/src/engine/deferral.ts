/**
 * Deferred starts (see StartGroup): a start event is kept once for the group's triggers, and a
 * trigger's partial matches are made from the kept events when it needs them: another of its events
 * arrives for the customer, a count reaches atLeast, `explain`, a reload.
 */
import type { EngineEvent } from '../ast';
import type { BoundEvent } from '../types';
import type { Cursor, EngineCore, Slot } from './core';
import { due } from './expiry-queue';
import { CH, Defer, S } from './layout';
import { bitCount, dropConsumed, hasDeferred, setChainHead, type StartGroup } from './start-group';
import { addRun, advanceState, processSlot } from './step';
import { offer, strip } from './transitions';
import { stateAt } from './trigger-states';

/** Keeps a start event (the cursor's) for the group's triggers. */
export function addStart(core: EngineCore, cur: Cursor, g: StartGroup, e: EngineEvent): void {
  const C = core.customers;
  let row = cur.row;
  // A customer new to the engine holds no partial matches.
  const fresh = row < 0;
  if (fresh) row = cur.row = C.add(e.customerId);
  const id = g.push(row, cur.bound ?? (cur.bound = strip(e)));
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
          processSlot(core, cur, m, e, false);
          makeRuns(core, cur, m, row, e.time);
        }
      } else if (m.defer === Defer.COUNT) {
        if (runs) {
          processSlot(core, cur, m, e, true);
          g.consumed[g.at(id)] |= 1 << i;
        } else if (countReached(core, m, row, e.time)) makeRuns(core, cur, m, row, e.time);
      } else if (runs || hasDeferred(core, m, row, g)) {
        // An all defers while the customer's start events for it are of one type (they do not meet).
        feed(core, cur, m, row, g);
      }
    }
  const count = C.chain(row, g.index, CH.COUNT);
  if (count <= g.keep) {
    if (g.counts !== 0) dropConsumed(core, cur, g, row);
    return;
  }
  // Each sequence that defers would evict its oldest partial match: drop the oldest entry.
  const head = C.chain(row, g.index, CH.HEAD);
  core.stats.partialMatchesEvicted += bitCount(g.all & ~g.counts & ~g.consumed[g.at(head)]);
  const next = g.next[g.at(head)];
  g.drop(head);
  setChainHead(core, cur, g, row, next, count - 1);
  dropConsumed(core, cur, g, row);
}

/** Whether the count's window at `t` holds atLeast of the customer's start events it has not consumed. */
function countReached(core: EngineCore, slot: Slot, row: number, t: number): boolean {
  const g = slot.groups[0];
  const bit = slot.bits[0];
  const from = t - slot.deferMs;
  let n = 0;
  for (let id = core.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
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
export function makeRuns(core: EngineCore, cur: Cursor, slot: Slot, row: number, t: number): void {
  if (slot.defer !== Defer.SEQUENCE) feed(core, cur, slot, row);
  // Kept small so that it is inlined into the per-event dispatch: most calls find no start event.
  else if (core.customers.chain(row, slot.groups[0].index, CH.HEAD) >= 0)
    makeSequenceRuns(core, cur, slot, row, t);
}

/** makeRuns of a sequence whose customer has start events in its group. */
function makeSequenceRuns(core: EngineCore, cur: Cursor, slot: Slot, row: number, t: number): void {
  const g = slot.groups[0];
  const C = core.customers;
  let id = C.chain(row, g.index, CH.HEAD);
  const trig = slot.compiled;
  const a = slot.arena;
  const T = slot.states;
  const within = slot.deferMs;
  const bit = slot.bits[0];
  const bound = cur.bound;
  for (; id >= 0; id = g.next[g.at(id)]) {
    const k = g.at(id);
    const consumed = g.consumed[k];
    if ((consumed & bit) !== 0) continue;
    g.consumed[k] = consumed | bit;
    const e = g.events[k] as BoundEvent;
    if (e.time + within < t) continue;
    let st = C.cell(row, slot.index);
    if (st >= 0 && T.int(st, S.RUNS) > 0 && due(T, st, e.time)) {
      cur.slot = slot;
      advanceState(core, cur, slot, st, e.time);
    }
    if (st < 0) st = stateAt(core, slot, row);
    const r = a.alloc();
    cur.bound = e;
    offer(core, cur, trig, a, r, 0, e as EngineEvent);
    addRun(core, slot, st, r);
  }
  cur.bound = bound;
  dropConsumed(core, cur, g, row);
}

/**
 * Feeds the customer's start events the slot (a count or an all) has not consumed to it in order,
 * as processSlot would have at each: it held no partial match, and its deferred start events are
 * of one type (one group), so nothing happened in between. `newest`: the group holding the newest
 * (fed last).
 */
function feed(core: EngineCore, cur: Cursor, slot: Slot, row: number, newest?: StartGroup): void {
  const { bound, row: curRow, customer } = cur;
  const n = slot.groups.length;
  for (let j = 0; j < n; j++) {
    // The group `newest` last, the others in order.
    const at = newest === undefined ? j : (slot.groups.indexOf(newest) + 1 + j) % n;
    const g = slot.groups[at];
    const bit = slot.bits[at];
    for (let id = core.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
      const k = g.at(id);
      if ((g.consumed[k] & bit) !== 0) continue;
      g.consumed[k] |= bit;
      const e = g.events[k] as BoundEvent;
      cur.bound = e;
      cur.row = row;
      cur.customer = e.customerId;
      processSlot(core, cur, slot, e as EngineEvent, true);
    }
  }
  cur.bound = bound;
  cur.row = curRow;
  cur.customer = customer;
  for (const g of slot.groups) dropConsumed(core, cur, g, row);
}

/** Makes every deferred partial match (before a reload: its rules are about partial matches). */
export function makeAllRuns(core: EngineCore, cur: Cursor): void {
  if (core.groups.length === 0) return;
  const C = core.customers;
  for (const row of [...C.rows.values()])
    for (const g of core.groups)
      for (const slot of g.members)
        // (An emptied chain may have removed the row meanwhile: its chains are then empty.)
        if (C.chain(row, g.index, CH.HEAD) >= 0) makeRuns(core, cur, slot, row, core.watermark);
  for (const g of core.groups) g.clear();
}
