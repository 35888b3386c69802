/**
 * The workload of the engine benchmark: 50 triggers cycling through every operator, with their
 * conditions as JavaScript closures that carry their CEL source (tools/bench compiles the same
 * triggers from YAML through that source), and a deterministic stream of events.
 */
import type { Condition, EngineEvent, Pattern, TriggerSpec } from './ast';

/** Deterministic PRNG (mulberry32) so every run sees the same stream. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MIN = 60_000;
const TYPES = [
  'page.viewed',
  'product.viewed',
  'cart.item_added',
  'cart.item_removed',
  'checkout.started',
  'order.completed',
  'payment.failed',
  'pricing.viewed',
  'review.read',
  'search.performed',
  'session.started',
  'session.ended',
  'app.opened',
  'email.clicked',
  'support.ticket_opened',
  'subscription.cancelled',
  'subscription.renewed',
  'catalog.price_changed',
  'churn.predicted',
  'wishlist.added',
];
/** Relative frequencies: browsing dominates, like real traffic. */
const WEIGHTS = [30, 25, 8, 2, 4, 3, 1, 4, 3, 10, 6, 5, 6, 2, 1, 0.5, 0.5, 1, 1, 2];

function cond(source: string, evaluate: Condition['evaluate']): Condition {
  return { source, evaluate };
}

const priceAtLeast = (min: number) =>
  cond(`event.properties.price >= ${min}`, (c) => (c.event.properties.price as number) >= min);
const sameSku = (alias: string) =>
  cond(
    `event.properties.sku == ${alias}.properties.sku`,
    (c) => c.event.properties.sku === (c.bindings[alias] as EngineEvent).properties.sku,
  );

/** 50 realistic triggers cycling through every operator and some nesting. */
export function benchmarkTriggers(count = 50): TriggerSpec[] {
  const rare = [
    'churn.predicted',
    'subscription.cancelled',
    'support.ticket_opened',
    'email.clicked',
    'wishlist.added',
  ];
  const follow = [
    'cart.item_added',
    'wishlist.added',
    'review.read',
    'catalog.price_changed',
    'checkout.started',
  ];
  const templates: Array<(i: number) => Pattern> = [
    // single event with a condition
    (i) => ({ kind: 'event', type: rare[i % rare.length], where: priceAtLeast(40 + (i % 5) * 10) }),
    // viewed an item, then did something with the same item
    (i) => ({
      kind: 'sequence',
      steps: [
        { kind: 'event', type: 'product.viewed', as: 'view' },
        { kind: 'event', type: follow[i % follow.length], where: sameSku('view') },
      ],
      withinMs: 30 * MIN,
    }),
    // cart / checkout abandonment
    (i) => ({
      kind: 'sequence',
      steps: [
        {
          kind: 'event',
          type: i % 2 === 0 ? 'cart.item_added' : 'checkout.started',
          as: 'start',
          where: priceAtLeast(10 + (i % 5) * 10),
        },
        {
          kind: 'absent',
          pattern: { kind: 'event', type: 'order.completed' },
          forMs: (10 + (i % 4) * 10) * MIN,
        },
      ],
    }),
    // compound intent
    (i) => ({
      kind: 'all',
      of: [
        { kind: 'event', type: 'pricing.viewed', as: 'p' },
        { kind: 'event', type: 'review.read' },
        { kind: 'event', type: i % 2 === 0 ? 'cart.item_added' : 'wishlist.added' },
      ],
      withinMs: 10 * MIN,
    }),
    // either a big-ticket signal or a burst of searches
    (i) => ({
      kind: 'any',
      of: [
        { kind: 'event', type: rare[(i + 2) % rare.length], where: priceAtLeast(80) },
        { kind: 'count', type: 'search.performed', atLeast: 5 + (i % 3), withinMs: 5 * MIN },
      ],
    }),
    // thresholds
    (i) => ({
      kind: 'count',
      type: i % 2 === 0 ? 'payment.failed' : 'support.ticket_opened',
      atLeast: 3 + (i % 2),
      withinMs: 10 * MIN,
    }),
    // session with browsing and no checkout
    (i) => ({
      kind: 'sequence',
      steps: [
        { kind: 'event', type: 'session.started' },
        {
          kind: 'all',
          of: [
            { kind: 'event', type: 'pricing.viewed' },
            { kind: 'event', type: follow[i % follow.length] },
          ],
        },
        { kind: 'absent', pattern: { kind: 'event', type: 'checkout.started' }, forMs: 15 * MIN },
      ],
      withinMs: 60 * MIN,
    }),
    // engaged reader who then clicks
    (i) => ({
      kind: 'sequence',
      steps: [
        { kind: 'count', type: 'review.read', atLeast: 2, withinMs: 5 * MIN },
        { kind: 'event', type: rare[(i + 3) % rare.length] },
      ],
      withinMs: 20 * MIN,
    }),
  ];
  const triggers: TriggerSpec[] = [];
  for (let i = 0; i < count; i++) {
    triggers.push({
      name: `bench-${i}`,
      version: 1,
      priority: (i * 7) % 101,
      cooldownMs: (1 + (i % 3)) * 60 * MIN,
      category: i % 4 === 0 ? 'system' : 'marketing',
      pattern: templates[i % templates.length](i),
    });
  }
  return triggers;
}

export function benchmarkEvents(
  events: number,
  customers: number,
  seed: number,
  jitterMs: number,
): EngineEvent[] {
  const rand = rng(seed);
  const total = WEIGHTS.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of WEIGHTS) cumulative.push((acc += w / total));
  const customerIds = Array.from({ length: customers }, (_, i) => `customer-${i}`);
  const out: EngineEvent[] = new Array(events);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < events; i++) {
    const r = rand();
    let k = 0;
    while (k < cumulative.length - 1 && r > cumulative[k]) k++;
    // ~20 ms of event time per event with up to 500 ms of arrival disorder.
    const time = t0 + i * 20 - Math.floor(rand() * jitterMs);
    out[i] = {
      id: `evt-${i}`,
      type: TYPES[k],
      customerId: customerIds[Math.floor(rand() * customers)],
      time,
      properties: { sku: `sku-${Math.floor(rand() * 50)}`, price: Math.floor(rand() * 120) },
    };
  }
  return out;
}
