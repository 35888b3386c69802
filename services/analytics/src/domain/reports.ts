/**
 * The measures, computed from the aggregates for one query (the scanning ones in scans.ts). Each returns the report message of
 * the AnalyticsService proto, so gRPC, the dashboard's JSON and `kairosctl report` show the same
 * numbers.
 */
import type { analytics } from '@kairos/contracts';
import { anomalyOptions, detectAnomalies } from './anomaly';
import { BUCKET_MS, bucketStart, bucketStarts } from './buckets';
import type { Credit } from './attribution';
import type { AnalyticsState } from './state';
import { passes, type Query } from './query';

export {
  funnelReport,
  liftReport,
  reasonsReport,
  roiReport,
  timingReport,
  type ReportSettings,
} from './scans';

const inRange = (q: Query, at: number) => at >= q.fromMs && at < q.toMs;

/** Triggers of the workflows a filter names (a workflow filter on fires selects their triggers). */
function triggersOfWorkflows(state: AnalyticsState, workflows: readonly string[]): string[] {
  return workflows.flatMap((w) => state.workflows.get(w)?.triggers ?? []);
}

/**
 * Volume series per group, with the anomalies of each. The series are computed from `seasons`
 * periods before the range, so the anomaly rule has its seasonal history on the range's first day.
 */
export function volumeReport(state: AnalyticsState, q: Query): analytics.VolumeReport {
  const options = anomalyOptions(q.granularity);
  const size = BUCKET_MS[q.granularity];
  const lookback = options.seasons * Math.max(...options.periods) * size;
  const fromMs = bucketStart(q.fromMs, q.granularity) - lookback;
  const starts = bucketStarts(fromMs, q.toMs, q.granularity);
  const offset = lookback / size;
  const sums = new Map<string, number[]>();
  const into = (key: string) => {
    let s = sums.get(key);
    if (!s) sums.set(key, (s = new Array<number>(starts.length).fill(0)));
    return s;
  };
  if (q.groupBy === 'workflow') {
    for (const [key, counts] of state.runVolume.byKey) {
      const [workflow, trigger] = key.split('\u0000');
      if (!passes(q.filters.workflows, workflow) || !passes(q.filters.triggers, trigger)) continue;
      counts[q.granularity].addSeriesInto(into(workflow), fromMs, q.toMs);
    }
  } else {
    const viaWorkflows = q.filters.workflows.length ? triggersOfWorkflows(state, q.filters.workflows) : [];
    for (const [key, counts] of state.fires.byKey) {
      const [trigger, category, eventType] = key.split('\u0000');
      if (!passes(q.filters.triggers, trigger)) continue;
      if (q.filters.workflows.length && !viaWorkflows.includes(trigger)) continue;
      const group =
        q.groupBy === 'category' ? category : q.groupBy === 'event_type' ? eventType || '(absence)' : trigger;
      counts[q.granularity].addSeriesInto(into(group), fromMs, q.toMs);
    }
  }
  const series = [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, all]) => {
      const values = all.slice(offset);
      return { key, all, values, total: values.reduce((a, b) => a + b, 0) };
    })
    .filter((s) => s.total > 0)
    .map(({ key, all, values, total }) => ({ key, values, total, anomalies: anomaliesIn(all, offset) }));
  return { granularity: q.granularity, buckets: starts.slice(offset).map((t) => new Date(t)), series };

  function anomaliesIn(all: number[], from: number): analytics.Anomaly[] {
    return detectAnomalies(all, options, from).map((a) => ({
      bucket: new Date(starts[a.index]),
      value: a.value,
      baseline: a.baseline,
      z: a.z,
      kind: a.kind,
    }));
  }
}

/** A credit as the proto has it; the trigger firing comes from the message when the credit predates its request. */
function creditMessage(state: AnalyticsState, c: Credit, customerId: string): analytics.Credit {
  return {
    conversionId: c.conversionId,
    actionId: c.actionId,
    runId: c.runId,
    triggerId: c.triggerId || (state.messages.get(c.actionId)?.triggerId ?? ''),
    workflow: c.workflow,
    trigger: c.trigger,
    channel: c.channel,
    weight: c.weight,
    value: c.value,
    sentAt: new Date(c.sentAt),
    convertedAt: new Date(c.convertedAt),
    customerId,
  };
}

export function attributionReport(state: AnalyticsState, q: Query): analytics.AttributionReport {
  const f = q.filters;
  const out: analytics.Credit[] = [];
  let conversions = 0;
  let attributed = 0;
  let value = 0;
  for (const c of state.conversions.values()) {
    if (!inRange(q, c.at)) continue;
    conversions++;
    const credits = state
      .creditsOf(c.id, q.model)
      .filter(
        (cr) =>
          passes(f.triggers, cr.trigger) &&
          passes(f.workflows, cr.workflow) &&
          passes(f.channels, cr.channel),
      );
    if (credits.length === 0) continue;
    attributed++;
    for (const cr of credits) {
      value += cr.value;
      if (out.length < q.limit) out.push(creditMessage(state, cr, c.customerId));
    }
  }
  return { model: q.model, credits: out, conversions, attributed, attributedValue: value };
}

/** The credits of one message (action id) or one conversion (event id). */
export function traceAttribution(
  state: AnalyticsState,
  id: string,
  model: Query['model'],
): analytics.AttributionReport {
  const credits: analytics.Credit[] = [];
  const conversion = state.conversions.get(id);
  if (conversion) {
    for (const c of state.creditsOf(id, model)) credits.push(creditMessage(state, c, conversion.customerId));
  } else {
    const m = state.messages.get(id);
    for (const c of m ? (state.conversionsByCustomer.get(m.customerId) ?? []) : []) {
      for (const cr of state.creditsOf(c.id, model))
        if (cr.actionId === id) credits.push(creditMessage(state, cr, c.customerId));
    }
  }
  const value = credits.reduce((a, c) => a + c.value, 0);
  return {
    model,
    credits,
    conversions: conversion ? 1 : new Set(credits.map((c) => c.conversionId)).size,
    attributed: credits.length ? 1 : 0,
    attributedValue: value,
  };
}

export function outcomesReport(state: AnalyticsState, q: Query): analytics.OutcomesReport {
  const rows: analytics.OutcomeRow[] = [];
  const f = q.filters;
  let truncated = false;
  for (const m of state.messages.values()) {
    if (!inRange(q, m.at) || !passes(f.triggers, m.trigger) || !passes(f.workflows, m.workflow)) continue;
    if (!passes(f.channels, m.channel) || !passes(f.variants, m.contentVariant)) continue;
    if (rows.length >= q.limit) {
      truncated = true;
      break;
    }
    const times: Record<string, Date> = {};
    for (const [k, v] of Object.entries(m.times)) if (v !== undefined) times[k] = new Date(v);
    rows.push({
      actionId: m.actionId,
      runId: m.runId,
      triggerId: m.triggerId,
      trigger: m.trigger,
      workflow: m.workflow,
      customerId: m.customerId,
      channel: m.channel,
      contentVariant: m.contentVariant,
      timingVariant: m.timingVariant,
      holdout: m.holdout,
      times,
      cost: m.cost,
      attributedValue: m.credited[q.model].value,
      reason: m.reason,
    });
  }
  return { rows, truncated };
}
