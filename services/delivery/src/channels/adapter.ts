import type { actions } from '@kairos/contracts';
import type { Channel } from '../selection';

export interface SendRequest {
  action: actions.ActionRequested;
  channel: Channel;
  /** Address chosen by channel selection (email, phone, token, URL; customer id for in_app). */
  address: string;
  /** `<actionId>:<channel>`: providers that support it de-duplicate on it. */
  idempotencyKey: string;
  /** Trace id of the active span, for headers that tie the message to its trace. */
  traceId?: string;
}

export interface SendResult {
  providerMessageId?: string;
}

/**
 * One channel. `idempotent` adapters can be called again after a crash mid-send (the provider or
 * our own store de-duplicates on the idempotency key); the others must not be resent.
 */
export interface ChannelAdapter {
  readonly channel: Channel;
  readonly idempotent: boolean;
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
