import * as assert from 'node:assert/strict';
import { silentLogger } from '@kairos/messaging';
import { ensureIndexes, systemClock } from '@kairos/service-kit';
import { useMongo, waitFor } from '@kairos/testkit';
import { loadOrchestrationConfig } from '../../src/config';
import { TimerStore, type TimerDoc } from '../../src/store';
import { TimerLoop } from '../../src/timer-loop';
import { orchestrationProvisioning } from '../../src/provisioning';

/** The service's defaults (KAIROS_TIMER_CONCURRENCY, KAIROS_TIMER_MAX_ATTEMPTS). */
const { KAIROS_TIMER_CONCURRENCY: concurrency, KAIROS_TIMER_MAX_ATTEMPTS: maxAttempts } =
  loadOrchestrationConfig({});

describe('durable timers on FerretDB', function () {
  this.timeout(60_000);
  const mongo = useMongo({ dbPrefix: 'orcht' });

  it('fires each due timer exactly once across competing replicas, and none before it is due', async () => {
    const store = new TimerStore(mongo.db);
    await ensureIndexes(mongo.db, orchestrationProvisioning.indexes);
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
    const opts = { partitions: [0, 1, 2, 3], pollMs: 20, leaseMs: 30_000, concurrency, maxAttempts };
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
      { partitions: [9], pollMs: 20, leaseMs: 300, concurrency, maxAttempts },
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

  describe('while nothing is due', () => {
    /** A TimerLoop over its own partition that counts its looks for due timers. */
    function countingLoop(store: TimerStore, partition: number, maxIdleMs: number, fired: string[]) {
      let looks = 0;
      const claimDue = store.claimDue.bind(store);
      store.claimDue = (...args) => {
        looks++;
        return claimDue(...args);
      };
      const loop = new TimerLoop(
        store,
        async (t) => {
          fired.push(t._id);
        },
        systemClock,
        silentLogger,
        { partitions: [partition], pollMs: 20, maxIdleMs, leaseMs: 30_000, concurrency, maxAttempts },
      );
      return { loop, looks: () => looks };
    }

    it('sleeps instead of polling, and wakes when a timer scheduled here is due', async () => {
      const store = new TimerStore(mongo.db);
      const fired: string[] = [];
      const { loop, looks } = countingLoop(store, 20, 60_000, fired);
      loop.start();
      try {
        await waitFor(() => looks() >= 1, { message: 'first look' });
        const idleFrom = Date.now();
        await new Promise((r) => setTimeout(r, 1_000));
        // Polling every 20 ms would have looked about 50 times.
        assert.ok(looks() <= 2, `looked ${looks()} times in 1 s with nothing scheduled`);
        const dueAt = Date.now() + 500;
        await store.schedule({
          _id: 'soon',
          kind: 'step',
          partition: 20,
          customerId: 'c',
          dueAt: new Date(dueAt),
        });
        await waitFor(() => fired.includes('soon'), { message: 'timer fired', timeoutMs: 5_000 });
        assert.ok(Date.now() >= dueAt, 'not fired before it was due');
        assert.ok(Date.now() - idleFrom < 10_000);
      } finally {
        await loop.drain();
      }
    });

    it('fires due timers in batches of its concurrency, one look at the collection per batch', async () => {
      const store = new TimerStore(mongo.db);
      const due = new Date(Date.now() - 1);
      for (let i = 0; i < 10; i++)
        await store.schedule({ _id: `b${i}`, kind: 'step', partition: 23, customerId: 'c', dueAt: due });
      const fired: string[] = [];
      const { loop, looks } = countingLoop(store, 23, 60_000, fired);
      loop.start();
      try {
        await waitFor(() => fired.length === 10, { message: 'all ten fired' });
      } finally {
        await loop.drain();
      }
      // 8 (the default concurrency), 2, then one finding none before it sleeps: a look per timer was 11.
      assert.ok(looks() <= 3, `looked ${looks()} times for 10 timers`);
    });

    it('drains at once when asked while it looks up the next due time', async () => {
      const store = new TimerStore(mongo.db);
      const { loop } = countingLoop(store, 22, 60_000, []);
      // Hold the lookup open until drain() has been called, as a SIGTERM at that moment would.
      let lookingUp!: () => void;
      const lookupStarted = new Promise<void>((r) => (lookingUp = r));
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const nextClaimableAt = store.nextClaimableAt.bind(store);
      store.nextClaimableAt = async (partitions) => {
        lookingUp();
        await released;
        return nextClaimableAt(partitions);
      };
      loop.start();
      await lookupStarted;
      const drained = loop.drain();
      release();
      const startedAt = Date.now();
      await drained;
      // Before the fix it slept the whole maxIdleMs (60 s) first.
      assert.ok(Date.now() - startedAt < 5_000, `drain took ${Date.now() - startedAt} ms`);
    });

    it('finds a timer another process scheduled within maxIdleMs', async () => {
      const store = new TimerStore(mongo.db);
      const fired: string[] = [];
      const { loop } = countingLoop(store, 21, 300, fired);
      loop.start();
      try {
        // Inserted behind the loop's back, as another replica's would be: no wake-up here.
        await new TimerStore(mongo.db).timers.insertOne({
          _id: 'elsewhere',
          kind: 'step',
          partition: 21,
          customerId: 'c',
          dueAt: new Date(Date.now() - 1),
          leaseUntil: new Date(0),
          attempts: 0,
        });
        await waitFor(() => fired.includes('elsewhere'), { message: 'timer fired', timeoutMs: 3_000 });
      } finally {
        await loop.drain();
      }
    });
  });
});
