/**
 * A trigger's state for one customer (the per-key state): found or made in the customer's row,
 * its runs removed or released, the state dropped once it holds nothing.
 */
import type { EngineEvent } from '../ast';
import type { CompiledNode } from '../compile';
import type { Cursor, EngineCore, Slot } from './core';
import { queueKept, unqueue } from './expiry-queue';
import { Expiry, R, S, Status } from './layout';

/** The slot's state for `customerId`, made (with the customer's row) if it has none. */
export function stateFor(core: EngineCore, cur: Cursor, slot: Slot, customerId: string): number {
  const C = core.customers;
  let row = customerId === cur.customer ? cur.row : -1;
  if (row < 0) row = C.rows.get(customerId) ?? C.add(customerId);
  if (customerId === cur.customer) cur.row = row;
  return stateAt(core, slot, row);
}

/** The slot's state for the customer in `row`, made if it has none. */
export function stateAt(core: EngineCore, slot: Slot, row: number): number {
  const C = core.customers;
  let s = C.cell(row, slot.index);
  if (s < 0) {
    s = slot.states.alloc(row);
    C.setCell(row, slot.index, s);
    C.live[row]++;
  }
  return s;
}

/** The state of a trigger for a customer (-1: none). */
export function stateOf(core: EngineCore, slot: Slot, customerId: string): number {
  const row = core.customers.rows.get(customerId);
  return row === undefined ? -1 : core.customers.cell(row, slot.index);
}

/** Forgets a state (its runs included); its timer and expiry entries become stale. */
export function dropState(core: EngineCore, cur: Cursor, slot: Slot, s: number): void {
  const T = slot.states;
  if (T.int(s, S.RUNS) > 0) releaseRuns(slot, s);
  if (T.get(s, S.BUCKET) !== Expiry.NO_BUCKET) unqueue(core, slot, s);
  const C = core.customers;
  const row = T.int(s, S.ROW);
  T.release(s);
  C.setCell(row, slot.index, -1);
  if (--C.live[row] === 0) {
    C.remove(row);
    if (row === cur.row) cur.row = -1;
  }
}

/** Removes runs that are not pending or whose expiry is before `t`, recycling them. */
export function removeRuns(slot: Slot, st: number, t: number): void {
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
export function releaseRuns(slot: Slot, st: number): void {
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

/** Records a failed condition at `node` on the current trigger's state for the current customer. */
export function recordFailure(
  core: EngineCore,
  cur: Cursor,
  node: CompiledNode,
  e: EngineEvent,
  error: string | undefined,
): void {
  const slot = cur.slot as Slot;
  const st = stateFor(core, cur, slot, cur.customer);
  slot.states.recordFailure(st, node.index, e, error);
  queueKept(core, slot, st);
}
