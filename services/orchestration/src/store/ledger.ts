import type { Collection, Db } from 'mongodb';
import type { SentRecord } from '../domain/caps';
import type { LedgerDoc } from './documents';

/**
 * Local record of sends, so caps hold even when ProfileService history is unknown. One document per
 * customer; entries older than the longest cap window are dropped when a send is recorded.
 */
export class SendLedger {
  readonly ledger: Collection<LedgerDoc>;
  constructor(db: Db) {
    this.ledger = db.collection<LedgerDoc>('send_ledger');
  }

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
    // updatedAt: the retention sweep removes ledgers of customers who were not sent to for long.
    const update: Record<string, unknown> = { $set: { [`sends.${actionId}`]: entry, updatedAt: entry.at } };
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
