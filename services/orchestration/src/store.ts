/**
 * MongoDB persistence: runs, durable timers, arbitration windows and the local send ledger.
 * Documents are plain data; the engine owns the state machine.
 */
import type { Collection, Db } from 'mongodb';
import type { RunContextSnapshot } from './domain/context';
import type { SentRecord } from './domain/caps';

export type RunState =
  'settling' | 'running' | 'waiting' | 'completed' | 'skipped' | 'suppressed' | 'held_out' | 'failed';

/** States in which a run still counts as "in the workflow" for re-entry. */
export const ACTIVE_STATES: RunState[] = ['settling', 'running', 'waiting'];

export interface RunEvent {
  at: Date;
  step?: string;
  /** entered, skipped, settling, won, suppressed, held_out, waiting, resumed, sent, escalated, deferred, failed, completed */
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
  /** The timer that last resumed the run. */
  resumedBy?: string;
  waitUntil?: Date;
  timingVariant?: string;
  contentVariant?: string;
  context: RunContextSnapshot;
  /** Profile view at entry; the fallback when ProfileService is unreachable on resume. */
  profile: Record<string, unknown>;
  actions: string[];
  history: RunEvent[];
  traceId?: string;
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

export interface WindowDoc {
  _id: string;
  customerId: string;
  state: 'open' | 'closed';
  closesAt: Date;
  members: string[];
}

export interface LedgerDoc {
  _id: string;
  customerId: string;
  workflow: string;
  channel: string;
  at: Date;
  transactional: boolean;
}

export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  return e?.code === 11000 || /E11000|duplicate key/i.test(e?.message ?? '');
}

export class RunStore {
  readonly runs: Collection<RunDoc>;
  constructor(db: Db) {
    this.runs = db.collection<RunDoc>('runs');
  }

  async init(): Promise<void> {
    await this.runs.createIndex({ customerId: 1, workflow: 1, state: 1 });
    await this.runs.createIndex({ customerId: 1, createdAt: -1 });
  }

  get(runId: string): Promise<RunDoc | null> {
    return this.runs.findOne({ _id: runId });
  }

  /** False when the run already exists (a redelivered trigger). */
  async insert(run: RunDoc): Promise<boolean> {
    try {
      await this.runs.insertOne(run);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  findActive(customerId: string, workflow: string, exceptRunId: string): Promise<RunDoc | null> {
    return this.runs.findOne({
      customerId,
      workflow,
      state: { $in: ACTIVE_STATES },
      _id: { $ne: exceptRunId },
    });
  }

  forCustomer(customerId: string, limit = 100): Promise<RunDoc[]> {
    return this.runs.find({ customerId }).sort({ createdAt: -1 }).limit(limit).toArray();
  }

  async update(
    runId: string,
    set: Partial<RunDoc>,
    event?: RunEvent,
    unset: (keyof RunDoc)[] = [],
    addAction?: string,
  ): Promise<void> {
    const update: Record<string, unknown> = { $set: { ...set, updatedAt: new Date() } };
    if (event) update.$push = { history: event };
    if (addAction) update.$addToSet = { actions: addAction };
    if (unset.length) update.$unset = Object.fromEntries(unset.map((k) => [k, '']));
    await this.runs.updateOne({ _id: runId }, update);
  }
}

export class TimerStore {
  readonly timers: Collection<TimerDoc>;
  constructor(db: Db) {
    this.timers = db.collection<TimerDoc>('timers');
  }

  async init(): Promise<void> {
    await this.timers.createIndex({ partition: 1, dueAt: 1 });
    await this.timers.createIndex({ runId: 1 });
  }

  /** Idempotent: scheduling the same timer id twice keeps the first. */
  async schedule(t: Omit<TimerDoc, 'leaseUntil' | 'attempts'>): Promise<void> {
    try {
      await this.timers.insertOne({ ...t, leaseUntil: new Date(0), attempts: 0 });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /**
   * Claims the earliest due timer of the given partitions whose lease is free, atomically: a
   * findOneAndUpdate sets the lease, so of several replicas (or a restarted process) exactly one
   * gets it until the lease expires.
   */
  claimDue(partitions: number[], nowMs: number, leaseMs: number, owner: string): Promise<TimerDoc | null> {
    const now = new Date(nowMs);
    return this.timers.findOneAndUpdate(
      { partition: { $in: partitions }, dueAt: { $lte: now }, leaseUntil: { $lte: now } },
      { $set: { leaseUntil: new Date(nowMs + leaseMs), owner }, $inc: { attempts: 1 } },
      { sort: { dueAt: 1 }, returnDocument: 'after' },
    );
  }

  /** Done: only the lease holder removes it. */
  async complete(id: string, owner: string): Promise<void> {
    await this.timers.deleteOne({ _id: id, owner });
  }

  async cancelForRun(runId: string): Promise<void> {
    await this.timers.deleteMany({ runId });
  }

  forRun(runId: string): Promise<TimerDoc[]> {
    return this.timers.find({ runId }).toArray();
  }
}

export class WindowStore {
  readonly windows: Collection<WindowDoc>;
  constructor(db: Db) {
    this.windows = db.collection<WindowDoc>('arbitration_windows');
  }

  async init(): Promise<void> {
    await this.windows.createIndex({ customerId: 1, state: 1 });
  }

  /** Adds the run to the customer's open window; null when none is open (the caller opens one). */
  join(customerId: string, runId: string, nowMs: number): Promise<WindowDoc | null> {
    return this.windows.findOneAndUpdate(
      { customerId, state: 'open', closesAt: { $gt: new Date(nowMs) } },
      { $addToSet: { members: runId } },
      { returnDocument: 'after' },
    );
  }

  async open(w: WindowDoc): Promise<void> {
    await this.windows.insertOne(w);
  }

  /** Closes the window (no run can join after this) and returns its members. */
  async close(windowId: string): Promise<WindowDoc | null> {
    await this.windows.updateOne({ _id: windowId }, { $set: { state: 'closed' } });
    return this.windows.findOne({ _id: windowId });
  }
}

/** Local record of every send requested, so caps hold even when ProfileService history is unknown. */
export class SendLedger {
  readonly sends: Collection<LedgerDoc>;
  constructor(db: Db) {
    this.sends = db.collection<LedgerDoc>('sends');
  }

  async init(): Promise<void> {
    await this.sends.createIndex({ customerId: 1, at: -1 });
  }

  async record(doc: LedgerDoc): Promise<void> {
    const { _id, ...fields } = doc;
    await this.sends.updateOne({ _id }, { $setOnInsert: fields }, { upsert: true });
  }

  async since(customerId: string, sinceMs: number): Promise<SentRecord[]> {
    const docs = await this.sends.find({ customerId, at: { $gt: new Date(sinceMs) } }).toArray();
    return docs.map((d) => ({
      actionId: d._id,
      workflow: d.workflow,
      at: d.at.getTime(),
      transactional: d.transactional,
    }));
  }
}
