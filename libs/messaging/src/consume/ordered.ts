import type { ConsumerMessages } from '@nats-io/jetstream';
import type { MessageProcessor } from './processor';
import type { ConsumeStrategy } from './strategy';
import type { Handler } from './types';

/**
 * The `ordered` mode: one message at a time in stream order. A failed message is retried in place
 * after its backoff, so no later message overtakes it, until it succeeds or is dead-lettered.
 */
export class OrderedStrategy<T> implements ConsumeStrategy {
  constructor(
    private readonly processor: MessageProcessor<T>,
    private readonly handler: Handler<T>,
  ) {}

  async consume(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      await this.processor.handle(m, this.handler, 'retry-in-place');
      if (this.processor.isStopping) break;
    }
  }

  /** Nothing outlives `consume`: each message is settled before the next is taken. */
  async settled(): Promise<void> {}
}
