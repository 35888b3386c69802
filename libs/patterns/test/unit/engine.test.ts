import assert from 'node:assert/strict';
import type { TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import {
  MIN,
  ev,
  cond,
  trigger,
  run,
  ids,
  priceAtLeast,
  sameSku,
  event,
  sequence,
  absent,
} from '../engine-builders';

describe('event pattern', () => {
  it('fires for each event of the type whose condition holds, with priority, category and description', () => {
    const engine = new PatternEngine([
      trigger('big', event('order.completed', { where: priceAtLeast(100) }), {
        priority: 80,
        category: 'sales',
        description: 'big order',
      }),
    ]);
    const fired = run(engine, [
      ev('e1', 'order.completed', 1, { price: 50 }),
      ev('e2', 'order.completed', 2, { price: 150 }),
      ev('e3', 'page.viewed', 3),
    ]);
    assert.equal(fired.length, 1);
    assert.equal(fired[0].completingEventId, 'e2');
    assert.equal(fired[0].priority, 80);
    assert.equal(fired[0].category, 'sales');
    assert.equal(fired[0].description, 'big order');
    assert.deepEqual(
      fired[0].matched.map((m) => m.path),
      ['event'],
    );
  });

  it('treats a throwing condition as false and reports the error in explain', () => {
    const engine = new PatternEngine([
      trigger('t', {
        kind: 'event',
        type: 'a',
        where: cond('boom()', () => {
          throw new Error('no such key: sku');
        }),
      }),
    ]);
    assert.deepEqual(run(engine, [ev('e1', 'a', 1)]), []);
    const ex = engine.explain('t', 'c1');
    assert.equal(ex.conditionFailures.length, 1);
    assert.equal(ex.conditionFailures[0].eventId, 'e1');
    assert.equal(ex.conditionFailures[0].error, 'no such key: sku');
    assert.equal(engine.stats.conditionErrors, 1);
  });
});

describe('sequence (skip-till-next-match)', () => {
  const seq = (withinMs?: number): TriggerSpec =>
    trigger('viewed-then-bought', {
      kind: 'sequence',
      steps: [event('product.viewed', { as: 'view' }), event('order.completed', { where: sameSku('view') })],
      withinMs,
    });

  it('matches steps in order, skipping events that do not match the next step', () => {
    const engine = new PatternEngine([seq()]);
    const fired = run(engine, [
      ev('e1', 'order.completed', 1, { sku: 's1' }),
      ev('e2', 'product.viewed', 2, { sku: 's1' }),
      ev('e3', 'page.viewed', 3),
      ev('e4', 'order.completed', 4, { sku: 's2' }),
      ev('e5', 'order.completed', 5, { sku: 's1' }),
    ]);
    assert.equal(fired.length, 1);
    assert.deepEqual(ids(fired[0]), ['e2', 'e5']);
    assert.equal(fired[0].bindings.view.id, 'e2');
    assert.deepEqual(
      fired[0].matched.map((m) => m.path),
      ['sequence[0]', 'sequence[1]'],
    );
  });

  it('takes the first event that satisfies a step (next match), not a later better one', () => {
    const engine = new PatternEngine([
      trigger(
        't',
        sequence(event('a'), event('b', { as: 'b' }), {
          kind: 'event',
          type: 'c',
          where: cond('event.k == b.k', (x) => x.event.properties.k === x.bindings.b.properties.k),
        }),
      ),
    ]);
    const fired = run(engine, [
      ev('e1', 'a', 1),
      ev('e2', 'b', 2, { k: 1 }),
      ev('e3', 'b', 3, { k: 2 }),
      ev('e4', 'c', 4, { k: 2 }),
    ]);
    assert.deepEqual(fired, []);
  });

  it('includes the window end: a step exactly at start + within matches, one ms later does not', () => {
    for (const [boughtAt, firings] of [
      [10, 1],
      [11, 0],
    ]) {
      const engine = new PatternEngine([seq(10)]);
      const viewed = ev('e1', 'product.viewed', 0, { sku: 's' });
      const fired = run(engine, [viewed, ev('e2', 'order.completed', boughtAt, { sku: 's' })]);
      assert.equal(fired.length, firings, `bought at ${boughtAt}`);
    }
  });

  it('starts a partial match at every first-step event, so a later start can complete after an earlier one expired', () => {
    const engine = new PatternEngine([seq(10)]);
    const fired = run(engine, [
      ev('e1', 'product.viewed', 0, { sku: 's' }),
      ev('e2', 'product.viewed', 5, { sku: 's' }),
      ev('e3', 'order.completed', 12, { sku: 's' }),
    ]);
    assert.deepEqual(fired.map(ids), [['e2', 'e3']]);
  });

  it('discards all other partial matches after a match completes (no overlapping matches)', () => {
    const engine = new PatternEngine([seq()]);
    const fired = run(engine, [
      ev('e1', 'product.viewed', 1, { sku: 's' }),
      ev('e2', 'product.viewed', 2, { sku: 's' }),
      ev('e3', 'order.completed', 3, { sku: 's' }),
      ev('e4', 'order.completed', 4, { sku: 's' }),
    ]);
    assert.deepEqual(fired.map(ids), [['e1', 'e3']]);
  });
});

describe('absent (not followed by)', () => {
  const abandonment = trigger(
    'cart-abandoned',
    sequence(event('cart.item_added', { as: 'add' }), absent('order.completed', 60 * MIN)),
  );

  it('fires when the watermark reaches add.time + for, with firedAt = deadline and no completing event', () => {
    const engine = new PatternEngine([abandonment]);
    assert.deepEqual(run(engine, [ev('e1', 'cart.item_added', 0), { advance: 60 * MIN - 1 }]), []);
    const fired = engine.advanceTo(60 * MIN);
    assert.equal(fired.length, 1);
    assert.equal(fired[0].firedAt, 60 * MIN);
    assert.equal(fired[0].completingEventId, null);
    assert.equal(fired[0].completedByDeadline, 60 * MIN);
    assert.deepEqual(
      fired[0].matched.map((m) => [m.path, m.kind]),
      [
        ['sequence[0]', 'event'],
        ['sequence[1]', 'absent'],
      ],
    );
    assert.equal(fired[0].id, `${fired[0].trigger}@1/c1/@${60 * MIN}`);
    assert.equal(
      fired[0].explanation,
      `Trigger '${fired[0].trigger}' v1 fired for customer c1 at 1970-01-01T01:00:00.000Z when the absence ` +
        'deadline 1970-01-01T01:00:00.000Z passed: sequence[0] (add): cart.item_added e1 at ' +
        '1970-01-01T00:00:00.000Z; sequence[1]: no order.completed from 1970-01-01T00:00:00.000Z until ' +
        '1970-01-01T01:00:00.000Z.',
    );
  });

  it('is cancelled by a matching event before the deadline but not by one exactly at the deadline', () => {
    const cancelled = new PatternEngine([abandonment]);
    assert.deepEqual(
      run(cancelled, [
        ev('e1', 'cart.item_added', 0),
        ev('e2', 'order.completed', 60 * MIN - 1),
        { advance: 2 * 60 * MIN },
      ]),
      [],
    );
    const atDeadline = new PatternEngine([abandonment]);
    const fired = run(atDeadline, [ev('e1', 'cart.item_added', 0), ev('e2', 'order.completed', 60 * MIN)]);
    assert.deepEqual(
      fired.map((f) => f.firedAt),
      [60 * MIN],
    );
  });

  it('fires from the watermark advanced by another customer’s event', () => {
    const engine = new PatternEngine([abandonment]);
    run(engine, [ev('e1', 'cart.item_added', 0, {}, 'alice')]);
    const fired = engine.process(ev('e2', 'page.viewed', 61 * MIN, {}, 'bob'));
    assert.deepEqual(
      fired.map((f) => f.customerId),
      ['alice'],
    );
  });

  it('in the middle of a sequence lets the next step match from the deadline on', () => {
    const engine = new PatternEngine([
      trigger(
        'comeback',
        sequence(event('session.started'), absent('session.started', 10), event('app.opened')),
      ),
    ]);
    const fired = run(engine, [
      ev('e1', 'session.started', 0),
      ev('e2', 'app.opened', 5),
      ev('e3', 'app.opened', 10),
    ]);
    assert.deepEqual(fired.map(ids), [['e1', 'e3']]);
  });
});

describe('count', () => {
  const failures = trigger('payment-failures', {
    kind: 'count',
    type: 'payment.failed',
    atLeast: 3,
    withinMs: 5 * MIN,
  });

  it('fires when the count reaches atLeast within the sliding window (inclusive) and then starts over', () => {
    const engine = new PatternEngine([failures]);
    const fired = run(engine, [
      ev('e1', 'payment.failed', 0),
      ev('e2', 'payment.failed', 1 * MIN),
      ev('e3', 'payment.failed', 5 * MIN),
      ev('e4', 'payment.failed', 6 * MIN),
      ev('e5', 'payment.failed', 7 * MIN),
      ev('e6', 'payment.failed', 8 * MIN),
    ]);
    assert.deepEqual(fired.map(ids), [
      ['e1', 'e2', 'e3'],
      ['e4', 'e5', 'e6'],
    ]);
  });

  it('slides: events older than the window no longer count', () => {
    const engine = new PatternEngine([failures]);
    const fired = run(engine, [
      ev('e1', 'payment.failed', 0),
      ev('e2', 'payment.failed', 4 * MIN),
      ev('e3', 'payment.failed', 5 * MIN + 1),
    ]);
    assert.deepEqual(fired, []);
    assert.equal(run(engine, [ev('e4', 'payment.failed', 6 * MIN)]).length, 1);
  });

  it('drops a partial count once all its events have left the window, and a later burst still fires', () => {
    const engine = new PatternEngine([failures]);
    run(engine, [ev('e1', 'payment.failed', 0), ev('e2', 'payment.failed', 1 * MIN)]);
    assert.equal(engine.explain('payment-failures', 'c1').partialMatches[0].expiresAfter, 6 * MIN);
    // A snapshot holding the partial count (same format as before) restores into one that expires.
    const restored = new PatternEngine([failures]);
    restored.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    restored.advanceTo(6 * MIN + 1);
    assert.deepEqual(restored.customersWithState(), []);
    // e2 still counts for an event at exactly 6 min (inclusive window).
    engine.advanceTo(6 * MIN);
    assert.deepEqual(engine.customersWithState(), ['c1']);
    engine.advanceTo(6 * MIN + 1);
    assert.deepEqual(engine.customersWithState(), []);
    assert.equal(engine.stateBytes(), 0);
    assert.equal(engine.explain('payment-failures', 'c1').status, 'idle');
    const fired = run(engine, [
      ev('e3', 'payment.failed', 10 * MIN),
      ev('e4', 'payment.failed', 11 * MIN),
      ev('e5', 'payment.failed', 12 * MIN),
    ]);
    assert.deepEqual(fired.map(ids), [['e3', 'e4', 'e5']]);
  });

  it('drops the partial count of a root any once it has left the window, on the next event too', () => {
    const engine = new PatternEngine([
      trigger('any-count', {
        kind: 'any',
        of: [event('a'), { kind: 'count', type: 'b', atLeast: 2, withinMs: 100 }],
      }),
    ]);
    run(engine, [ev('e1', 'b', 0, {}, 'idle'), ev('e2', 'b', 0, {}, 'busy')]);
    // The busy customer's next event, past the window, finds its old partial match gone.
    run(engine, [ev('e3', 'b', 150, {}, 'busy')]);
    const pm = engine.explain('any-count', 'busy').partialMatches;
    assert.deepEqual(
      pm.map((m) => [m.startedAt, m.matchedSoFar.map((s) => s.event?.id), m.expiresAfter]),
      [[150, ['e3'], 250]],
    );
    // Events of other customers move the watermark; the idle customer's partial match goes with it.
    run(engine, [ev('e4', 'x', 5000, {}, 'other')]);
    assert.deepEqual(engine.customersWithState(), []);
    assert.deepEqual(
      run(engine, [ev('e5', 'b', 5001, {}, 'idle'), ev('e6', 'b', 5002, {}, 'idle')]).map(ids),
      [['e5', 'e6']],
    );
  });
});

describe('all and any', () => {
  const intent = trigger('high-intent', {
    kind: 'all',
    of: [
      event('product.viewed', { as: 'view' }),
      event('pricing.viewed'),
      event('review.read', { where: sameSku('view') }),
    ],
    withinMs: 10 * MIN,
  });

  it('all matches its sub-patterns in any order within the window from the first match', () => {
    const engine = new PatternEngine([intent]);
    const fired = run(engine, [
      ev('e1', 'pricing.viewed', 0),
      ev('e2', 'product.viewed', 1 * MIN, { sku: 's1' }),
      ev('e3', 'review.read', 10 * MIN, { sku: 's1' }),
    ]);
    assert.deepEqual(fired.map(ids), [['e2', 'e1', 'e3']]);
    const late = new PatternEngine([intent]);
    assert.deepEqual(
      run(late, [
        ev('e1', 'pricing.viewed', 0),
        ev('e2', 'product.viewed', 1 * MIN, { sku: 's1' }),
        ev('e3', 'review.read', 10 * MIN + 1, { sku: 's1' }),
      ]),
      [],
    );
  });

  it('all evaluates a cross-reference only once the alias is bound (an earlier event fails the condition)', () => {
    const engine = new PatternEngine([intent]);
    const fired = run(engine, [
      ev('e1', 'review.read', 0, { sku: 's1' }),
      ev('e2', 'product.viewed', 1, { sku: 's1' }),
      ev('e3', 'pricing.viewed', 2),
    ]);
    assert.deepEqual(fired, []);
    assert.ok(
      engine
        .explain('high-intent', 'c1')
        .conditionFailures.some((f) => f.eventId === 'e1' && f.error !== undefined),
    );
  });

  it('any completes with the first alternative to complete and reports only that branch', () => {
    const engine = new PatternEngine([
      trigger('either', {
        kind: 'any',
        of: [sequence(event('a'), event('b')), { kind: 'count', type: 'c', atLeast: 2, withinMs: 100 }],
      }),
    ]);
    const fired = run(engine, [ev('e1', 'a', 1), ev('e2', 'c', 2), ev('e3', 'c', 3), ev('e4', 'b', 4)]);
    assert.deepEqual(fired.map(ids), [['e2', 'e3']]);
    assert.deepEqual(
      fired[0].matched.map((m) => m.path),
      ['any[1]', 'any[1]'],
    );
  });
});

describe('cooldown', () => {
  it('suppresses completions before lastFiredAt + cooldown and fires again exactly at the boundary', () => {
    const engine = new PatternEngine([trigger('t', event('a'), { cooldownMs: 10 })]);
    const fired = run(engine, [ev('e1', 'a', 0), ev('e2', 'a', 5), ev('e3', 'a', 9)]);
    assert.deepEqual(
      fired.map((f) => f.completingEventId),
      ['e1'],
    );
    const ex = engine.explain('t', 'c1');
    assert.equal(ex.status, 'cooldown');
    assert.equal(ex.cooldownUntil, 10);
    assert.deepEqual(ex.lastSuppressed, { at: 9, eventIds: ['e3'] });
    assert.match(ex.summary, /Cooldown active until/);
    assert.deepEqual(
      run(engine, [ev('e4', 'a', 10)]).map((f) => f.completingEventId),
      ['e4'],
    );
    assert.equal(engine.stats.suppressedByCooldown, 2);
  });

  it('is per customer', () => {
    const engine = new PatternEngine([trigger('t', event('a'), { cooldownMs: 10 })]);
    const fired = run(engine, [ev('e1', 'a', 0, {}, 'alice'), ev('e2', 'a', 1, {}, 'bob')]);
    assert.deepEqual(
      fired.map((f) => f.customerId),
      ['alice', 'bob'],
    );
  });
});
