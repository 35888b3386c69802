import type { JsMsg } from '@nats-io/jetstream';
import { HEADERS } from '@kairos/contracts';
import { counter, latencyHistogram, withConsumerSpan } from '@kairos/telemetry';
import { isPermanentError } from '../errors';
import type { ConsumeLoopOptions, Handler, MessageContext } from './types';

const processed = counter('kairos_messages_processed_total', 'Messages handled', ['consumer', 'result']);
const deadLettered = counter('kairos_messages_dead_lettered_total', 'Messages sent to the DLQ', ['consumer']);
const handleSeconds = latencyHistogram('kairos_message_handle_seconds', 'Handler latency', ['consumer']);

/** The span attributes every CONSUMER span of a loop carries. */
export function spanAttributes(consumer: string, m: JsMsg): Record<string, string | number> {
  return { 'messaging.consumer.group.name': consumer, 'messaging.nats.stream_sequence': m.seq };
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The context of `m`; `priorAttempts` are failed attempts its delivery count does not include yet.
 * The delivery count and the headers are read when first asked for: a batch handler seldom needs
 * them, and parsing them for every message is a large share of a message's cost.
 */
export function messageContext(m: JsMsg, priorAttempts = 0): MessageContext {
  return new LazyMessageContext(m, priorAttempts);
}

/** `ctx` as a plain record, at attempt `deliveryCount`. */
const withAttempt = (ctx: MessageContext, deliveryCount: number): MessageContext => ({
  subject: ctx.subject,
  streamSequence: ctx.streamSequence,
  deliveryCount,
  headers: ctx.headers,
});

class LazyMessageContext implements MessageContext {
  readonly subject: string;
  readonly streamSequence: number;
  private count?: number;
  private copied?: Record<string, string>;

  constructor(
    private readonly m: JsMsg,
    private readonly priorAttempts: number,
  ) {
    this.subject = m.subject;
    this.streamSequence = m.seq;
  }

  get deliveryCount(): number {
    return (this.count ??= this.m.info.deliveryCount + this.priorAttempts);
  }

  set deliveryCount(n: number) {
    this.count = n;
  }

  get headers(): Record<string, string> {
    if (!this.copied) {
      const headers: Record<string, string> = {};
      if (this.m.headers) for (const [k, v] of this.m.headers) headers[k] = v[0] ?? '';
      this.copied = headers;
    }
    return this.copied;
  }
}

/** What a failed attempt does next: the ordered strategies retry in place, `concurrent` naks. */
export type OnFailure = 'retry-in-place' | 'nak';

/**
 * The per-message machinery every strategy shares: decoding, the attempt loop with backoff, acking,
 * dead-lettering, metrics and the loop's stopping state. It knows nothing of how messages are pulled
 * or grouped; the strategies decide that.
 */
export class MessageProcessor<T> {
  private stopping = false;
  /** Wakes the handlers sleeping between attempts when the loop drains. */
  private readonly sleepers = new Set<() => void>();
  readonly name: string;

  constructor(readonly opts: ConsumeLoopOptions<T>) {
    this.name = opts.spec.durable;
  }

  /** Whether the loop is draining; a strategy takes no new message once it is. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Counts `n` messages handled with `result` in `kairos_messages_processed_total`. */
  countProcessed(result: 'ok' | 'error', n = 1): void {
    processed.inc({ consumer: this.name, result }, n);
  }

  /** Records a handler's latency since `started`, a `process.hrtime.bigint()` reading. */
  observeHandled(started: bigint): void {
    handleSeconds.observe({ consumer: this.name }, secondsSince(started));
  }

  /** Marks the loop as draining and wakes every handler waiting out a backoff. */
  stop(): void {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
  }

  /**
   * Acks and skips `m` when it is a replayed dead letter meant for another consumer (`kairosctl dlq
   * replay` republishes to the original subject, which every consumer of that subject reads, but only
   * the one that failed should handle it again). Returns whether it was skipped. `ack` false leaves
   * the ack to the caller (an ack-all consumer acks a batch with its last message, and an earlier ack
   * would cover messages not yet handled).
   */
  skipReplayForOthers(m: JsMsg, ack = true): boolean {
    if (!m.headers) return false;
    const target = m.headers.get(HEADERS.replayFor);
    if (!target || target === this.name) return false;
    if (ack) m.ack();
    return true;
  }

  /**
   * Handles `m` inside its own CONSUMER span: it is decoded (and dead-lettered at once when it cannot
   * be), handed to `handler` and acked. A failure is dead-lettered on the last attempt or when it is
   * permanent; otherwise `onFailure` decides whether it is retried here after the backoff (nothing
   * overtakes it) or nak'ed with the backoff as its redelivery delay. A drain during a retry's
   * backoff naks the message, leaving it to whoever consumes next.
   */
  async handle(m: JsMsg, handler: Handler<T>, onFailure: OnFailure, priorAttempts = 0): Promise<void> {
    if (this.skipReplayForOthers(m)) return;
    const spec = this.opts.spec;
    const ctx = messageContext(m, priorAttempts);
    await withConsumerSpan(m.subject, m.headers, spanAttributes(this.name, m), async (span) => {
      const message = this.decode(m);
      if ('error' in message) {
        await this.deadLetter(m, ctx, message.error);
        return;
      }
      for (let attempt = ctx.deliveryCount; ; attempt++) {
        const started = process.hrtime.bigint();
        try {
          await handler(message.value, withAttempt(ctx, attempt));
          this.observeHandled(started);
          m.ack();
          this.countProcessed('ok');
          return;
        } catch (err) {
          const error = (err as Error).message ?? String(err);
          span.setAttribute('kairos.attempt', attempt);
          this.countProcessed('error');
          if (attempt >= spec.maxDeliver || isPermanentError(err)) {
            await this.deadLetter(m, withAttempt(ctx, attempt), error);
            return;
          }
          const backoff = spec.backoffMs[Math.min(attempt - 1, spec.backoffMs.length - 1)] ?? 1_000;
          this.opts.logger.warn(
            { consumer: this.name, subject: m.subject, seq: m.seq, attempt, err: error },
            'handler failed',
          );
          if (onFailure === 'nak' || this.stopping) {
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
    });
  }

  /**
   * Decodes `m` synchronously (a batch collects its items before the handler runs), or says why it
   * cannot be decoded; retrying cannot help such a message, so the caller dead-letters it.
   */
  decode(m: JsMsg): { value: T } | { error: string } {
    try {
      return { value: this.opts.schema.type.decode(m.data) };
    } catch (err) {
      return { error: `decode ${this.opts.schema.name}: ${(err as Error).message}` };
    }
  }

  /**
   * Publishes `m` to `dlq.<subject>` with the error and where it came from, then acks it (unless
   * `ack` is false: see skipReplayForOthers).
   */
  async deadLetter(m: JsMsg, ctx: MessageContext, error: string, ack = true): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.headers))
      if (!k.startsWith('Nats-') && k !== HEADERS.replayFor) headers[k] = v;
    headers[HEADERS.dlqError] = error.slice(0, 1_000);
    headers[HEADERS.dlqSubject] = m.subject;
    headers[HEADERS.dlqDeliveries] = String(ctx.deliveryCount);
    headers[HEADERS.dlqStream] = this.opts.spec.stream;
    headers[HEADERS.dlqSequence] = String(m.seq);
    headers[HEADERS.dlqConsumer] = this.name;
    await this.opts.publisher.publishBytes(
      `dlq.${m.subject}`,
      ctx.headers[HEADERS.schema] ?? 'unknown',
      m.data,
      { msgId: `dlq:${this.opts.spec.stream}:${m.seq}`, headers },
    );
    if (ack) m.ack();
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
}
