import * as assert from 'node:assert/strict';
import { useMongo, useNats } from '@kairos/testkit';
import { runActionsBenchmark } from '../../src/actions';

describe('actions benchmark', function () {
  this.timeout(90_000);
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'orchb' });

  it('measures trigger-to-action latency and throughput on real servers', async () => {
    const r = await runActionsBenchmark({ natsUrl: nats.url, mongoUrl: mongo.url, triggers: 40 });
    assert.ok(r.trigger_to_action_p50_ms > 0 && r.trigger_to_action_p50_ms <= r.trigger_to_action_p99_ms);
    assert.ok(r.actions_per_s > 0);
    assert.match(r.table, /trigger → action p50/);
  });
});
