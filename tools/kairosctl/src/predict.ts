import { parseArgs } from 'node:util';
import type { FeatureEvent } from '@kairos/prediction';
import { EXIT, failed, usageError } from './errors';
import { readUtf8File, type Io } from './io';
import { predictCustomer } from './predict-online';

function parseTime(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  // Beyond ±8.64e15 ms a Date has no ISO form (toISOString throws).
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15)
    throw usageError(
      `predict: --as-of expects an ISO 8601 time (e.g. 2025-06-01T00:00:00Z) or epoch ms, got '${value}'`,
    );
  return ms;
}

function parseDays(flag: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw usageError(`predict: missing --${flag} <days> (e.g. --${flag} 30)`);
  }
  const m = /^(\d+)d?$/.exec(value);
  const days = m ? Number(m[1]) : NaN;
  if (!(days >= 1 && days <= 3650))
    throw usageError(
      `predict: --${flag} expects a whole number of days between 1 and 3650 (e.g. 30 or 30d), got '${value}'`,
    );
  return days;
}

/**
 * How far before --as-of an event may lie: training walks the history period by period, so an
 * event from year 1 would make its work and memory grow with two thousand years.
 */
const MAX_HISTORY_DAYS = 3650;

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const num = (x: number) => (Number.isFinite(x) ? String(Math.round(x * 1e6) / 1e6) : '');

/**
 * `predict --events file.ndjson --as-of <time> --horizon <days> [--churn-days <days>] [--format csv|json]`:
 * offline, no service. Trains the churn and purchase models on the file's history before `--as-of`
 * and prints every customer's scores as of `--as-of`, with the baseline beside each.
 */
export async function predict(args: string[], io: Io): Promise<number> {
  // `predict <customer>` asks the running service; flags alone mean the offline run.
  if (args[0] !== undefined && !args[0].startsWith('-')) return predictCustomer(args, io);
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        events: { type: 'string' },
        'as-of': { type: 'string' },
        horizon: { type: 'string' },
        'churn-days': { type: 'string' },
        format: { type: 'string' },
      },
    }));
  } catch (err) {
    throw usageError(
      `predict: ${(err as Error).message} (online: predict <customer>; offline: predict --events <file> --as-of <time> --horizon <days>)`,
    );
  }
  if (!values.events)
    throw usageError('predict: missing --events <events.ndjson> (the history to train and score on)');
  if (!values['as-of'])
    throw usageError('predict: missing --as-of <time> (the moment to score at, ISO 8601)');
  const asOf = parseTime(values['as-of']);
  const horizonDays = parseDays('horizon', values.horizon);
  const churnDays = parseDays('churn-days', values['churn-days'], horizonDays);
  const format = values.format ?? 'csv';
  if (format !== 'csv' && format !== 'json')
    throw usageError(`predict: --format expects csv or json, got '${format}'`);

  // Loaded here, not at start: the package also holds the service (MongoDB, telemetry), which
  // every other command would otherwise pay for at start-up.
  const { parseEventRecord, predictOffline } = await import('@kairos/prediction');
  const text = await readUtf8File(values.events);
  const events: FeatureEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(lines[i]);
    } catch (err) {
      throw failed(`${values.events}:${i + 1}: not JSON: ${(err as Error).message}`);
    }
    const e = parseEventRecord(json);
    if (typeof e === 'string') throw failed(`${values.events}:${i + 1}: ${e}`);
    if (e.at < asOf - MAX_HISTORY_DAYS * 86_400_000)
      throw failed(
        `${values.events}:${i + 1}: occurredAt: more than ${MAX_HISTORY_DAYS} days before --as-of ` +
          `(${Math.abs(e.at) <= 8.64e15 ? new Date(e.at).toISOString() : `${e.at} ms`}); predict trains on at most ${MAX_HISTORY_DAYS} days of history`,
      );
    events.push(e);
  }
  if (!events.some((e) => e.at <= asOf))
    throw failed(`${values.events}: no event at or before --as-of ${new Date(asOf).toISOString()}`);
  const r = predictOffline(events, { asOf, horizonDays, churnDays });
  const summary =
    `${r.customers} customers, ${r.events} events up to ${new Date(asOf).toISOString()} ` +
    `(${r.skipped} later ignored); training labels: churn ${r.examples.churn}, purchase ${r.examples.purchase}` +
    (r.rows.some((x) => x.coldStart)
      ? "; cold start: too few labels, churn scores are the base rate and purchase scores BG/NBD's"
      : '');
  if (format === 'json') {
    io.out(
      JSON.stringify({
        asOf: new Date(asOf).toISOString(),
        horizonDays,
        churnDays,
        customers: r.customers,
        events: r.events,
        examples: r.examples,
        baselines: {
          churn: 'days since last activity (higher = more likely to churn)',
          purchase: `BG/NBD expected purchases within ${horizonDays} days`,
        },
        rows: r.rows,
      }),
    );
  } else {
    io.out('customer,model,score,baseline,p_alive,cold_start');
    for (const x of r.rows)
      io.out(
        [
          csvCell(x.customerId),
          x.model,
          num(x.score),
          num(x.baseline),
          num(x.pAlive),
          String(x.coldStart),
        ].join(','),
      );
  }
  io.err(summary);
  return EXIT.ok;
}
