import assert from 'node:assert/strict';
import {
  compareProportions,
  newcombeDifference,
  relativeLiftInterval,
  twoProportionZTest,
  waldDifference,
  wilson,
  zFor,
} from '../../src/domain/stats';

const near = (actual: number, expected: number, tol = 1e-4) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);

describe('two-proportion statistics', () => {
  it('uses the exact normal quantile for 95% (1.959964)', () => {
    near(zFor(0.95), 1.959964, 1e-6);
  });

  it('Wilson interval of 81/263 is 0.2553 to 0.3662 (Newcombe 1998, single proportion example)', () => {
    const w = wilson(81, 263);
    near(w.low, 0.2553);
    near(w.high, 0.3662);
  });

  it('Newcombe method 10 interval of 56/70 − 48/80 is 0.0524 to 0.3339 (Newcombe 1998, table II)', () => {
    const ci = newcombeDifference(56, 70, 48, 80);
    near(ci.low, 0.0524);
    near(ci.high, 0.3339);
  });

  it('Wald interval of 60/100 − 40/100 is 0.2 ± 1.959964·√(0.0048)', () => {
    const ci = waldDifference(60, 100, 40, 100);
    const half = 1.959964 * Math.sqrt(0.24 / 100 + 0.24 / 100);
    near(ci.low, 0.2 - half, 1e-6);
    near(ci.high, 0.2 + half, 1e-6);
  });

  it('pooled z-test of 60/100 against 40/100: z = 2√2, two-sided p = 0.00468', () => {
    const t = twoProportionZTest(60, 100, 40, 100);
    near(t.z, 2 * Math.SQRT2, 1e-9);
    near(t.pValue, 0.004678, 1e-6);
  });

  it('Katz log interval of the ratio 1.5 (60/100 over 40/100) gives relative lift 0.1241 to 1.0016', () => {
    const ci = relativeLiftInterval(60, 100, 40, 100)!;
    // exp(ln 1.5 ± 1.959964·√(1/60 − 1/100 + 1/40 − 1/100)) − 1
    near(ci.low, 1.5 * Math.exp(-1.959964 * Math.sqrt(0.0216667)) - 1);
    near(ci.high, 1.5 * Math.exp(1.959964 * Math.sqrt(0.0216667)) - 1);
    near(ci.low, 0.1241);
    near(ci.high, 1.0016);
  });

  it('compares treated with control: lift, intervals, test and significance together', () => {
    const c = compareProportions(60, 100, 40, 100);
    near(c.absoluteLift, 0.2, 1e-12);
    near(c.relativeLift!, 0.5, 1e-12);
    assert.equal(c.significant, true);
    assert.ok(c.absoluteCi.low > 0 && c.absoluteCi.high < 1);
    const none = compareProportions(5, 100, 0, 0);
    assert.equal(none.significant, false);
    assert.equal(none.relativeLift, null);
  });
});
