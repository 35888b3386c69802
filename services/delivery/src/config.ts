import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { STREAMS } from '@kairos/contracts';
import {
  commonConfig,
  ConfigError,
  env,
  faultPointSetting,
  loadConfig,
  type RetentionRule,
} from '@kairos/service-kit';
import { FAULT_POINTS } from './faults';
import { parseGuarantees, type Guarantees } from './domain/guarantees';
import { parseConcurrency, parseRateLimits } from './domain/limits';
import { CHANNELS, canonicalChannel, parseEscalationTargets, type Channel } from './domain/selection';

function parsed<T>(parse: (v: string) => T | string, def: string, expected: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T => {
      const r = parse(v === undefined || v.trim() === '' ? def : v.trim());
      if (typeof r === 'string') {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}: ${r}` });
        return z.NEVER;
      }
      return r;
    });
}

function channelList(v: string): Channel[] | string {
  const out: Channel[] = [];
  for (const name of v.split(',').map((s) => s.trim())) {
    const c = canonicalChannel(name);
    if (!c) return `unknown channel '${name}' (known: ${CHANNELS.join(', ')})`;
    out.push(c);
  }
  return out;
}

function durationList(v: string): number[] | string {
  const out: number[] = [];
  for (const part of v.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(ms|s|m)$/.exec(part);
    if (!m) return `'${part}' is not a duration like 250ms, 5s or 1m`;
    out.push(Number(m[1]) * { ms: 1, s: 1_000, m: 60_000 }[m[2] as 'ms' | 's' | 'm']);
  }
  return out;
}

/** `KAIROS_ESCALATION_TARGETS` is JSON, or `@/path/to/file.json`. */
function escalationTargets(v: string) {
  if (v.startsWith('@')) {
    try {
      return parseEscalationTargets(readFileSync(v.slice(1), 'utf8'));
    } catch (err) {
      return `cannot read ${v.slice(1)}: ${(err as Error).message}`;
    }
  }
  return parseEscalationTargets(v);
}

/**
 * Delivery guarantee per channel when a send is interrupted (see guarantees.ts). SMTP relays rarely
 * de-duplicate on Message-ID, so email does not resend by default; the HTTP providers, webhooks and
 * Slack get an `Idempotency-Key`, and the inbox upserts on the action id, so they resend.
 */
export const DEFAULT_GUARANTEES: Guarantees = {
  email: 'at-most-once',
  sms: 'at-least-once',
  push: 'at-least-once',
  webhook: 'at-least-once',
  slack: 'at-least-once',
  in_app: 'at-least-once',
};

/**
 * The settings of delivery's consumer: the provisioning Job reads the same variables, so under
 * `KAIROS_PROVISION=external` it creates the consumer delivery expects.
 */
export const deliveryConsumerShape = {
  KAIROS_DELIVERY_MAX_IN_FLIGHT: env.int(64, 1, 10_000),
  KAIROS_DELIVERY_MAX_DELIVER: env.int(5, 1, 100),
  KAIROS_DELIVERY_BACKOFF: parsed(durationList, '1s,5s,15s,60s', 'a list like 1s,5s,15s'),
  KAIROS_DELIVERY_ACK_WAIT: env.duration('60s'),
};
export type DeliveryConsumerConfig = z.output<z.ZodObject<typeof deliveryConsumerShape>>;

/**
 * Development defaults of the signing secrets: public, so delivery warns at start while either is
 * in use (production sets both from a Secret; docs/security.md).
 */
export const DEV_WEBHOOK_SECRET = 'kairos-dev-webhook-secret';
export const DEV_TRACKING_SECRET = 'kairos-dev-tracking-secret';

export const deliveryConfigShape = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50055),
  KAIROS_HTTP_PORT: env.port(8085),
  KAIROS_PROFILE_ADDR: env.string('127.0.0.1:50052'),
  /** Look the profile up when an action lacks a recipient address or consent metadata. */
  KAIROS_PROFILE_LOOKUP: env.bool(false),
  KAIROS_SMTP_URL: env.url('smtp://127.0.0.1:2525', ['smtp', 'smtps']),
  KAIROS_EMAIL_FROM: env.string('Kairos <no-reply@kairos.local>'),
  KAIROS_SMTP_TIMEOUT: env.duration('20s'),
  KAIROS_SMS_PROVIDER_URL: env.optionalString(),
  KAIROS_SMS_PROVIDER_TOKEN: env.optionalString(),
  KAIROS_PUSH_PROVIDER_URL: env.optionalString(),
  KAIROS_PUSH_PROVIDER_TOKEN: env.optionalString(),
  KAIROS_HTTP_TIMEOUT: env.duration('10s'),
  KAIROS_WEBHOOK_SECRET: env.string(DEV_WEBHOOK_SECRET),
  /** Secret of provider callbacks; defaults to the webhook secret. */
  KAIROS_CALLBACK_SECRET: env.optionalString(),
  KAIROS_SLACK_WEBHOOK_URL: env.optionalString(),
  KAIROS_ESCALATION_TARGETS: parsed(escalationTargets, '{}', 'a JSON object or @file'),
  KAIROS_TRACKING_SECRET: env.string(DEV_TRACKING_SECRET),
  /** Link-signing secrets before a rotation: their links verify until they expire (KAIROS_TRACKING_TTL). */
  KAIROS_TRACKING_PREVIOUS_SECRETS: env.list([]),
  KAIROS_TRACKING_BASE_URL: env.url('http://127.0.0.1:8085', ['http', 'https']),
  KAIROS_TRACKING_TTL: env.duration('30d'),
  KAIROS_RATE_LIMITS: parsed(parseRateLimits, '', 'a list like email=50/s,sms=10/s'),
  KAIROS_PROVIDER_CONCURRENCY: parsed(parseConcurrency, '', 'a list like email=10,sms=20'),
  KAIROS_DEFAULT_CONCURRENCY: env.int(16, 1, 10_000),
  KAIROS_DEFAULT_CHANNELS: parsed(channelList, 'email,push,sms,in_app', 'a comma-separated channel list'),
  ...deliveryConsumerShape,
  KAIROS_DELIVERY_GUARANTEES: parsed(
    (v) => parseGuarantees(v, DEFAULT_GUARANTEES),
    '',
    'a list like email=at-least-once,sms=at-most-once',
  ),
  /** Test-only: SIGKILL this process at a point of a send (see faults.ts). Never set in production. */
  KAIROS_FAULT_POINT: faultPointSetting(FAULT_POINTS),
  /** In-app inbox messages are deleted this long after they were delivered (0s: kept). */
  KAIROS_INBOX_RETENTION: env.duration('180d'),
  /**
   * Send records (`deliveries`) are deleted this long after they were created (0s: kept). At least
   * the ACTIONS stream's max age (a redelivered action must find its record, or it is sent again)
   * and the tracking link lifetime (opens and clicks are reported from the record).
   */
  KAIROS_DELIVERY_RECORD_RETENTION: env.duration('90d'),
  /** How often the retention sweep runs (0s: never). */
  KAIROS_RETENTION_SWEEP_INTERVAL: env.duration('1h'),
};

export type DeliveryConfig = z.output<z.ZodObject<typeof deliveryConfigShape>>;

/** The secret provider callbacks are signed with: KAIROS_CALLBACK_SECRET, else the webhook secret. */
export function callbackSecret(cfg: DeliveryConfig): string {
  return cfg.KAIROS_CALLBACK_SECRET ?? cfg.KAIROS_WEBHOOK_SECRET;
}

export function loadDeliveryConfig(source: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  const cfg = loadConfig(deliveryConfigShape, source);
  for (const [name, v] of [
    ['KAIROS_SMS_PROVIDER_URL', cfg.KAIROS_SMS_PROVIDER_URL],
    ['KAIROS_PUSH_PROVIDER_URL', cfg.KAIROS_PUSH_PROVIDER_URL],
    ['KAIROS_SLACK_WEBHOOK_URL', cfg.KAIROS_SLACK_WEBHOOK_URL],
  ] as const) {
    if (v !== undefined && !/^https?:\/\//.test(v)) {
      throw new ConfigError([`${name}: expected a URL starting with http:// or https://, got '${v}'`]);
    }
  }
  const records = cfg.KAIROS_DELIVERY_RECORD_RETENTION;
  const floor = Math.max(STREAMS.ACTIONS.maxAgeMs, cfg.KAIROS_TRACKING_TTL);
  if (records > 0 && records < floor)
    throw new ConfigError([
      `KAIROS_DELIVERY_RECORD_RETENTION: 0s or at least ${floor / 86_400_000}d (the ACTIONS stream's max age and KAIROS_TRACKING_TTL), so no action is sent twice and tracking links keep working`,
    ]);
  return cfg;
}

/** The collections delivery expires by age (see docs/operations.md, "Data retention"). */
export function retentionRules(cfg: DeliveryConfig): RetentionRule[] {
  return [
    { collection: 'inbox', field: 'created_at', maxAgeMs: cfg.KAIROS_INBOX_RETENTION },
    { collection: 'deliveries', field: 'created_at', maxAgeMs: cfg.KAIROS_DELIVERY_RECORD_RETENTION },
  ];
}
