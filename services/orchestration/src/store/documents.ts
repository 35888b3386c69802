/**
 * The documents orchestration stores: runs, durable timers, arbitration windows and the local send
 * ledger. They are plain data; the run machine (src/machine) decides how they change.
 */
import type { StoredTraceContext } from '@kairos/telemetry';
import type { RunContextSnapshot } from '../domain/context';

export type RunState =
  'settling' | 'running' | 'waiting' | 'completed' | 'skipped' | 'suppressed' | 'held_out' | 'failed';

/** States in which a run still counts as "in the workflow" for re-entry. */
export const ACTIVE_STATES: RunState[] = ['settling', 'running', 'waiting'];

export interface RunEvent {
  at: Date;
  step?: string;
  /**
   * entered, skipped, settling, won, suppressed, held_out, waiting, resumed, sent, escalated,
   * escalation_failed, deferred, failed, completed
   */
  event: string;
  detail?: string;
  actionId?: string;
}

export interface RunDoc {
  _id: string;
  customerId: string;
  partition: number;
  workflow: string;
  workflowVersion: number;
  trigger: string;
  triggerFiredId: string;
  priority: number;
  firedAt: Date;
  transactional: boolean;
  state: RunState;
  reason?: string;
  error?: string;
  /** Program counter and the id of the step it points at (to resume across workflow reloads). */
  pc: number;
  stepId: string;
  windowId?: string;
  /** Pending timer id while waiting. */
  timerId?: string;
  /**
   * The timer (step or settle) that last moved the run on: until the run's next write it drives
   * the run, and re-fired after a crash it carries on from the stored state.
   */
  resumedBy?: string;
  waitUntil?: Date;
  timingVariant?: string;
  /** A `wait: {until: best_time}` chose when the run's next sends go out (analytics compares them). */
  sendTimeOptimized?: boolean;
  contentVariant?: string;
  context: RunContextSnapshot;
  /** Profile view at entry; the fallback when ProfileService is unreachable on resume. */
  profile: Record<string, unknown>;
  actions: string[];
  history: RunEvent[];
  traceId?: string;
  /**
   * Trace context of the TriggerFired that started the run. Everything the run publishes continues
   * it, also when a timer (settle window, wait) or a restart resumes the run in another call stack.
   */
  traceContext?: StoredTraceContext;
  createdAt: Date;
  updatedAt: Date;
}

export interface TimerDoc {
  _id: string;
  kind: 'step' | 'settle';
  partition: number;
  customerId: string;
  dueAt: Date;
  /** step: run to resume and where. */
  runId?: string;
  pc?: number;
  stepId?: string;
  /** settle: arbitration window to close. */
  windowId?: string;
  /** Claimed by `owner` until then; an expired lease makes the timer claimable again. */
  leaseUntil: Date;
  owner?: string;
  attempts: number;
}

/** The customer's current arbitration window (`_id` = customer id; one at a time). */
export interface WindowDoc {
  _id: string;
  windowId: string;
  state: 'open' | 'closed';
  closesAt: Date;
  members: string[];
}

/** A customer's recent marketing sends, keyed by action id (so recording a retried send is a no-op). */
export interface LedgerDoc {
  _id: string;
  /** The newest send's time (the retention sweep's field). */
  updatedAt?: Date;
  sends: Record<string, { workflow: string; channel: string; at: Date; transactional: boolean }>;
}
