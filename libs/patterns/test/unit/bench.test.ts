import assert from 'node:assert/strict';
import { runEngineBenchmark } from '../../src/bench';

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
});
