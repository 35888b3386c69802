import { z } from 'zod';
import { commonConfig, env, loadConfig } from '@kairos/service-kit';

/** `email=0.001,sms=0.02`: the configured cost of one message per channel. */
export function parseChannelCosts(v: string): Record<string, number> | string {
  const out: Record<string, number> = {};
  if (v.trim() === '') return out;
  for (const part of v.split(',').map((s) => s.trim())) {
    const m = /^([a-z][a-z0-9_-]*)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) return `'${part}' is not <channel>=<cost>, e.g. sms=0.02`;
    out[m[1]] = Number(m[2]);
  }
  return out;
}

const channelCosts = (def: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const r = parseChannelCosts(v === undefined ? def : v);
      if (typeof r === 'string') {
        ctx.addIssue({ code: 'custom', message: `expected a list like email=0.001,sms=0.02: ${r}` });
        return z.NEVER;
      }
      return r;
    });

/** Messages per consumer batch written to the database in one round trip. */
export const CONSUME_BATCH = 512;
/** How long a batch waits for more messages before it is written. */
export const CONSUME_BATCH_WAIT_MS = 5;
/** How often retention runs. */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** The customer id anomaly alerts carry: they concern the installation, not a customer. */
export const ALERT_CUSTOMER_ID = 'kairos-analytics';
/** The event type of an anomaly alert. */
export const ALERT_EVENT_TYPE = 'analytics.anomaly';
/** The event type of a batch campaign send (the non-triggered comparison group). */
export const CAMPAIGN_EVENT_TYPE = 'campaign.sent';
/** Confidence of every interval and test. */
export const CONFIDENCE = 0.95;

export const analyticsConfigShape = {
  ...commonConfig,
  KAIROS_GRPC_PORT: env.port(50056),
  KAIROS_HTTP_PORT: env.port(8086),
  /** Workflow definitions from a directory (besides the store). */
  KAIROS_DEFINITIONS_DIR: env.optionalString(),
  /** Follow the definition store (JetStream KV) for workflows' conversion windows. */
  KAIROS_DEFINITIONS_WATCH: env.bool(true),
  /** Message-level facts older than this are removed; daily trigger volumes are kept. */
  KAIROS_ANALYTICS_RETENTION: env.duration('90d'),
  /** Minute buckets older than this are removed (hour and day buckets stay). */
  KAIROS_ANALYTICS_MINUTE_RETENTION: env.duration('2d'),
  /** Cost of one message per channel when the workflow sets none. */
  KAIROS_CHANNEL_COSTS: channelCosts('email=0.001,push=0.0005,sms=0.02,in_app=0,webhook=0'),
  /** Infrastructure cost per day, shared among triggers and workflows by message volume. */
  KAIROS_INFRA_COST_PER_DAY: env.number(0, 0),
  /** How batch campaign sends (`campaign.sent`) are judged: this conversion event in this window. */
  KAIROS_CAMPAIGN_CONVERSION_EVENT: env.string('order.completed'),
  KAIROS_CAMPAIGN_CONVERSION_WINDOW: env.duration('72h'),
  /** How often the hourly trigger volumes are checked for anomalies (0 disables alerts). */
  KAIROS_ANOMALY_CHECK_INTERVAL: env.duration('1m'),
};

export type AnalyticsConfig = z.output<z.ZodObject<typeof analyticsConfigShape>>;

export function loadAnalyticsConfig(source: NodeJS.ProcessEnv = process.env): AnalyticsConfig {
  return loadConfig(analyticsConfigShape, source);
}
