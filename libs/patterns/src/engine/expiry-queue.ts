/**
 * The expiry queue and the absence timers of trigger states. A state is queued in the expiry bucket
 * (Expiry.BUCKET_MS wide) of its earliest partial-match expiry or, with no partial match, of the end
 * of its retained bookkeeping (S.KEPT); the sweep (step.ts, expire) drops what has ended and then
 * the state. Buckets are lists threaded through the states (EngineCore.expiryBuckets).
 */
import type { EngineCore, Slot } from './core';
import { Expiry, R, S } from './layout';
import type { StateTable } from './state-table';

/**
 * Keeps one timer entry at the state's earliest absence deadline (stale entries are skipped when
 * popped) and queues the state by its earliest expiry.
 */
export function schedule(core: EngineCore, slot: Slot, st: number): void {
  let at = Infinity;
  let expiry = Infinity;
  const a = slot.arena;
  const T = slot.states;
  for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r)) {
    const n = a.numsOf(r);
    const base = a.at(r);
    if (n[base + R.DEADLINE] < at) at = n[base + R.DEADLINE];
    if (n[base + R.EXPIRY] < expiry) expiry = n[base + R.EXPIRY];
  }
  const kept = T.get(st, S.KEPT);
  if (kept !== -Infinity && kept < expiry) expiry = kept;
  if (expiry !== Infinity) queueBy(core, slot, st, expiry);
  if (at < T.get(st, S.TIMER_AT)) {
    const seq = core.timerSeq++;
    T.set(st, S.TIMER_AT, at);
    T.set(st, S.TIMER_SEQ, seq);
    core.timers.push(at, seq, slot, st);
  }
}

/** Queues the state in the expiry bucket of `t` unless it is queued in that one or an earlier one. */
export function queueBy(core: EngineCore, slot: Slot, st: number, t: number): void {
  const k = Math.floor(t / Expiry.BUCKET_MS);
  const queued = slot.states.get(st, S.BUCKET);
  if (queued === Expiry.NO_BUCKET || k < queued) {
    if (queued !== Expiry.NO_BUCKET) unqueue(core, slot, st);
    enqueue(core, slot, st, k);
  }
}

/** Queues a state for the end of its bookkeeping (S.KEPT), which the sweep then drops. */
export function queueKept(core: EngineCore, slot: Slot, st: number): void {
  queueBy(core, slot, st, slot.states.get(st, S.KEPT));
}

/** The slot of queue id `id` (its state is Math.floor(id / slots.length)). */
export function slotOf(core: EngineCore, id: number): Slot {
  return core.slots[id % core.slots.length];
}

/** Sets a link field of the state with queue id `id`. */
function setLink(core: EngineCore, id: number, field: number, v: number): void {
  slotOf(core, id).states.set(Math.floor(id / core.slots.length), field, v);
}

/** Appends a state to expiry bucket k. */
function enqueue(core: EngineCore, slot: Slot, st: number, k: number): void {
  const T = slot.states;
  const id = st * core.slots.length + slot.index;
  T.set(st, S.BUCKET, k);
  T.set(st, S.BUCKET_NEXT, -1);
  const bucket = core.expiryBuckets.get(k);
  if (bucket === undefined) {
    T.set(st, S.BUCKET_PREV, -1);
    core.expiryBuckets.set(k, { head: id, tail: id });
    core.expiryKeys.push(k);
    return;
  }
  T.set(st, S.BUCKET_PREV, bucket.tail);
  setLink(core, bucket.tail, S.BUCKET_NEXT, id);
  bucket.tail = id;
}

/** Takes a state out of its expiry bucket. */
export function unqueue(core: EngineCore, slot: Slot, st: number): void {
  const T = slot.states;
  const k = T.get(st, S.BUCKET);
  const bucket = core.expiryBuckets.get(k) as { head: number; tail: number };
  T.set(st, S.BUCKET, Expiry.NO_BUCKET);
  const prev = T.get(st, S.BUCKET_PREV);
  const next = T.get(st, S.BUCKET_NEXT);
  if (prev < 0) bucket.head = next;
  else setLink(core, prev, S.BUCKET_NEXT, next);
  if (next < 0) bucket.tail = prev;
  else setLink(core, next, S.BUCKET_PREV, prev);
  if (bucket.head < 0) core.expiryBuckets.delete(k);
}

/**
 * Whether advanceState(…, t) could change the state, from bounds kept without walking its runs:
 * S.TIMER_AT is at most its earliest absence deadline, and its expiry bucket starts at most at its
 * earliest expiry (no bucket: no run can expire). Both hold whenever an event reaches the state:
 * every change of a run's deadline or expiry is followed by schedule().
 */
export function due(T: StateTable, st: number, t: number): boolean {
  if (T.get(st, S.TIMER_AT) <= t) return true;
  const k = T.get(st, S.BUCKET);
  return k !== Expiry.NO_BUCKET && k * Expiry.BUCKET_MS < t;
}
