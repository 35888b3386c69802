/** What a run has matched and what it waits for, as firings and explanations list them. */
import { K_ABSENT, K_ANY, K_COUNT, K_EVENT, K_SEQUENCE, type CompiledTrigger } from '../compile';
import type { BoundEvent, MatchedStep, WaitingStep } from '../types';
import { N, Status } from './layout';
import { counted, type RunArena } from './run-arena';
import { iso } from './time-format';

/** Collects matched steps in step order; `completed` restricts `any` to its winning branch. */
export function collect(
  t: CompiledTrigger,
  a: RunArena,
  run: number,
  i: number,
  out: MatchedStep[],
  completed: boolean,
): void {
  const node = t.nodes[i];
  const n = a.numsOf(run);
  const base = a.at(run);
  const b = base + i * N.STRIDE;
  switch (node.kind) {
    case K_EVENT: {
      const e = a.evsOf(run)[a.evAt(run) + t.evSlot[i]] as BoundEvent | null;
      if (e === null) return;
      const m: MatchedStep = { path: node.path, kind: 'event', type: node.type, event: e, time: e.time };
      if (node.alias !== undefined) m.alias = node.alias;
      out.push(m);
      return;
    }
    case K_COUNT: {
      const list = counted(a.evsOf(run)[a.evAt(run) + t.evSlot[i]]);
      for (const e of list) {
        const m: MatchedStep = { path: node.path, kind: 'count', type: node.type, event: e, time: e.time };
        if (node.alias !== undefined && e === list[list.length - 1] && n[b] === Status.DONE)
          m.alias = node.alias;
        out.push(m);
      }
      return;
    }
    case K_ABSENT:
      if (n[b] === Status.DONE)
        out.push({
          path: node.path,
          kind: 'absent',
          type: node.type,
          time: n[b + N.DONE_AT],
          absentFrom: n[b + N.START],
          absentUntil: n[b + N.DONE_AT],
        });
      return;
    case K_ANY:
      if (completed && n[b] === Status.DONE) {
        collect(t, a, run, node.children[n[b + N.AUX]], out, completed);
        return;
      }
      for (const c of node.children)
        if (n[base + c * N.STRIDE] !== Status.DEAD) collect(t, a, run, c, out, completed);
      return;
    default:
      for (const c of node.children) collect(t, a, run, c, out, completed);
  }
}

export function waiting(t: CompiledTrigger, a: RunArena, run: number, i: number, out: WaitingStep[]): void {
  const node = t.nodes[i];
  const n = a.numsOf(run);
  const base = a.at(run);
  const b = base + i * N.STRIDE;
  if (n[b] !== Status.PENDING) return;
  switch (node.kind) {
    case K_EVENT: {
      const w: WaitingStep = { path: node.path, kind: 'event', type: node.type };
      if (node.where !== undefined) w.condition = node.where.source;
      out.push(w);
      return;
    }
    case K_COUNT: {
      const w: WaitingStep = {
        path: node.path,
        kind: 'count',
        type: node.type,
        counted: counted(a.evsOf(run)[a.evAt(run) + t.evSlot[i]]).length,
        atLeast: node.atLeast,
      };
      if (node.where !== undefined) w.condition = node.where.source;
      out.push(w);
      return;
    }
    case K_SEQUENCE: {
      const step = n[b + N.AUX];
      const c = node.children[step];
      const child = t.nodes[c];
      if (child.kind === K_ABSENT) {
        const w: WaitingStep = {
          path: child.path,
          kind: 'absent',
          type: child.type,
          deadline: n[base + node.children[step - 1] * N.STRIDE + N.DONE_AT] + child.forMs,
        };
        if (child.where !== undefined) w.condition = child.where.source;
        out.push(w);
        return;
      }
      waiting(t, a, run, c, out);
      return;
    }
    default:
      for (const c of node.children) waiting(t, a, run, c, out);
  }
}

/** The explanation sentence; `fireText` is the trigger's own start of it (Slot.fireText). */
export function describeFire(
  fireText: string,
  customerId: string,
  at: number,
  matched: MatchedStep[],
  deadline: number | undefined,
): string {
  let steps = '';
  for (let i = 0; i < matched.length; i++) {
    const m = matched[i];
    if (i > 0) steps += '; ';
    const e = m.event;
    if (e === undefined)
      steps += `${m.path}: no ${m.type} from ${iso(m.absentFrom as number)} until ${iso(m.absentUntil as number)}`;
    else if (m.alias === undefined) steps += `${m.path}: ${e.type} ${e.id} at ${iso(e.time)}`;
    else steps += `${m.path} (${m.alias}): ${e.type} ${e.id} at ${iso(e.time)}`;
  }
  const how =
    deadline !== undefined
      ? `when the absence deadline ${iso(deadline)} passed`
      : 'on the last matched event';
  return `${fireText}${customerId} at ${iso(at)} ${how}: ${steps}.`;
}
