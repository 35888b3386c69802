import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs, writeBenchResults } from '../../src/results';

const now = new Date('2026-12-07T21:30:05.123Z');

describe('pnpm bench --out (a history of figures in bench/results/)', () => {
  it('writes nowhere unless asked', () => {
    assert.deepEqual(parseBenchArgs(['engine', 'actions'], '/repo', {}, now), {
      suites: ['engine', 'actions'],
    });
  });

  it('writes to bench/results/<timestamp>.json for a bare --out or KAIROS_BENCH_OUT=1', () => {
    const expected = join('/repo', 'bench', 'results', '2026-12-07T21-30-05-123Z.json');
    assert.deepEqual(parseBenchArgs(['engine', '--out'], '/repo', {}, now), {
      suites: ['engine'],
      out: expected,
    });
    assert.equal(parseBenchArgs([], '/repo', { KAIROS_BENCH_OUT: '1' }, now).out, expected);
    assert.equal(parseBenchArgs([], '/repo', { KAIROS_BENCH_OUT: '0' }, now).out, undefined);
  });

  it('writes to the file named by --out=<file> or KAIROS_BENCH_OUT=<file>', () => {
    assert.equal(parseBenchArgs(['--out=/tmp/a.json'], '/repo', {}, now).out, '/tmp/a.json');
    assert.equal(parseBenchArgs([], '/repo', { KAIROS_BENCH_OUT: '/tmp/b.json' }, now).out, '/tmp/b.json');
  });

  it('names an unknown option', () => {
    assert.throws(() => parseBenchArgs(['--outt'], '/repo', {}, now), /unknown option --outt/);
  });

  it('records when, which suites and every figure', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-out-')), 'nested', 'run.json');
    writeBenchResults(file, tmpdir(), ['engine'], { engine_events_per_s: 300_000 }, now);
    const record = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(record.measuredAt, now.toISOString());
    assert.deepEqual(record.suites, ['engine']);
    assert.deepEqual(record.figures, { engine_events_per_s: 300_000 });
  });
});
