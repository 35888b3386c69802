import type { NatsConnection } from '@nats-io/nats-core';
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { PubHeaders, type PubAck } from '@nats-io/jetstream';
import { HEADERS, type Schema } from '@kairos/contracts';
import { counter, injectTraceContext, withProducerSpan } from '@kairos/telemetry';
import type { Logger } from './logger';
import { PubAckInbox } from './pub-acks';

export interface PublishOptions {
  /** Deterministic id derived from the input, so a retried publish is stored once. */
  msgId: string;
  /** Extra headers to carry (e.g. copied from the message being processed). */
  headers?: Record<string, string>;
}

/** One message of `Publisher.publishBatch`. */
export interface BatchMessage {
  subject: string;
  payload: Uint8Array;
  /** Deterministic id derived from the input, so a retried publish is stored once. */
  msgId: string;
}

export interface PublisherOptions {
  logger: Logger;
  /** Attempts for a publish that times out or finds no JetStream responder (same msg id each time). */
  maxAttempts?: number;
  timeoutMs?: number;
}

const published = counter('kairos_messages_published_total', 'Messages published to JetStream', ['schema']);
const publishRetries = counter('kairos_publish_retries_total', 'Publish attempts retried after a timeout', [
  'schema',
]);

function isRetryable(err: unknown): boolean {
  const name = (err as Error)?.name ?? '';
  const msg = (err as Error)?.message ?? '';
  return (
    /Timeout|NoResponders|Connection/i.test(name) || /timeout|no responders|disconnect|closed/i.test(msg)
  );
}

/**
 * The destination a batch span is named after: the subject when all are equal, else their common
 * leading tokens followed by `>` (e.g. `events.raw.>`).
 */
function batchDestination(messages: readonly BatchMessage[]): string {
  const first = messages[0].subject;
  let common = first.length;
  for (const m of messages) {
    if (m.subject === first) continue;
    let i = 0;
    while (i < common && i < m.subject.length && m.subject.charCodeAt(i) === first.charCodeAt(i)) i++;
    common = i;
  }
  if (common === first.length && messages.every((m) => m.subject.length === common)) return first;
  const lastDot = first.lastIndexOf('.', common - 1);
  return lastDot < 0 ? '>' : `${first.slice(0, lastDot)}.>`;
}

const backoffMs = (attempt: number) => Math.min(2_000, 100 * 2 ** attempt);

/** Typed protobuf publishing with deterministic ids, trace headers and bounded retries. */
export class Publisher {
  private readonly acks: PubAckInbox;
  private readonly maxAttempts: number;

  constructor(
    nc: NatsConnection,
    private readonly opts: PublisherOptions,
  ) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.acks = new PubAckInbox(nc, opts.timeoutMs ?? 5_000);
  }

  publish<T>(subject: string, schema: Schema<T>, message: T, options: PublishOptions): Promise<PubAck> {
    const payload = schema.type.encode(message).finish();
    return this.publishBytes(subject, schema.name, payload, options);
  }

  publishBytes(
    subject: string,
    schemaName: string,
    payload: Uint8Array,
    options: PublishOptions,
  ): Promise<PubAck> {
    return withProducerSpan(subject, async (span) => {
      const h: MsgHdrs = createHeaders();
      for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
      h.set(HEADERS.schema, schemaName);
      h.set(PubHeaders.MsgIdHdr, options.msgId);
      injectTraceContext(h);
      span.setAttribute('messaging.message.id', options.msgId);
      for (let attempt = 1; ; attempt++) {
        try {
          const ack = await this.acks.publish(subject, payload, h);
          published.inc({ schema: schemaName });
          span.setAttribute('messaging.nats.duplicate', ack.duplicate);
          return ack;
        } catch (err) {
          if (attempt >= this.maxAttempts || !isRetryable(err)) throw err;
          publishRetries.inc({ schema: schemaName });
          this.opts.logger.warn(
            { subject, msgId: options.msgId, attempt, err: (err as Error).message },
            'publish retry',
          );
          await new Promise((r) => setTimeout(r, backoffMs(attempt)));
        }
      }
    });
  }

  /**
   * Publishes messages of one schema together: every message is written before any acknowledgement
   * is awaited, under one PRODUCER span (named after the common destination, see batchDestination)
   * whose trace context every message carries in its headers. Each message is acknowledged, and
   * retried with its own id, on its own. Resolves with the PubAcks in message order once all are
   * stored, or rejects with the first publish that failed for good.
   *
   * Per message this costs a header value and a map entry where `publishBytes` costs a span, a context
   * switch and three promises; ingest publishes a TrackBatch call's events this way.
   */
  publishBatch(schemaName: string, messages: readonly BatchMessage[]): Promise<PubAck[]> {
    if (messages.length === 0) return Promise.resolve([]);
    return withProducerSpan(batchDestination(messages), (span) => {
      span.setAttribute('messaging.batch.message_count', messages.length);
      // One header set for the batch: nats.js encodes the headers when publish is called, so only
      // Nats-Msg-Id is set again before each publish (a new header set per message was a quarter of
      // ingest's allocations).
      const h: MsgHdrs = createHeaders();
      h.set(HEADERS.schema, schemaName);
      injectTraceContext(h);
      return new Promise<PubAck[]>((resolve, reject) => {
        const acks = new Array<PubAck>(messages.length);
        let remaining = messages.length;
        let duplicates = 0;
        let failed = false;
        const send = (m: BatchMessage, i: number, attempt: number): void => {
          h.set(PubHeaders.MsgIdHdr, m.msgId); // throws for an id a header cannot carry
          this.acks.send(m.subject, m.payload, h, (err, ack) => {
            if (failed) return;
            if (err) {
              if (attempt >= this.maxAttempts || !isRetryable(err)) {
                failed = true;
                return reject(err);
              }
              publishRetries.inc({ schema: schemaName });
              this.opts.logger.warn(
                { subject: m.subject, msgId: m.msgId, attempt, err: err.message },
                'publish retry',
              );
              setTimeout(() => {
                if (!failed) send(m, i, attempt + 1);
              }, backoffMs(attempt));
              return;
            }
            acks[i] = ack!;
            if (ack!.duplicate) duplicates++;
            if (--remaining > 0) return;
            published.inc({ schema: schemaName }, messages.length);
            span.setAttribute('messaging.nats.duplicates', duplicates);
            resolve(acks);
          });
        };
        try {
          for (let i = 0; i < messages.length; i++) send(messages[i], i, 1);
        } catch (err) {
          failed = true; // stops the retries of the messages already sent
          reject(err as Error);
        }
      });
    });
  }
}
