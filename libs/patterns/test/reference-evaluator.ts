/**
 * Brute-force reference for the semantics in docs/definitions.md ("Pattern semantics"). Slow on
 * purpose: no buffering, no timers, no run set, no type index. For every customer it sorts the
 * accepted events by (time, arrival), and for every trigger repeatedly:
 *   - replays, from scratch, one partial match from every event after the last reset point,
 *     through the later events and its own absence deadlines, up to the final watermark;
 *   - takes the earliest completion (deadlines before events at the same time, then the oldest
 *     start), fires it unless the cooldown is active, and resets just after it.
 */
import type { EngineEvent, Pattern, TriggerSpec } from '../src/ast';

export type Op = { kind: 'event'; event: EngineEvent } | { kind: 'advance'; to: number };

export interface RefFire {
  trigger: string;
  customerId: string;
  firedAt: number;
  matchedIds: string[];
}

interface NodeState {
  status: 'pending' | 'done' | 'dead';
  start?: number;
  doneAt?: number;
  cur: number;
  winner: number;
  events: EngineEvent[];
  children: NodeState[];
}

function init(p: Pattern): NodeState {
  const children =
    p.kind === 'sequence' ? p.steps.map(init) : p.kind === 'all' || p.kind === 'any' ? p.of.map(init) : [];
  return { status: 'pending', cur: 0, winner: -1, events: [], children };
}

type Bindings = Record<string, EngineEvent>;

function holds(where: { evaluate: (c: never) => boolean } | undefined, e: EngineEvent, b: Bindings): boolean {
  if (where === undefined) return true;
  try {
    return (
      (where.evaluate as (c: unknown) => unknown)({ event: e, profile: e.profile ?? {}, bindings: b }) ===
      true
    );
  } catch {
    return false;
  }
}

const windowOf = (p: Pattern): number =>
  (p.kind === 'sequence' || p.kind === 'all') && p.withinMs !== undefined ? p.withinMs : Infinity;

/** Offers one event; returns whether the node took it. */
function offer(p: Pattern, s: NodeState, e: EngineEvent, b: Bindings): boolean {
  if (s.status !== 'pending') return false;
  switch (p.kind) {
    case 'event':
      if (e.type !== p.type || !holds(p.where, e, b)) return false;
      s.events = [e];
      s.status = 'done';
      s.start = s.doneAt = e.time;
      if (p.as !== undefined) b[p.as] = e;
      return true;
    case 'count':
      if (e.type !== p.type || !holds(p.where, e, b)) return false;
      s.events = [...s.events.filter((x) => x.time >= e.time - p.withinMs), e];
      if (s.events.length >= p.atLeast) {
        s.status = 'done';
        s.doneAt = e.time;
        if (p.as !== undefined) b[p.as] = e;
      }
      return true;
    case 'sequence': {
      if (s.start !== undefined && e.time > s.start + windowOf(p)) {
        s.status = 'dead';
        return false;
      }
      const step = p.steps[s.cur];
      if (step.kind === 'absent') {
        const deadline = (s.children[s.cur - 1].doneAt as number) + step.forMs;
        if (e.type === step.pattern.type && holds(step.pattern.where, e, b) && e.time < deadline)
          s.status = 'dead';
        return false;
      }
      const child = s.children[s.cur];
      const took = offer(step, child, e, b);
      if (child.status === 'dead') {
        s.status = 'dead';
        return false;
      }
      if (!took) return false;
      s.start ??= e.time;
      if (child.status === 'done') {
        s.cur++;
        if (s.cur === p.steps.length) {
          s.status = 'done';
          s.doneAt = child.doneAt;
        }
      }
      return true;
    }
    case 'all': {
      if (s.start !== undefined && e.time > s.start + windowOf(p)) {
        s.status = 'dead';
        return false;
      }
      let took = false;
      for (let i = 0; i < p.of.length; i++) {
        if (offer(p.of[i], s.children[i], e, b)) took = true;
        if (s.children[i].status === 'dead') {
          s.status = 'dead';
          return false;
        }
      }
      if (!took) return false;
      s.start ??= e.time;
      if (s.children.every((c) => c.status === 'done')) {
        s.status = 'done';
        s.doneAt = e.time;
      }
      return true;
    }
    case 'any': {
      let took = false;
      for (let i = 0; i < p.of.length; i++) {
        if (offer(p.of[i], s.children[i], e, b)) took = true;
        if (s.children[i].status === 'done') {
          s.status = 'done';
          s.winner = i;
          s.doneAt = s.children[i].doneAt;
          return true;
        }
      }
      if (s.children.every((c) => c.status === 'dead')) {
        s.status = 'dead';
        return false;
      }
      return took;
    }
    default:
      return false;
  }
}

interface Waiting {
  at: number;
  /** Nodes from the root to the sequence that waits. */
  path: Array<{ p: Pattern; s: NodeState }>;
}

/** The earliest absence deadline among live sequences (pre-order first on ties). */
function nextDeadline(p: Pattern, s: NodeState, path: Array<{ p: Pattern; s: NodeState }>): Waiting | null {
  if (s.status !== 'pending') return null;
  const here = [...path, { p, s }];
  if (p.kind === 'sequence') {
    const step = p.steps[s.cur];
    if (step.kind === 'absent')
      return { at: (s.children[s.cur - 1].doneAt as number) + step.forMs, path: here };
    return nextDeadline(step, s.children[s.cur], here);
  }
  if (p.kind === 'all' || p.kind === 'any') {
    let best: Waiting | null = null;
    p.of.forEach((c, i) => {
      const w = nextDeadline(c, s.children[i], here);
      if (w !== null && (best === null || w.at < best.at)) best = w;
    });
    return best;
  }
  return null;
}

function kill(path: Array<{ p: Pattern; s: NodeState }>, k: number): void {
  path[k].s.status = 'dead';
  for (let j = k - 1; j >= 0; j--) {
    const { p, s } = path[j];
    if (s.status !== 'pending') return;
    if (p.kind === 'any' && s.children.some((c) => c.status !== 'dead')) return;
    s.status = 'dead';
  }
}

function applyDeadline(w: Waiting): void {
  const d = w.at;
  for (let k = w.path.length - 1; k >= 0; k--) {
    const { p, s } = w.path[k];
    if (s.status === 'pending' && s.start !== undefined && d > s.start + windowOf(p)) kill(w.path, k);
  }
  if (w.path.some((x) => x.s.status !== 'pending')) return;
  const seq = w.path[w.path.length - 1];
  const absent = seq.s.children[seq.s.cur];
  absent.status = 'done';
  absent.doneAt = d;
  let childIndex = seq.s.cur;
  for (let k = w.path.length - 1; k >= 0; k--) {
    const { p, s } = w.path[k];
    if (p.kind === 'sequence') {
      s.cur++;
      if (s.cur < p.steps.length) return;
    } else if (p.kind === 'all') {
      if (s.children.some((c) => c.status !== 'done')) return;
    } else if (p.kind === 'any') {
      s.winner = childIndex;
    }
    s.status = 'done';
    s.doneAt = d;
    if (k > 0) childIndex = (w.path[k - 1].s.children as NodeState[]).indexOf(s);
  }
}

function matchedIds(p: Pattern, s: NodeState, out: string[]): void {
  if (p.kind === 'event' || p.kind === 'count') for (const e of s.events) out.push(e.id);
  else if (p.kind === 'sequence') p.steps.forEach((c, i) => matchedIds(c, s.children[i], out));
  else if (p.kind === 'all') p.of.forEach((c, i) => matchedIds(c, s.children[i], out));
  else if (p.kind === 'any') matchedIds(p.of[s.winner], s.children[s.winner], out);
}

interface Completion {
  /** Position in the timeline: k for event k, i - 0.5 for a deadline just before event i. */
  order: number;
  time: number;
  start: number;
  ids: string[];
}

function simulate(p: Pattern, evs: EngineEvent[], startIdx: number, watermark: number): Completion | null {
  const s: { status: NodeState['status'] } & NodeState = init(p);
  const status = (): NodeState['status'] => s.status;
  const b: Bindings = {};
  if (!offer(p, s, evs[startIdx], b)) return null;
  const done = (order: number, time: number): Completion => {
    const ids: string[] = [];
    matchedIds(p, s, ids);
    return { order, time, start: startIdx, ids };
  };
  if (s.status === 'done') return done(startIdx, evs[startIdx].time);
  for (let i = startIdx + 1; ; i++) {
    const limit = i < evs.length ? evs[i].time : watermark;
    for (let w = nextDeadline(p, s, []); w !== null && w.at <= limit; w = nextDeadline(p, s, [])) {
      applyDeadline(w);
      if (status() === 'done') return done(i - 0.5, w.at);
      if (status() === 'dead') return null;
    }
    if (i >= evs.length) return null;
    offer(p, s, evs[i], b);
    if (status() === 'done') return done(i, evs[i].time);
    if (status() === 'dead') return null;
  }
}

export function referenceFires(triggers: TriggerSpec[], ops: Op[], allowedLatenessMs: number): RefFire[] {
  let watermark = -Infinity;
  const accepted: EngineEvent[] = [];
  for (const op of ops) {
    if (op.kind === 'advance') watermark = Math.max(watermark, op.to);
    else if (op.event.time >= watermark) {
      accepted.push(op.event);
      watermark = Math.max(watermark, op.event.time - allowedLatenessMs);
    }
  }
  const customers = [...new Set(accepted.map((e) => e.customerId))].sort();
  const fires: RefFire[] = [];
  for (const customerId of customers) {
    // Stable sort keeps arrival order among equal times.
    const evs = accepted
      .filter((e) => e.customerId === customerId && e.time <= watermark)
      .sort((a, b) => a.time - b.time);
    for (const t of triggers) {
      let from = 0;
      let lastFiredAt: number | undefined;
      for (;;) {
        let best: Completion | null = null;
        for (let s = from; s < evs.length; s++) {
          const c = simulate(t.pattern, evs, s, watermark);
          if (c === null) continue;
          if (best === null || c.order < best.order || (c.order === best.order && c.time < best.time))
            best = c;
        }
        if (best === null) break;
        if (lastFiredAt === undefined || best.time >= lastFiredAt + t.cooldownMs) {
          fires.push({ trigger: t.name, customerId, firedAt: best.time, matchedIds: best.ids });
          lastFiredAt = best.time;
        }
        from = Math.ceil(best.order + 0.25);
      }
    }
  }
  return fires;
}
