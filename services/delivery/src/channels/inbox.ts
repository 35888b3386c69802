import type { Collection, Db } from 'mongodb';
import type { Clock } from '@kairos/service-kit';
import { DeliveryError } from '../domain/errors';
import { contentOf, str, type ChannelAdapter, type SendRequest, type SendResult } from './adapter';

export interface InboxMessage {
  /** The action id: one inbox message per action, so a resend overwrites nothing. */
  _id: string;
  customer_id: string;
  title: string;
  body: string;
  payload: unknown;
  workflow: string;
  created_at: Date;
  read_at: Date | null;
}

/** In-app inbox in MongoDB (`inbox` collection). */
export class InboxStore {
  readonly collection: Collection<InboxMessage>;
  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    this.collection = db.collection<InboxMessage>('inbox');
  }

  /** Erasure: removes the customer's messages; returns how many. */
  async deleteCustomer(customerId: string): Promise<number> {
    return (await this.collection.deleteMany({ customer_id: customerId })).deletedCount;
  }

  /** Inserts once per action id (idempotent). */
  async add(msg: Omit<InboxMessage, 'created_at' | 'read_at'>): Promise<void> {
    await this.collection.updateOne(
      { _id: msg._id },
      { $setOnInsert: { ...msg, created_at: new Date(this.clock.now()), read_at: null } },
      { upsert: true },
    );
  }

  async list(customerId: string, opts: { unreadOnly: boolean; limit: number }): Promise<InboxMessage[]> {
    const filter: Record<string, unknown> = { customer_id: customerId };
    if (opts.unreadOnly) filter.read_at = null;
    return this.collection.find(filter).sort({ created_at: -1, _id: -1 }).limit(opts.limit).toArray();
  }

  /** Marks read; returns undefined when there is no such message, `firstRead` when it was unread. */
  async markRead(customerId: string, messageId: string): Promise<{ firstRead: boolean } | undefined> {
    const now = new Date(this.clock.now());
    const r = await this.collection.updateOne(
      { _id: messageId, customer_id: customerId, read_at: null },
      { $set: { read_at: now } },
    );
    if (r.matchedCount === 1) return { firstRead: true };
    const exists = await this.collection.countDocuments(
      { _id: messageId, customer_id: customerId },
      { limit: 1 },
    );
    return exists ? { firstRead: false } : undefined;
  }
}

export class InboxAdapter implements ChannelAdapter {
  readonly channel = 'in_app' as const;
  constructor(private readonly store: InboxStore) {}

  async send(req: SendRequest): Promise<SendResult> {
    const c = contentOf(req.action);
    const body = str(c.body) ?? str(c.text) ?? '';
    const title = str(c.title) ?? str(c.subject) ?? '';
    if (!body && !title) throw new DeliveryError('in_app content has no title, body or text', 'permanent');
    try {
      await this.store.add({
        _id: req.action.actionId,
        customer_id: req.action.customerId,
        title,
        body,
        payload: c.payload ?? null,
        workflow: req.action.workflow,
      });
    } catch (err) {
      throw new DeliveryError(`inbox write: ${(err as Error).message}`, 'transient');
    }
    return { providerMessageId: req.action.actionId };
  }
}
