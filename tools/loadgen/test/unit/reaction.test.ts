import assert from 'node:assert/strict';
import {
  createPopulation,
  decideReaction,
  openHourFactor,
  Rng,
  sampleTraits,
  type CustomerTraits,
  type Delivery,
} from '../../src';

const HOUR = 3_600_000;
const BASE = Date.parse('2025-01-06T00:00:00Z');

function traits(overrides: Partial<CustomerTraits>): CustomerTraits {
  return { ...sampleTraits(Rng.derive(0, 'fixture')), ...overrides };
}

function rates(t: CustomerTraits, deliveredAt: number, uplift: number, n = 4000) {
  let opened = 0;
  let converted = 0;
  for (let i = 0; i < n; i++) {
    const d = decideReaction(
      t,
      { actionId: `a${i}`, customerId: 'c', channel: 'email', deliveredAt },
      Rng.derive(1, i),
      {
        uplift,
        wellTimedWindowHours: 1,
      },
    );
    if (d.opened) opened++;
    if (d.converted) converted++;
  }
  return { open: opened / n, convert: converted / n, convertIfOpened: converted / opened };
}

describe('reactions to delivered messages', () => {
  const utc = { name: 'Europe/London', offsetMinutes: 0 };

  it('a customer with high email responsiveness opens far more often than one with low', () => {
    const eager = traits({ timeZone: utc, responsiveness: { email: 0.8, push: 0.1, sms: 0.1, in_app: 0.1 } });
    const reluctant = traits({
      timeZone: utc,
      responsiveness: { email: 0.1, push: 0.1, sms: 0.1, in_app: 0.1 },
    });
    const high = rates(eager, BASE, 0).open;
    const low = rates(reluctant, BASE, 0).open;
    // Both delivered at 00:00 UTC: the same hour factor for both.
    const factor = openHourFactor(eager, 0);
    assert.ok(Math.abs(high - 0.8 * factor) < 0.03, `eager open rate ${high}`);
    assert.ok(Math.abs(low - 0.1 * factor) < 0.03, `reluctant open rate ${low}`);
  });

  it('opens a message delivered at the active hour more than one delivered at night, and the responsiveness over a day', () => {
    const t = traits({
      timeZone: { name: 'Europe/Berlin', offsetMinutes: 60 },
      preferredHour: 19,
      responsiveness: { email: 0.4, push: 0.1, sms: 0.1, in_app: 0.1 },
    });
    const active = rates(t, BASE + 18 * HOUR, 0).open; // 19:00 in Berlin
    const night = rates(t, BASE + 6 * HOUR, 0).open; // 07:00 in Berlin, 12h from the preferred hour
    assert.ok(active > 0.55 && active < 0.65, `open rate at the preferred hour ${active}`);
    assert.ok(night > 0.28 && night < 0.36, `open rate 12h away ${night}`);
    let mean = 0;
    for (let m = 0; m < 24 * 60; m++) mean += openHourFactor(t, m / 60) / (24 * 60);
    assert.ok(Math.abs(mean - 1) < 1e-9, `mean hour factor ${mean}`);
  });

  it('a message near the preferred local hour converts more, by the configured uplift', () => {
    const t = traits({
      timeZone: { name: 'Europe/Berlin', offsetMinutes: 60 },
      preferredHour: 19,
      purchasePropensity: 0.1,
      clickRate: 1,
      responsiveness: { email: 1, push: 1, sms: 1, in_app: 1 },
    });
    const wellTimed = rates(t, BASE + 18 * HOUR, 0.2, 6000); // 19:00 in Berlin
    const offHours = rates(t, BASE + 6 * HOUR, 0.2, 6000); // 07:00 in Berlin
    // Clicks always follow an open here: conversion per open is the purchase probability.
    assert.ok(
      Math.abs(offHours.convertIfOpened - 0.3) < 0.03,
      `off-hours conversion ${offHours.convertIfOpened}`,
    );
    assert.ok(
      Math.abs(wellTimed.convertIfOpened - 0.5) < 0.03,
      `well-timed conversion ${wellTimed.convertIfOpened}`,
    );
  });

  it('reacts identically to the same action and emits opened/clicked/order events with stable ids', () => {
    const population = createPopulation({ seed: 3, customers: 50, scenarios: 1 });
    const customer = population.customers[0];
    const reactions = Array.from({ length: 300 }, (_, i) => {
      const delivery: Delivery = {
        actionId: `act-${i}`,
        customerId: customer.id,
        channel: 'email',
        deliveredAt: BASE,
      };
      const first = population.react(delivery, BASE)!;
      assert.deepEqual(population.react(delivery, BASE), first);
      return first;
    });
    const withOrder =
      reactions.find((r) => r.decision.converted) ?? reactions.find((r) => r.decision.clicked)!;
    const types = withOrder.events.map((e) => e.type);
    assert.equal(types[0], 'email.opened');
    assert.equal(types[1], 'message.clicked');
    assert.ok(
      withOrder.events.every((e) => e.id.startsWith(`lg3-r-${withOrder.events[0].properties.actionId}-`)),
    );
    assert.ok(
      reactions.some((r) => r.events.length === 0),
      'some messages are ignored',
    );
  });

  it('uses message.opened for non-email channels and ignores unknown or churned customers', () => {
    const population = createPopulation({ seed: 3, customers: 300 });
    const eager = population.customers.find(
      (c) => c.traits.responsiveness.push > 0.5 && c.churnAt > BASE + HOUR,
    )!;
    const opened = Array.from({ length: 50 }, (_, i) =>
      population.react({ actionId: `p${i}`, customerId: eager.id, channel: 'push', deliveredAt: BASE }),
    ).find((r) => r!.decision.opened)!;
    assert.equal(opened.events[0].type, 'message.opened');
    assert.equal(
      population.react({ actionId: 'x', customerId: 'stranger', channel: 'email', deliveredAt: BASE }),
      undefined,
    );
    const churned = population.customers.find((c) => c.churnAt < BASE + 30 * 24 * HOUR)!;
    assert.equal(
      population.react({
        actionId: 'y',
        customerId: churned.id,
        channel: 'email',
        deliveredAt: churned.churnAt + 1,
      }),
      undefined,
    );
  });
});
