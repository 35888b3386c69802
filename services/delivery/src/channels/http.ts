import type { Clock } from '@kairos/service-kit';
import { classifyHttpStatus, DeliveryError, httpNetworkError } from '../domain/errors';
import { SIGNATURE_HEADER, signBody } from '../domain/signing';
import type { Channel } from '../domain/selection';
import { contentOf, str, type ChannelAdapter, type SendRequest, type SendResult } from './adapter';

export interface HttpPostOptions {
  timeoutMs: number;
  headers: Record<string, string>;
  what: string;
}

/** POSTs JSON; maps statuses and network errors to DeliveryError; returns the parsed JSON reply. */
export async function postJson(
  url: string,
  body: string,
  opts: HttpPostOptions,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.headers },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'manual',
    });
  } catch (err) {
    throw httpNetworkError(err, opts.what);
  }
  const text = await res.text().catch(() => '');
  const kind = classifyHttpStatus(res.status);
  if (kind) throw new DeliveryError(`${opts.what}: HTTP ${res.status} ${text.slice(0, 200)}`.trim(), kind);
  try {
    const parsed = text ? (JSON.parse(text) as unknown) : {};
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function providerId(reply: Record<string, unknown>): string | undefined {
  const id = reply.id ?? reply.message_id ?? reply.sid;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

function baseFields(req: SendRequest) {
  const a = req.action;
  return { action_id: a.actionId, customer_id: a.customerId, workflow: a.workflow, trigger: a.trigger };
}

export interface ProviderOptions {
  url: string;
  token?: string;
  timeoutMs: number;
}

/**
 * A provider reached by `POST <url>` of JSON: the channel's fields, then `action_id, customer_id,
 * workflow, trigger`, with `Idempotency-Key: <actionId>:<channel>` (the provider de-duplicates, so
 * a resend after a crash is safe). The reply's id is the provider message id.
 */
abstract class ProviderAdapter implements ChannelAdapter {
  abstract readonly channel: 'sms' | 'push';
  constructor(private readonly opts: ProviderOptions) {}

  /** The channel's fields for `req` with content `c`; throws a permanent DeliveryError when `c` lacks them. */
  protected abstract fields(req: SendRequest, c: Record<string, unknown>): Record<string, unknown>;

  async send(req: SendRequest): Promise<SendResult> {
    const fields = this.fields(req, contentOf(req.action));
    const reply = await postJson(this.opts.url, JSON.stringify({ ...fields, ...baseFields(req) }), {
      timeoutMs: this.opts.timeoutMs,
      headers: providerHeaders(req, this.opts.token),
      what: `${this.channel} provider`,
    });
    return { providerMessageId: providerId(reply) };
  }
}

/** The first of the content's `keys` holding text; else a permanent DeliveryError saying `missing`. */
function firstText(c: Record<string, unknown>, keys: string[], missing: string): string {
  for (const k of keys) {
    const text = str(c[k]);
    if (text) return text;
  }
  throw new DeliveryError(missing, 'permanent');
}

/** SMS provider: `{to, text, ...}` (see ProviderAdapter). */
export class SmsAdapter extends ProviderAdapter {
  readonly channel = 'sms' as const;

  protected fields(req: SendRequest, c: Record<string, unknown>) {
    return { to: req.address, text: firstText(c, ['text', 'body'], 'sms content has no text') };
  }
}

/** Push provider: `{token, title, body, data, ...}` (see ProviderAdapter). */
export class PushAdapter extends ProviderAdapter {
  readonly channel = 'push' as const;

  protected fields(req: SendRequest, c: Record<string, unknown>) {
    const body = firstText(c, ['body', 'text'], 'push content has no body or text');
    return { token: req.address, title: str(c.title) ?? '', body, data: c.data ?? {} };
  }
}

function providerHeaders(req: SendRequest, token?: string): Record<string, string> {
  const h: Record<string, string> = {
    'Idempotency-Key': req.idempotencyKey,
    'X-Kairos-Action-Id': req.action.actionId,
  };
  if (token) h.authorization = `Bearer ${token}`;
  const traceId = req.traceId ?? req.action.metadata.trace_id;
  if (traceId) h['X-Kairos-Trace-Id'] = traceId;
  return h;
}

/**
 * Customer webhook: signed `POST` of `{action_id, customer_id, workflow, trigger, channel, text, payload,
 * metadata}` with `X-Kairos-Signature` and `Idempotency-Key` (receivers de-duplicate on it).
 */
export class WebhookAdapter implements ChannelAdapter {
  constructor(
    readonly channel: Channel,
    private readonly opts: { secret: string; timeoutMs: number; clock: Clock },
  ) {}

  async send(req: SendRequest): Promise<SendResult> {
    const c = contentOf(req.action);
    const body = JSON.stringify(
      this.channel === 'slack'
        ? { text: slackText(req) }
        : {
            ...baseFields(req),
            channel: this.channel,
            escalation: req.action.escalation,
            text: str(c.text) ?? str(c.body) ?? '',
            payload: c.payload ?? null,
            metadata: req.action.metadata,
          },
    );
    const t = Math.floor(this.opts.clock.now() / 1000);
    await postJson(req.address, body, {
      timeoutMs: this.opts.timeoutMs,
      headers: { ...providerHeaders(req), [SIGNATURE_HEADER]: signBody(this.opts.secret, body, t) },
      what: `${this.channel} webhook`,
    });
    return {};
  }
}

/** Slack-style message text: the rendered text, or title + body, or a generic line. */
function slackText(req: SendRequest): string {
  const c = contentOf(req.action);
  const text = str(c.text) ?? [str(c.title), str(c.body)].filter(Boolean).join('\n');
  return text || `Kairos escalation for customer ${req.action.customerId} (${req.action.workflow})`;
}
