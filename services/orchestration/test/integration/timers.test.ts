import * as assert from 'node:assert/strict';
import { silentLogger } from '@kairos/messaging';
import { systemClock } from '@kairos/service-kit';
import { useMongo, waitFor } from '@kairos/testkit';
import { TimerStore, type TimerDoc } from '../../src/store';
import { TimerLoop } from '../../src/timer-loop';

describe('durable timers on FerretDB', function () {
  this.timeout(60_000);
  const mongo = useMongo({ dbPrefix: 'orcht' });

  it('fires each due timer exactly once across competing replicas, and none before it is due', async () => {
    const store = new TimerStore(mongo.db);
    await store.init();
    const now = Date.now();
    for (let i = 0; i < 40; i++)
      await store.schedule({
        _id: `t${i}`,
        kind: 'step',
        partition: i % 4,
        customerId: `c${i}`,
        dueAt: new Date(now - 1),
      });
    await store.schedule({
      _id: 'future',
      kind: 'step',
      partition: 0,
      customerId: 'cf',
      dueAt: new Date(now + 3_600_000),
    });
    // Scheduling the same timer again keeps one.
    await store.schedule({
      _id: 't0',
      kind: 'step',
      partition: 0,
      customerId: 'c0',
      dueAt: new Date(now - 1),
    });

    const fired: string[] = [];
    const fire = async (t: TimerDoc) => {
      fired.push(t._id);
    };
    const opts = { partitions: [0, 1, 2, 3], pollMs: 20, leaseMs: 30_000 };
    const loops = [1, 2, 3].map(() => new TimerLoop(store, fire, systemClock, silentLogger, opts));
    loops.forEach((l) => l.start());
    try {
      await waitFor(async () => (await store.timers.countDocuments({})) === 1, {
        message: 'due timers fired',
      });
    } finally {
      await Promise.all(loops.map((l) => l.drain()));
    }
    assert.equal(fired.length, 40);
    assert.equal(new Set(fired).size, 40);
    assert.ok(!fired.includes('future'));
  });

  it('fires a timer again after its lease ran out when the first owner failed', async () => {
    const store = new TimerStore(mongo.db);
    await store.schedule({
      _id: 'flaky',
      kind: 'step',
      partition: 9,
      customerId: 'c',
      dueAt: new Date(Date.now() - 1),
    });
    let attempts = 0;
    const loop = new TimerLoop(
      store,
      async (t) => {
        if (t._id !== 'flaky') return;
        attempts++;
        if (attempts === 1) throw new Error('crashed while firing');
      },
      systemClock,
      silentLogger,
      { partitions: [9], pollMs: 20, leaseMs: 300 },
    );
    loop.start();
    try {
      await waitFor(async () => (await store.timers.countDocuments({ _id: 'flaky' })) === 0, {
        message: 'retried timer done',
      });
    } finally {
      await loop.drain();
    }
    assert.equal(attempts, 2);
  });
});
