import assert from 'node:assert/strict';
import { parseOptions } from '../../src/options';

describe('local runner options', () => {
  it('defaults to every built service, a gentle simulated rate, until Ctrl-C', () => {
    assert.deepEqual(parseOptions([]), { services: undefined, rate: 5, durationSeconds: 0, simulate: true });
  });

  it('parses services, rate, duration and --no-simulate', () => {
    assert.deepEqual(
      parseOptions(['--services', 'ingest, enrichment', '--rate', '20', '--duration', '30', '--no-simulate']),
      {
        services: ['ingest', 'enrichment'],
        rate: 20,
        durationSeconds: 30,
        simulate: false,
      },
    );
  });

  it('says what to fix for an unknown service, a bad rate or an unknown flag', () => {
    assert.throws(
      () => parseOptions(['--services', 'ingest,billing']),
      /--services: unknown billing; known: /,
    );
    assert.throws(
      () => parseOptions(['--rate', 'fast']),
      /--rate: expected a number of events per second >= 0, got 'fast'/,
    );
    assert.throws(() => parseOptions(['--colour']), /Unknown option '--colour'/);
  });
});
