import { InvalidArgumentError } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';

/**
 * An error that retrying cannot fix (the message's own data is at fault). A handler throws it, or
 * wraps the cause in it, to have the consume loop dead-letter the message at once instead of
 * retrying it with backoff while the messages behind it wait.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** JetStream's JSStreamMessageExceedsMaximumErr: the message is over the stream's max_msg_size. */
const JS_MESSAGE_EXCEEDS_MAXIMUM = 10054;

/**
 * Whether `err` (or an error in its `cause` chain) is permanent: a PermanentError, nats.js refusing
 * a publish it can never send (a payload over the server's max_payload, an invalid subject or
 * header: InvalidArgumentError), or JetStream refusing a message over the stream's size limit.
 * Timeouts, lost connections and everything else count as transient.
 */
export function isPermanentError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof PermanentError || e instanceof InvalidArgumentError) return true;
    if (e instanceof JetStreamApiError && e.code === JS_MESSAGE_EXCEEDS_MAXIMUM) return true;
  }
  return false;
}
