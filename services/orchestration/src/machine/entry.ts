/**
 * Entry: a fired trigger starts a run of a matching workflow, or records why not. In order:
 * conditions (skipped), holdout (held out), re-entry (suppressed: a customer is in at most one
 * active run of a workflow), then the arbitration window (settling) or the first steps at once.
 */
import { actions, partitionOf, type triggers } from '@kairos/contracts';
import type { WorkflowSpec } from '@kairos/definitions';
import type { StoredTraceContext } from '@kairos/telemetry';
import { profileView, snapshotOf, workflowContext } from '../domain/context';
import { isHeldOut } from '../domain/holdout';
import { programOf, stepIdOf } from '../domain/program';
import type { CustomerLookup } from '../profiles';
import type { RunDoc } from '../store/documents';
import { outcome, type Effect, type MachineSettings } from './effects';
import { resumeInterrupted } from './lifecycle';

export interface EntryFacts {
  nowMs: number;
  lookup: CustomerLookup;
  /** The trace the run publishes under: the TriggerFired's consumer span. */
  trace: { traceId?: string; context?: StoredTraceContext };
}

/** Effects, or the other active run of the workflow for the customer needed first (null: none). */
export type EntryDecision =
  { need: 'active-holder'; resume: (holder: RunDoc | null) => EntryDecision } | { effects: Effect[] };

export function decideEntry(
  tf: triggers.TriggerFired,
  wf: WorkflowSpec,
  runId: string,
  facts: EntryFacts,
  settings: MachineSettings,
): EntryDecision {
  const { nowMs } = facts;
  const profile = profileView(facts.lookup.profile ?? tf.profile, tf.customerId);
  const context = snapshotOf(tf);
  const program = programOf(wf);
  const run: RunDoc = {
    _id: runId,
    customerId: tf.customerId,
    partition: partitionOf(tf.customerId, settings.partitions),
    workflow: wf.name,
    workflowVersion: wf.version,
    trigger: tf.trigger,
    triggerFiredId: tf.id,
    priority: wf.priority,
    firedAt: tf.firedAt ?? new Date(nowMs),
    transactional: wf.transactional,
    state: 'running',
    pc: 0,
    stepId: program[0] ? stepIdOf(program[0]) : '',
    context,
    profile,
    actions: [],
    history: [],
    createdAt: new Date(nowMs),
    updatedAt: new Date(nowMs),
  };
  if (facts.trace.traceId) run.traceId = facts.trace.traceId;
  if (facts.trace.context) run.traceContext = facts.trace.context;
  const entry = (state: RunDoc['state'], event: string, detail?: string): RunDoc => {
    const r: RunDoc = {
      ...run,
      state,
      history: [{ at: new Date(nowMs), event, ...(detail ? { detail } : {}) }],
    };
    if (detail && state !== 'running' && state !== 'settling') r.reason = detail;
    return r;
  };
  const { OutcomeStatus } = actions;

  if (wf.conditions) {
    const r = wf.conditions.evaluate(workflowContext(context, profile));
    if (!r.ok || !r.value) {
      const why = r.ok ? 'conditions_not_met' : `conditions_error: ${r.error}`;
      const ifNew: Effect[] = [{ do: 'count-run', workflow: wf.name, entry: 'skipped' }];
      return { effects: [{ do: 'insert-run', run: entry('skipped', 'skipped', why), ifNew }] };
    }
  }
  if (isHeldOut(tf.customerId, wf.name, wf.holdoutPercent)) {
    const ifNew: Effect[] = [
      { do: 'count-run', workflow: wf.name, entry: 'held_out' },
      outcome(run, OutcomeStatus.OUTCOME_STATUS_HELD_OUT, 'holdout', nowMs),
    ];
    return { effects: [{ do: 'insert-run', run: entry('held_out', 'held_out', 'holdout'), ifNew }] };
  }
  return { need: 'active-holder', resume: (holder) => admit(run, entry, wf, holder, settings, nowMs) };
}

/** Past conditions and holdout: re-entry, then the arbitration window or the first steps. */
function admit(
  run: RunDoc,
  entry: (state: RunDoc['state'], event: string, detail?: string) => RunDoc,
  wf: WorkflowSpec,
  holder: RunDoc | null,
  settings: MachineSettings,
  nowMs: number,
): EntryDecision {
  if (holder) {
    const reason = `already_in_workflow:${holder._id}`;
    const ifNew: Effect[] = [
      { do: 'count-run', workflow: wf.name, entry: 'reentry' },
      outcome(run, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason, nowMs),
    ];
    return { effects: [{ do: 'insert-run', run: entry('suppressed', 'suppressed', reason), ifNew }] };
  }
  const settleMs = wf.settleMs ?? settings.settleMs;
  if (settleMs > 0) {
    const ifNew: Effect[] = [
      { do: 'count-run', workflow: wf.name, entry: 'entered' },
      { do: 'join-window', run: { ...run, state: 'settling' }, settleMs },
    ];
    return {
      effects: [
        { do: 'claim-active', run },
        { do: 'insert-run', run: entry('settling', 'entered'), ifNew },
      ],
    };
  }
  // Not written yet: the run is inserted when it stops (completes, waits or fails), so a run that
  // finishes at once costs one write. A crash before it re-runs the steps on redelivery with the
  // same action ids.
  return {
    effects: [
      { do: 'count-run', workflow: wf.name, entry: 'entered' },
      { do: 'advance', run: entry('running', 'entered'), wf, persisted: false },
    ],
  };
}

/**
 * A redelivered trigger (its handler never finished: it is acked only after) finds its run: it
 * finishes what a crash interrupted. A run that settles has its window and timer written before
 * the ack; a run that ended has its outcome published again (same message id).
 */
export function decideRedelivered(
  run: RunDoc,
  wf: WorkflowSpec | undefined,
  settings: MachineSettings,
  nowMs: number,
): Effect[] {
  if (run.state === 'settling' && !run.windowId)
    return [{ do: 'join-window', run, settleMs: wf?.settleMs ?? settings.settleMs }];
  return resumeInterrupted(run, nowMs);
}
