/**
 * Snapshot and restore: the engine's state as a JSON-serializable checkpoint, and back. Also the
 * serialized size of a customer's state (stateBytes), measured on the same form.
 */
import type { EngineEvent } from '../ast';
import { K_COUNT } from '../compile';
import type { BoundEvent, EngineStats } from '../types';
import type { Cursor, EngineCore, Slot } from './core';
import { CustomerTable } from './customer-table';
import { CH, Defer, N, R, S } from './layout';
import { newStateTable, rebuildTimers } from './reload';
import { counted, RunArena, type Held } from './run-arena';
import { hasDeferred } from './start-group';
import type { FailureRecord } from './state-table';
import { computeTimers, offer } from './transitions';
import { stateFor } from './trigger-states';

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
  ev: Held[];
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

/** Buffered events as snapshots list them (in queue order). */
function bufferedList(core: EngineCore): Buffered[] {
  return core.buffer.entries().map(({ seq, item }) => ({ event: item, seq }));
}

function serializeRun(slot: Slot, r: number, seq: number): SerializedRun {
  const a = slot.arena;
  const nums = a.numsOf(r);
  const base = a.at(r);
  const n: Array<number | null> = [];
  for (let k = base; k < base + a.nodeNums; k++) n.push(nums[k] === nums[k] ? nums[k] : null);
  const t = slot.compiled;
  const ev: Held[] = new Array<null>(t.nodes.length).fill(null);
  for (const i of t.evNodes) {
    const held = a.evsOf(r)[a.evAt(r) + t.evSlot[i]];
    ev[i] = t.nodes[i].kind === K_COUNT && held !== null ? counted(held) : held;
  }
  return { seq, n, ev };
}

/**
 * A trigger state as a checkpoint holds it (`st` -1: none yet), with the partial matches the
 * trigger defers made (serialized, not kept: a restored engine holds them as made), so checkpoints
 * neither depend on nor undo deferring.
 */
function serializeState(core: EngineCore, cur: Cursor, slot: Slot, st: number, row: number): SerializedState {
  const out: SerializedState = {};
  const runs: SerializedRun[] = [];
  let runSeq = 0;
  if (st >= 0) {
    const T = slot.states;
    const a = slot.arena;
    for (let r = T.int(st, S.FIRST); r >= 0; r = a.next(r))
      runs.push(serializeRun(slot, r, a.numsOf(r)[a.at(r) + R.SEQ]));
    runSeq = T.get(st, S.RUN_SEQ);
  }
  for (let i = 0; i < slot.groups.length; i++) {
    const g = slot.groups[i];
    const a = slot.arena;
    const t = slot.compiled;
    const bound = cur.bound;
    // A count's one partial match: restarted when its events all left the window (as it expires).
    let count = -1;
    for (let id = core.customers.chain(row, g.index, CH.HEAD); id >= 0; id = g.next[g.at(id)]) {
      const k = g.at(id);
      const e = g.events[k] as BoundEvent;
      if ((g.consumed[k] & slot.bits[i]) !== 0) continue;
      cur.bound = e;
      if (slot.defer === Defer.COUNT) {
        if (count >= 0 && a.numsOf(count)[a.at(count) + R.EXPIRY] < e.time) {
          a.release(count);
          count = -1;
        }
        if (count < 0) count = a.alloc();
        offer(core, cur, t, a, count, 0, e as EngineEvent);
        computeTimers(t, a, count);
        continue;
      }
      if (e.time + slot.deferMs < core.watermark) continue;
      const r = a.alloc();
      offer(core, cur, t, a, r, 0, e as EngineEvent);
      runs.push(serializeRun(slot, r, runSeq++));
      a.release(r);
      // The newest beyond the cap would have evicted the oldest.
      if (runs.length > core.maxRuns) runs.shift();
    }
    if (count >= 0) {
      if (!(a.numsOf(count)[a.at(count) + R.EXPIRY] < core.watermark))
        runs.push(serializeRun(slot, count, runSeq++));
      a.release(count);
    }
    cur.bound = bound;
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
function serializedStates(core: EngineCore, cur: Cursor, slot: Slot): Array<[string, SerializedState]> {
  const C = core.customers;
  const out: Array<[string, SerializedState]> = [];
  for (const [cid, row] of C.rows) {
    const st = C.cell(row, slot.index);
    if (st >= 0 || hasDeferred(core, slot, row)) out.push([cid, serializeState(core, cur, slot, st, row)]);
  }
  return out;
}

/** A JSON-serializable deep copy of the whole engine state (buffered events included). */
export function snapshot(core: EngineCore, cur: Cursor): EngineSnapshot {
  const snap: EngineSnapshot = {
    format: 'kairos.patterns.v1',
    watermark: Number.isFinite(core.watermark) ? core.watermark : null,
    arrivalSeq: core.arrivalSeq,
    timerSeq: core.timerSeq,
    buffer: bufferedList(core),
    stats: { ...core.stats },
    triggers: core.slots.map((s) => ({
      name: s.compiled.spec.name,
      version: s.compiled.spec.version,
      states: serializedStates(core, cur, s),
    })),
  };
  return JSON.parse(JSON.stringify(snap)) as EngineSnapshot;
}

/**
 * Replaces all state with a snapshot (taken from an engine with possibly other triggers): states of
 * triggers with the same name and version are restored, others follow the hot-reload rule.
 */
export function restore(core: EngineCore, cur: Cursor, snapshot: EngineSnapshot): void {
  if (snapshot === null || typeof snapshot !== 'object' || snapshot.format !== 'kairos.patterns.v1')
    throw new Error('not a kairos.patterns.v1 snapshot');
  const snap = JSON.parse(JSON.stringify(snapshot)) as EngineSnapshot;
  core.watermark = snap.watermark === null ? -Infinity : snap.watermark;
  core.arrivalSeq = snap.arrivalSeq;
  if (snap.timerSeq !== undefined) core.timerSeq = snap.timerSeq;
  core.buffer.clear();
  for (const b of snap.buffer) core.buffer.push(b.event.time, b.seq, b.event);
  core.customers = new CustomerTable(core.slots.length, core.groups.length);
  for (const g of core.groups) g.clear();
  cur.row = -1;
  Object.assign(core.stats, snap.stats);
  const byName = new Map(snap.triggers.map((t) => [t.name, t]));
  for (const slot of core.slots) {
    slot.arena = new RunArena(slot.compiled.nodes.length, slot.compiled.evNodes.length);
    slot.states = newStateTable(core, slot.compiled);
    slot.scratch = -1;
    const saved = byName.get(slot.compiled.spec.name);
    if (saved === undefined) continue;
    const sameVersion = saved.version === slot.compiled.spec.version;
    const width = slot.compiled.nodes.length * N.STRIDE;
    const T = slot.states;
    for (const [cid, s] of saved.states) {
      const st = stateFor(core, cur, slot, cid);
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
  rebuildTimers(core);
}

/** Serialized size (UTF-8 bytes of the JSON) of one customer's state, or of the whole engine. */
export function stateBytes(core: EngineCore, cur: Cursor, customerId?: string): number {
  let bytes = 0;
  if (customerId === undefined) {
    for (const b of bufferedList(core)) bytes += Buffer.byteLength(JSON.stringify(b));
    for (const [cid, row] of core.customers.rows) bytes += rowSize(core, cur, cid, row);
    return bytes;
  }
  const row = core.customers.rows.get(customerId);
  return row === undefined ? 0 : rowSize(core, cur, customerId, row);
}

/** Bytes of one customer's trigger states in a snapshot, each with its customer key. */
function rowSize(core: EngineCore, cur: Cursor, customerId: string, row: number): number {
  let bytes = 0;
  for (const slot of core.slots) {
    const st = core.customers.cell(row, slot.index);
    if (st >= 0 || hasDeferred(core, slot, row))
      bytes +=
        Buffer.byteLength(JSON.stringify(serializeState(core, cur, slot, st, row))) +
        Buffer.byteLength(customerId) +
        6;
  }
  return bytes;
}
