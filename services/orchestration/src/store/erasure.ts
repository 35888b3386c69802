import type { RunStore } from './runs';
import type { SendLedger } from './ledger';
import type { TimerStore } from './timers';
import type { WindowStore } from './windows';

/** The stores that hold a customer's documents. */
export interface ErasableStores {
  runs: RunStore;
  timers: TimerStore;
  windows: WindowStore;
  ledger: SendLedger;
}

/**
 * Deletes every document of one customer: runs and their re-entry markers, timers and their lease
 * claims, the arbitration window and the send ledger. Idempotent; returns the counts by collection.
 */
export async function eraseCustomerDocuments(
  s: ErasableStores,
  customerId: string,
): Promise<Record<string, number>> {
  const runIds = (await s.runs.runs.find({ customerId }, { projection: { _id: 1 } }).toArray()).map(
    (r) => r._id,
  );
  const timerIds = (await s.timers.timers.find({ customerId }, { projection: { _id: 1 } }).toArray()).map(
    (t) => t._id,
  );
  const count = async (p: Promise<{ deletedCount: number }>) => (await p).deletedCount;
  return {
    timer_claims: await count(s.timers.claims.deleteMany({ timerId: { $in: timerIds } })),
    timers: await count(s.timers.timers.deleteMany({ customerId })),
    active_runs: await count(s.runs.active.deleteMany({ runId: { $in: runIds } })),
    runs: await count(s.runs.runs.deleteMany({ customerId })),
    arbitration_windows: await count(s.windows.windows.deleteMany({ _id: customerId })),
    send_ledger: await count(s.ledger.ledger.deleteMany({ _id: customerId })),
  };
}
