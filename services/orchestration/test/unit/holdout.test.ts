import * as assert from 'node:assert/strict';
import { holdoutBucket, isHeldOut } from '../../src/domain/holdout';
import { actionIdFor, runIdFor } from '../../src/domain/hashing';

describe('holdout', () => {
  it('puts 10% ± 1% of 10k customers in the control group', () => {
    let held = 0;
    for (let i = 0; i < 10_000; i++) if (isHeldOut(`customer-${i}`, 'cart-recovery', 10)) held++;
    assert.ok(held >= 900 && held <= 1_100, `held out: ${held}`);
  });

  it('is deterministic per (customer, workflow) and independent between workflows', () => {
    assert.equal(holdoutBucket('c1', 'w'), holdoutBucket('c1', 'w'));
    let both = 0;
    for (let i = 0; i < 10_000; i++) if (isHeldOut(`c${i}`, 'w1', 50) && isHeldOut(`c${i}`, 'w2', 50)) both++;
    assert.ok(Math.abs(both - 2_500) < 250, `in both control groups: ${both} (independent: ~2500)`);
  });

  it('holds nobody out at 0% and everybody at 100%', () => {
    for (let i = 0; i < 1_000; i++) {
      assert.equal(isHeldOut(`c${i}`, 'w', 0), false);
      assert.equal(isHeldOut(`c${i}`, 'w', 100), true);
    }
  });

  it('derives run and action ids deterministically', () => {
    assert.equal(runIdFor('tf1', 'w'), runIdFor('tf1', 'w'));
    assert.notEqual(runIdFor('tf1', 'w'), runIdFor('tf1', 'w2'));
    assert.match(actionIdFor('run_1', 'steps[1]'), /^act_[0-9a-f]{32}$/);
    assert.notEqual(actionIdFor('run_1', 'steps[1]'), actionIdFor('run_1', 'steps[2]'));
  });
});
