import type { ConsumerSpec, ProvisionMode, Schema } from '@kairos/contracts';
import type { Logger } from '../logger';
import type { Publisher } from '../publisher';

/** What a handler learns about the message it handles, besides the decoded message itself. */
export interface MessageContext {
  subject: string;
  streamSequence: number;
  /** The attempt this is: 1 on the first delivery. */
  deliveryCount: number;
  headers: Record<string, string>;
}

export type Handler<T> = (message: T, ctx: MessageContext) => Promise<void>;

/** One message of a batch, with the trace context of its own CONSUMER span. */
export interface BatchItem<T> {
  message: T;
  ctx: MessageContext;
  /**
   * The message's bytes as delivered (so a handler can keep them without encoding the message
   * again); absent when a failed batch is re-run one message at a time.
   */
  data?: Uint8Array;
  /** Runs `fn` inside this message's CONSUMER span, so that a publish continues the message's trace. */
  inContext<R>(fn: () => R): R;
}

/**
 * What a batch handler may return: its messages are processed (later batches may start), but their
 * effects are durable only once `committed` resolves; they are acked then. A handler that writes
 * behind (coalescing several batches into one database write) uses it. If `committed` rejects, the
 * messages stay unacked and are redelivered after their ack wait.
 */
export interface BatchCommit {
  committed: Promise<void>;
}

export type BatchHandler<T> = (items: Array<BatchItem<T>>) => Promise<void | BatchCommit>;

/**
 * How a loop hands messages to its handler; each kind is one strategy (see `consume/strategy.ts`).
 * In every mode a permanent failure (see isPermanentError: a PermanentError, a publish past
 * max_payload) is dead-lettered at once: retrying cannot help, and the messages behind it would wait
 * for nothing.
 */
export type ConsumeMode =
  /** Up to `max` messages are in flight; failures are redelivered later with backoff. */
  | { kind: 'concurrent'; max: number }
  /**
   * Messages are handled strictly in stream order, one at a time. A failure is retried in place (with
   * backoff) so that no later message overtakes an earlier one, and dead-lettered after the last
   * attempt.
   */
  | { kind: 'ordered' }
  /**
   * Messages are handled strictly in stream order, in batches: up to `max` messages (those already
   * delivered, waiting at most `maxWaitMs` for more) go to `batchHandler` together and are all acked
   * after it resolves. A failed batch of several messages is re-run one message at a time exactly
   * like `ordered` (that failed batch attempt counts as each message's first attempt), so a poison
   * message is retried and dead-lettered alone and nothing overtakes it. The handler must therefore
   * be idempotent per message, as for any redelivery. A handler returning a `BatchCommit` lets the
   * next batch start at once; the acks follow the commit. How far processing runs ahead of the
   * commits is bounded by the consumer's `maxAckPending` (the server delivers no more until some are
   * acked). With an ack-all consumer (`spec.ackPolicy: 'all'`) one ack of the batch's last message
   * acks the batch; a `BatchCommit` is then awaited before the next batch (an ack covers every
   * earlier message, so none may wait behind a commit), and a failed commit fails the batch. `spans: 'batch'` opens one CONSUMER span per batch, linked to each message's
   * trace, instead of one span per message (the default, `message`).
   */
  | { kind: 'ordered-batch'; max: number; maxWaitMs: number; spans?: 'message' | 'batch' };

export interface ConsumeLoopOptions<T> {
  spec: ConsumerSpec;
  schema: Schema<T>;
  /** The per-message handler; it is required unless the mode is `ordered-batch`. */
  handler?: Handler<T>;
  /** The batch handler; it is required for `ordered-batch`. */
  batchHandler?: BatchHandler<T>;
  mode: ConsumeMode;
  logger: Logger;
  /** The publisher used to dead-letter to the DLQ stream. */
  publisher: Publisher;
  /** How many messages are pulled per request. */
  batch?: number;
  /**
   * `self` (default): the loop creates or updates its consumer, and recreates it when it is lost.
   * `external`: the provisioning Job made it; the loop only binds to it (waiting until it exists),
   * so the service's NATS user needs no consumer admin rights.
   */
  provision?: ProvisionMode;
}
