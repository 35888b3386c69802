/**
 * The measures over every message or run of a range: funnel, timing, ROI, reasons and lift. Each
 * reads the sums of totals.ts (the rollup cells of the range's whole days, the rows of its partial
 * days); `viaCells` false computes them from the rows alone.
 */
import type { analytics } from '@kairos/contracts';
import { modelIndex } from './columns';
import type { Status } from './facts';
import type { Query } from './query';
import { reasonCategory } from './reasons';
import { roiRows } from './roi';
import { MC, RUN_C, RUN_D } from './rollups';
import type { AnalyticsState } from './state';
import { compareProportions, twoProportionZTest } from './stats';
import { messageTotals, reasonTotals, runTotals } from './totals';

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

/**
 * The funnel of the messages filed in the range. `converted` counts the messages credited with a
 * conversion under the query's model, whenever the conversion happened.
 */
export function funnelReport(state: AnalyticsState, q: Query, viaCells = true): analytics.FunnelReport {
  const k = modelIndex(q.model);
  const t = messageTotals(state.messageCols, q, q.groupBy, { filtered: true, viaCells });
  return {
    rows: t.groups.named(t.names()).map(([key, r]) => ({
      key,
      sent: r[MC.SENT]!,
      delivered: r[MC.DELIVERED]!,
      opened: r[MC.OPENED]!,
      clicked: r[MC.CLICKED]!,
      converted: r[MC.CONVERTED + k]!,
      failed: r[MC.FAILED]!,
      suppressed: r[MC.SUPPRESSED]!,
      attributedValue: r[MC.CONVERTED_VALUE + k]!,
    })),
  };
}

export function timingReport(state: AnalyticsState, q: Query, viaCells = true): analytics.TimingReport {
  const k = modelIndex(q.model);
  const t = messageTotals(state.messageCols, q, q.groupBy, { filtered: true, viaCells });
  const named = t.groups
    .named(t.names())
    .filter(([, g]) => g[MC.SENT]! > 0)
    .map(([key, g]) => ({
      key,
      sent: g[MC.SENT]!,
      opened: g[MC.SENT_OPENED]!,
      clicked: g[MC.SENT_CLICKED]!,
      converted: g[MC.CONVERTED + k]!,
    }));
  let ref: (typeof named)[number] | undefined;
  for (const e of named) if (!ref || e.sent > ref.sent) ref = e;
  const rows = named.map((g) => {
    const test =
      ref && g.key !== ref.key
        ? twoProportionZTest(g.converted, g.sent, ref.converted, ref.sent)
        : { z: 0, pValue: 1 };
    return {
      key: g.key,
      sent: g.sent,
      openRate: g.opened / g.sent,
      clickRate: g.clicked / g.sent,
      conversionRate: g.converted / g.sent,
      z: test.z,
      pValue: test.pValue,
      significant: test.pValue < 0.05,
      reference: g.key === ref?.key,
    };
  });
  return {
    rows,
    method: 'conversion rate against the largest group: two-sided two-proportion z-test (pooled), 5% level',
  };
}

export function roiReport(
  state: AnalyticsState,
  q: Query,
  s: ReportSettings,
  viaCells = true,
): analytics.RoiReport {
  const c = state.messageCols;
  const k = modelIndex(q.model);
  // The infrastructure cost is shared by every message sent in the period, filtered or not.
  let total = 0;
  const all = messageTotals(c, q, 'trigger', { filtered: false, viaCells });
  for (const g of all.groups.byId) if (g) total += g[MC.SENT]!;
  const groupBy = q.groupBy === 'workflow' ? 'workflow' : 'trigger';
  const t = messageTotals(c, q, groupBy, { filtered: true, channelCosts: s.channelCosts, viaCells });
  const inputs = t.groups
    .named(t.names())
    .filter(([, r]) => r[MC.SENT]! > 0)
    .map(([key, r]) => ({
      key,
      attributedValue: r[MC.SENT_VALUE + k]!,
      messageCost: r[MC.COST]!,
      messages: r[MC.SENT]!,
    }));
  return {
    rows: roiRows(inputs, s.infraCostPerDay, q.toMs - q.fromMs, total).map((r) => ({
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

/** The statuses the reasons report counts, in the order of MessageColumns.reasonTimes. */
const REASON_STATUSES: Status[] = ['suppressed', 'failed', 'held_out', 'unknown'];

/** Suppressed, failed, held-out and unknown outcomes in the range, by reason or reason category. */
export function reasonsReport(state: AnalyticsState, q: Query, viaCells = true): analytics.ReasonsReport {
  const reasons = state.messageCols.dims.reason.names;
  const rows = new Map<string, analytics.ReasonRow>();
  for (const [memo, count] of reasonTotals(state.messageCols, q, viaCells)) {
    if (count === 0) continue;
    const status = REASON_STATUSES[memo % 4]!;
    const reason = reasons[Math.floor(memo / 4)]!;
    const key = q.groupBy === 'reason' ? reason || '(none)' : reasonCategory(status, reason);
    const id = `${status}\u0000${key}`;
    let r = rows.get(id);
    if (!r) rows.set(id, (r = { key, status, count: 0 }));
    r.count += count;
  }
  return { rows: [...rows.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)) };
}

interface Tally {
  n: number;
  x: number;
}

/**
 * Lift against the holdout: runs entered in the range, per workflow (or trigger, or content
 * variant against its workflow's holdout), converted or not (see state.ts), and against batch
 * campaign sends when there are any.
 */
export function liftReport(
  state: AnalyticsState,
  q: Query,
  s: ReportSettings,
  viaCells = true,
): analytics.LiftReport {
  const c = state.runCols;
  const byTrigger = q.groupBy === 'trigger';
  const treatedDim = byTrigger ? RUN_D.TRIGGER : q.groupBy === 'variant' ? RUN_D.VARIANT_KEY : RUN_D.WORKFLOW;
  const controlDim = byTrigger ? RUN_D.TRIGGER : RUN_D.WORKFLOW;
  const totals = runTotals(c, q, treatedDim, controlDim, viaCells);
  // Groups with runs, as tallies by name.
  const tallies = (groups: typeof totals.treated) => ({
    named: (names: readonly string[]) =>
      groups
        .named(names)
        .filter(([, g]) => g[RUN_C.N]! > 0)
        .map(([k, g]): [string, Tally] => [k, { n: g[RUN_C.N]!, x: g[RUN_C.CONVERTED]! }]),
  });
  const treated = tallies(totals.treated);
  const control = tallies(totals.control);
  let campaign: Tally | undefined;
  if (state.campaignSends.length) {
    campaign = { n: 0, x: 0 };
    const cc = s.campaignConversion;
    for (const send of state.campaignSends) {
      if (send.at < q.fromMs || send.at >= q.toMs) continue;
      campaign.n++;
      for (const conv of state.conversionsByCustomer.get(send.customerId) ?? []) {
        if (conv.type === cc.event && conv.at >= send.at && conv.at - send.at <= cc.withinMs) {
          campaign.x++;
          break;
        }
      }
    }
  }
  const controlNames = byTrigger ? c.dims.trigger.names : c.dims.workflow.names;
  const controlByName = new Map(control.named(controlNames));
  const treatedNames = byTrigger
    ? c.dims.trigger.names
    : q.groupBy === 'variant'
      ? c.dims.variantKey.names
      : c.dims.workflow.names;
  const row = (key: string, baseline: string, t: Tally, ctl: Tally): analytics.LiftRow => {
    const cmp = compareProportions(t.x, t.n, ctl.x, ctl.n, s.confidence);
    return {
      key,
      baseline,
      treated: { n: t.n, conversions: t.x, rate: cmp.treated.rate },
      control: { n: ctl.n, conversions: ctl.x, rate: cmp.control.rate },
      absoluteLift: cmp.absoluteLift,
      absoluteCi: cmp.absoluteCi,
      ...(cmp.relativeLift === null ? {} : { relativeLift: cmp.relativeLift }),
      relativeCi: cmp.relativeCi ?? undefined,
      z: cmp.test.z,
      pValue: cmp.test.pValue,
      significant: cmp.significant,
    };
  };
  const rows: analytics.LiftRow[] = [];
  for (const [key, t] of treated.named(treatedNames)) {
    const controlKey = q.groupBy === 'variant' ? key.split('/')[0] : key;
    rows.push(row(key, 'holdout', t, controlByName.get(controlKey) ?? { n: 0, x: 0 }));
    if (campaign && campaign.n > 0) rows.push(row(key, 'campaign', t, campaign));
  }
  return {
    rows,
    method:
      'absolute lift: Newcombe hybrid score interval (method 10, Wilson limits); relative lift: Katz log interval of the rate ratio; test: two-sided two-proportion z-test (pooled)',
    confidence: s.confidence,
  };
}
