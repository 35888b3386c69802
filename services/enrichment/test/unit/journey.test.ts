import assert from 'node:assert/strict';
import { JourneyClassifier } from '../../src/domain/journey';
import { newProfile } from '../../src/domain/profile-model';
import { DEFAULT_SETTINGS } from '../../src/domain/settings';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');

function profileWith(counters: { purchases?: number; total?: number; lastSeenDaysAgo?: number }) {
  const p = newProfile('c1', new Date(NOW));
  p.counters.purchases = counters.purchases ?? 0;
  p.counters.total_events = counters.total ?? 1;
  p.counters.last_seen = new Date(NOW - (counters.lastSeenDaysAgo ?? 0) * DAY);
  p.counters.first_seen = new Date(NOW - 400 * DAY);
  return p;
}

describe('journey rules', () => {
  const classifier = new JourneyClassifier(
    DEFAULT_SETTINGS.journey.rules,
    DEFAULT_SETTINGS.journey.defaultStage,
  );

  it('classifies a customer with one event as new', () => {
    assert.equal(classifier.classify(profileWith({ total: 1 }), NOW), 'new');
  });

  it('classifies a first purchase as active and three purchases as loyal', () => {
    assert.equal(classifier.classify(profileWith({ purchases: 1 }), NOW), 'active');
    assert.equal(classifier.classify(profileWith({ purchases: 3 }), NOW), 'loyal');
  });

  it('lets the first matching rule win: a loyal customer gone for 40 days is at_risk, 120 days churned', () => {
    assert.equal(classifier.classify(profileWith({ purchases: 5, lastSeenDaysAgo: 40 }), NOW), 'at_risk');
    assert.equal(classifier.classify(profileWith({ purchases: 5, lastSeenDaysAgo: 120 }), NOW), 'churned');
  });

  it('evaluates rules over traits and events_by_type, and treats an erroring rule as not matching', () => {
    const custom = new JourneyClassifier(
      [
        { stage: 'vip', when: "traits.tier == 'gold'" },
        { stage: 'browser', when: "counters.events_by_type['page.viewed'] >= 2" },
      ],
      'other',
    );
    const p = profileWith({});
    assert.equal(custom.classify(p, NOW), 'other', 'missing trait and missing map key do not match');
    p.counters.events_by_type = [{ t: 'page.viewed', n: 2 }];
    assert.equal(custom.classify(p, NOW), 'browser');
    p.traits = { tier: 'gold' };
    assert.equal(custom.classify(p, NOW), 'vip');
  });

  it('rejects a rule that is not valid CEL, naming the rule', () => {
    assert.throws(
      () => new JourneyClassifier([{ stage: 'x', when: 'counters.purchases >=' }], 'new'),
      /journey.rules\[0\] \(x\)/,
    );
  });
});
