/**
 * A report query as the domain reads it, and its checks. Every problem names the request field
 * (`query.group_by`), so the gRPC layer answers INVALID_ARGUMENT with it and the CLI and dashboard
 * show it as it is.
 */
import { ATTRIBUTION_MODELS, type AttributionModel } from './attribution';
import { GRANULARITIES, type Granularity, BUCKET_MS } from './buckets';

export const MEASURES = [
  'volume',
  'funnel',
  'lift',
  'timing',
  'roi',
  'reasons',
  'attribution',
  'outcomes',
] as const;
export type Measure = (typeof MEASURES)[number];

/** Allowed groupings per measure; the first is the default. */
export const GROUPINGS: Record<Measure, readonly string[]> = {
  volume: ['trigger', 'workflow', 'category', 'event_type'],
  funnel: ['trigger', 'workflow', 'variant', 'channel'],
  lift: ['workflow', 'trigger', 'variant'],
  timing: ['timing_variant', 'send_hour', 'sto'],
  roi: ['trigger', 'workflow'],
  reasons: ['category', 'reason'],
  attribution: ['none'],
  outcomes: ['none'],
};

export interface Filters {
  triggers: string[];
  workflows: string[];
  channels: string[];
  variants: string[];
}

export interface Query {
  fromMs: number;
  toMs: number;
  groupBy: string;
  filters: Filters;
  granularity: Granularity;
  model: AttributionModel;
  limit: number;
}

export interface RawQuery {
  fromMs?: number;
  toMs?: number;
  groupBy?: string;
  filters?: Partial<Filters>;
  granularity?: string;
  model?: string;
  limit?: number;
}

export const DEFAULT_RANGE_MS = 7 * 86_400_000;
export const DEFAULT_LIMIT = 1_000;
/** Most buckets one volume series may have (a year of hours is 8760). */
export const MAX_BUCKETS = 20_000;

export class QueryError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'QueryError';
  }
}

/** The query with defaults applied, or a QueryError naming the first bad field. */
export function normalizeQuery(measure: Measure, raw: RawQuery, nowMs: number): Query {
  const toMs = raw.toMs ?? nowMs;
  const fromMs = raw.fromMs ?? toMs - DEFAULT_RANGE_MS;
  if (!(fromMs < toMs))
    throw new QueryError(
      'query.from',
      `must be before query.to (${new Date(fromMs).toISOString()} ≥ ${new Date(toMs).toISOString()})`,
    );
  const groupings = GROUPINGS[measure];
  const groupBy = raw.groupBy || groupings[0];
  if (!groupings.includes(groupBy)) {
    throw new QueryError(
      'query.group_by',
      `'${groupBy}' is not a grouping of ${measure} (one of ${groupings.join(', ')})`,
    );
  }
  const granularity = (raw.granularity || 'hour') as Granularity;
  if (!GRANULARITIES.includes(granularity)) {
    throw new QueryError(
      'query.granularity',
      `'${raw.granularity}' is not one of ${GRANULARITIES.join(', ')}`,
    );
  }
  if (measure === 'volume' && (toMs - fromMs) / BUCKET_MS[granularity] > MAX_BUCKETS) {
    throw new QueryError(
      'query.granularity',
      `${granularity} buckets over this range exceed ${MAX_BUCKETS}; use a coarser granularity or a shorter range`,
    );
  }
  const model = (raw.model || 'last') as AttributionModel;
  if (!ATTRIBUTION_MODELS.includes(model)) {
    throw new QueryError(
      'query.attribution_model',
      `'${raw.model}' is not one of ${ATTRIBUTION_MODELS.join(', ')}`,
    );
  }
  const f = raw.filters ?? {};
  const filters: Filters = { triggers: [], workflows: [], channels: [], variants: [] };
  for (const k of ['triggers', 'workflows', 'channels', 'variants'] as const) {
    const list = f[k] ?? [];
    list.forEach((v, i) => {
      if (!v) throw new QueryError(`query.filters.${k}[${i}]`, 'must not be empty');
    });
    filters[k] = list;
  }
  return { fromMs, toMs, groupBy, filters, granularity, model, limit: raw.limit || DEFAULT_LIMIT };
}

/** Whether a value passes a filter list (empty: everything passes). */
export const passes = (list: readonly string[], value: string) => list.length === 0 || list.includes(value);
