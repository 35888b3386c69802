/**
 * The `runs` collection and the re-entry markers (`active_runs`). Every query on the hot path is by
 * `_id`: FerretDB's SQLite backend pushes only `_id` lookups down, anything else scans.
 */
import type { Collection, Db } from 'mongodb';
import { ACTIVE_STATES, type RunDoc, type RunEvent } from './documents';
import { isDuplicateKey } from '@kairos/service-kit';

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
    // The retention sweep's range (KAIROS_RUN_RETENTION).
    await this.runs.createIndex({ updatedAt: 1 });
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
   * The ids of runs of these partitions in `settling` or `running`, for the sweep at start (a scan
   * on FerretDB's SQLite backend, once per start). The sweep reads each run again under its
   * customer's lock, so only the ids are fetched here.
   */
  async unfinished(partitions: number[]): Promise<Array<{ _id: string; customerId: string }>> {
    return this.runs
      .find(
        { partition: { $in: partitions }, state: { $in: ['settling', 'running'] } },
        { projection: { _id: 1, customerId: 1 } },
      )
      .toArray();
  }

  async forCustomer(customerId: string, limit = 100): Promise<RunDoc[]> {
    const docs = await this.runs.find({ customerId }).sort({ createdAt: -1 }).limit(limit).toArray();
    return docs.map((d) => decodeRun(d)!);
  }
}
