/**
 * What the executor and the orchestrator need from the outside world, as interfaces: the MongoDB
 * stores (src/store) and the emitter implement them; tests may pass fakes.
 */
import type { actions } from '@kairos/contracts';
import type { StoredTraceContext } from '@kairos/telemetry';
import type { SentRecord } from './domain/caps';
import type { BestHour } from './domain/timing';
import type { NewTimer } from './machine/effects';
import type { LedgerDoc, RunDoc, RunEvent, WindowDoc } from './store/documents';

export interface RunPort {
  get(runId: string): Promise<RunDoc | null>;
  /** False when the run already exists (a redelivered trigger). */
  insert(run: RunDoc): Promise<boolean>;
  update(
    runId: string,
    set: Partial<RunDoc>,
    events?: RunEvent | RunEvent[],
    unset?: (keyof RunDoc)[],
    addActions?: string | string[],
  ): Promise<void>;
  /** Takes the (customer, workflow) re-entry marker; returns the other active run holding it. */
  claimActive(customerId: string, workflow: string, runId: string): Promise<RunDoc | undefined>;
  /** The other active run of the workflow for the customer, if any (read only). */
  activeHolder(customerId: string, workflow: string, runId: string): Promise<RunDoc | undefined>;
  releaseActive(customerId: string, workflow: string, runId: string): Promise<void>;
  inWindow(customerId: string, windowId: string): Promise<RunDoc[]>;
  unfinished(partitions: number[]): Promise<Array<{ _id: string; customerId: string }>>;
}

export interface TimerPort {
  /** Idempotent: scheduling the same timer id twice keeps the first. */
  schedule(timer: NewTimer): Promise<void>;
  exists(timerId: string): Promise<boolean>;
}

export interface WindowPort {
  /** Adds the run to the customer's open window; null when none is open. */
  join(customerId: string, runId: string): Promise<WindowDoc | null>;
  /** Opens a window; false when one is already open. */
  open(window: WindowDoc): Promise<boolean>;
  /** Closes the window and returns it; null when it was replaced by a newer one. */
  close(customerId: string, windowId: string): Promise<WindowDoc | null>;
}

export interface LedgerPort {
  record(
    customerId: string,
    actionId: string,
    entry: LedgerDoc['sends'][string],
    retainMs: number,
  ): Promise<void>;
  since(customerId: string, sinceMs: number): Promise<SentRecord[]>;
}

/** Publishes under the run's trace context; message ids are derived from the action id. */
export interface EmitterPort {
  request(action: actions.ActionRequested, trace?: StoredTraceContext): Promise<void>;
  outcome(outcome: actions.ActionOutcome, trace?: StoredTraceContext): Promise<void>;
}

/** The customer's best hour to be reached (prediction's send-time estimate); rejects when unavailable. */
export interface SendTimePort {
  bestHour(customerId: string): Promise<BestHour>;
}
