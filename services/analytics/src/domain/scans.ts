/**
 * The measures that scan every message or run of a range: funnel, timing, ROI, reasons and lift.
 * Each is one pass over the column-wise copies (see columns.ts): filters are masks over interned
 * ids, groups are integer ids, and the counts go into arrays indexed by group.
 */
import type { analytics } from '@kairos/contracts';
import { M, modelIndex, R, type Interner, type MessageColumns } from './columns';
import type { Status } from './facts';
import type { Query } from './query';
import { reasonCategory } from './reasons';
import { messageCost, roiRows } from './roi';
import type { AnalyticsState } from './state';
import { compareProportions, twoProportionZTest } from './stats';

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

const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));

/** The filter masks of a query over the message columns (null: the filter lets everything pass). */
function messageMasks(c: MessageColumns, q: Query) {
  const f = q.filters;
  return {
    trigger: c.dims.trigger.mask(f.triggers),
    workflow: c.dims.workflow.mask(f.workflows),
    channel: c.dims.channel.mask(f.channels),
    variant: c.dims.variant.mask(f.variants),
  };
}

/**
 * Calls `fn(i)` for each live message (not a held-out run, not an escalation) filed in the range
 * that passes the filters.
 */
function scanMessages(c: MessageColumns, q: Query, filtered: boolean, fn: (i: number) => void): void {
  const m = filtered ? messageMasks(c, q) : { trigger: null, workflow: null, channel: null, variant: null };
  const { at, flags, trigger, workflow, channel, variant } = c;
  const { fromMs, toMs } = q;
  const skip = M.HOLDOUT | M.ESCALATION;
  for (let i = 0; i < c.size; i++) {
    const fl = flags[i];
    if (!(fl & M.ALIVE) || fl & skip) continue;
    const t = at[i];
    if (t < fromMs || t >= toMs) continue;
    if (m.trigger && !m.trigger[trigger[i]]) continue;
    if (m.workflow && !m.workflow[workflow[i]]) continue;
    if (m.channel && !m.channel[channel[i]]) continue;
    if (m.variant && !m.variant[variant[i]]) continue;
    fn(i);
  }
}

/** The group of message i under `groupBy`: an id and the interner (or names) that spells it. */
function messageGrouping(
  c: MessageColumns,
  groupBy: string,
): { of: (i: number) => number; names: () => readonly string[] } {
  const by = (ids: Int32Array, dim: Interner) => ({ of: (i: number) => ids[i], names: () => dim.names });
  switch (groupBy) {
    case 'workflow':
      return by(c.workflow, c.dims.workflow);
    case 'variant':
      return by(c.variantKey, c.dims.variantKey);
    case 'channel':
      return { of: (i) => c.channel[i], names: () => c.dims.channel.names.map((n) => n || '(none)') };
    case 'timing_variant':
      return by(c.timingKey, c.dims.timingKey);
    case 'send_hour':
      return { of: (i) => Math.floor(c.sentAt[i] / 3_600_000) % 24, names: () => HOURS };
    case 'sto':
      return { of: (i) => (c.flags[i] & M.STO ? 1 : 0), names: () => ['not_optimized', 'optimized'] };
    default:
      return by(c.trigger, c.dims.trigger);
  }
}

/** Per-group counters, created on first use. */
class Groups<T> {
  readonly byId: Array<T | undefined> = [];
  constructor(private readonly make: () => T) {}
  at(id: number): T {
    let g = this.byId[id];
    if (!g) this.byId[id] = g = this.make();
    return g;
  }
  /** [name, counters] of the used groups, by name. */
  named(names: readonly string[]): Array<[string, T]> {
    const out: Array<[string, T]> = [];
    this.byId.forEach((g, id) => {
      if (g) out.push([names[id], g]);
    });
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/**
 * The funnel of the messages filed in the range. `converted` counts the messages credited with a
 * conversion under the query's model, whenever the conversion happened.
 */
export function funnelReport(state: AnalyticsState, q: Query): analytics.FunnelReport {
  const c = state.messageCols;
  const k = modelIndex(q.model);
  const weight = c.creditWeight[k];
  const value = c.creditValue[k];
  const grouping = messageGrouping(c, q.groupBy);
  const groups = new Groups(() => ({
    sent: 0,
    delivered: 0,
    opened: 0,
    clicked: 0,
    converted: 0,
    failed: 0,
    suppressed: 0,
    attributedValue: 0,
  }));
  scanMessages(c, q, true, (i) => {
    const r = groups.at(grouping.of(i));
    const fl = c.flags[i];
    if (fl & M.SENT) {
      r.sent++;
      if (weight[i] > 1e-9) {
        r.converted++;
        r.attributedValue += value[i];
      }
    } else {
      if (fl & M.FAILED) r.failed++;
      if (fl & M.SUPPRESSED) r.suppressed++;
    }
    if (fl & M.DELIVERED) r.delivered++;
    if (fl & M.OPENED) r.opened++;
    if (fl & M.CLICKED) r.clicked++;
  });
  return { rows: groups.named(grouping.names()).map(([key, r]) => ({ key, ...r })) };
}

export function timingReport(state: AnalyticsState, q: Query): analytics.TimingReport {
  const c = state.messageCols;
  const weight = c.creditWeight[modelIndex(q.model)];
  const grouping = messageGrouping(c, q.groupBy);
  const groups = new Groups(() => ({ sent: 0, opened: 0, clicked: 0, converted: 0 }));
  scanMessages(c, q, true, (i) => {
    const fl = c.flags[i];
    if (!(fl & M.SENT)) return;
    const g = groups.at(grouping.of(i));
    g.sent++;
    if (fl & M.OPENED) g.opened++;
    if (fl & M.CLICKED) g.clicked++;
    if (weight[i] > 1e-9) g.converted++;
  });
  const named = groups.named(grouping.names());
  let ref: [string, { sent: number; converted: number }] | undefined;
  for (const e of named) if (!ref || e[1].sent > ref[1].sent) ref = e;
  const rows = named.map(([key, g]) => {
    const test =
      ref && key !== ref[0]
        ? twoProportionZTest(g.converted, g.sent, ref[1].converted, ref[1].sent)
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
      reference: key === ref?.[0],
    };
  });
  return {
    rows,
    method: 'conversion rate against the largest group: two-sided two-proportion z-test (pooled), 5% level',
  };
}

export function roiReport(state: AnalyticsState, q: Query, s: ReportSettings): analytics.RoiReport {
  const c = state.messageCols;
  const value = c.creditValue[modelIndex(q.model)];
  // The infrastructure cost is shared by every message sent in the period, filtered or not.
  let total = 0;
  scanMessages(c, q, false, (i) => {
    if (c.flags[i] & M.SENT) total++;
  });
  const grouping = messageGrouping(c, q.groupBy === 'workflow' ? 'workflow' : 'trigger');
  const channels = c.dims.channel.names;
  const groups = new Groups(() => ({ attributedValue: 0, messageCost: 0, messages: 0 }));
  scanMessages(c, q, true, (i) => {
    if (!(c.flags[i] & M.SENT)) return;
    const r = groups.at(grouping.of(i));
    r.messages++;
    r.messageCost += messageCost(c.cost[i], channels[c.channel[i]], s.channelCosts);
    r.attributedValue += value[i];
  });
  const inputs = groups.named(grouping.names()).map(([key, r]) => ({ key, ...r }));
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

/** Suppressed, failed, held-out and unknown outcomes in the range, by reason or reason category. */
export function reasonsReport(state: AnalyticsState, q: Query): analytics.ReasonsReport {
  const c = state.messageCols;
  const m = messageMasks(c, q);
  const reasons = c.dims.reason.names;
  const statuses: Array<[Status, Float64Array]> = [
    ['suppressed', c.suppressedAt],
    ['failed', c.failedAt],
    ['held_out', c.heldOutAt],
    ['unknown', c.unknownAt],
  ];
  const counts = new Map<string, analytics.ReasonRow>();
  const keyOf = new Map<number, string>();
  statuses.forEach(([status, times], s) => {
    for (let i = 0; i < c.size; i++) {
      const t = times[i];
      if (!(c.flags[i] & M.ALIVE) || !(t >= q.fromMs && t < q.toMs)) continue;
      if (m.trigger && !m.trigger[c.trigger[i]]) continue;
      if (m.workflow && !m.workflow[c.workflow[i]]) continue;
      if (m.channel && !m.channel[c.channel[i]]) continue;
      const reason = c.reason[i];
      const memo = reason * 4 + s;
      let key = keyOf.get(memo);
      if (key === undefined) {
        key = q.groupBy === 'reason' ? reasons[reason] || '(none)' : reasonCategory(status, reasons[reason]);
        keyOf.set(memo, key);
      }
      const id = `${status}\u0000${key}`;
      let r = counts.get(id);
      if (!r) counts.set(id, (r = { key, status, count: 0 }));
      r.count++;
    }
  });
  return { rows: [...counts.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)) };
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
export function liftReport(state: AnalyticsState, q: Query, s: ReportSettings): analytics.LiftReport {
  const c = state.runCols;
  const f = q.filters;
  const mTrigger = c.dims.trigger.mask(f.triggers);
  const mWorkflow = c.dims.workflow.mask(f.workflows);
  const mVariant = c.dims.variant.mask(f.variants);
  const byTrigger = q.groupBy === 'trigger';
  const treatedIds = byTrigger ? c.trigger : q.groupBy === 'variant' ? c.variantKey : c.workflow;
  const controlIds = byTrigger ? c.trigger : c.workflow;
  const treated = new Groups<Tally>(() => ({ n: 0, x: 0 }));
  const control = new Groups<Tally>(() => ({ n: 0, x: 0 }));
  for (let i = 0; i < c.size; i++) {
    const fl = c.flags[i];
    if (!(fl & R.ALIVE) || !(fl & R.MEASURED)) continue;
    const t = c.enteredAt[i];
    if (t < q.fromMs || t >= q.toMs) continue;
    if (mTrigger && !mTrigger[c.trigger[i]]) continue;
    if (mWorkflow && !mWorkflow[c.workflow[i]]) continue;
    // Held-out runs have no content variant: every variant of a workflow is compared with its holdout.
    const held = (fl & R.HOLDOUT) !== 0;
    if (!held && mVariant && !mVariant[c.variant[i]]) continue;
    const g = held ? control.at(controlIds[i]) : treated.at(treatedIds[i]);
    g.n++;
    if (fl & R.CONVERTED) g.x++;
  }
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
