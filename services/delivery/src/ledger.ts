import type { Collection, Db } from 'mongodb';
import type { Clock } from '@kairos/service-kit';
import type { actions } from '@kairos/contracts';

/**
 * The state of one send. `intent`: the provider is about to be called (written before the call).
 * `sent`: the provider accepted. `unknown`: a send on an at-most-once channel was interrupted (a
 * crash, or a dropped connection after the body went out); it may or may not have gone out and is
 * never repeated. `failed`: a permanent failure. `retry`: a transient failure, to be tried again.
 */
export type DeliveryState = 'intent' | 'sent' | 'unknown' | 'failed' | 'retry';

/** `sent_unconfirmed` is what records written before the `unknown` state hold for the same case. */
export function isUnknown(state: string): boolean {
  return state === 'unknown' || state === 'sent_unconfirmed';
}

export interface DeliveryRecord {
  /** The ledger key, `<actionId>:<channel>`. */
  _id: string;
  action_id: string;
  channel: string;
  state: DeliveryState;
  attempts: number;
  reason?: string;
  provider_message_id?: string;
  /** Enough of the action to build later outcomes (opened, clicked, callbacks). */
  action: {
    run_id: string;
    workflow: string;
    trigger: string;
    customer_id: string;
    content_variant: string;
    timing_variant: string;
    transactional: boolean;
    metadata: Record<string, string>;
  };
  /** Outcomes already published for tracking/callbacks (opened, clicked, delivered...). */
  reported?: string[];
  created_at: Date;
  updated_at: Date;
}

export const deliveryKey = (actionId: string, channel: string) => `${actionId}:${channel}`;

/** The `deliveries` collection: one record per action and channel, the basis of exactly-once sends. */
export class DeliveryLedger {
  readonly collection: Collection<DeliveryRecord>;
  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    this.collection = db.collection<DeliveryRecord>('deliveries');
  }

  /**
   * Erasure: keeps each record of the customer for exactly-once sends (key, state, attempts,
   * reported outcomes) but removes who it was for and what the action carried (customer id,
   * metadata, the provider's reason text, which may quote an address). Returns how many.
   */
  async eraseCustomer(customerId: string): Promise<number> {
    const r = await this.collection.updateMany(
      { 'action.customer_id': customerId },
      { $set: { 'action.customer_id': '', 'action.metadata': {} }, $unset: { reason: '' } },
    );
    return r.modifiedCount;
  }

  get(actionId: string, channel: string): Promise<DeliveryRecord | null> {
    return this.collection.findOne({ _id: deliveryKey(actionId, channel) });
  }

  /** Records the intent to send (creating the record, or moving a `retry` record back to intent). */
  async intent(action: actions.ActionRequested, channel: string): Promise<void> {
    const now = new Date(this.clock.now());
    await this.collection.updateOne(
      { _id: deliveryKey(action.actionId, channel) },
      {
        $set: { state: 'intent', updated_at: now },
        $inc: { attempts: 1 },
        $setOnInsert: {
          action_id: action.actionId,
          channel,
          created_at: now,
          action: {
            run_id: action.runId,
            workflow: action.workflow,
            trigger: action.trigger,
            customer_id: action.customerId,
            content_variant: action.contentVariant,
            timing_variant: action.timingVariant,
            transactional: action.transactional,
            metadata: action.metadata,
          },
        },
      },
      { upsert: true },
    );
  }

  async finish(
    actionId: string,
    channel: string,
    state: Exclude<DeliveryState, 'intent'>,
    extra: { reason?: string; providerMessageId?: string } = {},
  ): Promise<void> {
    const set: Partial<DeliveryRecord> = { state, updated_at: new Date(this.clock.now()) };
    if (extra.reason !== undefined) set.reason = extra.reason;
    if (extra.providerMessageId !== undefined) set.provider_message_id = extra.providerMessageId;
    await this.collection.updateOne({ _id: deliveryKey(actionId, channel) }, { $set: set });
  }

  /** Marks an outcome as reported; true the first time (so opens/clicks publish once per action). */
  async markReported(actionId: string, channel: string, status: string): Promise<boolean> {
    const r = await this.collection.updateOne(
      { _id: deliveryKey(actionId, channel), reported: { $ne: status } },
      { $push: { reported: status } },
    );
    return r.modifiedCount === 1;
  }
}
