import assert from 'node:assert/strict';
import { auc, expectedCalibrationError, fitPlatt, OnlineLogistic } from '../../src';

/** A seeded generator (Park–Miller) so every run sees the same data. */
function rng(seed: number) {
  let s = seed;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  return { u, gauss: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) };
}
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('online logistic learner', () => {
  it('converges to the weights of a problem with a known answer (on standardised features)', () => {
    const r = rng(7);
    const m = new OnlineLogistic('t', ['a', 'b', 'noise']);
    // True model on standardised inputs: z = 2·a' − 1·b − 0.5 with a = 5 + 3a'.
    for (let i = 0; i < 40_000; i++) {
      const a = r.gauss();
      const b = r.gauss();
      const y = r.u() < sigmoid(2 * a - b - 0.5) ? 1 : 0;
      m.learn([5 + 3 * a, b, r.gauss()], y, i);
    }
    const s = m.toJSON();
    assert.ok(Math.abs(s.weights[0] - 2) < 0.15, `w_a ${s.weights[0]}`);
    assert.ok(Math.abs(s.weights[1] + 1) < 0.15, `w_b ${s.weights[1]}`);
    assert.ok(Math.abs(s.weights[2]) < 0.1, `w_noise ${s.weights[2]}`);
    assert.ok(Math.abs(s.bias + 0.5) < 0.15, `bias ${s.bias}`);
    assert.ok(m.version > 1, 'recalibration bumps the version');
    const c = m.contributions([5 + 3 * 2, 0, 0], 1)[0];
    assert.equal(c.feature, 'a');
  });

  it('keeps margins bounded when a feature was (nearly) constant in the first examples', () => {
    const m = new OnlineLogistic('t', ['a']);
    for (let i = 0; i < 30; i++) m.learn([1 + 1e-7 * i], i % 2, i);
    const margin = m.margin([3]);
    assert.ok(Math.abs(margin) < 10, `margin ${margin}`);
  });

  it('restores from its JSON state and predicts the same', () => {
    const m = new OnlineLogistic('t', ['a']);
    for (let i = 0; i < 100; i++) m.learn([i % 7], i % 2, i);
    const copy = OnlineLogistic.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    assert.equal(copy.predict([3]), m.predict([3]));
    assert.throws(() => new OnlineLogistic('t', ['b'], {}, m.toJSON()), /stored features differ/);
  });
});

describe('calibration', () => {
  it('Platt scaling recovers a known miscalibration, bringing the ECE under 0.02', () => {
    const r = rng(11);
    const margins: number[] = [];
    const labels: number[] = [];
    // Scores are 3× too confident and shifted: the true probability is sigmoid(m/3 − 1).
    for (let i = 0; i < 20_000; i++) {
      const m = r.gauss() * 4;
      margins.push(m);
      labels.push(r.u() < sigmoid(m / 3 - 1) ? 1 : 0);
    }
    const { a, b } = fitPlatt(margins, labels);
    assert.ok(Math.abs(a - 1 / 3) < 0.03, `a ${a}`);
    assert.ok(Math.abs(b + 1) < 0.08, `b ${b}`);
    const raw = margins.map(sigmoid);
    const calibrated = margins.map((m) => sigmoid(a * m + b));
    assert.ok(expectedCalibrationError(raw, labels) > 0.1);
    assert.ok(expectedCalibrationError(calibrated, labels) < 0.02);
    assert.ok(
      Math.abs(auc(calibrated, labels) - auc(raw, labels)) < 1e-9,
      'a monotone map keeps the ranking',
    );
  });

  it('does not diverge on separable data or non-finite margins', () => {
    const { a, b } = fitPlatt([-3, -2, -1, 1, 2, 3, Infinity, NaN], [0, 0, 0, 1, 1, 1, 1, 0]);
    assert.ok(Number.isFinite(a) && Number.isFinite(b) && a > 0);
    assert.deepEqual(fitPlatt([1, 2], [1, 1]), { a: 1, b: 0 });
  });
});
