import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { HEADERS, type ConsumerSpec, type Schema } from '@kairos/contracts';
import { counter, latencyHistogram, withConsumerSpan } from '@kairos/telemetry';
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

export type ConsumeMode =
  /** Up to `max` messages in flight; failures are redelivered later with backoff. */
  | { kind: 'concurrent'; max: number }
  /**
   * Strictly in stream order: one message at a time, failures retried in place (with backoff) so no
   * later message overtakes an earlier one; dead-lettered after the last attempt.
   */
  | { kind: 'ordered' };

export interface ConsumeLoopOptions<T> {
  spec: ConsumerSpec;
  schema: Schema<T>;
  handler: Handler<T>;
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

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ConsumeLoopOptions<T>,
  ) {
    this.name = opts.spec.durable;
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
        for await (const m of messages) {
          if (this.opts.mode.kind === 'ordered') {
            await this.handle(m);
          } else {
            while (this.inFlight.size >= this.opts.mode.max) await Promise.race(this.inFlight);
            const p = this.handle(m).finally(() => this.inFlight.delete(p));
            this.inFlight.add(p);
          }
          if (this.stopping) break;
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

  private async handle(m: JsMsg): Promise<void> {
    const spec = this.opts.spec;
    const ctx: MessageContext = {
      subject: m.subject,
      streamSequence: m.seq,
      deliveryCount: m.info.deliveryCount,
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
        const ordered = this.opts.mode.kind === 'ordered';
        for (let attempt = ctx.deliveryCount; ; attempt++) {
          const started = process.hrtime.bigint();
          try {
            await this.opts.handler(message, { ...ctx, deliveryCount: attempt });
            handleSeconds.observe({ consumer: this.name }, Number(process.hrtime.bigint() - started) / 1e9);
            m.ack();
            processed.inc({ consumer: this.name, result: 'ok' });
            return;
          } catch (err) {
            const error = (err as Error).message ?? String(err);
            span.setAttribute('kairos.attempt', attempt);
            processed.inc({ consumer: this.name, result: 'error' });
            if (attempt >= spec.maxDeliver) {
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
            await delay(backoff);
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

  /** Stops pulling, lets in-flight handlers finish (and ack), then resolves. */
  async drain(): Promise<void> {
    this.stopping = true;
    if (this.messages) await this.messages.close().catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    await this.runPromise?.catch(() => undefined);
  }
}
