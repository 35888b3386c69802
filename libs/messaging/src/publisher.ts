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
          await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
        }
      }
    });
  }
}
