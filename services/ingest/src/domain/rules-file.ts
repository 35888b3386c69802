import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The ingest rules file (KAIROS_INGEST_CONFIG): API keys, rate limits, prioritization rules, webhook
 * sources and category rules. See services/ingest/config.example.yaml for a documented example.
 */
const categoryName = z.enum(['customer_action', 'system', 'time_based', 'external', 'predicted']);
export type CategoryName = z.infer<typeof categoryName>;

const rateLimit = z.object({
  /** Sustained events per second. */
  eventsPerSecond: z.number().positive(),
  /** Bucket size: events allowed in a burst. Defaults to one second's worth. */
  burst: z.number().positive().optional(),
});
export type RateLimitSpec = z.infer<typeof rateLimit>;

const apiKey = z.object({
  name: z.string().min(1),
  /** Hex sha256 of the key; the key itself is never stored. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters (sha256 of the key)'),
  /** Stamped on every event sent with this key (defaults to the key's name). */
  source: z.string().min(1).optional(),
  /** Other `source` values the caller may set explicitly on events. */
  allowedSources: z.array(z.string().min(1)).optional(),
  /** Categories the key may send; all when omitted. */
  allowedCategories: z.array(categoryName).optional(),
  rateLimit: rateLimit.optional(),
});
export type ApiKeySpec = z.infer<typeof apiKey>;

const prioritizationRule = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a lower-case rule name'),
    /** Event type glob: `*` matches any run of characters, e.g. `debug.*` or `page.view`. */
    type: z.string().min(1).default('*'),
    /** Optional CEL condition over `event` (id, type, category, customerId, source, properties, occurredAt ms). */
    when: z.string().min(1).optional(),
    action: z.enum(['pass', 'sample', 'drop']),
    /** For `sample`: the fraction kept, 0..1 (deterministic by event id). */
    rate: z.number().min(0).max(1).optional(),
  })
  .refine((r) => r.action !== 'sample' || r.rate !== undefined, {
    message: 'action sample needs a rate (0..1)',
  });
export type PrioritizationRuleSpec = z.infer<typeof prioritizationRule>;

const webhookSource = z
  .object({
    /** Shared HMAC-SHA256 secret; `env:NAME` reads it from the environment variable NAME. */
    secret: z.string().min(1),
    /** Fixed event type, or `eventTypePath` naming the body field that holds it. */
    eventType: z.string().optional(),
    eventTypePath: z.string().optional(),
    customerIdPath: z.string().min(1),
    /** Body field with the provider's delivery/event id (de-duplicates provider retries). */
    idPath: z.string().optional(),
    /** Body field with the event time (ISO string or unix seconds/milliseconds). */
    occurredAtPath: z.string().optional(),
    /** Body field whose object becomes `properties`; the whole body when omitted. */
    propertiesPath: z.string().optional(),
  })
  .refine((s) => Boolean(s.eventType) !== Boolean(s.eventTypePath), {
    message: 'set exactly one of eventType and eventTypePath',
  });
export type WebhookSourceSpec = z.infer<typeof webhookSource>;

const categoryRule = z.object({
  /** Event type prefix, e.g. `payment.`; the longest matching prefix wins. */
  prefix: z.string().min(1),
  category: categoryName,
});

export const rulesFileSchema = z.object({
  apiKeys: z.array(apiKey).default([]),
  /** Applied to keys without their own `rateLimit`; no limit when omitted. */
  defaultRateLimit: rateLimit.optional(),
  prioritization: z.array(prioritizationRule).default([]),
  webhooks: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a lower-case source name'), webhookSource)
    .default({}),
  categories: z.array(categoryRule).default([]),
  /** Category of types no rule matches. */
  defaultCategory: categoryName.default('customer_action'),
});
export type RulesFile = z.output<typeof rulesFileSchema>;

export const EMPTY_RULES: RulesFile = rulesFileSchema.parse({});

/** Parses and validates rules; errors name the path of every bad field. */
export function parseRules(text: string, origin: string): RulesFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${origin}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  const result = rulesFileSchema.safeParse(raw ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${origin}: invalid ingest configuration:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}
