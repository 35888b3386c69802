/**
 * `kairosctl report <measure>`: the analytics service's numbers as tables (or JSON with `-o json`).
 * `report outcomes --raw` exports one row per message (CSV, or NDJSON with `-o json`) so an analyst
 * can recompute any figure elsewhere.
 */
import { analytics } from '@kairos/contracts';
import { MEASURES, REPORT_JSON, STATUSES } from '@kairos/analytics';
import { parseDuration } from '@kairos/definitions';
import { outputFormat, parse } from './args';
import { analyticsCall } from './clients';
import { EXIT, failed, usageError } from './errors';
import { table, type Io } from './io';

type Measure = (typeof MEASURES)[number];

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const pp = (x: number) => `${(x * 100).toFixed(2)}pp`;
const iso = (d?: Date) => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

function parseTime(flag: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw usageError(`report: --${flag} expects an ISO 8601 time like 2026-03-01T00:00:00Z, got '${v}'`);
  return new Date(t);
}

export async function report(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    'report',
    args,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      since: { type: 'string' },
      'group-by': { type: 'string' },
      granularity: { type: 'string' },
      model: { type: 'string' },
      trigger: { type: 'string', multiple: true },
      workflow: { type: 'string', multiple: true },
      channel: { type: 'string', multiple: true },
      variant: { type: 'string', multiple: true },
      limit: { type: 'string' },
      raw: { type: 'boolean' },
      output: { type: 'string', short: 'o', default: 'table' },
    },
    1,
  );
  const measure = positionals[0] as Measure | undefined;
  if (!measure || !MEASURES.includes(measure)) {
    throw usageError(
      `report: expected a measure (${MEASURES.join(', ')})${measure ? `, got '${measure}'` : ''}`,
    );
  }
  const format = outputFormat('report', values.output);
  if (values.raw && measure !== 'outcomes')
    throw usageError('report: --raw applies to `report outcomes` only');
  let from = parseTime('from', values.from);
  const to = parseTime('to', values.to);
  if (values.since !== undefined) {
    if (from) throw usageError('report: give --from or --since, not both');
    const ms = parseDuration(values.since);
    if (ms === undefined)
      throw usageError(`report: --since expects a duration like 24h or 7d, got '${values.since}'`);
    from = new Date((to?.getTime() ?? io.now()) - ms);
  }
  if (values.limit !== undefined && !/^\d+$/.test(values.limit))
    throw usageError(`report: --limit expects a whole number, got '${values.limit}'`);
  const query: analytics.ReportQuery = {
    from,
    to,
    groupBy: values['group-by'] ?? '',
    granularity: values.granularity ?? '',
    attributionModel: values.model ?? '',
    limit: values.limit === undefined ? (measure === 'outcomes' ? 100_000 : 0) : Number(values.limit),
    filters: {
      triggers: values.trigger ?? [],
      workflows: values.workflow ?? [],
      channels: values.channel ?? [],
      variants: values.variant ?? [],
    },
  };
  const { report: res } = await analyticsCall<{ query: analytics.ReportQuery }, { report?: never }>(
    io,
    measure,
    { query },
  );
  if (!res) throw failed(`analytics answered ${measure} without a report`);
  if (format === 'json') {
    if (measure === 'outcomes') {
      for (const row of (res as analytics.OutcomesReport).rows)
        io.out(JSON.stringify(analytics.OutcomeRow.toJSON(row)));
    } else io.out(JSON.stringify((REPORT_JSON[measure] as (r: unknown) => unknown)(res), null, 2));
    return EXIT.ok;
  }
  for (const line of render(measure, res)) io.out(line);
  return EXIT.ok;
}

/** The table lines of one report. */
export function render(measure: Measure, res: unknown): string[] {
  switch (measure) {
    case 'volume': {
      const r = res as analytics.VolumeReport;
      const lines = table(
        ['series', 'total', 'peak', 'anomalies'],
        r.series.map((s) => [s.key, num(s.total), num(Math.max(0, ...s.values)), String(s.anomalies.length)]),
      );
      const anomalies = r.series.flatMap((s) =>
        s.anomalies.map((a) => [s.key, iso(a.bucket), a.kind, num(a.value), num(a.baseline), a.z.toFixed(1)]),
      );
      if (anomalies.length)
        lines.push(
          '',
          ...table(['series', `${r.granularity} of`, 'kind', 'value', 'baseline', 'z'], anomalies),
        );
      return lines;
    }
    case 'funnel': {
      const r = res as analytics.FunnelReport;
      return table(
        [
          'group',
          'sent',
          'delivered',
          'opened',
          'clicked',
          'converted',
          'open rate',
          'conversion rate',
          'suppressed',
          'failed',
          'value',
        ],
        r.rows.map((x) => [
          x.key,
          String(x.sent),
          String(x.delivered),
          String(x.opened),
          String(x.clicked),
          String(x.converted),
          pct(x.sent ? x.opened / x.sent : undefined),
          pct(x.sent ? x.converted / x.sent : undefined),
          String(x.suppressed),
          String(x.failed),
          num(x.attributedValue),
        ]),
      );
    }
    case 'lift': {
      const r = res as analytics.LiftReport;
      const lines = table(
        ['group', 'vs', 'treated', 'control', 'abs lift', '95% CI', 'rel lift', '95% CI', 'p', 'significant'],
        r.rows.map((x) => [
          x.key,
          x.baseline,
          `${x.treated!.conversions}/${x.treated!.n} ${pct(x.treated!.rate)}`,
          `${x.control!.conversions}/${x.control!.n} ${pct(x.control!.rate)}`,
          pp(x.absoluteLift),
          `[${pp(x.absoluteCi!.low)}, ${pp(x.absoluteCi!.high)}]`,
          pct(x.relativeLift),
          x.relativeCi ? `[${pct(x.relativeCi.low)}, ${pct(x.relativeCi.high)}]` : '-',
          x.pValue.toFixed(4),
          x.significant ? 'yes' : 'no',
        ]),
      );
      return [...lines, '', `method: ${r.method}`];
    }
    case 'timing': {
      const r = res as analytics.TimingReport;
      const lines = table(
        ['group', 'sent', 'open rate', 'click rate', 'conversion rate', 'z', 'p', 'significant'],
        r.rows.map((x) => [
          x.reference ? `${x.key} (reference)` : x.key,
          String(x.sent),
          pct(x.openRate),
          pct(x.clickRate),
          pct(x.conversionRate),
          x.reference ? '-' : x.z.toFixed(2),
          x.reference ? '-' : x.pValue.toFixed(4),
          x.reference ? '-' : x.significant ? 'yes' : 'no',
        ]),
      );
      return [...lines, '', `method: ${r.method}`];
    }
    case 'roi': {
      const r = res as analytics.RoiReport;
      return table(
        ['group', 'messages', 'attributed value', 'message cost', 'infrastructure', 'net', 'ROI'],
        r.rows.map((x) => [
          x.key,
          String(x.messages),
          num(x.attributedValue),
          x.messageCost.toFixed(4),
          x.infraCost.toFixed(4),
          num(x.net),
          pct(x.roi),
        ]),
      );
    }
    case 'reasons': {
      const r = res as analytics.ReasonsReport;
      return table(
        ['status', 'reason', 'count'],
        r.rows.map((x) => [x.status, x.key, String(x.count)]),
      );
    }
    case 'attribution': {
      const r = res as analytics.AttributionReport;
      return [
        `model ${r.model}: ${r.attributed} of ${r.conversions} conversions attributed, value ${num(r.attributedValue)}`,
        ...table(
          ['conversion', 'converted', 'action', 'sent', 'workflow', 'trigger', 'weight', 'value'],
          r.credits.map((c) => [
            c.conversionId,
            iso(c.convertedAt),
            c.actionId,
            iso(c.sentAt),
            c.workflow,
            c.trigger,
            num(c.weight),
            num(c.value),
          ]),
        ),
      ];
    }
    case 'outcomes': {
      const r = res as analytics.OutcomesReport;
      const statuses = STATUSES;
      const csv = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
      const header = [
        'action_id',
        'run_id',
        'trigger_id',
        'trigger',
        'workflow',
        'customer_id',
        'channel',
        'content_variant',
        'timing_variant',
        'holdout',
        ...statuses.map((s) => `${s}_at`),
        'cost',
        'attributed_value',
        'reason',
      ];
      return [
        header.join(','),
        ...r.rows.map((x) =>
          [
            x.actionId,
            x.runId,
            x.triggerId,
            x.trigger,
            x.workflow,
            x.customerId,
            x.channel,
            x.contentVariant,
            x.timingVariant,
            String(x.holdout),
            ...statuses.map((s) => (x.times[s] ? x.times[s].toISOString() : '')),
            String(x.cost),
            String(x.attributedValue),
            x.reason,
          ]
            .map(csv)
            .join(','),
        ),
      ];
    }
  }
}
