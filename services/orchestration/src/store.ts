/**
 * MongoDB persistence: runs, durable timers, arbitration windows and the local send ledger.
 * Documents are plain data; the engine owns the state machine.
 *
 * Every query on the hot path is by `_id` (runs, the per-customer window and ledger documents, the
 * re-entry markers): FerretDB's SQLite backend pushes only `_id` lookups down, anything else scans.
 */
import type { Collection, Db } from 'mongodb';
import type { StoredTraceContext } from '@kairos/telemetry';
import type { RunContextSnapshot } from './domain/context';
import type { SentRecord } from './domain/caps';

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
  sends: Record<string, { workflow: string; channel: string; at: Date; transactional: boolean }>;
}

export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  return e?.code === 11000 || /E11000|duplicate key/i.test(e?.message ?? '');
}

/**
 * How a run is stored: the context (bound events with their free-form properties) and the profile
 * snapshot hold user-defined keys such as event types (`cart.item_added`) and property names, which
 * MongoDB-wire servers reject as field names when they contain dots; they are kept as JSON text.
 */
type StoredRunDoc = Omit<RunDoc, 'context' | 'profile'> & { contextJson: string; profileJson: string };

function encodeSet(set: Partial<RunDoc>): Partial<StoredRunDoc> {
  const { context, profile, ...rest } = set;
  const out: Partial<StoredRunDoc> = rest;
  if (context !== undefined) out.contextJson = JSON.stringify(context);
  if (profile !== undefined) out.profileJson = JSON.stringify(profile);
  return out;
}

function decodeRun(doc: StoredRunDoc | null): RunDoc | null {
  if (!doc) return null;
  const { contextJson, profileJson, ...rest } = doc;
  return { ...rest, context: JSON.parse(contextJson), profile: JSON.parse(profileJson) };
}

export class RunStore {
  readonly runs: Collection<StoredRunDoc>;
  readonly active: Collection<{ _id: string; runId: string }>;
  constructor(db: Db) {
    this.runs = db.collection<StoredRunDoc>('runs');
    this.active = db.collection<{ _id: string; runId: string }>('active_runs');
  }

  async init(): Promise<void> {
    await this.runs.createIndex({ customerId: 1, workflow: 1, state: 1 });
    await this.runs.createIndex({ customerId: 1, createdAt: -1 });
  }

  async get(runId: string): Promise<RunDoc | null> {
    return decodeRun(await this.runs.findOne({ _id: runId }));
  }

  /** False when the run already exists (a redelivered trigger). */
  async insert(run: RunDoc): Promise<boolean> {
    try {
      await this.runs.insertOne(encodeSet(run) as StoredRunDoc);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** One round trip: set fields, append history events, add action ids, unset fields. */
  async update(
    runId: string,
    set: Partial<RunDoc>,
    events: RunEvent | RunEvent[] = [],
    unset: (keyof RunDoc)[] = [],
    addActions: string | string[] = [],
  ): Promise<void> {
    const evs = Array.isArray(events) ? events : [events];
    const acts = Array.isArray(addActions) ? addActions : [addActions];
    const update: Record<string, unknown> = { $set: { ...encodeSet(set), updatedAt: new Date() } };
    if (evs.length) update.$push = { history: { $each: evs } };
    if (acts.length) update.$addToSet = { actions: { $each: acts } };
    if (unset.length) update.$unset = Object.fromEntries(unset.map((k) => [k, '']));
    await this.runs.updateOne({ _id: runId }, update);
  }

  /**
   * Claims "customer is in this workflow" for the run: one marker per (customer, workflow), so a
   * customer can never be in two active runs of one workflow. A marker left by a run that has ended
   * (a crash before `releaseActive`) is taken over. Returns the other active run when there is one.
   */
  async claimActive(customerId: string, workflow: string, runId: string): Promise<RunDoc | undefined> {
    const _id = `${customerId}\u0000${workflow}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.active.insertOne({ _id, runId });
        return undefined;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const marker = await this.active.findOne({ _id });
      if (!marker) continue;
      if (marker.runId === runId) return undefined;
      const holder = await this.get(marker.runId);
      if (holder && ACTIVE_STATES.includes(holder.state)) return holder;
      await this.active.updateOne({ _id, runId: marker.runId }, { $set: { runId } });
      const now = await this.active.findOne({ _id });
      if (now?.runId === runId) return undefined;
    }
    throw new Error(`cannot claim the active-run marker of ${customerId}/${workflow}`);
  }

  /** The other active run of this workflow for the customer, if any (read only). */
  async activeHolder(customerId: string, workflow: string, runId: string): Promise<RunDoc | undefined> {
    const marker = await this.active.findOne({ _id: `${customerId}\u0000${workflow}` });
    if (!marker || marker.runId === runId) return undefined;
    const holder = await this.get(marker.runId);
    return holder && ACTIVE_STATES.includes(holder.state) ? holder : undefined;
  }

  /** The run left the workflow (completed, failed, suppressed). */
  async releaseActive(customerId: string, workflow: string, runId: string): Promise<void> {
    await this.active.deleteOne({ _id: `${customerId}\u0000${workflow}`, runId });
  }

  /**
   * The runs of a settle window, for a re-fired or given-up settle timer whose window document was
   * replaced by a newer window (a rare path: a filtered query, where the hot path reads by `_id`).
   */
  async inWindow(customerId: string, windowId: string): Promise<RunDoc[]> {
    const docs = await this.runs.find({ customerId, windowId }).toArray();
    return docs.map((d) => decodeRun(d)!);
  }

  /**
   * Runs of these partitions in `settling` or `running`, for the sweep at start (a scan on
   * FerretDB's SQLite backend, once per start).
   */
  async unfinished(partitions: number[]): Promise<RunDoc[]> {
    const docs = await this.runs
      .find({ partition: { $in: partitions }, state: { $in: ['settling', 'running'] } })
      .toArray();
    return docs.map((d) => decodeRun(d)!);
  }

  async forCustomer(customerId: string, limit = 100): Promise<RunDoc[]> {
    const docs = await this.runs.find({ customerId }).sort({ createdAt: -1 }).limit(limit).toArray();
    return docs.map((d) => decodeRun(d)!);
  }
}

export class TimerStore {
  readonly timers: Collection<TimerDoc>;
  readonly claims: Collection<{ _id: string; timerId: string; owner: string; at: Date }>;
  private readonly scheduled: Array<(dueAtMs: number) => void> = [];
  constructor(db: Db) {
    this.timers = db.collection<TimerDoc>('timers');
    this.claims = db.collection<{ _id: string; timerId: string; owner: string; at: Date }>('timer_claims');
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
      return;
    }
    for (const listener of this.scheduled) listener(t.dueAt.getTime());
  }

  /** Calls `listener` with the due time of every timer this process schedules. */
  onScheduled(listener: (dueAtMs: number) => void): void {
    this.scheduled.push(listener);
  }

  /**
   * The earliest time a timer of these partitions can be claimed (due, and its lease ended), among
   * the 16 due first; undefined when there is none. Callers cap their wait: a later-due timer with
   * a shorter lease is not looked at.
   */
  async nextClaimableAt(partitions: number[]): Promise<number | undefined> {
    const first = await this.timers
      .find({ partition: { $in: partitions } }, { projection: { dueAt: 1, leaseUntil: 1 } })
      .sort({ dueAt: 1 })
      .limit(16)
      .toArray();
    let at: number | undefined;
    for (const t of first) {
      const claimable = Math.max(t.dueAt.getTime(), t.leaseUntil.getTime());
      if (at === undefined || claimable < at) at = claimable;
    }
    return at;
  }

  /**
   * Claims the earliest due timers (at most `max`) of the given partitions whose lease is free, from
   * one look at the collection (a look per timer was a full scan each on FerretDB). A claim is
   * an insert into `timer_claims` with a unique `_id` (`<timer>#<n>`): exactly one claimer wins
   * each lease, because a unique-key insert is atomic on every MongoDB-wire server, whereas a
   * conditional update (findOneAndUpdate) is not on FerretDB's SQLite backend (the integration
   * test with competing replicas showed double claims). A lease that ran out (its holder died or is
   * too slow) is taken over by claiming `<timer>#<n+1>`.
   */
  async claimDue(
    partitions: number[],
    nowMs: number,
    leaseMs: number,
    owner: string,
    max = 1,
  ): Promise<TimerDoc[]> {
    const now = new Date(nowMs);
    // One sorted look for the whole batch: on FerretDB's SQLite backend it scans the collection.
    const candidates = await this.timers
      .find({ partition: { $in: partitions }, dueAt: { $lte: now }, leaseUntil: { $lte: now } })
      .sort({ dueAt: 1 })
      .limit(Math.max(16, max * 2))
      .toArray();
    const claimed: TimerDoc[] = [];
    for (const t of candidates) {
      if (claimed.length >= max) break;
      for (let seq = t.attempts; seq < t.attempts + 16; seq++) {
        const claimId = `${t._id}#${seq}`;
        try {
          await this.claims.insertOne({ _id: claimId, timerId: t._id, owner, at: now });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          const held = await this.claims.findOne({ _id: claimId });
          if (held && held.at.getTime() + leaseMs > nowMs) break; // someone holds this lease
          continue; // expired claim: take the next lease
        }
        const leaseUntil = new Date(nowMs + leaseMs);
        if (!(await this.timers.findOne({ _id: t._id }))) break; // fired and completed meanwhile
        await this.timers.updateOne({ _id: t._id }, { $set: { leaseUntil, owner, attempts: seq + 1 } });
        claimed.push({ ...t, leaseUntil, owner, attempts: seq + 1 });
        break;
      }
    }
    return claimed;
  }

  /**
   * Done: the timer is removed. Its claims stay (a claimer holding a stale read of the timer must
   * still find its lease taken) until `pruneClaims` drops them a day later.
   */
  async complete(timer: TimerDoc): Promise<void> {
    await this.timers.deleteOne({ _id: timer._id });
  }

  async pruneClaims(olderThanMs: number): Promise<void> {
    await this.claims.deleteMany({ at: { $lt: new Date(olderThanMs) } });
  }

  async cancelForRun(runId: string): Promise<void> {
    await this.timers.deleteMany({ runId });
  }

  async exists(timerId: string): Promise<boolean> {
    return (await this.timers.countDocuments({ _id: timerId }, { limit: 1 })) > 0;
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

  async init(): Promise<void> {}

  /**
   * Adds the run to the customer's open window (open until its settle timer closes it, even if the
   * timer is late); null when none is open, and the caller opens one.
   */
  join(customerId: string, runId: string): Promise<WindowDoc | null> {
    return this.windows.findOneAndUpdate(
      { _id: customerId, state: 'open' },
      { $addToSet: { members: runId } },
      { returnDocument: 'after' },
    );
  }

  /** Opens a window; false when one is already open (the caller joins it instead). */
  async open(w: WindowDoc): Promise<boolean> {
    const replaced = await this.windows.updateOne({ _id: w._id, state: 'closed' }, { $set: w });
    if (replaced.matchedCount === 1) return true;
    try {
      await this.windows.insertOne(w);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** Closes the window (no run can join after this) and returns it; null when it was replaced. */
  async close(customerId: string, windowId: string): Promise<WindowDoc | null> {
    await this.windows.updateOne({ _id: customerId, windowId }, { $set: { state: 'closed' } });
    const w = await this.windows.findOne({ _id: customerId });
    return w?.windowId === windowId ? w : null;
  }
}

/**
 * Local record of sends, so caps hold even when ProfileService history is unknown. One document per
 * customer; entries older than the longest cap window are dropped when a send is recorded.
 */
export class SendLedger {
  readonly ledger: Collection<LedgerDoc>;
  constructor(db: Db) {
    this.ledger = db.collection<LedgerDoc>('send_ledger');
  }

  async init(): Promise<void> {}

  async record(
    customerId: string,
    actionId: string,
    entry: LedgerDoc['sends'][string],
    retainMs: number,
  ): Promise<void> {
    const doc = await this.ledger.findOne({ _id: customerId });
    const cutoff = entry.at.getTime() - retainMs;
    const stale = Object.entries(doc?.sends ?? {})
      .filter(([, e]) => e.at.getTime() < cutoff)
      .map(([id]) => `sends.${id}`);
    const update: Record<string, unknown> = { $set: { [`sends.${actionId}`]: entry } };
    if (stale.length) update.$unset = Object.fromEntries(stale.map((k) => [k, '']));
    await this.ledger.updateOne({ _id: customerId }, update, { upsert: true });
  }

  async since(customerId: string, sinceMs: number): Promise<SentRecord[]> {
    const doc = await this.ledger.findOne({ _id: customerId });
    return Object.entries(doc?.sends ?? {})
      .filter(([, e]) => e.at.getTime() > sinceMs)
      .map(([actionId, e]) => ({
        actionId,
        workflow: e.workflow,
        at: e.at.getTime(),
        transactional: e.transactional,
      }));
  }
}
