import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { events, ingest, quoteInput } from '@kairos/contracts';
import { readBody, replyJson, type HttpRoute, type Logger } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import type { Principal } from './domain/auth';
import { DEFAULT_TOLERANCE_MS, ReplayGuard, SIGNATURE_HEADER, verifySignature } from './domain/hmac';
import { OutcomeTally, type Ingestor } from './ingestor';
import type { WebhookSourceSpec } from './domain/rules-file';

const MAX_BODY_BYTES = 1024 * 1024;
const webhookCounter = counter('kairos_ingest_webhooks_total', 'Webhook requests by source and result', [
  'source',
  'result',
]);

/** Reads `a.b.0.c` from parsed JSON. */
export function valueAtPath(body: unknown, path: string): unknown {
  let v: unknown = body;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function toDate(v: unknown): Date | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v < 1e12 ? v * 1000 : v);
  if (typeof v === 'string' && v !== '') {
    const d = /^\d+$/.test(v) ? toDate(Number(v)) : new Date(v);
    return d && Number.isFinite(d.getTime()) ? d : new Date(NaN);
  }
  return undefined;
}

function scalarString(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
}

interface Source {
  name: string;
  spec: WebhookSourceSpec;
  secret: string;
  principal: Principal;
}

/** Maps a webhook body to an event by the source's configuration; the problem as a string otherwise. */
export function eventFromWebhook(
  source: string,
  spec: WebhookSourceSpec,
  raw: Buffer,
  body: unknown,
): events.Event | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body: expected a JSON object';
  const type = spec.eventType ?? scalarString(valueAtPath(body, spec.eventTypePath!));
  if (!type) return `body.${spec.eventTypePath}: expected the event type (a string), found none`;
  const customerId = scalarString(valueAtPath(body, spec.customerIdPath));
  if (!customerId)
    return `body.${spec.customerIdPath}: expected the customer id (a string or number), found none`;
  const providerId = spec.idPath ? scalarString(valueAtPath(body, spec.idPath)) : '';
  // Without a provider id, the body's hash de-duplicates the provider's retries of one delivery.
  const id = `${source}:${providerId || createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;
  const occurredAt = spec.occurredAtPath ? toDate(valueAtPath(body, spec.occurredAtPath)) : undefined;
  const props = spec.propertiesPath ? valueAtPath(body, spec.propertiesPath) : body;
  const properties =
    props === undefined
      ? undefined
      : typeof props === 'object' && props !== null && !Array.isArray(props)
        ? props
        : { value: props };
  return events.Event.fromPartial({
    id,
    type,
    customerId,
    category: events.EventCategory.EVENT_CATEGORY_EXTERNAL,
    source,
    occurredAt,
    properties: properties as Record<string, unknown> | undefined,
  });
}

/**
 * `POST /webhooks/<source>`: verifies the HMAC signature (timestamp within the tolerance, each
 * signature accepted once), maps the JSON body to an external event and ingests it durably.
 * 202 accepted/duplicate/filtered, 400 bad body, 401 bad signature, 404 unknown source, 503 store down.
 */
export class WebhookReceiver {
  private readonly sources = new Map<string, Source>();
  private readonly replays: ReplayGuard;

  constructor(
    specs: Record<string, WebhookSourceSpec>,
    private readonly ingestor: Ingestor,
    private readonly logger: Logger,
    private readonly toleranceMs = DEFAULT_TOLERANCE_MS,
    environment: NodeJS.ProcessEnv = process.env,
  ) {
    this.replays = new ReplayGuard(toleranceMs);
    for (const [name, spec] of Object.entries(specs)) {
      let secret = spec.secret;
      if (secret.startsWith('env:')) {
        const variable = secret.slice(4);
        secret = environment[variable] ?? '';
        if (!secret) throw new Error(`webhooks.${name}.secret: environment variable ${variable} is not set`);
      }
      this.sources.set(name, { name, spec, secret, principal: { name: `webhook:${name}`, source: name } });
    }
  }

  readonly route: HttpRoute = async (req, res) => {
    const m = /^\/webhooks\/([^/?]+)\/?(\?.*)?$/.exec(req.url ?? '');
    if (!m) return false;
    // HttpServer answered 400 to a path with a malformed escape, so this decodes.
    const name = decodeURIComponent(m[1]);
    const source = this.sources.get(name);
    if (!source) return replyJson(res, 404, { error: `unknown webhook source ${quoteInput(name)}` });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return replyJson(res, 405, { error: 'use POST' });
    }
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (!raw) return replyJson(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    const now = this.ingestor.now();
    const header = req.headers[SIGNATURE_HEADER];
    const check = verifySignature(
      Array.isArray(header) ? header[0] : header,
      raw,
      source.secret,
      now,
      this.toleranceMs,
    );
    if (!check.ok) return this.deny(res, source.name, check.reason);
    if (!this.replays.reserve(check.signature, check.timestampMs, now)) {
      return this.deny(res, source.name, 'signature already used (replayed request)');
    }
    try {
      // Decoding leniently would turn each bad byte into U+FFFD, merging distinct ids.
      if (!isUtf8(raw)) return this.bad(res, source.name, 'body: not valid UTF-8');
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        return this.bad(res, source.name, `body: not valid JSON: ${(err as Error).message}`);
      }
      const event = eventFromWebhook(source.name, source.spec, raw, body);
      if (typeof event === 'string') return this.bad(res, source.name, event);
      const early = this.ingestor.prepare(event, source.principal, 'event', now);
      const result = early ?? (await this.ingestor.publish(event, new Date(now)));
      const tally = new OutcomeTally();
      tally.add(result);
      tally.record();
      if (result.outcome === ingest.EventOutcome.EVENT_OUTCOME_REJECTED)
        return this.bad(res, source.name, result.message);
      webhookCounter.inc({ source: source.name, result: 'ok' });
      return replyJson(res, 202, {
        eventId: result.eventId,
        outcome: ingest.eventOutcomeToJSON(result.outcome),
        ...(result.rule ? { rule: result.rule } : {}),
      });
    } catch (err) {
      // Our failure, not the sender's: let the sender's retry of this very request through.
      this.replays.release(check.signature);
      webhookCounter.inc({ source: source.name, result: 'unavailable' });
      this.logger.error({ source: source.name, err: (err as Error).message }, 'webhook ingest failed');
      return replyJson(res, 503, { error: 'event store unavailable; retry' });
    }
  };

  private deny(res: ServerResponse, source: string, reason: string): true {
    webhookCounter.inc({ source, result: 'unauthorized' });
    this.logger.warn({ source, reason }, 'webhook rejected');
    return replyJson(res, 401, { error: reason });
  }

  private bad(res: ServerResponse, source: string, reason: string): true {
    webhookCounter.inc({ source, result: 'invalid' });
    return replyJson(res, 400, { error: reason });
  }
}
