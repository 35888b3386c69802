import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Domain settings of enrichment: journey rules, date-attribute rules and purchase event types.
 * Parsed from the optional YAML file named by KAIROS_ENRICHMENT_CONFIG (read by config.ts's
 * loadSettings); every section has defaults.
 */
export interface JourneyRule {
  stage: string;
  /** CEL condition over `profile`, `traits`, `counters`, `days_since_last_seen`, `days_since_first_seen`. */
  when: string;
}

export interface DateRule {
  /** Rule name, part of the occurrence id (`time:<customer>:<rule>:<date>`). */
  name: string;
  /** Key in `profile.dates` holding an ISO date (YYYY-MM-DD). */
  attribute: string;
  /** Event type emitted, e.g. `date.birthday`. */
  eventType: string;
  /** Days relative to the date: -7 fires a week before. */
  offsetDays: number;
  /** Local wall-clock time (HH:mm) in the customer's time zone. */
  at: string;
  /** `yearly` repeats on every anniversary; `once` fires for the date itself only. */
  recurrence: 'yearly' | 'once';
}

export interface EnrichmentSettings {
  journey: { rules: JourneyRule[]; defaultStage: string };
  dateRules: DateRule[];
  purchaseEventTypes: string[];
  /** Property carrying the purchase amount. */
  revenueProperty: string;
  /** Event types whose properties update the profile (traits, contacts, consent, time_zone, dates). */
  profileEventTypes: string[];
  /** Embedded `recent_communications` bound. */
  recentCommunications: number;
  /** A due time-based occurrence older than this is skipped instead of fired late (ms). */
  maxLatenessMs: number;
}

export const DEFAULT_SETTINGS: EnrichmentSettings = {
  journey: {
    // First matching rule wins; order matters.
    rules: [
      { stage: 'churned', when: 'days_since_last_seen >= 90' },
      { stage: 'at_risk', when: 'days_since_last_seen >= 30' },
      { stage: 'loyal', when: 'counters.purchases >= 3' },
      { stage: 'active', when: 'counters.purchases >= 1 || counters.total_events >= 5' },
    ],
    defaultStage: 'new',
  },
  dateRules: [
    {
      name: 'birthday',
      attribute: 'birthday',
      eventType: 'date.birthday',
      offsetDays: 0,
      at: '09:00',
      recurrence: 'yearly',
    },
    {
      name: 'renewal-reminder',
      attribute: 'renewal_date',
      eventType: 'date.renewal_upcoming',
      offsetDays: -7,
      at: '09:00',
      recurrence: 'yearly',
    },
    {
      name: 'trial-end',
      attribute: 'trial_end',
      eventType: 'date.trial_end',
      offsetDays: 0,
      at: '09:00',
      recurrence: 'once',
    },
  ],
  purchaseEventTypes: ['order.completed', 'purchase'],
  revenueProperty: 'revenue',
  profileEventTypes: ['profile.updated', 'identify'],
  recentCommunications: 20,
  maxLatenessMs: 24 * 3_600_000,
};

const RULE_NAME = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;
const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;

const fileSchema = z
  .object({
    journey: z
      .object({
        rules: z.array(z.object({ stage: z.string().min(1), when: z.string().min(1) }).strict()),
        default: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    dateRules: z
      .array(
        z
          .object({
            name: z.string().regex(RULE_NAME, 'lower-case letters, digits, - and _'),
            attribute: z.string().min(1),
            eventType: z.string().regex(EVENT_TYPE, 'a dotted lower-case event type'),
            offsetDays: z.number().int().min(-366).max(366).default(0),
            at: z
              .string()
              .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:mm')
              .default('09:00'),
            recurrence: z.enum(['yearly', 'once']).default('yearly'),
          })
          .strict(),
      )
      .optional(),
    purchaseEventTypes: z.array(z.string().regex(EVENT_TYPE)).optional(),
    revenueProperty: z.string().min(1).optional(),
    profileEventTypes: z.array(z.string().regex(EVENT_TYPE)).optional(),
    recentCommunications: z.number().int().min(1).max(200).optional(),
    maxLatenessHours: z.number().min(0).optional(),
  })
  .strict();

/** Parses a YAML settings document; errors name the path of the bad field. */
export function parseSettings(yamlText: string, source = 'enrichment config'): EnrichmentSettings {
  const raw = (parseYaml(yamlText) ?? {}) as unknown;
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: ${problems.join('; ')}`);
  }
  const f = result.data;
  const names = new Set<string>();
  for (const r of f.dateRules ?? []) {
    if (names.has(r.name)) throw new Error(`${source}: dateRules: duplicate rule name '${r.name}'`);
    names.add(r.name);
  }
  return {
    journey: {
      rules: f.journey?.rules ?? DEFAULT_SETTINGS.journey.rules,
      defaultStage: f.journey?.default ?? DEFAULT_SETTINGS.journey.defaultStage,
    },
    dateRules: f.dateRules ?? DEFAULT_SETTINGS.dateRules,
    purchaseEventTypes: f.purchaseEventTypes ?? DEFAULT_SETTINGS.purchaseEventTypes,
    revenueProperty: f.revenueProperty ?? DEFAULT_SETTINGS.revenueProperty,
    profileEventTypes: f.profileEventTypes ?? DEFAULT_SETTINGS.profileEventTypes,
    recentCommunications: f.recentCommunications ?? DEFAULT_SETTINGS.recentCommunications,
    maxLatenessMs:
      f.maxLatenessHours !== undefined ? f.maxLatenessHours * 3_600_000 : DEFAULT_SETTINGS.maxLatenessMs,
  };
}
