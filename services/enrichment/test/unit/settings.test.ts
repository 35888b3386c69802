import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, parseSettings } from '../../src/domain/settings';

describe('enrichment settings file', () => {
  it('keeps defaults for missing sections and reads the given ones', () => {
    const s = parseSettings(`
journey:
  rules:
    - { stage: vip, when: "counters.lifetime_value > 1000" }
  default: prospect
dateRules:
  - { name: anniversary, attribute: signup_date, eventType: date.signup_anniversary, at: "10:30" }
purchaseEventTypes: [checkout.paid]
`);
    assert.deepEqual(s.journey, {
      rules: [{ stage: 'vip', when: 'counters.lifetime_value > 1000' }],
      defaultStage: 'prospect',
    });
    assert.deepEqual(s.dateRules, [
      {
        name: 'anniversary',
        attribute: 'signup_date',
        eventType: 'date.signup_anniversary',
        offsetDays: 0,
        at: '10:30',
        recurrence: 'yearly',
      },
    ]);
    assert.deepEqual(s.purchaseEventTypes, ['checkout.paid']);
    assert.deepEqual(s.profileEventTypes, DEFAULT_SETTINGS.profileEventTypes);
  });

  it('names the path of a bad field', () => {
    assert.throws(
      () => parseSettings('dateRules:\n  - { name: x, attribute: b, eventType: date.x, at: "25:00" }'),
      /dateRules\.0\.at/,
    );
    assert.throws(() => parseSettings('bogus: 1'), /bogus|Unrecognized/);
  });
});
