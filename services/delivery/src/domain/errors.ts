/**
 * Failure classification. A permanent failure will not succeed on retry (bad address, rejected
 * payload): delivery falls through to the next channel. A transient one (provider busy, network)
 * is retried with backoff. `maybeSent` marks failures after which the provider may have accepted
 * the message anyway (e.g. the connection dropped while waiting for the reply to SMTP DATA).
 */
export type FailureKind = 'permanent' | 'transient';

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly maybeSent = false,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** HTTP providers: 4xx (except 408 and 429) is permanent; 408, 429 and 5xx are transient. */
export function classifyHttpStatus(status: number): FailureKind | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 408 || status === 429) return 'transient';
  if (status >= 400 && status < 500) return 'permanent';
  return 'transient';
}

/** Network-level errors from fetch/undici or sockets: always transient. */
export function httpNetworkError(err: unknown, what: string): DeliveryError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const detail = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
  // A timed-out request may have reached the provider; its idempotency key makes a retry safe.
  return new DeliveryError(`${what}: ${timedOut ? 'timeout' : detail}`, 'transient', timedOut);
}

/** The fields nodemailer puts on its errors. */
export interface SmtpErrorLike {
  message?: string;
  code?: string;
  originalCode?: string;
  timeoutType?: string;
  responseCode?: number;
  command?: string;
  response?: string;
}

/** Socket errors that prove nothing reached the server. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);
/** The nodemailer error types raised before any byte of the message went out. */
const BEFORE_SEND = new Set(['EDNS', 'EAUTH', 'EENVELOPE', 'EMESSAGE', 'ETLS', 'ESTREAM', 'EPROTOCOL']);

/**
 * SMTP: a 5xx reply is permanent, a 4xx reply transient. Without a reply code the error is a
 * connection problem: transient. A dropped or timed-out session may have dropped after the server
 * queued the message (nodemailer does not say at which stage), so it is "maybe sent" unless the
 * error proves nothing was sent (connection refused, DNS, auth, envelope).
 */
export function classifySmtpError(err: SmtpErrorLike): DeliveryError {
  const code = err.responseCode;
  const text = (err.response ?? err.message ?? 'smtp error').trim();
  if (code !== undefined && code >= 500) return new DeliveryError(`smtp ${code}: ${text}`, 'permanent');
  if (code !== undefined && code >= 400) return new DeliveryError(`smtp ${code}: ${text}`, 'transient');
  const neverSent =
    NEVER_CONNECTED.has(err.originalCode ?? '') ||
    NEVER_CONNECTED.has(err.code ?? '') ||
    BEFORE_SEND.has(err.code ?? '') ||
    SETUP_TIMEOUTS.has(err.timeoutType ?? '');
  return new DeliveryError(
    `smtp ${err.originalCode ?? err.code ?? 'error'}: ${err.message ?? text}`,
    'transient',
    !neverSent,
  );
}

export function isDeliveryError(err: unknown): err is DeliveryError {
  return err instanceof DeliveryError;
}
