import assert from 'node:assert/strict';
import { firingDifference, runEngineBenchmark } from '../../src/bench';
import { benchmarkTriggers } from '../../src/bench-workload';

describe('engine benchmark', function () {
  this.timeout(60_000);

  it('reports the median of its runs, which fire the same over the same events', async () => {
    const result = await runEngineBenchmark({ events: 20_000, customers: 500, repeats: 3 });
    const rates = /runs, events\/s\s+(.+)/
      .exec(result.table)?.[1]
      .split(', ')
      .map((v) => Number(v.replace(/,/g, '')));
    assert.equal(rates?.length, 3);
    assert.equal(result.engine_events_per_s, [...(rates as number[])].sort((a, b) => a - b)[1]);
    assert.ok(result.fired > 0, 'the stream fires triggers');
    assert.ok(result.engine_state_bytes_per_customer > 0);
    assert.ok(result.customers_with_state > 0 && result.customers_with_state <= 500);
  });

  it('measures every path over the same events, and refuses paths that fire differently', async () => {
    const triggers = benchmarkTriggers(10);
    const same = await runEngineBenchmark({
      events: 5_000,
      customers: 100,
      repeats: 1,
      paths: [
        { name: 'a', triggers },
        { name: 'b', triggers: triggers.map((t) => ({ ...t })) },
      ],
    });
    assert.deepEqual(
      same.paths.map((p) => p.name),
      ['a', 'b'],
    );
    assert.equal(same.paths[0].fired, same.paths[1].fired);
    assert.match(same.table, /a ÷ b \(medians\)/);
    assert.ok(same.paths[0].fired > 0);
    // Without the first half of the triggers, whichever of them fired in 'a' is missing in 'b'.
    const fewer = triggers.slice(5);
    await assert.rejects(
      runEngineBenchmark({
        events: 5_000,
        customers: 100,
        repeats: 1,
        paths: [
          { name: 'a', triggers },
          { name: 'b', triggers: fewer },
        ],
      }),
      /engine path 'b' fired differently from 'a': bench-[0-4]: \d+ vs 0/,
    );
  });

  it('names the triggers whose firing counts differ', () => {
    const a = new Map([
      ['x', 2],
      ['y', 1],
    ]);
    assert.equal(firingDifference(a, new Map(a)), undefined);
    assert.equal(firingDifference(a, new Map([['x', 2]])), 'y: 1 vs 0');
  });
});
