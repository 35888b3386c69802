import type { ConsumerMessages } from '@nats-io/jetstream';
import type { MessageProcessor } from './processor';
import { InFlight, type ConsumeStrategy } from './strategy';
import type { Handler } from './types';

/**
 * The `concurrent` mode: up to `max` messages are handled at once, in no particular order. A failed
 * message is nak'ed with its backoff as the redelivery delay, so it never holds a slot while waiting.
 */
export class ConcurrentStrategy<T> implements ConsumeStrategy {
  private readonly inFlight = new InFlight();

  constructor(
    private readonly processor: MessageProcessor<T>,
    private readonly handler: Handler<T>,
    private readonly max: number,
  ) {}

  async consume(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      while (this.inFlight.size >= this.max) await this.inFlight.any();
      this.inFlight.add(this.processor.handle(m, this.handler, 'nak'));
      if (this.processor.isStopping) break;
    }
  }

  settled(): Promise<void> {
    return this.inFlight.all();
  }
}
