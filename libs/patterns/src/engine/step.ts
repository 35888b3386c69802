/**
 * One event, deadline or watermark applied to trigger states: an event offered to a state's partial
 * matches and to a new one, absence deadlines and expired windows applied, a completion turned into
 * a firing (or a suppressed match), and the sweep of the expiry queue.
 */
import type { EngineEvent } from '../ast';
import type { BoundEvent, FiredTrigger, MatchedStep } from '../types';
import type { Cursor, EngineCore, Slot } from './core';
import { due, queueKept, schedule, slotOf } from './expiry-queue';
import { firedIdTail } from './fired-id';
import { Defer, Expiry, R, S, Status } from './layout';
import { collect, describeFire } from './matched';
import { consumeStarts, expireStarts } from './start-group';
import { applyDeadline, computeTimers, offer } from './transitions';
import { dropState, releaseRuns, removeRuns, stateFor } from './trigger-states';

/** Offers the current event to the slot's state for the current customer. `starts`: its type can start the pattern. */
export function processSlot(
  core: EngineCore,
  cur: Cursor,
  slot: Slot,
  e: EngineEvent,
  starts: boolean,
): void {
  const t = slot.compiled;
  const a = slot.arena;
  const T = slot.states;
  cur.slot = slot;
  const row = cur.row;
  const st = row < 0 ? -1 : core.customers.cell(row, slot.index);
  if (st >= 0 && T.int(st, S.RUNS) > 0) {
    if (t.hasTimers && due(T, st, e.time)) advanceState(core, cur, slot, st, e.time);
    let removed = false;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
      const progressed = offer(core, cur, t, a, r, 0, e);
      const s = a.numsOf(r)[a.at(r)];
      if (s === Status.DONE) {
        complete(core, cur, slot, st, r, e.time, e.id, undefined);
        return;
      }
      if (s === Status.DEAD) removed = true;
      else if (progressed && t.hasTimers) computeTimers(t, a, r);
    }
    if (removed) removeRuns(slot, st, -Infinity);
    if (t.hasTimers) schedule(core, slot, st);
    if (t.singleRun && T.int(st, S.RUNS) > 0) return;
  }
  let r = -1;
  if (starts) {
    r = slot.scratch < 0 ? (slot.scratch = a.alloc()) : slot.scratch;
    if (!offer(core, cur, t, a, r, 0, e)) r = -1;
  }
  if (r < 0) {
    if (st >= 0 && T.isEmpty(st)) dropState(core, cur, slot, st);
    return;
  }
  slot.scratch = -1;
  // (A failed condition may have created the state meanwhile.)
  const state = st >= 0 ? st : stateFor(core, cur, slot, e.customerId);
  if (a.numsOf(r)[a.at(r)] === Status.DONE) {
    complete(core, cur, slot, state, r, e.time, e.id, undefined);
    a.reset(r);
    slot.scratch = r;
    return;
  }
  addRun(core, slot, state, r);
}

/** Adds a started run as the state's newest (evicting its oldest beyond the cap). */
export function addRun(core: EngineCore, slot: Slot, state: number, r: number): void {
  const t = slot.compiled;
  const a = slot.arena;
  const T = slot.states;
  const seq = T.get(state, S.RUN_SEQ);
  T.set(state, S.RUN_SEQ, seq + 1);
  a.numsOf(r)[a.at(r) + R.SEQ] = seq;
  T.appendRun(a, state, r);
  if (T.int(state, S.RUNS) > core.maxRuns) {
    const oldest = T.int(state, S.FIRST);
    T.set(state, S.FIRST, a.next(oldest));
    T.set(state, S.RUNS, T.int(state, S.RUNS) - 1);
    a.release(oldest);
    core.stats.partialMatchesEvicted++;
  }
  if (t.hasTimers) {
    computeTimers(t, a, r);
    schedule(core, slot, state);
  }
}

/** Applies absence deadlines up to `t` in time order, then drops partial matches whose window ended before `t`. */
export function advanceState(core: EngineCore, cur: Cursor, slot: Slot, st: number, t: number): void {
  const trig = slot.compiled;
  const a = slot.arena;
  const T = slot.states;
  for (;;) {
    let best = -1;
    let deadline = Infinity;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
      const at = a.numsOf(r)[a.at(r) + R.DEADLINE];
      if (at <= t && (best < 0 || at < deadline)) {
        best = r;
        deadline = at;
      }
    }
    if (best < 0) break;
    applyDeadline(trig, a, best);
    const s = a.numsOf(best)[a.at(best)];
    if (s === Status.DONE) {
      complete(core, cur, slot, st, best, deadline, null, deadline);
      return;
    }
    if (s === Status.DEAD) removeRuns(slot, st, -Infinity);
    else computeTimers(trig, a, best);
  }
  let expired = false;
  for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r))
    if (a.numsOf(r)[a.at(r) + R.EXPIRY] < t) expired = true;
  if (expired) removeRuns(slot, st, t);
}

/**
 * A run completed at `at` (by the event `completingEventId`, or by the absence `deadline`): the
 * state's partial matches are released, and the trigger fires unless its cooldown suppresses it.
 */
export function complete(
  core: EngineCore,
  cur: Cursor,
  slot: Slot,
  st: number,
  run: number,
  at: number,
  completingEventId: string | null,
  deadline: number | undefined,
): void {
  const spec = slot.compiled.spec;
  const T = slot.states;
  const customerId = core.customers.ids[T.int(st, S.ROW)];
  const matched: MatchedStep[] = [];
  collect(slot.compiled, slot.arena, run, 0, matched, true);
  releaseRuns(slot, st);
  // Partial matches it would have made from start events before `at` are released too.
  if (slot.defer !== Defer.NONE) consumeStarts(core, cur, slot, T.int(st, S.ROW), at);
  const lastFiredAt = T.get(st, S.LAST_FIRED);
  if (at < lastFiredAt + spec.cooldownMs) {
    const eventIds: string[] = [];
    for (const m of matched) if (m.event !== undefined) eventIds.push(m.event.id);
    T.setSuppressed(st, { at, eventIds });
    queueKept(core, slot, st);
    core.stats.suppressedByCooldown++;
    return;
  }
  T.setLastFired(st, at);
  queueKept(core, slot, st);
  const bindings: Record<string, BoundEvent> = {};
  for (const m of matched) if (m.alias !== undefined && m.event !== undefined) bindings[m.alias] = m.event;
  core.stats.fired++;
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
  cur.out.push(fired);
}

/** Applies the absence deadlines due by the watermark `w`, in (time, timer seq) order. */
export function fireTimers(core: EngineCore, cur: Cursor, w: number): void {
  const timers = core.timers;
  while (timers.size > 0 && timers.peekAt() <= w) {
    const at = timers.peekAt();
    const seq = timers.peekSeq();
    const slot = timers.peekItem();
    const s = timers.peekAux();
    timers.pop();
    const T = slot.states;
    if (!slot.active || T.get(s, S.TIMER_AT) !== at || T.get(s, S.TIMER_SEQ) !== seq) continue;
    T.set(s, S.TIMER_AT, Infinity);
    cur.slot = slot;
    cur.row = T.int(s, S.ROW);
    cur.customer = core.customers.ids[cur.row];
    advanceState(core, cur, slot, s, w);
    if (T.isEmpty(s)) dropState(core, cur, slot, s);
    else schedule(core, slot, s);
  }
}

/**
 * Drops partial matches whose window ended before the watermark, bucket by bucket (states touched by
 * events or deadlines are cleaned on the spot too; this reaches the idle ones). process() handles
 * buckets the watermark has passed; advanceTo() (the idle timer) also the current one, so an idle
 * customer's state is gone as soon as its windows end. Which runs are dropped depends only on the
 * calls made, so a restored engine drops the same ones.
 */
export function expire(core: EngineCore, cur: Cursor, w: number, current: boolean): void {
  if (core.groups.length > 0) expireStarts(core, cur, w);
  let requeue: Array<{ slot: Slot; st: number }> | null = null;
  for (let k = core.expiryKeys.peek(); k !== undefined; k = core.expiryKeys.peek()) {
    const end = (k + 1) * Expiry.BUCKET_MS;
    const full = end <= w;
    if (!full && !(current && k * Expiry.BUCKET_MS < w)) break;
    core.expiryKeys.pop();
    const bucket = core.expiryBuckets.get(k);
    if (bucket === undefined) continue;
    core.expiryBuckets.delete(k);
    const span = core.slots.length;
    for (let id = bucket.head; id >= 0;) {
      const slot = slotOf(core, id);
      const st = Math.floor(id / span);
      const T = slot.states;
      // Read before the state is queued elsewhere; the detached list is not fixed up.
      const next = T.get(st, S.BUCKET_NEXT);
      T.set(st, S.BUCKET, Expiry.NO_BUCKET);
      const t = full ? end : w;
      removeRuns(slot, st, t);
      if (T.get(st, S.KEPT) < t) T.forget(st);
      if (T.isEmpty(st)) dropState(core, cur, slot, st);
      else if (full) schedule(core, slot, st);
      else (requeue ??= []).push({ slot, st });
      id = next;
    }
  }
  // Runs of the current bucket not expired yet: queued again after the loop (it would revisit them).
  if (requeue !== null) for (const { slot, st } of requeue) schedule(core, slot, st);
}
