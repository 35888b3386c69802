/**
 * Transitions of a run (the NFA): an event offered to a node, a node killed, an absence deadline
 * applied, and the run's next deadline and expiry recomputed. A run is its RunArena entries; the
 * pattern is its CompiledTrigger, flattened in pre-order (node 0 is the root).
 */
import type { Condition, ConditionContext, EngineEvent } from '../ast';
import {
  K_ABSENT,
  K_ALL,
  K_ANY,
  K_COUNT,
  K_EVENT,
  K_SEQUENCE,
  type CompiledNode,
  type CompiledTrigger,
} from '../compile';
import type { BoundEvent } from '../types';
import { EMPTY_PROFILE, type Cursor, type EngineCore } from './core';
import { N, R, Status } from './layout';
import type { RunArena } from './run-arena';
import { recordFailure } from './trigger-states';

/** Shared by runs of triggers without aliases: never written to. */
const NO_BINDINGS: Record<string, BoundEvent> = Object.freeze({}) as Record<string, BoundEvent>;

/** The event as partial matches store it (without its profile). */
export function strip(e: EngineEvent): BoundEvent {
  return { id: e.id, type: e.type, customerId: e.customerId, time: e.time, properties: e.properties };
}

/**
 * Evaluates a node's condition on `e` with the run's bindings; a false or throwing condition is
 * recorded as the current trigger state's last failure at that node.
 */
function check(
  core: EngineCore,
  cur: Cursor,
  node: CompiledNode,
  where: Condition,
  t: CompiledTrigger,
  a: RunArena,
  run: number,
  e: EngineEvent,
): boolean {
  const ctx = core.ctx;
  ctx.event = e;
  ctx.profile = e.profile ?? EMPTY_PROFILE;
  ctx.bindings = t.aliasNodes.length === 0 ? NO_BINDINGS : bindingsOf(t, a, run);
  let ok = false;
  let error: string | undefined;
  try {
    ok = where.evaluate(ctx as ConditionContext) === true;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    core.stats.conditionErrors++;
  }
  if (!ok) recordFailure(core, cur, node, e, error);
  return ok;
}

/**
 * The aliases bound so far in a run, built when a condition needs them (rather than kept per run,
 * so long-lived partial matches hold fewer objects): a completed aliased event step binds its
 * event, a completed count its last event.
 */
function bindingsOf(t: CompiledTrigger, a: RunArena, run: number): Record<string, BoundEvent> {
  const bindings: Record<string, BoundEvent> = {};
  for (const i of t.aliasNodes) {
    if (a.numsOf(run)[a.at(run) + i * N.STRIDE] !== Status.DONE) continue;
    const bound = a.evsOf(run)[a.evAt(run) + t.evSlot[i]] as BoundEvent | BoundEvent[];
    bindings[t.nodes[i].alias as string] = Array.isArray(bound) ? bound[bound.length - 1] : bound;
  }
  return bindings;
}

/** Offers an event to node i of a run; returns whether the node made progress. */
export function offer(
  core: EngineCore,
  cur: Cursor,
  t: CompiledTrigger,
  a: RunArena,
  run: number,
  i: number,
  e: EngineEvent,
): boolean {
  const n = a.numsOf(run);
  const base = a.at(run);
  const b = base + i * N.STRIDE;
  if (n[b] !== Status.PENDING) return false;
  const node = t.nodes[i];
  switch (node.kind) {
    case K_EVENT: {
      if (e.type !== node.type) return false;
      if (node.where !== undefined && !check(core, cur, node, node.where, t, a, run, e)) return false;
      a.evsOf(run)[a.evAt(run) + t.evSlot[i]] = cur.bound ?? (cur.bound = strip(e));
      n[b] = Status.DONE;
      n[b + N.START] = e.time;
      n[b + N.DONE_AT] = e.time;
      return true;
    }
    case K_COUNT: {
      if (e.type !== node.type) return false;
      if (node.where !== undefined && !check(core, cur, node, node.where, t, a, run, e)) return false;
      const s = cur.bound ?? (cur.bound = strip(e));
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
      const step = n[b + N.AUX];
      const c = node.children[step];
      const child = t.nodes[c];
      if (child.kind === K_ABSENT) {
        if (
          e.type === child.type &&
          (child.where === undefined || check(core, cur, child, child.where, t, a, run, e))
        ) {
          const deadline = n[base + node.children[step - 1] * N.STRIDE + N.DONE_AT] + child.forMs;
          if (e.time < deadline) n[b] = Status.DEAD;
        }
        return false;
      }
      const progressed = offer(core, cur, t, a, run, c, e);
      const cs = n[base + c * N.STRIDE];
      if (cs === Status.DEAD) {
        n[b] = Status.DEAD;
        return false;
      }
      if (!progressed) return false;
      if (start !== start) n[b + N.START] = e.time;
      if (cs === Status.DONE) {
        n[b + N.AUX] = step + 1;
        if (step + 1 === node.children.length) {
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
        if (n[cb] === Status.PENDING && offer(core, cur, t, a, run, c, e)) progressed = true;
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
        if (n[cb] === Status.PENDING && offer(core, cur, t, a, run, c, e)) progressed = true;
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
function kill(t: CompiledTrigger, a: RunArena, run: number, i: number): void {
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
export function applyDeadline(t: CompiledTrigger, a: RunArena, run: number): void {
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
      kill(t, a, run, i);
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
      const step = n[pb + N.AUX] + 1;
      n[pb + N.AUX] = step;
      if (step < pn.children.length) return;
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
export function computeTimers(t: CompiledTrigger, a: RunArena, run: number): void {
  const n = a.numsOf(run);
  const base = a.at(run);
  n[base + R.DEADLINE] = Infinity;
  n[base + R.DEADLINE_NODE] = -1;
  n[base + R.EXPIRY] = t.singleRun ? heldUntil(t, a, run) : expiryOf(t, a, run, 0);
}

/**
 * Expiry of a single-run trigger's run (root count, root any of event/count): the last time at
 * which an event it holds still counts. After it the run holds nothing a new run would not, so
 * dropping it changes no firing and bounds an idle customer's state.
 */
function heldUntil(t: CompiledTrigger, a: RunArena, run: number): number {
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

function expiryOf(t: CompiledTrigger, a: RunArena, run: number, i: number): number {
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
      const step = n[b + N.AUX];
      const c = node.children[step];
      const child = t.nodes[c];
      if (child.kind === K_ABSENT) {
        const d = n[base + node.children[step - 1] * N.STRIDE + N.DONE_AT] + child.forMs;
        if (d < n[base + R.DEADLINE]) {
          n[base + R.DEADLINE] = d;
          n[base + R.DEADLINE_NODE] = i;
        }
        return own;
      }
      return Math.min(own, expiryOf(t, a, run, c));
    }
    case K_ALL: {
      let e = own;
      for (const c of node.children) e = Math.min(e, expiryOf(t, a, run, c));
      return e;
    }
    case K_ANY: {
      let e = -Infinity;
      for (const c of node.children) e = Math.max(e, expiryOf(t, a, run, c));
      return e;
    }
    default:
      return Infinity;
  }
}
