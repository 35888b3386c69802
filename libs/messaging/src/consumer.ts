import { context } from '@opentelemetry/api';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import { ConcurrentStrategy } from './consume/concurrent';
import { OrderedStrategy } from './consume/ordered';
import { OrderedBatchStrategy } from './consume/ordered-batch';
import { MessageProcessor } from './consume/processor';
import type { ConsumeStrategy } from './consume/strategy';
import type { BatchHandler, ConsumeLoopOptions, Handler } from './consume/types';
import { ensureConsumer, moveConsumerTo, prepareConsumer } from './provision';

export type {
  BatchCommit,
  BatchHandler,
  BatchItem,
  ConsumeLoopOptions,
  ConsumeMode,
  Handler,
  MessageContext,
} from './consume/types';
export type { ConsumeStrategy } from './consume/strategy';

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A batch handler seen as a per-message handler: each message is a batch of one. */
function batchOfOne<T>(batchHandler: BatchHandler<T>): Handler<T> {
  return async (message, ctx) => {
    const traceContext = context.active();
    const commit = await batchHandler([{ message, ctx, inContext: (fn) => context.with(traceContext, fn) }]);
    if (commit) await commit.committed;
  };
}

/**
 * Builds the strategy for `opts.mode`, or throws naming the handler that mode needs and lacks.
 */
export function consumeStrategy<T>(processor: MessageProcessor<T>): ConsumeStrategy {
  const { mode, handler, batchHandler } = processor.opts;
  const missing = (what: string) =>
    new Error(`consume loop ${processor.name}: mode ${mode.kind} needs a ${what}`);
  switch (mode.kind) {
    case 'ordered':
      if (!handler) throw missing('handler');
      return new OrderedStrategy(processor, handler);
    case 'concurrent':
      if (!handler) throw missing('handler');
      // An ack covers every earlier message: out of order, it would ack messages still in hand.
      if (processor.opts.spec.ackPolicy === 'all')
        throw new Error(`consume loop ${processor.name}: mode concurrent needs ackPolicy explicit`);
      return new ConcurrentStrategy(processor, handler, mode.max);
    case 'ordered-batch':
      if (!batchHandler) throw missing('batchHandler');
      return new OrderedBatchStrategy(
        processor,
        batchHandler,
        handler ?? batchOfOne(batchHandler),
        mode.max,
        mode.maxWaitMs,
        mode.spans,
      );
  }
}

/**
 * A durable pull-consumer loop: explicit ack, bounded redelivery with backoff, dead-lettering with
 * the error, recovery from a deleted consumer or a restarted server, and graceful drain. How the
 * messages reach the handler is the strategy's business (one per `ConsumeMode` kind); the loop owns
 * the subscription, its recovery and the drain.
 */
export class ConsumeLoop<T> {
  private messages?: ConsumerMessages;
  private runPromise?: Promise<void>;
  private readonly name: string;
  private readonly processor: MessageProcessor<T>;
  private readonly strategy: ConsumeStrategy;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ConsumeLoopOptions<T>,
  ) {
    this.name = opts.spec.durable;
    this.processor = new MessageProcessor(opts);
    this.strategy = consumeStrategy(this.processor);
  }

  /**
   * Provisions the consumer (or, under `provision: 'external'`, waits for the provisioned one) and
   * starts pulling; it resolves once the first pull is under way.
   */
  async start(): Promise<void> {
    await prepareConsumer(this.nc, this.opts.spec, this.opts.provision ?? 'self', {
      logger: this.opts.logger,
      stopped: () => this.stopping,
    });
    if (this.opts.mode.kind !== 'concurrent') await this.rewindToFirstUnacked();
    this.runPromise = this.run();
  }

  /**
   * Messages delivered but not acked when this loop starts were held by a process that is gone
   * (killed, or drained past a retry). JetStream redelivers them only when their ack wait runs out,
   * and meanwhile hands out the messages after them: an ordered consumer would see a customer's
   * newer events before older ones (enrichment would build a profile without the profile update
   * still waiting for redelivery). So the consumer is moved back to its ack floor, and the loop
   * starts with the first unacked message, in stream order. Their delivery counts start again.
   */
  private async rewindToFirstUnacked(): Promise<void> {
    const { stream, durable } = this.opts.spec;
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.consumers.info(stream, durable);
    if (info.num_ack_pending === 0) return;
    const startSequence = info.ack_floor.stream_seq + 1;
    await moveConsumerTo(
      this.nc,
      this.opts.spec,
      startSequence,
      this.opts.provision ?? 'self',
      this.opts.logger,
    );
    this.opts.logger.info(
      { consumer: this.name, unacked: info.num_ack_pending, startSequence },
      'unacked messages left by an earlier process; resuming from the first of them, in order',
    );
  }

  private get stopping(): boolean {
    return this.processor.isStopping;
  }

  private async run(): Promise<void> {
    const js = jetstream(this.nc);
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(this.opts.spec.stream, this.opts.spec.durable);
        const messages = await consumer.consume({ max_messages: this.opts.batch ?? 256, expires: 5_000 });
        this.messages = messages;
        void this.watchStatus(messages);
        await this.strategy.consume(messages);
      } catch (err) {
        if (this.stopping) break;
        this.opts.logger.warn(
          { consumer: this.name, err: (err as Error).message },
          'consume loop interrupted; recovering',
        );
      }
      if (this.stopping) break;
      await delay(250);
      // A provisioned consumer is the Job's to restore; the loop keeps asking for it.
      if (this.opts.provision === 'external') continue;
      // The consumer may have been deleted (or the stream recreated): put it back.
      try {
        await ensureConsumer(await jetstreamManager(this.nc), this.opts.spec);
      } catch (err) {
        this.opts.logger.warn(
          { consumer: this.name, err: (err as Error).message },
          'cannot re-provision consumer yet',
        );
      }
    }
    await this.strategy.settled();
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'consumer_deleted' || (s.type === 'consumer_not_found' && s.count >= 2)) {
        this.opts.logger.warn({ consumer: this.name, status: s.type }, 'consumer lost; recreating');
        messages.stop();
        return;
      }
      // Missed heartbeats are informational: the client re-pulls by itself. Stopping here would
      // strand the messages already delivered to this iterator until their ack_wait ran out.
      if (s.type === 'heartbeats_missed') {
        this.opts.logger.debug({ consumer: this.name, missed: s.count }, 'heartbeats missed');
      }
    }
  }

  /**
   * Stops pulling, lets in-flight handlers finish (and ack), then resolves. A handler waiting to
   * retry a failed message is not waited for: the message is left to be redelivered.
   */
  async drain(): Promise<void> {
    this.processor.stop();
    if (this.messages) await this.messages.close().catch(() => undefined);
    await this.strategy.settled();
    await this.runPromise?.catch(() => undefined);
  }
}
