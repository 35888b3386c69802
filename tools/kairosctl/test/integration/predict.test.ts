import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPopulation, toNdjsonLine } from '@kairos/loadgen';
import { cli } from '../support';

const DAY = 86_400_000;

describe('kairosctl predict --events (offline, no services)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'kairosctl-predict-'));
  const file = join(dir, 'events.ndjson');
  const population = createPopulation({ seed: 21, customers: 80, churnDeclineDays: 21 });
  const start = population.options.startTime;
  const lines: string[] = [];
  for (const e of population.eventsUntil(start + 100 * DAY)) lines.push(toNdjsonLine(e));
  writeFileSync(file, lines.join('\n') + '\n');
  const asOf = new Date(start + 90 * DAY).toISOString();
  const seen = new Set(
    lines
      .map((l) => JSON.parse(l) as { customerId: string; occurredAt: string })
      .filter((e) => e.occurredAt <= asOf)
      .map((e) => e.customerId),
  );

  it('prints customer, model, score and the baseline as CSV for every customer seen before --as-of', async () => {
    const r = await cli(['predict', '--events', file, '--as-of', asOf, '--horizon', '30']);
    assert.equal(r.code, 0, r.err.join('\n'));
    const [header, ...rows] = r.out.filter(Boolean);
    assert.equal(header, 'customer,model,score,baseline,p_alive,cold_start');
    assert.equal(rows.length, 2 * seen.size);
    for (const row of rows) {
      const [customer, model, score, , , cold] = row.split(',');
      assert.ok(seen.has(customer), customer);
      assert.ok(model === 'churn' || model === 'purchase');
      assert.ok(Number(score) >= 0 && Number(score) <= 1, row);
      assert.equal(cold, 'false', 'ninety days of history are enough labels to leave the cold start');
    }
    assert.match(r.err.join('\n'), /customers, \d+ events up to .* training labels: churn \d+, purchase \d+/);
  });

  it('prints the same scores as one JSON document with --format json', async () => {
    const csv = await cli(['predict', '--events', file, '--as-of', asOf, '--horizon', '30d']);
    const r = await cli([
      'predict',
      '--events',
      file,
      '--as-of',
      asOf,
      '--horizon',
      '30',
      '--format',
      'json',
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    const doc = JSON.parse(r.out.join('\n')) as {
      rows: Array<{ customerId: string; model: string; score: number }>;
    };
    assert.equal(doc.rows.length, csv.out.filter(Boolean).length - 1);
    const first = csv.out[1].split(',');
    assert.equal(doc.rows[0].customerId, first[0]);
    assert.ok(Math.abs(doc.rows[0].score - Number(first[2])) < 1e-6);
  });

  for (const [args, message] of [
    [['--as-of', '2025-04-01T00:00:00Z', '--horizon', '30'], /missing --events/],
    [['--events', 'x.ndjson', '--horizon', '30'], /missing --as-of/],
    [['--events', 'x.ndjson', '--as-of', 'tomorrow', '--horizon', '30'], /--as-of expects an ISO 8601 time/],
    [
      ['--events', 'x.ndjson', '--as-of', '2025-04-01T00:00:00Z', '--horizon', 'a month'],
      /--horizon expects a whole number of days/,
    ],
    [
      ['--events', 'x.ndjson', '--as-of', '2025-04-01T00:00:00Z', '--horizon', '30', '--format', 'xml'],
      /--format expects csv or json/,
    ],
    [
      ['--events', 'x.ndjson', '--as-of', '2025-04-01T00:00:00Z', '--horizon', '30', '--bogus'],
      /Unknown option '--bogus'/,
    ],
  ] as const) {
    it(`exits 2 with a line saying what to fix: ${String(message)}`, async () => {
      const r = await cli(['predict', ...args]);
      assert.equal(r.code, 2);
      assert.match(r.err[0], message);
    });
  }

  it('stops quietly with status 0 when its reader closes the pipe early (kairosctl … | head -1)', () => {
    // Enough customers that the CSV outgrows the pipe's buffer, so writes go on after head exits.
    const big = createPopulation({ seed: 3, customers: 1500 });
    const bigStart = big.options.startTime;
    const bigFile = join(dir, 'big.ndjson');
    const bigLines: string[] = [];
    for (const e of big.eventsUntil(bigStart + DAY)) bigLines.push(toNdjsonLine(e));
    writeFileSync(bigFile, bigLines.join('\n') + '\n');
    const main = join(__dirname, '../../src/main.js');
    const asOfBig = new Date(bigStart + DAY).toISOString();
    const run = spawnSync(
      'bash',
      [
        '-c',
        '"$0" "$1" predict --events "$2" --as-of "$3" --horizon 30 | head -1; exit "${PIPESTATUS[0]}"',
        process.execPath,
        main,
        bigFile,
        asOfBig,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.stdout, 'customer,model,score,baseline,p_alive,cold_start\n');
    assert.doesNotMatch(run.stderr, /EPIPE|Unhandled/);
    assert.equal(run.status, 0, run.stderr);
  });

  it('exits 1 naming the line and field of a bad record', async () => {
    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, `${lines[0]}\n{"type":"page.viewed","occurredAt":"2025-01-07T00:00:00Z"}\n`);
    const r = await cli(['predict', '--events', bad, '--as-of', asOf, '--horizon', '30']);
    assert.equal(r.code, 1);
    assert.match(r.err[0], /bad\.ndjson:2: customerId \(customer_id\) is required/);
  });
});
