import assert from 'node:assert/strict';
import { parseConcurrency, parseRateLimits, Semaphore, TokenBucket } from '../../src/domain/limits';

class FakeClock {
  t = 0;
  now = () => this.t;
}

describe('token bucket', () => {
  it('allows a burst of capacity, then one token per 1/rate seconds', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(10, 10, clock);
    for (let i = 0; i < 10; i++) assert.ok(b.tryTake().ok);
    const denied = b.tryTake();
    assert.equal(denied.ok, false);
    assert.equal(!denied.ok && denied.waitMs, 100);
    clock.t = 100;
    assert.ok(b.tryTake().ok);
    assert.equal(b.tryTake().ok, false);
  });

  it('never holds more than its capacity after idling', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(5, 5, clock);
    clock.t = 60_000;
    let taken = 0;
    while (b.tryTake().ok) taken++;
    assert.equal(taken, 5);
  });

  it('take() waits for tokens: counts per simulated window stay within capacity + rate', async () => {
    const clock = new FakeClock();
    const taken: number[] = [];
    const b = new TokenBucket(4, 4, clock, async (ms) => {
      clock.t += ms;
    });
    for (let i = 0; i < 20; i++) {
      await b.take();
      taken.push(clock.t);
    }
    for (const t0 of taken) assert.ok(taken.filter((t) => t >= t0 && t < t0 + 1000).length <= 8);
    assert.ok(taken[19] >= 4000, `20 tokens at 4/s with burst 4 need >= 4 s, took ${taken[19]}`);
  });
});

describe('semaphore', () => {
  it('bounds concurrent runs and hands slots over in order', async () => {
    const s = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_v, i) =>
        s.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setImmediate(r));
          order.push(i);
          active--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.equal(s.inUse, 0);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  });
});

describe('limit parsing', () => {
  it('parses per-channel rates in /s, /m and /h', () => {
    assert.deepEqual(parseRateLimits('email=50/s, sms=10/s,push=120/m'), {
      email: { ratePerSec: 50, capacity: 50 },
      sms: { ratePerSec: 10, capacity: 10 },
      push: { ratePerSec: 2, capacity: 2 },
    });
    assert.deepEqual(parseRateLimits('sms=30/h'), { sms: { ratePerSec: 30 / 3600, capacity: 1 } });
    assert.deepEqual(parseRateLimits(''), {});
    assert.match(String(parseRateLimits('email=fast')), /'email=fast'/);
  });

  it('parses concurrency limits', () => {
    assert.deepEqual(parseConcurrency('email=10,sms=2'), { email: 10, sms: 2 });
    assert.match(String(parseConcurrency('email=0')), /positive/);
  });
});
