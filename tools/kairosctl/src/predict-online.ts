import { predictions } from '@kairos/contracts';
import { outputFormat, parse } from './args';
import { modelReportCall, scoreCall } from './clients';
import { EXIT, usageError } from './errors';
import { table, type Io } from './io';

const fixed = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '');
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/** `predict <customer> [-o table|json]`: the customer's live scores from PredictionService. */
export async function predictCustomer(args: string[], io: Io): Promise<number> {
  const parsed = parse(
    'predict',
    args,
    { output: { type: 'string', short: 'o' } },
    1,
    ' (one customer at a time)',
  );
  const format = outputFormat('predict', parsed.values.output);
  const res = await scoreCall(io, parsed.positionals[0]);
  if (format === 'json') {
    io.out(JSON.stringify(predictions.ScoreResponse.toJSON(res), null, 2));
    return EXIT.ok;
  }
  io.out(
    `customer ${res.customerId} (partition ${res.partition}), event time ${res.asOf?.toISOString() ?? '-'}`,
  );
  io.out('');
  const rows = res.scores.map((s) => [
    s.model,
    fixed(s.score),
    String(s.modelVersion),
    s.coldStart ? 'cold start' : '',
    `${s.baselineName} = ${fixed(s.baseline, 2)}`,
  ]);
  for (const line of table(['model', 'score', 'version', 'state', 'baseline'], rows)) io.out(line);
  io.out('');
  io.out(
    `P(alive) ${fixed(res.pAlive)} · ${fixed(res.daysSinceLastActivity, 1)} days since last activity · ` +
      `best send hour ${String(res.sendTime?.bestHour ?? 0).padStart(2, '0')}:00 UTC (evidence ${fixed(res.sendTime?.evidence ?? 0, 1)})`,
  );
  for (const s of res.scores) {
    io.out('');
    io.out(`${s.model}: top contributions to the log-odds`);
    const top = s.contributions.slice(0, 5).map((c) => [c.feature, signed(c.contribution), fixed(c.value)]);
    for (const line of table(['feature', 'contribution', 'value'], top)) io.out(`  ${line}`);
  }
  return EXIT.ok;
}

/** `model report [churn|purchase] [--partitions] [-o table|json]`: each model's quality beside its baseline. */
export async function model(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'report')
    throw usageError(`model: expected 'model report [churn|purchase]', got '${sub ?? ''}'`);
  const parsed = parse(
    'model report',
    rest,
    { output: { type: 'string', short: 'o' }, partitions: { type: 'boolean' } },
    1,
  );
  const which = parsed.positionals[0] ?? '';
  if (which && which !== 'churn' && which !== 'purchase')
    throw usageError(`model report: expected churn or purchase, got '${which}'`);
  const format = outputFormat('model report', parsed.values.output);
  const res = await modelReportCall(io, which);
  if (format === 'json') {
    io.out(JSON.stringify(predictions.ModelReportResponse.toJSON(res), null, 2));
    return EXIT.ok;
  }
  const shown = res.reports.filter((r) => r.pooled || parsed.values.partitions);
  const rows = shown.map((r) => [
    r.model,
    r.pooled ? 'all' : String(r.partition),
    String(r.version),
    String(r.examples),
    String(r.window),
    fixed(r.auc),
    fixed(r.baselineAuc),
    fixed(r.brier),
    fixed(r.ece),
    // A model never trained reports the epoch as its last update.
    r.updatedAt && r.updatedAt.getTime() > 0 ? r.updatedAt.toISOString() : 'never',
  ]);
  const header = [
    'model',
    'partition',
    'version',
    'examples',
    'window',
    'auc',
    'baseline_auc',
    'brier',
    'ece',
    'updated',
  ];
  for (const line of table(header, rows)) io.out(line);
  for (const r of res.reports.filter((x) => x.pooled)) {
    io.out('');
    io.out(`${r.model}: calibration by decile (baseline: ${r.baseline})`);
    const bins = r.calibration.map((b) => [
      `${fixed(b.from, 2)}-${fixed(b.to, 2)}`,
      String(b.count),
      fixed(b.meanPredicted),
      fixed(b.observedRate),
    ]);
    for (const line of table(['score', 'n', 'predicted', 'observed'], bins)) io.out(`  ${line}`);
  }
  return EXIT.ok;
}
