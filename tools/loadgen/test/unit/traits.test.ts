import assert from 'node:assert/strict';
import {
  CHANNELS,
  createPopulation,
  hourDistance,
  localHour,
  Rng,
  sampleTraits,
  TIME_ZONES,
  TRAIT_MODEL,
} from '../../src';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function near(actual: number, expected: number, relative: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= expected * relative,
    `${what}: ${actual} not within ${relative * 100}% of ${expected}`,
  );
}

describe('hidden traits', () => {
  const traits = Array.from({ length: 6000 }, (_, i) => sampleTraits(Rng.derive(1, 'traits', i)));

  it('follow the model medians within tolerance', () => {
    near(median(traits.map((t) => t.activityRate)), TRAIT_MODEL.activityRate.median, 0.08, 'activityRate');
    near(
      median(traits.map((t) => t.purchasePropensity)),
      TRAIT_MODEL.purchasePropensity.median,
      0.08,
      'purchasePropensity',
    );
    near(median(traits.map((t) => t.churnHazard)), TRAIT_MODEL.churnHazard.median, 0.08, 'churnHazard');
    near(median(traits.map((t) => t.clickRate)), TRAIT_MODEL.clickRate.median, 0.08, 'clickRate');
    for (const c of CHANNELS)
      near(
        median(traits.map((t) => t.responsiveness[c])),
        TRAIT_MODEL.responsiveness[c],
        0.12,
        `responsiveness.${c}`,
      );
  });

  it('keep probabilities in [0, 1], hours in 0..23, every time zone used and VIPs rare', () => {
    for (const t of traits) {
      assert.ok(t.purchasePropensity > 0 && t.purchasePropensity < 1);
      for (const c of CHANNELS) assert.ok(t.responsiveness[c] > 0 && t.responsiveness[c] < 1);
      assert.ok(Number.isInteger(t.preferredHour) && t.preferredHour >= 0 && t.preferredHour <= 23);
    }
    assert.equal(new Set(traits.map((t) => t.timeZone.name)).size, TIME_ZONES.length);
    const vipShare = traits.filter((t) => t.vip).length / traits.length;
    near(vipShare, TRAIT_MODEL.vipShare, 0.35, 'vip share');
  });

  it('drive session counts: sessions per day match the activity rates, clustered around the preferred hour', () => {
    const days = 10;
    const population = createPopulation({ seed: 21, customers: 400 });
    const start = population.options.startTime;
    const events = population.nextEvents({ until: start + days * 86_400_000 });
    const sessionStarts = new Map<string, number>();
    for (const e of events)
      if (!sessionStarts.has(e.sessionId!)) sessionStarts.set(e.sessionId!, e.occurredAt);
    let expected = 0;
    for (const c of population.customers) {
      const activeDays = Math.min(days, Math.max(0, (c.churnAt - start) / 86_400_000));
      expected += c.traits.activityRate * activeDays;
    }
    near(sessionStarts.size, expected, 0.1, 'sessions');
    let nearPreferred = 0;
    for (const [sessionId, at] of sessionStarts) {
      const customer = population.customer(sessionId.replace(/-s\d+$/, ''))!;
      if (hourDistance(localHour(customer.traits, at), customer.traits.preferredHour) <= 3) nearPreferred++;
    }
    // 7 of 24 hours; with the preference bump well over half the sessions fall there.
    assert.ok(
      nearPreferred / sessionStarts.size > 0.5,
      `${nearPreferred}/${sessionStarts.size} near the preferred hour`,
    );
  });
});
