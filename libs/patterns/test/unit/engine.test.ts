import assert from 'node:assert/strict';
import type { Condition, EngineEvent, Pattern, TriggerSpec } from '../../src/ast';
import { PatternEngine } from '../../src/engine/index';
import type { FiredTrigger } from '../../src/types';

const MIN = 60_000;

function ev(
  id: string,
  type: string,
  time: number,
  properties: Record<string, unknown> = {},
  customerId = 'c1',
): EngineEvent {
  return { id, type, customerId, time, properties };
}

function cond(source: string, evaluate: Condition['evaluate']): Condition {
  return { source, evaluate };
}

function trigger(name: string, pattern: Pattern, extra: Partial<TriggerSpec> = {}): TriggerSpec {
  return { name, version: 1, priority: 50, cooldownMs: 0, pattern, ...extra };
}

/** Feeds events (and `{ advance }` steps) and returns every firing. */
function run(engine: PatternEngine, inputs: Array<EngineEvent | { advance: number }>): FiredTrigger[] {
  const out: FiredTrigger[] = [];
  for (const i of inputs) out.push(...('advance' in i ? engine.advanceTo(i.advance) : engine.process(i)));
  return out;
}

const ids = (f: FiredTrigger): string[] =>
  f.matched.filter((m) => m.event !== undefined).map((m) => m.event!.id);

const priceAtLeast = (n: number) =>
  cond(`event.properties.price >= ${n}`, (c) => (c.event.properties.price as number) >= n);
const sameSku = (alias: string) =>
  cond(
    `event.properties.sku == ${alias}.properties.sku`,
    (c) => c.event.properties.sku === c.bindings[alias].properties.sku,
  );

describe('event pattern', () => {
  it('fires for each event of the type whose condition holds, with priority, category and description', () => {
    const engine = new PatternEngine([
      trigger(
        'big',
        { kind: 'event', type: 'order.completed', where: priceAtLeast(100) },
        {
          priority: 80,
          category: 'sales',
          description: 'big order',
        },
      ),
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
      steps: [
        { kind: 'event', type: 'product.viewed', as: 'view' },
        { kind: 'event', type: 'order.completed', where: sameSku('view') },
      ],
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
      trigger('t', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'a' },
          { kind: 'event', type: 'b', as: 'b' },
          {
            kind: 'event',
            type: 'c',
            where: cond('event.k == b.k', (x) => x.event.properties.k === x.bindings.b.properties.k),
          },
        ],
      }),
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
    const inside = new PatternEngine([seq(10)]);
    assert.equal(
      run(inside, [
        ev('e1', 'product.viewed', 0, { sku: 's' }),
        ev('e2', 'order.completed', 10, { sku: 's' }),
      ]).length,
      1,
    );
    const outside = new PatternEngine([seq(10)]);
    assert.equal(
      run(outside, [
        ev('e1', 'product.viewed', 0, { sku: 's' }),
        ev('e2', 'order.completed', 11, { sku: 's' }),
      ]).length,
      0,
    );
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
  const abandonment = trigger('cart-abandoned', {
    kind: 'sequence',
    steps: [
      { kind: 'event', type: 'cart.item_added', as: 'add' },
      { kind: 'absent', pattern: { kind: 'event', type: 'order.completed' }, forMs: 60 * MIN },
    ],
  });

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
      trigger('comeback', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'session.started' },
          { kind: 'absent', pattern: { kind: 'event', type: 'session.started' }, forMs: 10 },
          { kind: 'event', type: 'app.opened' },
        ],
      }),
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
        of: [
          { kind: 'event', type: 'a' },
          { kind: 'count', type: 'b', atLeast: 2, withinMs: 100 },
        ],
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
      { kind: 'event', type: 'product.viewed', as: 'view' },
      { kind: 'event', type: 'pricing.viewed' },
      { kind: 'event', type: 'review.read', where: sameSku('view') },
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
        of: [
          {
            kind: 'sequence',
            steps: [
              { kind: 'event', type: 'a' },
              { kind: 'event', type: 'b' },
            ],
          },
          { kind: 'count', type: 'c', atLeast: 2, withinMs: 100 },
        ],
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
    const engine = new PatternEngine([trigger('t', { kind: 'event', type: 'a' }, { cooldownMs: 10 })]);
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
    const engine = new PatternEngine([trigger('t', { kind: 'event', type: 'a' }, { cooldownMs: 10 })]);
    const fired = run(engine, [ev('e1', 'a', 0, {}, 'alice'), ev('e2', 'a', 1, {}, 'bob')]);
    assert.deepEqual(
      fired.map((f) => f.customerId),
      ['alice', 'bob'],
    );
  });
});

describe('event time, lateness and watermark', () => {
  const ab = trigger('ab', {
    kind: 'sequence',
    steps: [
      { kind: 'event', type: 'a' },
      { kind: 'event', type: 'b' },
    ],
  });

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
        steps: [
          { kind: 'event', type: 'a' },
          { kind: 'event', type: 'b' },
        ],
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
    const engine = new PatternEngine([
      trigger('abandon', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'a' },
          { kind: 'absent', pattern: { kind: 'event', type: 'c' }, forMs: 50 },
        ],
      }),
    ]);
    run(engine, [ev('e1', 'a', 1, {}, 'alice'), ev('e2', 'a', 1, {}, 'bob')]);
    engine.dropCustomer('alice');
    assert.deepEqual(engine.customersWithState(), ['bob']);
    assert.deepEqual(
      engine.advanceTo(100).map((f) => f.customerId),
      ['bob'],
    );
  });

  it('hot reload keeps unchanged triggers, resets changed versions (keeping the cooldown) and drops removed ones', () => {
    const other = trigger('other', {
      kind: 'sequence',
      steps: [
        { kind: 'event', type: 'x' },
        { kind: 'event', type: 'y' },
      ],
    });
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
    const triggers = [
      ab(),
      trigger('abandon', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'a', as: 'first' },
          { kind: 'absent', pattern: { kind: 'event', type: 'c' }, forMs: 50 },
        ],
      }),
    ];
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
    const abandon = trigger('abandon', {
      kind: 'sequence',
      steps: [
        { kind: 'event', type: 'a' },
        { kind: 'absent', pattern: { kind: 'event', type: 'b' }, forMs: 50 },
      ],
    });
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
      trigger('abandon', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'c' },
          { kind: 'absent', pattern: { kind: 'event', type: 'a' }, forMs: 1 },
        ],
      }),
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
          { kind: 'event', type: 'product.viewed', as: 'view' },
          { kind: 'event', type: 'catalog.price_changed', where: sameSku('view') },
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
    const engine = new PatternEngine([
      trigger('abandon', {
        kind: 'sequence',
        steps: [
          { kind: 'event', type: 'a' },
          { kind: 'absent', pattern: { kind: 'event', type: 'c' }, forMs: 50 },
        ],
      }),
    ]);
    run(engine, [ev('e1', 'a', 10)]);
    const w = engine.explain('abandon', 'c1').partialMatches[0].waitingFor[0];
    assert.deepEqual([w.path, w.kind, w.deadline], ['sequence[1]', 'absent', 60]);
  });
});
