import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { EngineEvent, TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import type { FiredTrigger } from '../../src/types';
import { opsArb, triggersArb } from '../generators';
import { runEngine, runRestoredAt } from '../run-engine';

const RUNS = Number(process.env.PATTERNS_PROPERTY_RUNS ?? 1);

function ev(id: string, time: number, price: number): EngineEvent {
  return { id, type: 'a', customerId: 'c1', time, properties: { price } };
}

const pricey = (cooldownMs: number): TriggerSpec => ({
  name: 'pricey',
  version: 1,
  priority: 50,
  cooldownMs,
  pattern: {
    kind: 'event',
    type: 'a',
    where: {
      source: 'event.properties.price >= 10',
      evaluate: (c) => (c.event.properties.price as number) >= 10,
    },
  },
});

function feed(engine: PatternEngine, events: EngineEvent[]): FiredTrigger[] {
  return events.flatMap((e) => engine.process(e));
}

const fires = (list: FiredTrigger[]) =>
  list.map((f): [number, string, string] => [f.firedAt, f.id, f.explanation]);
const byTimeAndId = (a: [number, string, string], b: [number, string, string]): number =>
  a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

describe('state retention (explain bookkeeping and cooldowns outlive partial matches, for a time)', () => {
  it('keeps the last firing, a suppressed match and a failed condition for the retention, then drops the customer', () => {
    const engine = new PatternEngine([pricey(10)], { explainRetentionMs: 100 });
    const fired = feed(engine, [ev('e1', 0, 20), ev('e2', 5, 20), ev('e3', 6, 1)]);
    assert.deepEqual(
      fired.map((f) => f.completingEventId),
      ['e1'],
    );
    engine.advanceTo(106);
    const ex = engine.explain('pricey', 'c1');
    assert.equal(ex.lastFiredAt, 0);
    assert.deepEqual(ex.lastSuppressed, { at: 5, eventIds: ['e2'] });
    assert.deepEqual(
      ex.conditionFailures.map((f) => f.eventId),
      ['e3'],
    );
    assert.deepEqual(engine.customersWithState(), ['c1']);
    // The failed condition at 6 is kept until 106; the watermark passing it drops everything.
    engine.advanceTo(107);
    assert.deepEqual(engine.customersWithState(), []);
    assert.equal(engine.stateBytes('c1'), 0);
    const after = engine.explain('pricey', 'c1');
    assert.equal(after.status, 'idle');
    assert.equal(after.lastFiredAt, undefined);
    assert.deepEqual(after.conditionFailures, []);
  });

  it('keeps a firing for its whole cooldown even when the retention is shorter', () => {
    const engine = new PatternEngine([pricey(1000)], { explainRetentionMs: 10 });
    assert.equal(feed(engine, [ev('e1', 0, 20)]).length, 1);
    engine.advanceTo(998);
    assert.deepEqual(feed(engine, [ev('e2', 999, 20)]), []);
    assert.equal(engine.stats.suppressedByCooldown, 1);
    assert.equal(feed(engine, [ev('e3', 1000, 20)]).map((f) => f.completingEventId)[0], 'e3');
    engine.advanceTo(2011);
    assert.deepEqual(engine.customersWithState(), []);
  });

  it('applies a cooldown changed by a reload (same version) to the kept firing', () => {
    const engine = new PatternEngine([pricey(10)], { explainRetentionMs: 0 });
    assert.equal(feed(engine, [ev('e1', 0, 20)]).length, 1);
    engine.setTriggers([pricey(100)]);
    engine.advanceTo(50);
    assert.deepEqual(feed(engine, [ev('e2', 60, 20)]), []);
    assert.equal(feed(engine, [ev('e3', 100, 20)]).length, 1);
  });

  it('drops the bookkeeping after a checkpoint as without one', () => {
    const engine = new PatternEngine([pricey(10)], { explainRetentionMs: 100 });
    feed(engine, [ev('e1', 0, 20), ev('e3', 6, 1)]);
    const restored = new PatternEngine([pricey(10)], { explainRetentionMs: 100 });
    restored.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    restored.advanceTo(106);
    assert.deepEqual(restored.customersWithState(), ['c1']);
    restored.advanceTo(107);
    assert.deepEqual(restored.customersWithState(), []);
  });

  it('changes no firing: any retention, straight or restored from a checkpoint at any point, fires as the default', () => {
    fc.assert(
      fc.property(
        triggersArb,
        opsArb,
        fc.constantFrom(0, 0, 4),
        fc.constantFrom(0, 0, 1, 3, 7),
        fc.nat(),
        (triggers, ops, lateness, retention, cut) => {
          const all = [...ops, { kind: 'advance' as const, to: 500 }];
          const want = runEngine(new PatternEngine(triggers, { allowedLatenessMs: lateness }), all);
          const options = { allowedLatenessMs: lateness, explainRetentionMs: retention };
          const { straight, interrupted } = runRestoredAt(triggers, options, all, cut);
          // Firings at the same time may come in another order: a dropped state that comes back
          // gets a new timer sequence number. A restored engine goes on exactly as the straight one.
          assert.deepEqual(fires(straight).sort(byTimeAndId), fires(want).sort(byTimeAndId));
          assert.deepEqual(fires(interrupted), fires(straight));
        },
      ),
      { numRuns: 1000 * RUNS },
    );
  });
});
