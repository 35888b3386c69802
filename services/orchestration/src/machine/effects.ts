/**
 * What the run machine decides: effects, applied in order by the executor (src/executor.ts), and
 * the facts it needs first, each with the rest of the decision. Deciding code never does I/O;
 * every write, publish and timer is one of these, so a unit test reads a decision as data.
 */
import { actions } from '@kairos/contracts';
import type { EscalateStep, SendStep, WorkflowSpec } from '@kairos/definitions';
import type { ArmedPoint } from '@kairos/service-kit';
import type { StoredTraceContext } from '@kairos/telemetry';
import type { FrequencyCap, SentRecord } from '../domain/caps';
import type { ContentChoice } from '../domain/content';
import type { BestHour } from '../domain/timing';
import { actionIdFor } from '../domain/hashing';
import type { FaultPoint } from '../faults';
import type { LedgerDoc, RunDoc, RunEvent, TimerDoc } from '../store/documents';

/** A timer as scheduled (its lease and attempts start empty). */
export type NewTimer = Omit<TimerDoc, 'leaseUntil' | 'attempts'>;

export type Effect =
  /** Inserts the run; `ifNew` follows only when it did not exist yet (a redelivered trigger). */
  | { do: 'insert-run'; run: RunDoc; ifNew?: Effect[] }
  /** One round trip: set fields, append history events, unset fields, add action ids. */
  | {
      do: 'update-run';
      runId: string;
      set: Partial<RunDoc>;
      events: RunEvent[];
      unset?: (keyof RunDoc)[];
      actions?: string[];
    }
  /** Takes the re-entry marker of (customer, workflow) for the run. */
  | { do: 'claim-active'; run: RunDoc }
  /** Releases the re-entry marker if the run holds it. */
  | { do: 'release-active'; run: RunDoc }
  | { do: 'schedule-timer'; timer: NewTimer }
  /** Adds a marketing send to the customer's ledger, dropping entries older than `retainMs`. */
  | {
      do: 'record-send';
      customerId: string;
      actionId: string;
      entry: LedgerDoc['sends'][string];
      retainMs: number;
    }
  /** Publishes an ActionRequested under the run's trace. */
  | { do: 'request-action'; action: actions.ActionRequested; trace: StoredTraceContext | undefined }
  /** Publishes an ActionOutcome under the run's trace. */
  | { do: 'publish-outcome'; outcome: actions.ActionOutcome; trace: StoredTraceContext | undefined }
  /** Joins the customer's open arbitration window, or opens one with its settle timer. */
  | { do: 'join-window'; run: RunDoc; settleMs: number }
  /** Runs the run's steps from its stored position (`persisted`: the run is already stored). */
  | { do: 'advance'; run: RunDoc; wf: WorkflowSpec; persisted: boolean }
  /** Looks the run's workflow up again and advances it (it fails when the workflow was removed). */
  | { do: 'continue-run'; run: RunDoc }
  /** Test only: the process is killed here when this fault point is armed. */
  | { do: 'crash-point'; point: ArmedPoint<FaultPoint> }
  | { do: 'count-run'; workflow: string; entry: 'entered' | 'skipped' | 'held_out' | 'reentry' }
  | { do: 'count-escalation-failed'; workflow: string; reason: string }
  | { do: 'log'; level: 'warn' | 'error'; fields: Record<string, unknown>; message: string };

/** Settings the machine decides with. */
export interface MachineSettings {
  partitions: number;
  /** Default arbitration settle window (ms); 0 disables arbitration for workflows without `settle`. */
  settleMs: number;
  globalCap?: FrequencyCap;
}

const DAY = 86_400_000;

/** How far back sends matter for caps (of one workflow, or of the global cap alone). */
export function historyWindowMs(settings: MachineSettings, wf?: WorkflowSpec): number {
  return Math.max(settings.globalCap?.perMs ?? 0, wf?.frequencyCap?.perMs ?? 0, DAY);
}

/** The outcome an ended run published (again when a re-driven run finds it ended). */
export const ENDING_OUTCOME: Partial<Record<RunDoc['state'], actions.OutcomeStatus>> = {
  failed: actions.OutcomeStatus.OUTCOME_STATUS_FAILED,
  suppressed: actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED,
  held_out: actions.OutcomeStatus.OUTCOME_STATUS_HELD_OUT,
};

/** A decision not to message (or a run's end) as an ActionOutcome, under the run's trace. */
export function outcome(
  run: RunDoc,
  status: actions.OutcomeStatus,
  reason: string,
  nowMs: number,
  actionId = actionIdFor(run._id, 'run'),
  metadata: Record<string, string> = {},
): Effect {
  return {
    do: 'publish-outcome',
    outcome: actions.ActionOutcome.fromPartial({
      actionId,
      runId: run._id,
      workflow: run.workflow,
      trigger: run.trigger,
      customerId: run.customerId,
      channel: '',
      status,
      reason,
      at: new Date(nowMs),
      cost: 0,
      contentVariant: run.contentVariant ?? '',
      timingVariant: run.timingVariant ?? '',
      transactional: run.transactional,
      metadata: { ...metadata, ...(run.traceId ? { trace_id: run.traceId } : {}) },
    }),
    trace: run.traceContext,
  };
}

/**
 * The run fails: written `failed`, its re-entry marker released, its FAILED outcome published.
 * `resumedBy` is kept: the driver that fails the run publishes the outcome again if killed before.
 */
export function failRun(run: RunDoc, error: string, nowMs: number): Effect[] {
  return [
    {
      do: 'log',
      level: 'error',
      fields: { runId: run._id, workflow: run.workflow, customerId: run.customerId, err: error },
      message: 'run failed',
    },
    {
      do: 'update-run',
      runId: run._id,
      set: { state: 'failed', error, reason: error, ...(run.resumedBy ? { resumedBy: run.resumedBy } : {}) },
      events: [{ at: new Date(nowMs), event: 'failed', detail: error }],
    },
    { do: 'crash-point', point: 'after-run-failed' },
    { do: 'release-active', run },
    outcome(run, actions.OutcomeStatus.OUTCOME_STATUS_FAILED, error, nowMs),
  ];
}

/** A render that failed (RenderError): its message. */
export interface RenderFailure {
  renderError: string;
}

/**
 * A fact a step needs before it can decide, with the rest of its decision: the executor gathers
 * the fact (an activity: a read, a render) and calls `resume` with it. Deciding code stays pure and
 * nothing is decided twice.
 */
export type Need =
  /** The customer's recorded marketing sends since `sinceMs`. */
  | { need: 'ledger'; sinceMs: number; resume: (ledger: SentRecord[]) => StepDecision }
  /** The send step's content, rendered for the customer's context. */
  | {
      need: 'content';
      step: SendStep;
      choice: ContentChoice;
      resume: (content: Record<string, string> | RenderFailure) => StepDecision;
    }
  /** The customer's best hour to be reached (PredictionService), or why it is unavailable. */
  | { need: 'best-hour'; resume: (best: BestHour | { unavailable: string }) => StepDecision }
  /** The escalate step's message, rendered for the customer's context. */
  | { need: 'escalation-text'; step: EscalateStep; resume: (text: string | RenderFailure) => StepDecision };

/** A step's decision: its effects, and whether the run stopped (completed, waits or failed). */
export interface Decided {
  effects: Effect[];
  stop: boolean;
}

export type StepDecision = Need | Decided;
