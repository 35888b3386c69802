import { context, type Context } from '@opentelemetry/api';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { HEADERS, type ConsumerSpec, type Schema } from '@kairos/contracts';
import { counter, latencyHistogram, withConsumerSpan } from '@kairos/telemetry';
import { isPermanentError } from './errors';
import type { Logger } from './logger';
import { ensureConsumer } from './provision';
import type { Publisher } from './publisher';

export interface MessageContext {
  subject: string;
  streamSequence: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  headers: Record<string, string>;
}

export type Handler<T> = (message: T, ctx: MessageContext) => Promise<void>;

/** One message of a batch, with the trace context of its own CONSUMER span. */
export interface BatchItem<T> {
  message: T;
  ctx: MessageContext;
  /** Runs `fn` inside this message's CONSUMER span (so a publish continues the message's trace). */
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

export type ConsumeMode =
  /** Up to `max` messages in flight; failures are redelivered later with backoff. */
  | { kind: 'concurrent'; max: number }
  /**
   * Strictly in stream order: one message at a time, failures retried in place (with backoff) so no
   * later message overtakes an earlier one; dead-lettered after the last attempt. In every mode a
   * permanent failure (see isPermanentError: a PermanentError, a publish past max_payload) is
   * dead-lettered at once: retrying cannot help, and the messages behind it would wait for nothing.
   */
  | { kind: 'ordered' }
  /**
   * Strictly in stream order, in batches: up to `max` messages (those already delivered, waiting at
   * most `maxWaitMs` for more) go to `batchHandler` together and are all acked after it resolves.
   * A failed batch of several messages is re-run one message at a time exactly like `ordered` (that
   * failed batch attempt counts as each message's first attempt), so a poison message is retried
   * and dead-lettered alone and nothing overtakes it. The handler must therefore be idempotent per
   * message, as for any redelivery. A handler returning a `BatchCommit` lets the next batch start
   * at once; the acks follow the commit. How far processing runs ahead of the commits is bounded by
   * the consumer's `maxAckPending` (the server delivers no more until some are acked).
   */
  | { kind: 'ordered-batch'; max: number; maxWaitMs: number };

export interface ConsumeLoopOptions<T> {
  spec: ConsumerSpec;
  schema: Schema<T>;
  /** Per-message handler; required unless the mode is `ordered-batch`. */
  handler?: Handler<T>;
  /** Required for `ordered-batch`. */
  batchHandler?: BatchHandler<T>;
  mode: ConsumeMode;
  logger: Logger;
  /** Used to dead-letter to the DLQ stream. */
  publisher: Publisher;
  /** Messages pulled per request. */
  batch?: number;
}

const processed = counter('kairos_messages_processed_total', 'Messages handled', ['consumer', 'result']);
const deadLettered = counter('kairos_messages_dead_lettered_total', 'Messages sent to the DLQ', ['consumer']);
const handleSeconds = latencyHistogram('kairos_message_handle_seconds', 'Handler latency', ['consumer']);

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function headerRecord(m: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (!m.headers) return out;
  for (const [k, v] of m.headers) out[k] = v[0] ?? '';
  return out;
}

/**
 * A durable pull-consumer loop: explicit ack, bounded redelivery with backoff, dead-lettering with
 * the error, recovery from a deleted consumer or a restarted server, and graceful drain.
 */
export class ConsumeLoop<T> {
  private stopping = false;
  private messages?: ConsumerMessages;
  private readonly inFlight = new Set<Promise<void>>();
  private runPromise?: Promise<void>;
  private readonly name: string;
  /** Wakes the handlers sleeping between attempts when the loop drains. */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ConsumeLoopOptions<T>,
  ) {
    this.name = opts.spec.durable;
    if (opts.mode.kind === 'ordered-batch' ? !opts.batchHandler : !opts.handler)
      throw new Error(
        `consume loop ${this.name}: mode ${opts.mode.kind} needs a ${opts.mode.kind === 'ordered-batch' ? 'batchHandler' : 'handler'}`,
      );
  }

  /** The per-message handler; in `ordered-batch` mode a batch of one. */
  private handlerFor(): Handler<T> {
    if (this.opts.handler) return this.opts.handler;
    const batchHandler = this.opts.batchHandler!;
    return async (message, ctx) => {
      const traceContext = context.active();
      const commit = await batchHandler([
        { message, ctx, inContext: (fn) => context.with(traceContext, fn) },
      ]);
      if (commit) await commit.committed;
    };
  }

  /** Provisions the consumer and starts pulling; resolves once the first pull is under way. */
  async start(): Promise<void> {
    await ensureConsumer(this.nc, this.opts.spec);
    this.runPromise = this.run();
  }

  private async run(): Promise<void> {
    const js = jetstream(this.nc);
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(this.opts.spec.stream, this.opts.spec.durable);
        const messages = await consumer.consume({ max_messages: this.opts.batch ?? 256, expires: 5_000 });
        this.messages = messages;
        void this.watchStatus(messages);
        if (this.opts.mode.kind === 'ordered-batch') {
          await this.runBatches(messages, this.opts.mode.max, this.opts.mode.maxWaitMs);
        } else {
          await this.runSingles(messages);
        }
      } catch (err) {
        if (this.stopping) break;
        this.opts.logger.warn(
          { consumer: this.name, err: (err as Error).message },
          'consume loop interrupted; recovering',
        );
      }
      if (this.stopping) break;
      await delay(250);
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
    await Promise.allSettled([...this.inFlight]);
  }

  private async runSingles(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.opts.mode.kind === 'concurrent') {
        while (this.inFlight.size >= this.opts.mode.max) await Promise.race(this.inFlight);
        const p = this.handle(m).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      } else {
        await this.handle(m);
      }
      if (this.stopping) break;
    }
  }

  /**
   * Takes the first message, then whatever else arrives within `maxWaitMs` (up to `max`), hands the
   * batch over and repeats. A `next()` still pending when the wait ends carries over to the next batch.
   */
  private async runBatches(messages: ConsumerMessages, max: number, maxWaitMs: number): Promise<void> {
    const it = messages[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<JsMsg>> | undefined;
    let done = false;
    while (!done && !this.stopping) {
      const first = await (pending ?? it.next());
      pending = undefined;
      if (first.done) break;
      const batch: JsMsg[] = [first.value];
      const deadline = Date.now() + maxWaitMs;
      while (batch.length < max) {
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

  private async handleBatch(batch: JsMsg[]): Promise<void> {
    // Each message gets its own CONSUMER span, open until the batch is settled.
    let settle!: (err?: Error) => void;
    const settled = new Promise<Error | undefined>((r) => (settle = r));
    const items: Array<BatchItem<T> & { m: JsMsg }> = [];
    const spans: Array<Promise<void>> = [];
    for (const m of batch) {
      const ctx: MessageContext = {
        subject: m.subject,
        streamSequence: m.seq,
        deliveryCount: m.info.deliveryCount,
        headers: headerRecord(m),
      };
      spans.push(
        withConsumerSpan(
          m.subject,
          m.headers,
          { 'messaging.consumer.group.name': this.name, 'messaging.nats.stream_sequence': m.seq },
          async () => {
            const traceContext: Context = context.active();
            let message: T;
            try {
              message = this.opts.schema.type.decode(m.data);
            } catch (err) {
              await this.deadLetter(m, ctx, `decode ${this.opts.schema.name}: ${(err as Error).message}`);
              return;
            }
            items.push({ m, message, ctx, inContext: (fn) => context.with(traceContext, fn) });
            const err = await settled;
            if (err) throw err;
          },
        ).catch(() => undefined),
      );
    }
    // Decoding ran synchronously inside each span; undecodable messages were taken out.
    items.sort((a, b) => a.m.seq - b.m.seq);
    const started = process.hrtime.bigint();
    let commit: void | BatchCommit = undefined;
    try {
      if (items.length) commit = await this.opts.batchHandler!(items);
    } catch (err) {
      const error = (err as Error).message ?? String(err);
      processed.inc({ consumer: this.name, result: 'error' }, items.length);
      this.opts.logger.warn(
        { consumer: this.name, messages: items.length, firstSeq: items[0]?.m.seq, err: error },
        'batch handler failed; retrying its messages one at a time',
      );
      settle(err as Error);
      await Promise.all(spans);
      if (items.length === 1 && isPermanentError(err)) {
        const { m, ctx } = items[0]!;
        await this.deadLetter(m, ctx, error);
        return;
      }
      // Ordered semantics from here; the failed batch attempt counts as the first attempt. Once
      // draining, the rest stay unacked: redelivered after the ack wait, behind the one that failed.
      for (const { m } of items) {
        if (this.stopping) break;
        await this.handle(m, 1);
      }
      return;
    }
    handleSeconds.observe({ consumer: this.name }, Number(process.hrtime.bigint() - started) / 1e9);
    settle();
    await Promise.all(spans);
    const ackAll = () => {
      for (const { m } of items) m.ack();
      processed.inc({ consumer: this.name, result: 'ok' }, items.length);
    };
    if (!commit) return ackAll();
    const acked = commit.committed.then(ackAll, (err) =>
      this.opts.logger.warn(
        {
          consumer: this.name,
          messages: items.length,
          firstSeq: items[0]?.m.seq,
          err: (err as Error).message,
        },
        'batch not committed; its messages are redelivered after the ack wait',
      ),
    );
    const tracked: Promise<void> = acked.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
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

  /** `priorAttempts`: failed attempts not yet counted in the delivery count (a failed batch). */
  private async handle(m: JsMsg, priorAttempts = 0): Promise<void> {
    const spec = this.opts.spec;
    const handler = this.handlerFor();
    const ctx: MessageContext = {
      subject: m.subject,
      streamSequence: m.seq,
      deliveryCount: m.info.deliveryCount + priorAttempts,
      headers: headerRecord(m),
    };
    await withConsumerSpan(
      m.subject,
      m.headers,
      { 'messaging.consumer.group.name': this.name, 'messaging.nats.stream_sequence': m.seq },
      async (span) => {
        let message: T;
        try {
          message = this.opts.schema.type.decode(m.data);
        } catch (err) {
          // Undecodable: retrying cannot help.
          await this.deadLetter(m, ctx, `decode ${this.opts.schema.name}: ${(err as Error).message}`);
          return;
        }
        const ordered = this.opts.mode.kind !== 'concurrent';
        for (let attempt = ctx.deliveryCount; ; attempt++) {
          const started = process.hrtime.bigint();
          try {
            await handler(message, { ...ctx, deliveryCount: attempt });
            handleSeconds.observe({ consumer: this.name }, Number(process.hrtime.bigint() - started) / 1e9);
            m.ack();
            processed.inc({ consumer: this.name, result: 'ok' });
            return;
          } catch (err) {
            const error = (err as Error).message ?? String(err);
            span.setAttribute('kairos.attempt', attempt);
            processed.inc({ consumer: this.name, result: 'error' });
            if (attempt >= spec.maxDeliver || isPermanentError(err)) {
              await this.deadLetter(m, { ...ctx, deliveryCount: attempt }, error);
              return;
            }
            const backoff = spec.backoffMs[Math.min(attempt - 1, spec.backoffMs.length - 1)] ?? 1_000;
            this.opts.logger.warn(
              { consumer: this.name, subject: m.subject, seq: m.seq, attempt, err: error },
              'handler failed',
            );
            if (!ordered) {
              m.nak(backoff);
              return;
            }
            if (this.stopping) {
              m.nak(backoff);
              return;
            }
            m.working();
            await this.sleep(backoff);
            // Drained while waiting: redelivered (after the backoff) to whoever consumes next.
            if (this.stopping) {
              m.nak(backoff);
              return;
            }
          }
        }
      },
    );
  }

  private async deadLetter(m: JsMsg, ctx: MessageContext, error: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.headers)) if (!k.startsWith('Nats-')) headers[k] = v;
    headers[HEADERS.dlqError] = error.slice(0, 1_000);
    headers[HEADERS.dlqSubject] = m.subject;
    headers[HEADERS.dlqDeliveries] = String(ctx.deliveryCount);
    headers[HEADERS.dlqStream] = this.opts.spec.stream;
    headers[HEADERS.dlqSequence] = String(m.seq);
    await this.opts.publisher.publishBytes(
      `dlq.${m.subject}`,
      ctx.headers[HEADERS.schema] ?? 'unknown',
      m.data,
      {
        msgId: `dlq:${this.opts.spec.stream}:${m.seq}`,
        headers,
      },
    );
    m.ack();
    deadLettered.inc({ consumer: this.name });
    this.opts.logger.error(
      { consumer: this.name, subject: m.subject, seq: m.seq, deliveries: ctx.deliveryCount, err: error },
      'message dead-lettered',
    );
  }

  /** Waits `ms`, or less when the loop drains meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /**
   * Stops pulling, lets in-flight handlers finish (and ack), then resolves. A handler waiting to
   * retry a failed message is not waited for: the message is left to be redelivered.
   */
  async drain(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    if (this.messages) await this.messages.close().catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    await this.runPromise?.catch(() => undefined);
  }
}
