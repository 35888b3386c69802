import assert from 'node:assert/strict';
import type { TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import { ev, cond, trigger, run, ids, sameSku, event, sequence, absent } from '../engine-builders';

describe('event time, lateness and watermark', () => {
  const ab = trigger('ab', sequence(event('a'), event('b')));

  it('drops and counts events older than the watermark', () => {
    const engine = new PatternEngine([ab]);
    run(engine, [ev('e1', 'a', 100)]);
    assert.deepEqual(engine.process(ev('e2', 'b', 99)), []);
    assert.equal(engine.stats.lateEventsDropped, 1);
    assert.equal(run(engine, [ev('e3', 'b', 100)]).length, 1);
  });

  it('reorders events by event time within the allowed lateness before matching', () => {
    const engine = new PatternEngine([ab], { allowedLatenessMs: 10 });
    // b arrives first but happened later: with lateness 10 the engine waits and matches a -> b.
    assert.deepEqual(run(engine, [ev('e1', 'b', 5), ev('e2', 'a', 3)]), []);
    assert.equal(engine.bufferedEvents, 2);
    const fired = engine.advanceTo(5);
    assert.deepEqual(fired.map(ids), [['e2', 'e1']]);
    const strict = new PatternEngine([ab]);
    assert.deepEqual(run(strict, [ev('e1', 'b', 5), ev('e2', 'a', 3), { advance: 100 }]), []);
  });

  it('produces the same fired ids for the same input on a fresh engine (replay)', () => {
    const inputs = [ev('e1', 'a', 1), ev('e2', 'b', 2), ev('e3', 'a', 3), ev('e4', 'b', 4)];
    const first = run(new PatternEngine([ab]), inputs).map((f) => f.id);
    const second = run(new PatternEngine([ab]), inputs).map((f) => f.id);
    assert.equal(first.length, 2);
    assert.deepEqual(first, second);
    assert.deepEqual(first, ['ab@1/c1/e2', 'ab@1/c1/e4']);
    const v2 = run(new PatternEngine([{ ...ab, version: 2 }]), inputs).map((f) => f.id);
    assert.notDeepEqual(v2, first);
  });
});

describe('state: bounds, hot reload, snapshot', () => {
  const ab = (version = 1, cooldownMs = 0): TriggerSpec =>
    trigger(
      'ab',
      {
        kind: 'sequence',
        steps: [event('a'), event('b')],
        withinMs: 100,
      },
      { version, cooldownMs },
    );

  it('evicts the oldest partial match beyond maxPartialMatchesPerTrigger', () => {
    const engine = new PatternEngine([ab()], { maxPartialMatchesPerTrigger: 2 });
    const fired = run(engine, [ev('e1', 'a', 1), ev('e2', 'a', 2), ev('e3', 'a', 3), ev('e4', 'b', 4)]);
    assert.deepEqual(fired.map(ids), [['e2', 'e4']]);
    assert.equal(engine.stats.partialMatchesEvicted, 1);
  });

  it('expires partial matches with their window, leaving no state for the customer', () => {
    const engine = new PatternEngine([ab()]);
    run(engine, [ev('e1', 'a', 1)]);
    assert.deepEqual(engine.customersWithState(), ['c1']);
    assert.ok(engine.stateBytes('c1') > 0);
    engine.advanceTo(101);
    assert.deepEqual(engine.customersWithState(), ['c1']);
    engine.advanceTo(102);
    assert.deepEqual(engine.customersWithState(), []);
    assert.equal(engine.stateBytes('c1'), 0);
  });

  it('dropCustomer forgets the customer, including pending absence deadlines', () => {
    const engine = new PatternEngine([trigger('abandon', sequence(event('a'), absent('c', 50)))]);
    run(engine, [ev('e1', 'a', 1, {}, 'alice'), ev('e2', 'a', 1, {}, 'bob')]);
    engine.dropCustomer('alice');
    assert.deepEqual(engine.customersWithState(), ['bob']);
    assert.deepEqual(
      engine.advanceTo(100).map((f) => f.customerId),
      ['bob'],
    );
  });

  it('dropCustomer also forgets the events of the customer still waiting for the watermark', () => {
    const engine = new PatternEngine([trigger('abandon', sequence(event('a'), absent('c', 50)))], {
      allowedLatenessMs: 10,
    });
    run(engine, [ev('e1', 'a', 1, {}, 'alice'), ev('e2', 'a', 2, {}, 'bob')]);
    assert.equal(engine.bufferedEvents, 2, 'both wait for the watermark');
    engine.dropCustomer('alice');
    assert.equal(engine.bufferedEvents, 1);
    assert.deepEqual(
      engine.advanceTo(100).map((f) => f.customerId),
      ['bob'],
    );
    assert.deepEqual(engine.customersWithState(), ['bob'], 'alice never comes back');
  });

  it('hot reload keeps unchanged triggers, resets changed versions (keeping the cooldown) and drops removed ones', () => {
    const other = trigger('other', sequence(event('x'), event('y')));
    const engine = new PatternEngine([ab(1, 50), other]);
    run(engine, [ev('e1', 'a', 1), ev('e2', 'b', 2), ev('e3', 'a', 3), ev('e4', 'x', 4)]);
    engine.setTriggers([ab(1, 50), other]);
    assert.equal(engine.explain('ab', 'c1').partialMatches.length, 1);
    engine.setTriggers([ab(2, 50)]);
    const ex = engine.explain('ab', 'c1');
    assert.equal(ex.partialMatches.length, 0);
    assert.equal(ex.lastFiredAt, 2);
    assert.equal(engine.explain('other', 'c1').status, 'unknown-trigger');
    // The cooldown still applies after the reload; the new version needs a new 'a'.
    assert.deepEqual(run(engine, [ev('e5', 'b', 5), ev('e6', 'a', 6), ev('e7', 'b', 7)]), []);
    assert.equal(run(engine, [ev('e8', 'a', 60), ev('e9', 'b', 61)]).length, 1);
  });

  it('snapshot is JSON and a restored engine continues exactly like the original', () => {
    const triggers = [ab(), trigger('abandon', sequence(event('a', { as: 'first' }), absent('c', 50)))];
    const original = new PatternEngine(triggers, { allowedLatenessMs: 5 });
    run(original, [ev('e1', 'a', 1), ev('e2', 'a', 8, {}, 'c2'), ev('e3', 'b', 6)]);
    const snap = JSON.parse(JSON.stringify(original.snapshot()));
    const restored = new PatternEngine(triggers, { allowedLatenessMs: 5 });
    restored.restore(snap);
    const rest = [ev('e4', 'b', 20), ev('e5', 'b', 21, {}, 'c2'), { advance: 100 }];
    const a = run(original, rest);
    const b = run(restored, rest);
    assert.ok(a.length >= 3);
    assert.deepEqual(b, a);
    assert.deepEqual(restored.snapshot(), original.snapshot());
  });

  it('keeps over a thousand customers apart (state grows past one table chunk) and restores them', () => {
    const abandon = trigger('abandon', sequence(event('a'), absent('b', 50)));
    const n = 1200;
    const starts = Array.from({ length: n }, (_, i) => ev(`a${i}`, 'a', 1, {}, `c${i}`));
    // Every third customer completes 'ab' (and so breaks its absence); the others abandon.
    const ends = starts.filter((_, i) => i % 3 === 0).map((_, k) => ev(`b${k * 3}`, 'b', 2, {}, `c${k * 3}`));
    const straight = new PatternEngine([ab(), abandon]);
    const want = run(straight, [...starts, ...ends, { advance: 200 }]);
    const first = new PatternEngine([ab(), abandon]);
    run(first, starts);
    assert.equal(first.customersWithState().length, n);
    const restored = new PatternEngine([ab(), abandon]);
    restored.restore(JSON.parse(JSON.stringify(first.snapshot())));
    assert.deepEqual(run(restored, [...ends, { advance: 200 }]), want);
    const completed = want.filter((f) => f.trigger === 'ab');
    assert.equal(completed.length, n / 3);
    for (const f of completed)
      assert.deepEqual(ids(f), [`a${f.customerId.slice(1)}`, `b${f.customerId.slice(1)}`]);
    const abandoned = want.filter((f) => f.trigger === 'abandon').map((f) => Number(f.customerId.slice(1)));
    assert.deepEqual(
      abandoned.sort((x, y) => x - y),
      Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0),
    );
    // ab's partial matches expired and abandon's completed: only firing times remain.
    assert.equal(restored.customersWithState().length, n);
    assert.ok(restored.explain('ab', 'c1').partialMatches.length === 0);
  });

  it('after restore, absences due at the same time fire in the same order as without restore', () => {
    const triggers = [
      trigger('abandon', sequence(event('c'), absent('a', 1))),
      trigger('big-a', {
        kind: 'event',
        type: 'a',
        where: cond('event.properties.v > 1', (c) => (c.event.properties.v as number) > 1),
      }),
    ];
    // c2 gets state first (a failed condition), but c1's absence is scheduled first.
    const head = [ev('e0', 'a', 0, { v: 0 }, 'c2'), ev('e1', 'c', 18, {}, 'c1'), ev('e2', 'c', 18, {}, 'c2')];
    const straight = new PatternEngine(triggers);
    const want = run(straight, [...head, { advance: 19 }]);
    assert.deepEqual(
      want.map((f) => f.customerId),
      ['c1', 'c2'],
    );
    const first = new PatternEngine(triggers);
    run(first, head);
    const restored = new PatternEngine(triggers);
    restored.restore(JSON.parse(JSON.stringify(first.snapshot())));
    assert.deepEqual(run(restored, [{ advance: 19 }]), want);
  });
});

describe('explain', () => {
  it('tells which step waits, the last failed condition per step, and when nothing is in progress', () => {
    const engine = new PatternEngine([
      trigger('price-drop', {
        kind: 'sequence',
        steps: [
          event('product.viewed', { as: 'view' }),
          event('catalog.price_changed', { where: sameSku('view') }),
        ],
        withinMs: 1000,
      }),
    ]);
    assert.equal(engine.explain('price-drop', 'c1').status, 'idle');
    run(engine, [
      ev('e1', 'product.viewed', 1, { sku: 's1' }),
      ev('e2', 'catalog.price_changed', 2, { sku: 's2' }),
    ]);
    const ex = engine.explain('price-drop', 'c1');
    assert.equal(ex.status, 'waiting');
    assert.equal(ex.partialMatches.length, 1);
    assert.deepEqual(
      ex.partialMatches[0].matchedSoFar.map((m) => m.event?.id),
      ['e1'],
    );
    assert.deepEqual(
      ex.partialMatches[0].waitingFor.map((w) => [w.path, w.type]),
      [['sequence[1]', 'catalog.price_changed']],
    );
    assert.equal(ex.partialMatches[0].expiresAfter, 1001);
    assert.deepEqual(
      ex.conditionFailures.map((f) => [f.path, f.condition, f.eventId]),
      [['sequence[1]', 'event.properties.sku == view.properties.sku', 'e2']],
    );
    assert.match(ex.summary, /waits for sequence\[1\]: catalog.price_changed/);
  });

  it('reports absence deadlines as the waiting step', () => {
    const engine = new PatternEngine([trigger('abandon', sequence(event('a'), absent('c', 50)))]);
    run(engine, [ev('e1', 'a', 10)]);
    const w = engine.explain('abandon', 'c1').partialMatches[0].waitingFor[0];
    assert.deepEqual([w.path, w.kind, w.deadline], ['sequence[1]', 'absent', 60]);
  });
});
