import type { actions } from '@kairos/contracts';
import type { Channel } from '../domain/selection';

export interface SendRequest {
  action: actions.ActionRequested;
  channel: Channel;
  /** Address chosen by channel selection (email, phone, token, URL; customer id for in_app). */
  address: string;
  /** `<actionId>:<channel>`, the same on every attempt: providers that support it de-duplicate on it. */
  idempotencyKey: string;
  /** Trace id of the active span, for headers that tie the message to its trace. */
  traceId?: string;
}

export interface SendResult {
  providerMessageId?: string;
}

/**
 * One channel. Every adapter sends the same key on a resend (`Idempotency-Key`, SMTP `Message-ID`,
 * the inbox's `_id`); whether an interrupted send is resent is the channel's configured guarantee
 * (guarantees.ts, `KAIROS_DELIVERY_GUARANTEES`).
 */
export interface ChannelAdapter {
  readonly channel: Channel;
  /** Resolves when sent; throws DeliveryError (permanent or transient). */
  send(req: SendRequest): Promise<SendResult>;
  close?(): Promise<void>;
}

/** Rendered content of an action as a plain object. */
export function contentOf(action: actions.ActionRequested): Record<string, unknown> {
  return (action.content ?? {}) as Record<string, unknown>;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
