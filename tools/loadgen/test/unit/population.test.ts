import assert from 'node:assert/strict';
import { createPopulation, type SimEvent } from '../../src';

const HOUR = 3_600_000;

function take(seed: number, n: number, extra: Record<string, unknown> = {}): SimEvent[] {
  return createPopulation({ seed, customers: 200, scenarios: 1, ...extra }).nextEvents(n);
}

describe('population determinism', () => {
  it('gives the identical event sequence for the same seed and options', () => {
    assert.deepEqual(take(7, 3000), take(7, 3000));
  });

  it('gives a different sequence for a different seed', () => {
    const a = take(7, 500);
    const b = take(8, 500);
    assert.notDeepEqual(
      a.map((e) => [e.type, e.customerId, e.occurredAt]),
      b.map((e) => [e.type, e.customerId, e.occurredAt]),
    );
  });

  it('does not depend on how the events are pulled (one by one, in chunks, or by time)', () => {
    const all = take(3, 1500);
    const p = createPopulation({ seed: 3, customers: 200, scenarios: 1 });
    const oneByOne: SimEvent[] = [];
    for (let i = 0; i < 700; i++) oneByOne.push(...p.nextEvents(1));
    oneByOne.push(...p.nextEvents({ until: all[1199].occurredAt + 1 }));
    oneByOne.push(...p.nextEvents(1500 - oneByOne.length));
    assert.deepEqual(oneByOne, all);
  });

  it('numbers event ids by seed and emission order, with the run id when given', () => {
    const events = take(42, 5, { runId: 'r1' });
    assert.deepEqual(
      events.map((e) => e.id),
      ['lg42-r1-1', 'lg42-r1-2', 'lg42-r1-3', 'lg42-r1-4', 'lg42-r1-5'],
    );
  });

  it('emits events in simulated-time order, sessions that end in an order add to the cart first', () => {
    const events = createPopulation({ seed: 11, customers: 300 }).nextEvents({
      until: Date.parse('2025-01-08T00:00:00Z'),
    });
    assert.ok(events.length > 1000, `got ${events.length} events`);
    for (let i = 1; i < events.length; i++) assert.ok(events[i].occurredAt >= events[i - 1].occurredAt);
    const bySession = new Map<string, string[]>();
    for (const e of events) bySession.set(e.sessionId!, [...(bySession.get(e.sessionId!) ?? []), e.type]);
    let orders = 0;
    for (const types of bySession.values()) {
      const order = types.indexOf('order.completed');
      if (order < 0) continue;
      orders++;
      assert.ok(
        types.slice(0, order).includes('cart.item_added'),
        `order without cart add: ${types.join(',')}`,
      );
    }
    assert.ok(orders > 10, `only ${orders} orders`);
  });
});

describe('scenario customers', () => {
  const population = createPopulation({ seed: 5, customers: 100, scenarios: 2 });
  const events = population.nextEvents({ until: population.options.startTime + 24 * HOUR });
  const ofCustomer = (id: string) => events.filter((e) => e.customerId === id);
  const scripted = population.scenarioCustomers();

  it('adds the requested number of scripted customers of every kind', () => {
    for (const ids of Object.values(scripted)) assert.equal(ids.length, 2);
  });

  it('abandoned cart: a cart add with price >= 20 and no order', () => {
    for (const id of scripted['abandoned-cart']) {
      const mine = ofCustomer(id);
      const cart = mine.find((e) => e.type === 'cart.item_added');
      assert.ok(cart && (cart.properties.price as number) >= 20);
      assert.ok(!mine.some((e) => e.type === 'order.completed'));
    }
  });

  it('browse intent: product view, pricing view and review read of one sku within 10 minutes', () => {
    for (const id of scripted['browse-intent']) {
      const mine = ofCustomer(id).filter((e) => e.properties.sku !== undefined);
      const types = mine.map((e) => e.type);
      assert.deepEqual(types, ['product.viewed', 'pricing.viewed', 'review.read']);
      assert.equal(new Set(mine.map((e) => e.properties.sku)).size, 1);
      assert.ok(mine[2].occurredAt - mine[0].occurredAt <= 10 * 60_000);
    }
  });

  it('payment failures: three system payment.failed within 5 minutes', () => {
    for (const id of scripted['payment-failures']) {
      const failed = ofCustomer(id).filter((e) => e.type === 'payment.failed');
      assert.equal(failed.length, 3);
      assert.ok(failed.every((e) => e.category === 'system'));
      assert.ok(failed[2].occurredAt - failed[0].occurredAt <= 5 * 60_000);
    }
  });

  it('VIP: a profile update with traits.vip = true, then an order of at least 500', () => {
    for (const id of scripted.vip) {
      const mine = ofCustomer(id);
      const profile = mine.findIndex(
        (e) => e.type === 'profile.updated' && (e.properties.traits as any).vip === true,
      );
      const order = mine.findIndex(
        (e) => e.type === 'order.completed' && (e.properties.revenue as number) >= 500,
      );
      assert.ok(profile >= 0 && order > profile);
    }
  });

  it('every scripted customer starts with a profile update carrying an email contact', () => {
    for (const ids of Object.values(scripted))
      for (const id of ids) {
        const first = ofCustomer(id)[0];
        assert.equal(first.type, 'profile.updated');
        assert.equal(first.properties.email, `${id}@example.test`);
      }
  });
});

describe('ground truth', () => {
  it('predicts each customer next organic purchase exactly as the simulation later emits it', () => {
    const population = createPopulation({ seed: 9, customers: 150, horizonDays: 5 });
    const asOf = population.options.startTime + 24 * HOUR;
    population.nextEvents({ until: asOf });
    const truth = population.groundTruth();
    const later = population.nextEvents({ until: asOf + 5 * 24 * HOUR + 1 });
    const firstOrder = new Map<string, string>();
    for (const e of later)
      if (e.type === 'order.completed' && !firstOrder.has(e.customerId))
        firstOrder.set(e.customerId, new Date(e.occurredAt).toISOString());
    let withPurchase = 0;
    for (const t of truth) {
      assert.equal(t.nextPurchaseAt, firstOrder.get(t.customerId) ?? null, t.customerId);
      if (t.nextPurchaseAt) withPurchase++;
    }
    assert.ok(withPurchase > 10, `only ${withPurchase} customers purchase`);
  });

  it('marks churners, and churned customers emit nothing after their churn time', () => {
    const population = createPopulation({ seed: 12, customers: 300, horizonDays: 20 });
    const truth = population.groundTruth();
    const churners = truth.filter((t) => t.willChurn);
    assert.ok(churners.length > 20 && churners.length < 250, `${churners.length} churners`);
    const events = population.nextEvents({ until: population.options.startTime + 20 * 24 * HOUR });
    const churnAt = new Map(churners.map((t) => [t.customerId, Date.parse(t.churnAt!)]));
    for (const e of events) assert.ok(!(e.occurredAt >= (churnAt.get(e.customerId) ?? Infinity)));
  });
});
