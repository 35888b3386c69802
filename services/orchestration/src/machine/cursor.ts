/**
 * A run being advanced: where it is in its program and the progress not yet written. Progress is
 * written once, when the run stops (completes, waits, fails): one round trip per advance. A crash
 * before that re-runs the steps, and their actions keep their ids.
 */
import { actions } from '@kairos/contracts';
import type { WorkflowContext, WorkflowSpec } from '@kairos/definitions';
import type { SentRecord } from '../domain/caps';
import { profileView, workflowContext } from '../domain/context';
import { programOf, resumePc, type Instruction } from '../domain/program';
import { customerZone } from '../domain/timing';
import type { CustomerLookup } from '../profiles';
import { ACTIVE_STATES, type RunDoc, type RunEvent } from '../store/documents';
import { failRun, type Effect, type MachineSettings } from './effects';

export interface RunCursor {
  /** The run as last decided on (with the timing variant a passed wait chose). */
  run: RunDoc;
  wf: WorkflowSpec;
  program: readonly Instruction[];
  pc: number;
  ctx: WorkflowContext;
  profile: Record<string, unknown>;
  zone: string;
  timingVariant?: string;
  /** A best-time wait passed: sends carry `send_time_optimized=true` in their metadata. */
  sendTimeOptimized?: boolean;
  /** The customer's recent sends from ProfileService; undefined when unknown (ledger only). */
  history?: SentRecord[];
  settings: MachineSettings;
  /** Decided but not yet written. */
  progress: { set: Partial<RunDoc>; events: RunEvent[]; actions: string[] };
  /** The run is stored (else its first write inserts it). */
  persisted: boolean;
  /**
   * The run holds the re-entry marker: runs stored before this advance do; a new one takes it only
   * if it stops in an active state (it waits).
   */
  markerHeld: boolean;
}

/**
 * Starts advancing `run` from its stored position, with the customer's current profile (the entry
 * snapshot when the lookup failed). A run whose step is gone from the workflow fails.
 */
export function startCursor(
  run: RunDoc,
  wf: WorkflowSpec,
  lookup: CustomerLookup,
  persisted: boolean,
  settings: MachineSettings,
  nowMs: number,
): RunCursor | { effects: Effect[] } {
  const program = programOf(wf);
  const pc = resumePc(program, run.pc, run.stepId);
  if (pc === undefined)
    return {
      effects: failRun(run, `step '${run.stepId}' no longer exists in workflow version ${wf.version}`, nowMs),
    };
  const profile = lookup.profile ? profileView(lookup.profile, run.customerId) : run.profile;
  return {
    run,
    wf,
    program,
    pc,
    ctx: workflowContext(run.context, profile),
    profile,
    zone: customerZone(String(profile.timeZone ?? '')),
    ...(run.timingVariant ? { timingVariant: run.timingVariant } : {}),
    ...(run.sendTimeOptimized ? { sendTimeOptimized: true } : {}),
    ...(lookup.history ? { history: lookup.history } : {}),
    settings,
    progress: { set: {}, events: [], actions: [] },
    persisted,
    markerHeld: persisted,
  };
}

/**
 * Writes the progress with `set` (and a last event): an update of a stored run, else the insert of
 * a new one, which takes the re-entry marker first when it stops active.
 */
export function flush(
  c: RunCursor,
  nowMs: number,
  set: Partial<RunDoc>,
  event?: RunEvent,
  unset: (keyof RunDoc)[] = [],
): Effect[] {
  const { progress, run } = c;
  const events = event ? [...progress.events, event] : progress.events;
  const effects: Effect[] = [];
  if (c.persisted) {
    effects.push({
      do: 'update-run',
      runId: run._id,
      set: { ...progress.set, ...set },
      events,
      unset,
      actions: progress.actions,
    });
  } else {
    const doc: RunDoc = {
      ...run,
      ...progress.set,
      ...set,
      history: [...run.history, ...events],
      actions: [...run.actions, ...progress.actions],
      updatedAt: new Date(nowMs),
    };
    for (const k of unset) delete doc[k];
    if (ACTIVE_STATES.includes(doc.state)) {
      effects.push({ do: 'claim-active', run });
      c.markerHeld = true;
    }
    effects.push({ do: 'insert-run', run: doc });
    c.persisted = true;
  }
  c.progress = { set: {}, events: [], actions: [] };
  return effects;
}

/** The run leaves the workflow done: written `completed`, its re-entry marker released. */
export function complete(c: RunCursor, nowMs: number, set: Partial<RunDoc>, event: RunEvent): Effect[] {
  const effects = flush(c, nowMs, { ...set, state: 'completed' }, event);
  if (c.markerHeld) effects.push({ do: 'release-active', run: c.run });
  return effects;
}

/**
 * The run waits until `dueAt` on a step timer, then resumes at `resumeAt`. The timer is scheduled
 * before the run is written `waiting`: a waiting run always has the timer that resumes it.
 */
export function sleep(
  c: RunCursor,
  nowMs: number,
  wait: {
    resumeAt: number;
    resumeStepId: string;
    dueAt: number;
    stepId: string;
    set?: Partial<RunDoc>;
    detail?: string;
  },
): Effect[] {
  const { run } = c;
  const timerId = `step:${run._id}:${wait.resumeAt}:${wait.dueAt}`;
  const event: RunEvent = {
    at: new Date(nowMs),
    event: 'waiting',
    step: wait.stepId,
    detail: `until ${new Date(wait.dueAt).toISOString()}${wait.detail ? ` (${wait.detail})` : ''}`,
  };
  return [
    {
      do: 'schedule-timer',
      timer: {
        _id: timerId,
        kind: 'step',
        partition: run.partition,
        customerId: run.customerId,
        dueAt: new Date(wait.dueAt),
        runId: run._id,
        pc: wait.resumeAt,
        stepId: wait.resumeStepId,
      },
    },
    ...flush(c, nowMs, { ...wait.set, state: 'waiting', timerId, waitUntil: new Date(wait.dueAt) }, event),
  ];
}

/**
 * Requests the action `actionId` of step `stepId`: an ActionRequested naming the run and the step,
 * with `fields` and the run's trace id in its metadata, recorded in the run's history as `event`
 * with `detail` and in its actions. Returns the request-action effect.
 */
export function requestStepAction(
  c: RunCursor,
  stepId: string,
  actionId: string,
  fields: Omit<Partial<actions.ActionRequested>, 'metadata'> & { metadata: Record<string, string> },
  history: { at: Date; event: 'sent' | 'escalated'; detail: string },
): Effect {
  const { run } = c;
  const action = actions.ActionRequested.fromPartial({
    actionId,
    runId: run._id,
    workflow: c.wf.name,
    trigger: run.trigger,
    triggerId: run.triggerFiredId,
    customerId: run.customerId,
    step: stepId,
    ...fields,
    metadata: { ...fields.metadata, ...(run.traceId ? { trace_id: run.traceId } : {}) },
  });
  const { at, event, detail } = history;
  c.progress.events.push({ at, event, step: stepId, actionId, detail });
  c.progress.actions.push(actionId);
  return { do: 'request-action', action, trace: run.traceContext };
}
