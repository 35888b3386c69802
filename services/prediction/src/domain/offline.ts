/**
 * Offline prediction over an event history (what `kairosctl predict --events` runs): the engine is
 * trained on the history before `asOf` (labels of snapshots whose horizon ended before `asOf`) and
 * every customer is scored at `asOf`. Pure: the caller reads the file.
 */
import { DAY_MS, type FeatureEvent } from './features';
import { PredictionEngine, type EngineOptions } from './engine';

/**
 * One NDJSON record as an event: `customerId`|`customer_id`, `type`, `occurredAt`|`occurred_at`
 * (ISO 8601 or epoch ms), optional `category`, and the order value from `properties.revenue`
 * (or `value`/`amount`). An enriched envelope (`{event: {...}}`) is unwrapped. Returns a message
 * naming the field when the record is unusable.
 */
export function parseEventRecord(json: unknown): FeatureEvent | string {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return 'expected a JSON object';
  let o = json as Record<string, unknown>;
  if (o.event && typeof o.event === 'object') o = o.event as Record<string, unknown>;
  const customerId = o.customerId ?? o.customer_id;
  if (typeof customerId !== 'string' || !customerId) return 'customerId (customer_id) is required';
  if (typeof o.type !== 'string' || !o.type) return 'type is required';
  const when = o.occurredAt ?? o.occurred_at;
  const at = typeof when === 'number' ? when : typeof when === 'string' ? Date.parse(when) : NaN;
  if (!Number.isFinite(at)) return 'occurredAt (occurred_at) is required: an ISO 8601 time or epoch ms';
  const props = (o.properties && typeof o.properties === 'object' ? o.properties : {}) as Record<
    string,
    unknown
  >;
  const value = [props.revenue, props.value, props.amount].find(
    (v) => typeof v === 'number' || typeof v === 'string',
  );
  const revenue = value === undefined ? undefined : Number(value);
  const category =
    typeof o.category === 'string' ? o.category.toLowerCase().replace(/^event_category_/, '') : undefined;
  return { customerId, type: o.type, at, revenue: Number.isFinite(revenue) ? revenue : undefined, category };
}

export interface OfflineOptions {
  asOf: number;
  horizonDays: number;
  churnDays?: number;
  /** Labels a model needs before its own score is used (below: the prior rate). Default 200. */
  minExamples?: number;
  engine?: Partial<EngineOptions>;
}

export interface OfflineRow {
  customerId: string;
  model: 'churn' | 'purchase';
  score: number;
  /** Baseline beside the model: churn → days since last activity; purchase → BG/NBD expected purchases. */
  baseline: number;
  /** BG/NBD P(alive). */
  pAlive: number;
  coldStart: boolean;
}

export interface OfflineResult {
  rows: OfflineRow[];
  customers: number;
  events: number;
  /** Events after `asOf`, not used. */
  skipped: number;
  examples: { churn: number; purchase: number };
}

export function predictOffline(events: readonly FeatureEvent[], o: OfflineOptions): OfflineResult {
  if (!Number.isFinite(o.asOf)) throw new Error('asOf: not a valid time');
  const engine = new PredictionEngine({
    ...o.engine,
    horizonDays: o.horizonDays,
    churnDays: o.churnDays ?? o.horizonDays,
    minExamples: o.minExamples ?? 200,
  });
  const ordered = events.filter((e) => e.at <= o.asOf).sort((a, b) => a.at - b.at);
  for (const e of ordered) engine.process(e);
  engine.advanceTo(o.asOf);
  const rows: OfflineRow[] = [];
  const ids = Array.from(engine.store.values(), (s) => s.id).sort();
  for (const id of ids) {
    const s = engine.score(id, o.asOf)!;
    const recency = Math.round(s.baseline.recencyDays * 1000) / 1000;
    rows.push({
      customerId: id,
      model: 'churn',
      score: s.churn,
      baseline: recency,
      pAlive: s.baseline.pAlive,
      coldStart: s.coldStart.churn,
    });
    rows.push({
      customerId: id,
      model: 'purchase',
      score: s.purchase,
      baseline: s.baseline.expectedPurchases,
      pAlive: s.baseline.pAlive,
      coldStart: s.coldStart.purchase,
    });
  }
  return {
    rows,
    customers: ids.length,
    events: ordered.length,
    skipped: events.length - ordered.length,
    examples: { churn: engine.churn.examples, purchase: engine.purchase.examples },
  };
}

export const daysToMs = (d: number) => d * DAY_MS;
