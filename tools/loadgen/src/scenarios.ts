import { CATALOG, PAYMENT_FAILURE_REASONS } from './events';
import { Rng } from './prng';
import { profileProperties, type Draft, type SimCustomer } from './session';

/**
 * Scripted customers whose events are guaranteed to match the sample triggers. They do nothing
 * else (no organic activity), so nothing they do can cancel the match (e.g. an order after an
 * abandoned cart).
 */
export const SCENARIO_KINDS = ['abandoned-cart', 'browse-intent', 'payment-failures', 'vip'] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export const SCENARIO_DESCRIPTIONS: Record<ScenarioKind, string> = {
  'abandoned-cart': 'cart.item_added with price >= 20 and no order.completed afterwards',
  'browse-intent': 'product.viewed, pricing.viewed and review.read of the same sku within 10 minutes',
  'payment-failures': 'three payment.failed (system) within 5 minutes',
  vip: 'profile.updated with traits.vip = true, then order.completed with revenue >= 500',
};

/** How many scripted customers of each kind: one number for every kind, or per kind. */
export type ScenarioCounts = number | Partial<Record<ScenarioKind, number>>;

export function scenarioCount(counts: ScenarioCounts | undefined, kind: ScenarioKind): number {
  if (counts === undefined) return 0;
  return typeof counts === 'number' ? counts : (counts[kind] ?? 0);
}

/** The scripted events of one scenario customer, starting at `start`. */
export function scenarioDrafts(
  kind: ScenarioKind,
  seed: number,
  customer: SimCustomer,
  start: number,
): Draft[] {
  const rng = Rng.derive(seed, 'scenario', customer.index);
  const drafts: Draft[] = [];
  let t = start;
  const add = (type: string, properties: Record<string, unknown>, gapSeconds: number, system = false) => {
    drafts.push({
      type,
      category: system ? 'system' : 'customer_action',
      at: t,
      properties,
      sessionId: `${customer.id}-s0`,
      scenario: kind,
    });
    t += gapSeconds * 1000;
  };
  const profile = profileProperties(customer, rng);
  const product = rng.pick(CATALOG.filter((p) => p.price >= 20 && p.price < 500));
  switch (kind) {
    case 'abandoned-cart':
      add('profile.updated', profile, 30);
      add('product.viewed', { sku: product.sku, price: product.price, category: product.category }, 40);
      add('cart.item_added', { sku: product.sku, price: product.price, quantity: 1 }, 0);
      break;
    case 'browse-intent':
      add('profile.updated', profile, 30);
      add('product.viewed', { sku: product.sku, price: product.price, category: product.category }, 60);
      add('pricing.viewed', { sku: product.sku }, 60);
      add('review.read', { sku: product.sku, rating: rng.int(3, 5) }, 0);
      break;
    case 'payment-failures': {
      add('profile.updated', profile, 30);
      const amount = Math.round(rng.uniform(20, 300) * 100) / 100;
      for (let i = 0; i < 3; i++)
        add('payment.failed', { reason: rng.pick(PAYMENT_FAILURE_REASONS), amount }, 40, true);
      break;
    }
    case 'vip': {
      const traits = { ...(profile.traits as Record<string, unknown>), vip: true };
      add('profile.updated', { ...profile, traits }, 60);
      const revenue = Math.round(rng.uniform(500, 1500) * 100) / 100;
      add(
        'order.completed',
        { orderId: `${customer.id}-o1`, revenue, currency: 'USD', items: [product.sku] },
        0,
      );
      break;
    }
  }
  return drafts;
}
