/**
 * The measures, computed from the aggregates for one query. Each returns the report message of
 * the AnalyticsService proto, so gRPC, the dashboard's JSON and `kairosctl report` show the same
 * numbers.
 */
import type { analytics } from '@kairos/contracts';
import { anomalyOptions, detectAnomalies } from './anomaly';
import { BUCKET_MS, bucketStart, bucketStarts } from './buckets';
import type { Credit } from './attribution';
import { reasonCategory } from './reasons';
import type { Status } from './facts';
import { messageCost, roiRows, type RoiInput } from './roi';
import { earned, type AnalyticsState, type MessageRow, type RunRow } from './state';
import { compareProportions, twoProportionZTest } from './stats';
import { passes, type Query } from './query';

/** Settings reports need besides the query. */
export interface ReportSettings {
  /** Configured cost per message of each channel, used when an outcome carries none. */
  channelCosts: Record<string, number>;
  /** Infrastructure cost per day, allocated to triggers and workflows by message share. */
  infraCostPerDay: number;
  /** How a batch campaign send is judged: conversions of this type within this window. */
  campaignConversion: { event: string; withinMs: number };
  confidence: number;
}

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
      return { key, values, total: values.reduce((a, b) => a + b, 0), anomalies: anomaliesIn(all, offset) };
    })
    .filter((s) => s.total > 0);
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

const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));

function messageGroup(m: MessageRow, groupBy: string): string {
  switch (groupBy) {
    case 'workflow':
      return m.workflow;
    case 'variant':
      return m.variantKey;
    case 'channel':
      return m.channel || '(none)';
    case 'timing_variant':
      return m.timingKey;
    case 'send_hour':
      return HOURS[Math.floor((m.times.sent ?? m.at) / 3_600_000) % 24];
    case 'sto':
      return m.sto ? 'optimized' : 'not_optimized';
    default:
      return m.trigger;
  }
}

/** Calls `fn` for the messages (not held-out runs nor escalations) filed in the range that pass the filters. */
function eachMessage(state: AnalyticsState, q: Query, fn: (m: MessageRow) => void): void {
  const f = q.filters;
  const all = !f.triggers.length && !f.workflows.length && !f.channels.length && !f.variants.length;
  for (const m of state.messages.values()) {
    if (m.holdout || m.escalation || m.at < q.fromMs || m.at >= q.toMs) continue;
    if (!all) {
      if (!passes(f.triggers, m.trigger) || !passes(f.workflows, m.workflow)) continue;
      if (!passes(f.channels, m.channel) || !passes(f.variants, m.contentVariant)) continue;
    }
    fn(m);
  }
}

/**
 * The funnel of the messages filed in the range. `converted` counts the messages credited with a
 * conversion under the query's model, whenever the conversion happened.
 */
export function funnelReport(state: AnalyticsState, q: Query): analytics.FunnelReport {
  const rows = new Map<string, analytics.FunnelRow>();
  eachMessage(state, q, (m) => {
    const key = messageGroup(m, q.groupBy);
    let r = rows.get(key);
    if (!r) {
      r = {
        key,
        sent: 0,
        delivered: 0,
        opened: 0,
        clicked: 0,
        converted: 0,
        failed: 0,
        suppressed: 0,
        attributedValue: 0,
      };
      rows.set(key, r);
    }
    const t = m.times;
    if (t.sent !== undefined) r.sent++;
    if (t.delivered !== undefined) r.delivered++;
    if (t.opened !== undefined) r.opened++;
    if (t.clicked !== undefined) r.clicked++;
    if (t.failed !== undefined && t.sent === undefined) r.failed++;
    if (t.suppressed !== undefined && t.sent === undefined) r.suppressed++;
    if (t.sent !== undefined && earned(m, q.model)) {
      r.converted++;
      r.attributedValue += m.credited[q.model].value;
    }
  });
  return { rows: [...rows.values()].sort((a, b) => (a.key < b.key ? -1 : 1)) };
}

/** Whether the customer converted (the workflow's conversion event) within its window after `at`. */
function convertedAfter(
  state: AnalyticsState,
  customerId: string,
  event: string,
  at: number,
  withinMs: number,
): boolean {
  for (const c of state.conversionsByCustomer.get(customerId) ?? []) {
    if (c.type === event && c.at >= at && c.at - at <= withinMs) return true;
  }
  return false;
}

interface Tally {
  n: number;
  x: number;
}
const tally = (m: Map<string, Tally>, key: string, converted: boolean) => {
  let t = m.get(key);
  if (!t) m.set(key, (t = { n: 0, x: 0 }));
  t.n++;
  if (converted) t.x++;
};

function runGroup(r: RunRow, groupBy: string): string {
  if (groupBy === 'trigger') return r.trigger;
  if (groupBy === 'variant') return `${r.workflow}/${r.contentVariant || 'default'}`;
  return r.workflow;
}

export function liftReport(state: AnalyticsState, q: Query, s: ReportSettings): analytics.LiftReport {
  const treated = new Map<string, Tally>();
  const control = new Map<string, Tally>();
  const f = q.filters;
  for (const r of state.runs.values()) {
    if (!inRange(q, r.enteredAt) || !passes(f.triggers, r.trigger) || !passes(f.workflows, r.workflow))
      continue;
    if (!r.holdout && !passes(f.variants, r.contentVariant)) continue;
    if (!state.workflows.get(r.workflow)?.conversion) continue;
    const converted = r.converted;
    // Held-out runs have no content variant: every variant of a workflow is compared with its holdout.
    if (r.holdout) tally(control, q.groupBy === 'trigger' ? r.trigger : r.workflow, converted);
    else tally(treated, runGroup(r, q.groupBy), converted);
  }
  let campaign: Tally | undefined;
  if (state.campaignSends.length) {
    campaign = { n: 0, x: 0 };
    const cc = s.campaignConversion;
    for (const c of state.campaignSends) {
      if (!inRange(q, c.at)) continue;
      campaign.n++;
      if (convertedAfter(state, c.customerId, cc.event, c.at, cc.withinMs)) campaign.x++;
    }
  }
  const rows: analytics.LiftRow[] = [];
  const row = (key: string, baseline: string, t: Tally, c: Tally): analytics.LiftRow => {
    const cmp = compareProportions(t.x, t.n, c.x, c.n, s.confidence);
    return {
      key,
      baseline,
      treated: { n: t.n, conversions: t.x, rate: cmp.treated.rate },
      control: { n: c.n, conversions: c.x, rate: cmp.control.rate },
      absoluteLift: cmp.absoluteLift,
      absoluteCi: cmp.absoluteCi,
      ...(cmp.relativeLift === null ? {} : { relativeLift: cmp.relativeLift }),
      relativeCi: cmp.relativeCi ?? undefined,
      z: cmp.test.z,
      pValue: cmp.test.pValue,
      significant: cmp.significant,
    };
  };
  for (const [key, t] of [...treated.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const controlKey = q.groupBy === 'variant' ? key.split('/')[0] : key;
    rows.push(row(key, 'holdout', t, control.get(controlKey) ?? { n: 0, x: 0 }));
    if (campaign && campaign.n > 0) rows.push(row(key, 'campaign', t, campaign));
  }
  return {
    rows,
    method:
      'absolute lift: Newcombe hybrid score interval (method 10, Wilson limits); relative lift: Katz log interval of the rate ratio; test: two-sided two-proportion z-test (pooled)',
    confidence: s.confidence,
  };
}

export function timingReport(state: AnalyticsState, q: Query): analytics.TimingReport {
  const groups = new Map<string, { sent: number; opened: number; clicked: number; converted: number }>();
  eachMessage(state, q, (m) => {
    if (m.times.sent === undefined) return;
    const key = messageGroup(m, q.groupBy);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { sent: 0, opened: 0, clicked: 0, converted: 0 }));
    g.sent++;
    if (m.times.opened !== undefined) g.opened++;
    if (m.times.clicked !== undefined) g.clicked++;
    if (earned(m, q.model)) g.converted++;
  });
  let reference: string | undefined;
  for (const [k, g] of groups) if (!reference || g.sent > groups.get(reference)!.sent) reference = k;
  const ref = reference ? groups.get(reference)! : undefined;
  const rows = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, g]) => {
      const test =
        ref && key !== reference
          ? twoProportionZTest(g.converted, g.sent, ref.converted, ref.sent)
          : { z: 0, pValue: 1 };
      return {
        key,
        sent: g.sent,
        openRate: g.opened / g.sent,
        clickRate: g.clicked / g.sent,
        conversionRate: g.converted / g.sent,
        z: test.z,
        pValue: test.pValue,
        significant: test.pValue < 0.05,
        reference: key === reference,
      };
    });
  return {
    rows,
    method: 'conversion rate against the largest group: two-sided two-proportion z-test (pooled), 5% level',
  };
}

export function roiReport(state: AnalyticsState, q: Query, s: ReportSettings): analytics.RoiReport {
  const inputs = new Map<string, RoiInput>();
  // The infrastructure cost is shared by every message of the period, filtered or not.
  const everything = { ...q, filters: { triggers: [], workflows: [], channels: [], variants: [] } };
  let total = 0;
  eachMessage(state, everything, (m) => {
    if (m.times.sent !== undefined) total++;
  });
  eachMessage(state, q, (m) => {
    if (m.times.sent === undefined) return;
    const key = q.groupBy === 'workflow' ? m.workflow : m.trigger;
    let r = inputs.get(key);
    if (!r) inputs.set(key, (r = { key, attributedValue: 0, messageCost: 0, messages: 0 }));
    r.messages++;
    r.messageCost += messageCost(m.cost, m.channel, s.channelCosts);
    r.attributedValue += m.credited[q.model].value;
  });
  const rows = roiRows([...inputs.values()], s.infraCostPerDay, q.toMs - q.fromMs, total);
  return {
    rows: rows
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .map((r) => ({
        key: r.key,
        messages: r.messages,
        attributedValue: r.attributedValue,
        messageCost: r.messageCost,
        infraCost: r.infraCost,
        totalCost: r.totalCost,
        net: r.net,
        ...(r.roi === null ? {} : { roi: r.roi }),
      })),
  };
}

const categories = new Map<string, string>();
/** reasonCategory, remembered: reasons repeat a lot. */
function categoryOf(status: Status, reason: string): string {
  const k = `${status}\u0000${reason}`;
  let c = categories.get(k);
  if (c === undefined) {
    if (categories.size > 10_000) categories.clear();
    categories.set(k, (c = reasonCategory(status, reason)));
  }
  return c;
}

export function reasonsReport(state: AnalyticsState, q: Query): analytics.ReasonsReport {
  const counts = new Map<string, analytics.ReasonRow>();
  const f = q.filters;
  for (const m of state.messages.values()) {
    if (!passes(f.triggers, m.trigger) || !passes(f.workflows, m.workflow) || !passes(f.channels, m.channel))
      continue;
    for (const status of ['suppressed', 'failed', 'held_out', 'unknown'] as const) {
      const at = m.times[status];
      if (at === undefined || !inRange(q, at)) continue;
      const key = q.groupBy === 'reason' ? m.reason || '(none)' : categoryOf(status, m.reason);
      const id = `${status}\u0000${key}`;
      const r = counts.get(id) ?? { key, status, count: 0 };
      r.count++;
      counts.set(id, r);
    }
  }
  return { rows: [...counts.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)) };
}

function creditMessage(c: Credit, customerId: string): analytics.Credit {
  return {
    conversionId: c.conversionId,
    actionId: c.actionId,
    runId: c.runId,
    triggerId: c.triggerId,
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
      if (out.length < q.limit) out.push(creditMessage(cr, c.customerId));
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
    for (const c of state.creditsOf(id, model)) credits.push(creditMessage(c, conversion.customerId));
  } else {
    const m = state.messages.get(id);
    for (const c of m ? (state.conversionsByCustomer.get(m.customerId) ?? []) : []) {
      for (const cr of state.creditsOf(c.id, model))
        if (cr.actionId === id) credits.push(creditMessage(cr, c.customerId));
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
