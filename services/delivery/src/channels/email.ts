import { createTransport, type Transporter } from 'nodemailer';
import type { Clock } from '@kairos/service-kit';
import { classifySmtpError, DeliveryError, type SmtpErrorLike } from '../domain/errors';
import { addTracking } from '../domain/signing';
import { contentOf, str, type ChannelAdapter, type SendRequest, type SendResult } from './adapter';

export interface EmailOptions {
  smtpUrl: string;
  from: string;
  timeoutMs: number;
  maxConnections: number;
  tracking?: { baseUrl: string; secret: string; ttlMs: number };
  clock: Clock;
}

/**
 * Deterministic Message-ID, the same on every attempt: a relay that de-duplicates on it delivers a
 * resent message once (for `email=at-least-once` in KAIROS_DELIVERY_GUARANTEES).
 */
export function messageIdFor(actionId: string): string {
  return `<${actionId.replace(/[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]/g, (c) => `=${c.charCodeAt(0).toString(16)}`)}@kairos>`;
}

/**
 * Email over SMTP (nodemailer, pooled). SMTP itself has no idempotency key; only relays that
 * de-duplicate on Message-ID make a resend safe, so email is at-most-once by default.
 */
export class EmailAdapter implements ChannelAdapter {
  readonly channel = 'email' as const;
  private readonly transport: Transporter;

  constructor(private readonly opts: EmailOptions) {
    this.transport = createTransport({
      url: opts.smtpUrl,
      pool: true,
      maxConnections: opts.maxConnections,
      connectionTimeout: Math.min(opts.timeoutMs, 10_000),
      greetingTimeout: Math.min(opts.timeoutMs, 10_000),
      socketTimeout: opts.timeoutMs,
      // Local relays and test servers often have self-signed certificates or none.
      ignoreTLS: opts.smtpUrl.startsWith('smtp://') && /127\.0\.0\.1|localhost/.test(opts.smtpUrl),
    });
  }

  async send(req: SendRequest): Promise<SendResult> {
    const content = contentOf(req.action);
    const subject = str(content.subject) ?? str(content.title) ?? '';
    let html = str(content.html);
    const text = str(content.text) ?? str(content.body);
    if (!html && !text) throw new DeliveryError('email content has neither html nor text', 'permanent');
    if (html && this.opts.tracking) {
      html = addTracking(html, {
        baseUrl: this.opts.tracking.baseUrl,
        secret: this.opts.tracking.secret,
        actionId: req.action.actionId,
        channel: 'email',
        expiresAt: Math.floor((this.opts.clock.now() + this.opts.tracking.ttlMs) / 1000),
      });
    }
    const headers: Record<string, string> = { 'X-Kairos-Action-Id': req.action.actionId };
    const traceId = req.traceId ?? req.action.metadata.trace_id;
    if (traceId) headers['X-Kairos-Trace-Id'] = traceId;
    try {
      const info = (await this.transport.sendMail({
        from: this.opts.from,
        to: req.address,
        subject,
        html,
        text,
        messageId: messageIdFor(req.action.actionId),
        headers,
      })) as { messageId?: string; rejected?: unknown[]; response?: string };
      if (Array.isArray(info.rejected) && info.rejected.length > 0) {
        throw new DeliveryError(`smtp recipient rejected: ${info.response ?? ''}`, 'permanent');
      }
      return { providerMessageId: info.messageId };
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw classifySmtpError(err as SmtpErrorLike);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
