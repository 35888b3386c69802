import { context, type Context } from '@opentelemetry/api';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { withConsumerSpan } from '@kairos/telemetry';
import { isPermanentError } from '../errors';
import { messageContext, spanAttributes, type MessageProcessor } from './processor';
import { InFlight, type ConsumeStrategy } from './strategy';
import type { BatchCommit, BatchHandler, BatchItem, Handler } from './types';

type Item<T> = BatchItem<T> & { m: JsMsg };

/**
 * The `ordered-batch` mode: in stream order, the messages already delivered (up to `max`, waiting at
 * most `maxWaitMs` for more) go to the batch handler together and are acked once it resolves, or
 * once the `BatchCommit` it returns commits. A failed batch is re-run one message at a time through
 * `single`, exactly like the `ordered` mode, with the batch attempt counted as each message's first.
 */
export class OrderedBatchStrategy<T> implements ConsumeStrategy {
  /** Acks waiting for their batch's commit. */
  private readonly commits = new InFlight();

  constructor(
    private readonly processor: MessageProcessor<T>,
    private readonly batchHandler: BatchHandler<T>,
    /** The handler a failed batch is re-run with, one message at a time. */
    private readonly single: Handler<T>,
    private readonly max: number,
    private readonly maxWaitMs: number,
  ) {}

  /**
   * Takes the first message, then whatever else arrives within `maxWaitMs` (up to `max`), hands the
   * batch over and repeats. A `next()` still pending when the wait ends carries over to the next batch.
   */
  async consume(messages: ConsumerMessages): Promise<void> {
    const it = messages[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<JsMsg>> | undefined;
    let done = false;
    while (!done && !this.processor.isStopping) {
      const first = await (pending ?? it.next());
      pending = undefined;
      if (first.done) break;
      const batch: JsMsg[] = [first.value];
      const deadline = Date.now() + this.maxWaitMs;
      while (batch.length < this.max) {
        pending ??= it.next();
        const remaining = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const next = await Promise.race([
          pending,
          new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(0, remaining)))),
        ]);
        clearTimeout(timer);
        if (!next) break;
        pending = undefined;
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      await this.handleBatch(batch);
    }
  }

  settled(): Promise<void> {
    return this.commits.all();
  }

  private async handleBatch(batch: JsMsg[]): Promise<void> {
    const { processor } = this;
    const name = processor.name;
    // Each message gets its own CONSUMER span, open until the batch is settled.
    let settle!: (err?: Error) => void;
    const settled = new Promise<Error | undefined>((r) => (settle = r));
    const items: Array<Item<T>> = [];
    const spans: Array<Promise<void>> = [];
    for (const m of batch) {
      if (processor.skipReplayForOthers(m)) continue;
      const ctx = messageContext(m);
      spans.push(
        withConsumerSpan(m.subject, m.headers, spanAttributes(name, m), async () => {
          const traceContext: Context = context.active();
          const message = processor.decode(m);
          if ('error' in message) {
            await processor.deadLetter(m, ctx, message.error);
            return;
          }
          items.push({ m, message: message.value, ctx, inContext: (fn) => context.with(traceContext, fn) });
          const err = await settled;
          if (err) throw err;
        }).catch(() => undefined),
      );
    }
    // Decoding ran synchronously inside each span; undecodable messages were taken out.
    items.sort((a, b) => a.m.seq - b.m.seq);
    const started = process.hrtime.bigint();
    let commit: void | BatchCommit = undefined;
    try {
      if (items.length) commit = await this.batchHandler(items);
    } catch (err) {
      const error = (err as Error).message ?? String(err);
      processor.countProcessed('error', items.length);
      processor.opts.logger.warn(
        { consumer: name, messages: items.length, firstSeq: items[0]?.m.seq, err: error },
        'batch handler failed; retrying its messages one at a time',
      );
      settle(err as Error);
      await Promise.all(spans);
      await this.retryOneByOne(items, err, error);
      return;
    }
    processor.observeHandled(started);
    settle();
    await Promise.all(spans);
    const ackAll = () => {
      for (const { m } of items) m.ack();
      processor.countProcessed('ok', items.length);
    };
    if (!commit) return ackAll();
    this.commits.add(
      commit.committed.then(ackAll, (err) =>
        processor.opts.logger.warn(
          { consumer: name, messages: items.length, firstSeq: items[0]?.m.seq, err: (err as Error).message },
          'batch not committed; its messages are redelivered after the ack wait',
        ),
      ),
    );
  }

  /**
   * After a failed batch: a batch of one with a permanent failure is dead-lettered; otherwise each
   * message is handled alone with ordered semantics. Once draining, the rest stay unacked, to be
   * redelivered after the ack wait behind the one that failed.
   */
  private async retryOneByOne(items: Array<Item<T>>, err: unknown, error: string): Promise<void> {
    const { processor } = this;
    if (items.length === 1 && isPermanentError(err)) {
      const { m, ctx } = items[0]!;
      await processor.deadLetter(m, ctx, error);
      return;
    }
    for (const { m } of items) {
      if (processor.isStopping) break;
      await processor.handle(m, this.single, 'retry-in-place', 1);
    }
  }
}
