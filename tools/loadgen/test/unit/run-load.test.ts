import assert from 'node:assert/strict';
import type { TrackEvent, TrackResult } from '@kairos/client';
import { createPopulation, runLoad, type EventSink, type LoadClock, type RunLoadOptions } from '../../src';

/** Virtual time: sleeping advances it, so the pacer is tested without real timers. */
class FakeClock implements LoadClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

class RecordingSink implements EventSink {
  readonly sentAt: number[] = [];
  readonly events: TrackEvent[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly reject: (e: TrackEvent) => boolean = () => false,
  ) {}
  async track(event: TrackEvent): Promise<TrackResult> {
    this.sentAt.push(this.clock.now());
    this.events.push(event);
    if (this.reject(event)) throw new Error(`event ${event.id} rejected: scripted`);
    return { eventId: event.id!, outcome: 'accepted' };
  }
  async flush(): Promise<void> {}
}

function perSecond(times: number[], start: number): number[] {
  const windows: number[] = [];
  for (const t of times) {
    const w = Math.floor((t - start) / 1000);
    windows[w] = (windows[w] ?? 0) + 1;
  }
  return Array.from(windows, (n) => n ?? 0);
}

/** What a test sets of a run; the population is `customers` (100) seeded with `seed` (1). */
type Scenario = Omit<RunLoadOptions, 'client' | 'population' | 'clock'> & {
  seed?: number;
  customers?: number;
  /** Which events the sink rejects. */
  reject?: (e: TrackEvent) => boolean;
};

/** Runs `scenario` in virtual time into a RecordingSink. */
async function loadOnFakeClock({ seed = 1, customers = 100, reject, ...options }: Scenario) {
  const clock = new FakeClock();
  const start = clock.now();
  const sink = new RecordingSink(clock, reject);
  const population = createPopulation({ seed, customers });
  const result = await runLoad({ client: sink, population, clock, ...options });
  return { start, sink, result };
}

describe('runLoad pacing', () => {
  it('offers exactly `rate` events in every one-second window for the whole duration', async () => {
    const { start, sink, result } = await loadOnFakeClock({ rate: 50, durationMs: 4000 });
    assert.equal(result.sent, 200);
    assert.equal(result.accepted, 200);
    assert.deepEqual(perSecond(sink.sentAt, start), [50, 50, 50, 50]);
  });

  it('stops after `events` and stamps occurredAt with the send time (wall mode)', async () => {
    const { sink, result } = await loadOnFakeClock({ rate: 20, events: 30 });
    assert.equal(result.sent, 30);
    assert.deepEqual(
      sink.events.map((e) => (e.occurredAt as Date).getTime()),
      sink.sentAt,
    );
    assert.equal(result.elapsedMs, 29 * 50);
  });

  it('keeps simulated timestamps when asked, and sends the same ids as the population emits', async () => {
    const { sink } = await loadOnFakeClock({
      seed: 4,
      customers: 50,
      rate: 100,
      events: 40,
      timestamps: 'simulated',
    });
    const expected = createPopulation({ seed: 4, customers: 50 }).nextEvents(40);
    assert.deepEqual(
      sink.events.map((e) => [e.id, (e.occurredAt as Date).getTime()]),
      expected.map((e) => [e.id, e.occurredAt]),
    );
  });

  it('counts rejections, keeps the first error and records every outcome in the ledger', async () => {
    const accepted: string[] = [];
    const { sink, result } = await loadOnFakeClock({
      seed: 2,
      reject: (e) => e.type === 'page.viewed',
      rate: 1000,
      events: 100,
      onAccepted: (e) => accepted.push(e.id),
    });
    const pageViews = sink.events.filter((e) => e.type === 'page.viewed').length;
    assert.ok(pageViews > 0);
    assert.equal(result.rejected, pageViews);
    assert.equal(result.accepted, 100 - pageViews);
    assert.equal(accepted.length, 100 - pageViews);
    assert.match(result.firstError ?? '', /rejected: scripted/);
    const summary = result.ledger.summary();
    assert.equal(summary.sent, 100);
    assert.equal(summary.rejected, pageViews);
    assert.ok(
      result.ledger.sent.every((s) => s.outcome === (s.type === 'page.viewed' ? 'rejected' : 'accepted')),
    );
  });

  it('stops at the duration when it falls behind the schedule instead of sending the overdue events', async () => {
    // A slow machine: every look at the clock costs 5 ms, so 1000 events/s cannot be kept up.
    const clock = new FakeClock();
    const slow: LoadClock = { now: () => (clock.t += 5), sleep: (ms) => clock.sleep(ms) };
    const result = await runLoad({
      client: new RecordingSink(clock),
      population: createPopulation({ seed: 1, customers: 100 }),
      rate: 1000,
      durationMs: 1000,
      clock: slow,
    });
    assert.ok(result.sent > 0 && result.sent < 1000, `sent ${result.sent}`);
    assert.ok(result.achievedRate < 1000);
  });

  it('refuses a non-positive rate and a run without duration or count', async () => {
    const population = createPopulation({ seed: 1, customers: 1 });
    const client = new RecordingSink(new FakeClock());
    await assert.rejects(
      runLoad({ client, population, rate: 0, events: 1 }),
      /rate: expected a positive number/,
    );
    await assert.rejects(runLoad({ client, population, rate: 5 }), /durationMs or events/);
  });
});
