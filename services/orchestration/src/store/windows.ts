import type { Db, Collection } from 'mongodb';
import type { WindowDoc } from './documents';
import { isDuplicateKey } from '@kairos/service-kit';

/** Arbitration windows (`arbitration_windows`): one document per customer, by `_id`. */
export class WindowStore {
  readonly windows: Collection<WindowDoc>;
  constructor(db: Db) {
    this.windows = db.collection<WindowDoc>('arbitration_windows');
  }

  async init(): Promise<void> {
    await this.windows.createIndex({ state: 1, closesAt: 1 });
  }

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
