import { CATALOG, PAGES, PAYMENT_FAILURE_REASONS, TICKET_SUBJECTS, type Product } from './events';
import type { SimCategory } from './events';
import { Rng } from './prng';
import { activityWeight, localHour, MEAN_ACTIVITY_WEIGHT, type CustomerTraits } from './traits';

const DAY_MS = 86_400_000;

/** A simulated customer: public id, hidden traits and the fate the simulator decided for them. */
export interface SimCustomer {
  index: number;
  id: string;
  traits: CustomerTraits;
  /** Epoch ms at which the customer leaves for good (may lie far beyond any run). */
  churnAt: number;
  /** Scripted scenario this customer plays instead of organic activity. */
  scenario?: string;
  /**
   * Length (ms) of the disengagement before `churnAt`: activity and purchases fade over it instead
   * of stopping abruptly. Absent or 0 = abrupt churn (the original model).
   */
  declineMs?: number;
}

/** An event before it gets its id (ids follow emission order). */
export interface Draft {
  type: string;
  category: SimCategory;
  at: number;
  properties: Record<string, unknown>;
  sessionId?: string;
  scenario?: string;
}

export interface Session {
  index: number;
  start: number;
  purchase: boolean;
  drafts: Draft[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The properties of a `profile.updated` event as enrichment reads them (contacts at the top level). */
export function profileProperties(customer: SimCustomer, rng: Rng): Record<string, unknown> {
  const first = rng.pick([
    'Ada',
    'Grace',
    'Alan',
    'Linus',
    'Barbara',
    'Ken',
    'Margaret',
    'Dennis',
    'Frances',
    'Edsger',
  ]);
  const last = rng.pick([
    'Lovelace',
    'Hopper',
    'Turing',
    'Torvalds',
    'Liskov',
    'Thompson',
    'Hamilton',
    'Ritchie',
  ]);
  const email = `${customer.id}@example.test`;
  return {
    traits: { name: `${first} ${last}`, email, vip: customer.traits.vip },
    email,
    phone: `+1555${String(1_000_000 + customer.index).slice(-7)}`,
    push_token: `push-${customer.id}`,
    consent: { marketing: rng.chance(0.85), transactional: true },
    time_zone: customer.traits.timeZone.name,
  };
}

/** What happens inside one session, from the session's own random stream. */
export function sessionDrafts(
  seed: number,
  customer: SimCustomer,
  sessionIndex: number,
  start: number,
  purchase: boolean,
): Draft[] {
  const rng = Rng.derive(seed, 'session', customer.index, sessionIndex);
  const sessionId = `${customer.id}-s${sessionIndex}`;
  const drafts: Draft[] = [];
  let t = start;
  const add = (
    type: string,
    properties: Record<string, unknown>,
    category: SimCategory = 'customer_action',
  ) => {
    drafts.push({ type, category, at: t, properties, sessionId });
    t += rng.int(8, 90) * 1000;
  };
  if (sessionIndex === 0 || rng.chance(0.02)) add('profile.updated', profileProperties(customer, rng));
  if (rng.chance(0.45)) add('user.login', { method: rng.pick(['password', 'sso', 'magic_link']) });
  const pages = 1 + rng.poisson(1.5);
  for (let i = 0; i < pages; i++) add('page.viewed', { path: rng.pick(PAGES) });
  const viewed: Product[] = [];
  const products = 1 + rng.poisson(purchase ? 1.5 : 0.8);
  for (let i = 0; i < products; i++) {
    const product = rng.pick(CATALOG);
    viewed.push(product);
    add('product.viewed', { sku: product.sku, price: product.price, category: product.category });
    if (rng.chance(0.2)) add('review.read', { sku: product.sku, rating: rng.int(1, 5) });
    if (rng.chance(0.1)) add('pricing.viewed', { sku: product.sku });
  }
  if (purchase) {
    const items = viewed.slice(0, rng.int(1, Math.min(2, viewed.length)));
    let revenue = 0;
    for (const product of items) {
      const quantity = Math.max(
        1,
        Math.min(5, Math.round(customer.traits.averageOrderValue / items.length / product.price)),
      );
      revenue += product.price * quantity;
      add('cart.item_added', { sku: product.sku, price: product.price, quantity });
    }
    if (rng.chance(0.06)) {
      const failures = rng.chance(0.3) ? 2 : 1;
      for (let i = 0; i < failures; i++)
        add(
          'payment.failed',
          { reason: rng.pick(PAYMENT_FAILURE_REASONS), amount: round2(revenue) },
          'system',
        );
    }
    add('order.completed', {
      orderId: `${sessionId}-o`,
      revenue: round2(revenue),
      currency: 'USD',
      items: items.map((p) => p.sku),
    });
  } else if (rng.chance(0.18)) {
    const product = viewed[viewed.length - 1];
    add('cart.item_added', { sku: product.sku, price: product.price, quantity: 1 });
  }
  if (rng.chance(0.015))
    add('support.ticket_opened', {
      subject: rng.pick(TICKET_SUBJECTS),
      priority: rng.pick(['low', 'normal', 'high']),
    });
  return drafts;
}

/**
 * A customer's organic activity: sessions arrive as a Poisson process whose intensity follows the
 * customer's local hour of day (thinning), each ending in a purchase with the customer's propensity,
 * none after the churn time. Its state is two numbers and an Rng, so ground truth can look ahead
 * on a clone without disturbing the stream.
 */
export class CustomerStream {
  private sessionIndex = 0;
  private lastEventAt: number;
  private done = false;

  constructor(
    private readonly seed: number,
    readonly customer: SimCustomer,
    private cursor: number,
    private readonly rng: Rng = Rng.derive(seed, 'sessions', customer.index),
    // Its own stream, so the sessions before the decline are the same as without it.
    private readonly declineRng: Rng = Rng.derive(seed, 'decline-sessions', customer.index),
  ) {
    this.lastEventAt = cursor - DAY_MS;
  }

  clone(): CustomerStream {
    const copy = new CustomerStream(
      this.seed,
      this.customer,
      this.cursor,
      this.rng.clone(),
      this.declineRng.clone(),
    );
    copy.sessionIndex = this.sessionIndex;
    copy.lastEventAt = this.lastEventAt;
    copy.done = this.done;
    return copy;
  }

  /**
   * 1 before the decline; then exp(−3·elapsed/decline), so engagement is 5% of normal at churn.
   * Sessions are thinned by it and the purchase propensity scaled by its square root.
   */
  private engagementAt(t: number): number {
    const decline = this.customer.declineMs ?? 0;
    const from = this.customer.churnAt - decline;
    if (decline <= 0 || t <= from) return 1;
    return Math.exp((-3 * (t - from)) / decline);
  }

  /** The next session, or undefined once the customer has churned. */
  next(): Session | undefined {
    if (this.done) return undefined;
    const { traits } = this.customer;
    const peakPerMs = traits.activityRate / MEAN_ACTIVITY_WEIGHT / DAY_MS;
    let t = this.cursor;
    let engagement = 1;
    do {
      do t += this.rng.exponential(1 / peakPerMs);
      while (!this.rng.chance(activityWeight(traits.preferredHour, localHour(traits, t))));
      engagement = this.engagementAt(t);
      // Thinning by the fading engagement (drawn only inside the decline, from its own stream).
    } while (engagement < 1 && t < this.customer.churnAt && !this.declineRng.chance(engagement));
    this.cursor = t;
    const purchase = this.rng.chance(traits.purchasePropensity * Math.sqrt(engagement));
    // Sessions never overlap: one starts at least a minute after the previous one ended.
    const start = Math.max(Math.round(t), this.lastEventAt + 60_000);
    if (start >= this.customer.churnAt) {
      this.done = true;
      return undefined;
    }
    const index = this.sessionIndex++;
    const drafts = sessionDrafts(this.seed, this.customer, index, start, purchase);
    this.lastEventAt = drafts[drafts.length - 1].at;
    return { index, start, purchase, drafts };
  }
}
