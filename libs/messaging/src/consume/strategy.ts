import type { ConsumerMessages } from '@nats-io/jetstream';

/**
 * One way of handing a consumer's messages to a handler: one class per `ConsumeMode` kind. The
 * ConsumeLoop owns the pull subscription and its recovery; a strategy only consumes what one
 * subscription delivers, and its `MessageProcessor` tells it when the loop is draining.
 */
export interface ConsumeStrategy {
  /**
   * Consumes `messages` until the iterator ends or the loop drains. It resolves once no new message
   * will be started; work already started may still be finishing (see `settled`).
   */
  consume(messages: ConsumerMessages): Promise<void>;
  /** Resolves once all work this strategy started has finished: handlers, and acks awaiting a commit. */
  settled(): Promise<void>;
}

/** A set of in-flight promises that removes each one once it settles. */
export class InFlight {
  private readonly pending = new Set<Promise<void>>();

  get size(): number {
    return this.pending.size;
  }

  /** Tracks `work` until it settles. */
  add(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Resolves as soon as any tracked promise settles. */
  async any(): Promise<void> {
    await Promise.race(this.pending);
  }

  /** Resolves once every promise tracked now has settled, whatever its outcome. */
  async all(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
