import type http from 'node:http';
import { identifierProblem, MAX_IDENTIFIER_LENGTH, quoteInput } from '@kairos/contracts';
import {
  inject,
  injectable,
  readBody,
  replyJson,
  TOKENS,
  type Clock,
  type Logger,
} from '@kairos/service-kit';
import { InboxStore } from './channels/inbox';
import { DeliveryLedger, type DeliveryRecord } from './ledger';
import { OutcomePublisher, OutcomeStatus, type OutcomeSource } from './outcomes';
import { SIGNATURE_HEADER, verifySignature, verifyTrackingToken } from './domain/signing';
import { canonicalChannel } from './domain/selection';
import { DELIVERY_TOKENS } from './tokens';

export interface TrackingOptions {
  secret: string;
  /** Secrets before a rotation: links they signed still verify until they expire. */
  previousSecrets?: readonly string[];
}

/** 1x1 transparent GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const CALLBACK_STATUS: Record<string, OutcomeStatus> = {
  delivered: OutcomeStatus.OUTCOME_STATUS_DELIVERED,
  failed: OutcomeStatus.OUTCOME_STATUS_FAILED,
  opened: OutcomeStatus.OUTCOME_STATUS_OPENED,
  clicked: OutcomeStatus.OUTCOME_STATUS_CLICKED,
};

/** The largest provider callback body read. */
const MAX_CALLBACK_BYTES = 64 * 1024;

function sourceFromRecord(actionId: string, r: DeliveryRecord | null): OutcomeSource {
  const a = r?.action;
  return {
    actionId,
    runId: a?.run_id ?? '',
    workflow: a?.workflow ?? '',
    trigger: a?.trigger ?? '',
    customerId: a?.customer_id ?? '',
    contentVariant: a?.content_variant ?? '',
    timingVariant: a?.timing_variant ?? '',
    transactional: a?.transactional ?? false,
    metadata: a?.metadata ?? {},
  };
}

/**
 * Delivery's HTTP API on the service's HTTP server: tracking pixel and click redirects, the in-app
 * inbox, and signed provider callbacks. Each becomes an ActionOutcome.
 */
@injectable()
export class DeliveryHttpApi {
  constructor(
    @inject(DELIVERY_TOKENS.Ledger) private readonly ledger: DeliveryLedger,
    @inject(DELIVERY_TOKENS.Inbox) private readonly inbox: InboxStore,
    @inject(DELIVERY_TOKENS.Outcomes) private readonly outcomes: OutcomePublisher,
    @inject(DELIVERY_TOKENS.TrackingOptions) private readonly tracking: TrackingOptions,
    @inject(DELIVERY_TOKENS.CallbackSecret) private readonly callbackSecret: string,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** The route for HttpServer.addRoute: true when handled. */
  readonly route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    // Path segments name customers, messages and providers: identifiers, bounded like everywhere.
    // (Tracking tokens are signed and longer; their signature check bounds them.)
    if (parts[0] !== 't') {
      const long = parts.find((p) => p.length > MAX_IDENTIFIER_LENGTH);
      if (long !== undefined) {
        return replyJson(res, 400, {
          error: `path segment: at most ${MAX_IDENTIFIER_LENGTH} characters, got ${long.length}`,
        });
      }
    }
    if (parts[0] === 't' && parts.length === 3 && method === 'GET') {
      if (parts[1] === 'o') return this.open(parts[2].replace(/\.gif$/, ''), res);
      if (parts[1] === 'c') return this.click(parts[2], url.searchParams.get('u') ?? '', res);
    }
    if (parts[0] === 'inbox') {
      if (parts.length === 2 && method === 'GET') return this.listInbox(parts[1], url, res);
      if (parts.length === 4 && parts[3] === 'read' && method === 'POST')
        return this.markRead(parts[1], parts[2], res);
    }
    if (parts[0] === 'callbacks' && parts.length === 2 && method === 'POST')
      return this.callback(parts[1], req, res);
    return false;
  };

  /** Publishes an engagement outcome once per action and channel (ledger flag + NATS msg id). */
  private async report(actionId: string, channel: string, status: OutcomeStatus, reason = ''): Promise<void> {
    const record = await this.ledger.get(actionId, channel);
    const key = String(status);
    if (record?.reported?.includes(key)) return;
    await this.outcomes.publish(sourceFromRecord(actionId, record), channel, status, reason);
    if (record) await this.ledger.markReported(actionId, channel, key);
  }

  private secrets(): readonly string[] {
    return [this.tracking.secret, ...(this.tracking.previousSecrets ?? [])];
  }

  private now(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  private async open(token: string, res: http.ServerResponse): Promise<boolean> {
    const check = verifyTrackingToken(this.secrets(), token, this.now());
    if (!check.ok || check.payload.k !== 'o') {
      const status = check.ok ? 404 : check.status;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 410 ? 'expired' : 'not found');
      return true;
    }
    await this.report(check.payload.a, check.payload.c, OutcomeStatus.OUTCOME_STATUS_OPENED);
    res
      .writeHead(200, {
        'content-type': 'image/gif',
        'cache-control': 'no-store',
        'content-length': PIXEL.length,
      })
      .end(PIXEL);
    return true;
  }

  private async click(token: string, target: string, res: http.ServerResponse): Promise<boolean> {
    const check = verifyTrackingToken(this.secrets(), token, this.now(), target);
    if (!check.ok || check.payload.k !== 'c' || !/^https?:\/\//i.test(target)) {
      const status = check.ok ? 404 : check.status;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 410 ? 'expired' : 'not found');
      return true;
    }
    await this.report(check.payload.a, check.payload.c, OutcomeStatus.OUTCOME_STATUS_CLICKED);
    res.writeHead(302, { location: target, 'cache-control': 'no-store' }).end();
    return true;
  }

  private async listInbox(customerId: string, url: URL, res: http.ServerResponse): Promise<boolean> {
    const unreadOnly = url.searchParams.get('unread') === 'true';
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? 50 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      return replyJson(res, 400, {
        error: `limit: expected an integer from 1 to 500, got ${quoteInput(limitParam ?? '')}`,
      });
    }
    const messages = await this.inbox.list(customerId, { unreadOnly, limit });
    return replyJson(res, 200, {
      customer_id: customerId,
      messages: messages.map((m) => ({
        id: m._id,
        title: m.title,
        body: m.body,
        payload: m.payload,
        workflow: m.workflow,
        created_at: m.created_at.toISOString(),
        read: m.read_at !== null,
        read_at: m.read_at ? m.read_at.toISOString() : null,
      })),
    });
  }

  private async markRead(customerId: string, messageId: string, res: http.ServerResponse): Promise<boolean> {
    const r = await this.inbox.markRead(customerId, messageId);
    if (!r) {
      return replyJson(res, 404, {
        error: `no inbox message ${quoteInput(messageId)} for customer ${quoteInput(customerId)}`,
      });
    }
    // Reading an in-app message is its "open".
    if (r.firstRead) await this.report(messageId, 'in_app', OutcomeStatus.OUTCOME_STATUS_OPENED);
    return replyJson(res, 200, { id: messageId, read: true });
  }

  private async callback(
    provider: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<boolean> {
    const raw = await readBody(req, MAX_CALLBACK_BYTES);
    if (!raw) return replyJson(res, 413, { error: 'body too large' });
    const body = raw.toString('utf8');
    const header = req.headers[SIGNATURE_HEADER.toLowerCase()];
    const sig = verifySignature(
      this.callbackSecret,
      body,
      Array.isArray(header) ? header[0] : header,
      this.now(),
    );
    if (!sig.ok) return replyJson(res, 401, { error: sig.reason });
    let msg: { action_id?: unknown; channel?: unknown; status?: unknown; reason?: unknown };
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      return replyJson(res, 400, { error: 'body: expected JSON' });
    }
    if (typeof msg.action_id !== 'string' || !msg.action_id)
      return replyJson(res, 400, { error: 'action_id: required string' });
    const idProblem = identifierProblem('action_id', msg.action_id);
    if (idProblem) return replyJson(res, 400, { error: idProblem });
    const channel = typeof msg.channel === 'string' ? canonicalChannel(msg.channel) : undefined;
    if (!channel)
      return replyJson(res, 400, {
        error: `channel: expected a known channel, got ${quoteInput(String(msg.channel))}`,
      });
    const status = typeof msg.status === 'string' ? CALLBACK_STATUS[msg.status] : undefined;
    if (status === undefined) {
      return replyJson(res, 400, {
        error: `status: expected one of ${Object.keys(CALLBACK_STATUS).join(', ')}, got ${quoteInput(String(msg.status))}`,
      });
    }
    const reason = typeof msg.reason === 'string' ? msg.reason : `callback from ${provider}`;
    await this.report(msg.action_id, channel, status, reason);
    this.logger.info({ provider, action: msg.action_id, channel, status: msg.status }, 'provider callback');
    return replyJson(res, 202, { accepted: true });
  }
}
