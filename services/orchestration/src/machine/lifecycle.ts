/**
 * What moves a run on besides its steps: timers (a step timer resumes a waiting run, a settle timer
 * arbitrates a window), re-drives after a crash, given-up timers and the sweep at start. Every
 * driver may fire again after a crash: each decision picks the run up where its last write left it.
 */
import { actions } from '@kairos/contracts';
import type { WorkflowSpec } from '@kairos/definitions';
import { arbitrate, type ArbitrationCandidate } from '../domain/arbitration';
import { digest } from '../domain/hashing';
import { ACTIVE_STATES, type RunDoc, type TimerDoc, type WindowDoc } from '../store/documents';
import { ENDING_OUTCOME, failRun, outcome, type Effect, type NewTimer } from './effects';

/**
 * A driver (redelivered trigger, re-fired timer) finds its run past the write it last made: a
 * `running` run goes on from its stored step; an ended run has the ending's follow-ups (re-entry
 * marker, outcome) done again, both idempotent.
 */
export function resumeInterrupted(run: RunDoc, nowMs: number): Effect[] {
  if (run.state === 'running') return [{ do: 'continue-run', run }];
  if (ACTIVE_STATES.includes(run.state)) return [];
  const effects: Effect[] = [{ do: 'release-active', run }];
  const status = ENDING_OUTCOME[run.state];
  if (status !== undefined && run.reason) effects.push(outcome(run, status, run.reason, nowMs));
  return effects;
}

/** The run's workflow again: it advances from its stored step, or fails when it was removed. */
export function decideContinue(run: RunDoc, wf: WorkflowSpec | undefined, nowMs: number): Effect[] {
  if (!wf) return failRun(run, 'workflow_removed', nowMs);
  return [{ do: 'advance', run, wf, persisted: true }];
}

/**
 * A step timer fired. A crash after resuming but before the run's next write leaves it `running`
 * (or ended without its outcome) with this timer as the one that resumed it: the re-fired timer
 * carries on. Anything else but the waiting run's own timer is stale.
 */
export function decideStepTimer(timer: TimerDoc, run: RunDoc, nowMs: number): Effect[] {
  if (run.resumedBy === timer._id) return resumeInterrupted(run, nowMs);
  if (run.state !== 'waiting' || run.timerId !== timer._id) return [];
  const resumed: RunDoc = {
    ...run,
    state: 'running',
    pc: timer.pc ?? run.pc,
    stepId: timer.stepId ?? run.stepId,
  };
  return [
    {
      do: 'update-run',
      runId: run._id,
      set: { state: 'running', pc: resumed.pc, stepId: resumed.stepId, resumedBy: timer._id },
      events: [{ at: new Date(nowMs), event: 'resumed', step: resumed.stepId }],
      unset: ['timerId', 'waitUntil'],
    },
    { do: 'crash-point', point: 'after-timer-resume' },
    { do: 'continue-run', run: resumed },
  ];
}

/**
 * A window to open for a run that found none open, with the settle timer that closes it. The
 * window id is unique per attempt to open: a timer left by an attempt that did not open its window
 * (a crash, or another run opened one first) can never close a later window.
 */
export function openingWindow(
  run: RunDoc,
  settleMs: number,
  nowMs: number,
): { window: WindowDoc; timer: NewTimer } {
  const closesAt = new Date(nowMs + settleMs);
  const windowId = `win_${digest('window', run.customerId, run._id, String(closesAt.getTime())).slice(0, 32)}`;
  return {
    window: { _id: run.customerId, windowId, state: 'open', closesAt, members: [run._id] },
    timer: {
      _id: `settle:${windowId}`,
      kind: 'settle',
      partition: run.partition,
      customerId: run.customerId,
      dueAt: closesAt,
      windowId,
    },
  };
}

/**
 * A settle timer closed its window: arbitration among its runs. The timer drives every member until
 * each is written past `settling`, and a winner until its steps are written (it is `resumedBy` the
 * timer): re-fired, it arbitrates again (the ranking is deterministic) and picks each run up where
 * its last write left it: a winner still `running` goes on, a loser's outcome is published again.
 */
export function decideSettle(
  timer: TimerDoc,
  members: RunDoc[],
  workflowOf: (name: string) => WorkflowSpec | undefined,
  nowMs: number,
): Effect[] {
  if (members.length === 0) return [];
  const candidates: ArbitrationCandidate[] = members.map((r) => ({
    runId: r._id,
    workflow: r.workflow,
    priority: r.priority,
    firedAt: r.firedAt.getTime(),
    transactional: r.transactional,
  }));
  const result = arbitrate(candidates);
  const byId = new Map(members.map((r) => [r._id, r]));
  const now = new Date(nowMs);
  const effects: Effect[] = [];
  for (const { candidate, reason } of result.suppressed) {
    const run = byId.get(candidate.runId);
    if (!run) continue;
    if (run.state === 'settling') {
      effects.push(
        {
          do: 'update-run',
          runId: run._id,
          set: { state: 'suppressed', reason, resumedBy: timer._id },
          events: [{ at: now, event: 'suppressed', detail: reason }],
        },
        { do: 'crash-point', point: 'after-arbitration-loss' },
      );
    } else if (!(run.state === 'suppressed' && run.resumedBy === timer._id)) continue;
    effects.push(
      { do: 'release-active', run },
      outcome(run, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason, nowMs),
    );
  }
  for (const c of result.proceed) {
    const run = byId.get(c.runId);
    if (!run) continue;
    if (run.state !== 'settling') {
      // Re-fired: carry on with what this timer started.
      if (run.resumedBy === timer._id) effects.push(...resumeInterrupted(run, nowMs));
      continue;
    }
    const wf = workflowOf(run.workflow);
    if (!wf) {
      effects.push(...failRun({ ...run, resumedBy: timer._id }, 'workflow_removed', nowMs));
      continue;
    }
    const detail =
      c === result.winner ? `won among ${candidates.length}` : 'transactional: exempt from arbitration';
    effects.push(
      {
        do: 'update-run',
        runId: run._id,
        set: { state: 'running', resumedBy: timer._id },
        events: [{ at: now, event: 'won', detail }],
      },
      { do: 'crash-point', point: 'after-arbitration' },
      { do: 'advance', run: { ...run, state: 'running', resumedBy: timer._id }, wf, persisted: true },
    );
  }
  return effects;
}

/**
 * A timer that kept failing is given up: the runs it drives fail with the error instead of
 * waiting forever (a step timer's run; a settle timer's runs still settling or that it resumed).
 */
export function decideAbandon(timer: TimerDoc, runs: RunDoc[], error: string, nowMs: number): Effect[] {
  const effects: Effect[] = [];
  for (const run of runs) {
    const driven = timer.runId
      ? run.state === 'waiting' || run.state === 'running'
      : run.state === 'settling' || (run.state === 'running' && run.resumedBy === timer._id);
    if (driven) effects.push(...failRun({ ...run, resumedBy: timer._id }, `timer_failed: ${error}`, nowMs));
  }
  return effects;
}

/**
 * The sweep at start found a run unfinished: which timer, if it still exists, drives it. Undefined
 * when no timer can (a `running` run nothing resumed) and null when the run is not the sweep's.
 */
export function driverTimerOf(run: RunDoc): string | undefined | null {
  if (run.state === 'settling' && run.windowId) return `settle:${run.windowId}`;
  if (run.state === 'running') return run.resumedBy;
  return null;
}

/**
 * A run the sweep found without a driver is re-driven: a settling run's window gets a new settle
 * timer, due now; a running run goes on from its stored step.
 */
export function decideStranded(run: RunDoc, nowMs: number): Effect[] {
  if (run.state === 'settling' && run.windowId)
    return [
      {
        do: 'schedule-timer',
        timer: {
          _id: `settle:${run.windowId}`,
          kind: 'settle',
          partition: run.partition,
          customerId: run.customerId,
          dueAt: new Date(nowMs),
          windowId: run.windowId,
        },
      },
    ];
  return [{ do: 'continue-run', run }];
}
