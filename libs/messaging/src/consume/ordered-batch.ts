import { context, type Context } from '@opentelemetry/api';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { extractTraceContext, withBatchConsumerSpan, withConsumerSpan } from '@kairos/telemetry';
import { isPermanentError } from '../errors';
import { messageContext, spanAttributes, type MessageProcessor } from './processor';
import { InFlight, type ConsumeStrategy } from './strategy';
import type { BatchCommit, BatchHandler, BatchItem, Handler, MessageContext } from './types';

type Item<T> = BatchItem<T> & { m: JsMsg };

/**
 * One decoded message of a batch. `inContext` runs in the trace the message carries (the `batch` span
 * mode); the `message` mode replaces it with the message's own CONSUMER span.
 */
class BatchMessage<T> implements Item<T> {
  constructor(
    readonly m: JsMsg,
    readonly message: T,
    readonly ctx: MessageContext,
  ) {}

  get data(): Uint8Array {
    return this.m.data;
  }

  inContext<R>(fn: () => R): R {
    return context.with(extractTraceContext(this.m.headers), fn);
  }
}

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
    private readonly spans: 'message' | 'batch' = 'message',
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
      // One timer per batch: the messages already delivered resolve at once, without one each.
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.maxWaitMs)));
      while (batch.length < this.max) {
        pending ??= it.next();
        const next = await Promise.race([pending, waited]);
        if (!next) break;
        pending = undefined;
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      clearTimeout(timer);
      await this.handleBatch(batch);
    }
  }

  settled(): Promise<void> {
    return this.commits.all();
  }

  /**
   * Decodes the batch (dead-lettering what cannot be decoded), hands it to the batch handler in
   * stream order and acks it: every message, or with an ack-all consumer its last message alone,
   * which covers the others (skipped and dead-lettered ones included, so none of them is acked
   * before the messages ahead of it are handled).
   */
  private async handleBatch(batch: JsMsg[]): Promise<void> {
    const { processor } = this;
    const ackAll = processor.opts.spec.ackPolicy === 'all';
    const items: Array<Item<T>> = [];
    const undecodable: Array<{ m: JsMsg; ctx: MessageContext; error: string }> = [];
    for (const m of batch) {
      if (processor.skipReplayForOthers(m, !ackAll)) continue;
      const ctx = messageContext(m);
      const message = processor.decode(m);
      if ('error' in message) undecodable.push({ m, ctx, error: message.error });
      else items.push(new BatchMessage(m, message.value, ctx));
    }
    for (const u of undecodable) await processor.deadLetter(u.m, u.ctx, u.error, !ackAll);
    items.sort((a, b) => a.m.seq - b.m.seq);
    const run = this.spans === 'batch' ? this.inBatchSpan(batch, items) : this.inMessageSpans(items);
    let commit: void | BatchCommit = undefined;
    try {
      commit = await run;
      // An ack-all ack covers every earlier message, so it cannot wait behind a commit while later
      // batches run: the commit is awaited here, and a failed one fails the batch.
      if (ackAll && commit) commit = void (await commit.committed);
    } catch (err) {
      const error = (err as Error).message ?? String(err);
      processor.countProcessed('error', items.length);
      processor.opts.logger.warn(
        { consumer: processor.name, messages: items.length, firstSeq: items[0]?.m.seq, err: error },
        'batch handler failed; retrying its messages one at a time',
      );
      await this.retryOneByOne(items, err, error);
      // Acks the skipped and dead-lettered messages behind the last one handled.
      if (ackAll && !processor.isStopping) lastBySeq(batch).ack();
      return;
    }
    const last = lastBySeq(batch);
    const ack = () => {
      if (ackAll) last.ack();
      else for (const { m } of items) m.ack();
      processor.countProcessed('ok', items.length);
    };
    if (!commit) return ack();
    this.commits.add(
      commit.committed.then(ack, (err: unknown) =>
        processor.opts.logger.warn(
          {
            consumer: processor.name,
            messages: items.length,
            firstSeq: items[0]?.m.seq,
            err: (err as Error).message,
          },
          'batch not committed; its messages are redelivered after the ack wait',
        ),
      ),
    );
  }

  /**
   * The batch handler inside one CONSUMER span per message, each open until the batch is settled
   * (the `message` span mode: a handler's publishes continue each message's own trace).
   */
  private async inMessageSpans(items: Array<Item<T>>): Promise<void | BatchCommit> {
    const { processor } = this;
    let settle!: (err?: Error) => void;
    const settled = new Promise<Error | undefined>((r) => (settle = r));
    const opened: Array<Promise<void>> = [];
    const spans = items.map(
      (item) =>
        new Promise<void>((entered) =>
          opened.push(
            withConsumerSpan(
              item.m.subject,
              item.m.headers,
              spanAttributes(processor.name, item.m),
              async () => {
                const traceContext: Context = context.active();
                item.inContext = (fn) => context.with(traceContext, fn);
                entered();
                const err = await settled;
                if (err) throw err;
              },
            ).catch(() => undefined),
          ),
        ),
    );
    await Promise.all(spans);
    try {
      const commit = await this.timed(items);
      settle();
      return commit;
    } catch (err) {
      settle(err as Error);
      throw err;
    } finally {
      await Promise.all(opened);
    }
  }

  /**
   * The batch handler inside one CONSUMER span for the batch, linked to each message's trace (the
   * `batch` span mode); `inContext` runs in the trace the message carries.
   */
  private inBatchSpan(batch: JsMsg[], items: Array<Item<T>>): Promise<void | BatchCommit> {
    const attributes = {
      'messaging.consumer.group.name': this.processor.name,
      'messaging.nats.stream_sequence': batch[0]!.seq,
    };
    return withBatchConsumerSpan(
      this.processor.name,
      items.map((i) => i.m.headers),
      attributes,
      () => this.timed(items),
    );
  }

  private async timed(items: Array<Item<T>>): Promise<void | BatchCommit> {
    if (items.length === 0) return;
    const started = process.hrtime.bigint();
    const commit = await this.batchHandler(items);
    this.processor.observeHandled(started);
    return commit;
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

/** The message of the highest stream sequence: an ack-all ack of it covers the whole batch. */
function lastBySeq(batch: readonly JsMsg[]): JsMsg {
  let last = batch[0]!;
  for (const m of batch) if (m.seq > last.seq) last = m;
  return last;
}
