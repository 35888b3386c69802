import assert from 'node:assert/strict';
import {
  auc,
  bestSendHour,
  brier,
  calibrationByDecile,
  DAY_MS,
  expectedCalibrationError,
  gate,
  initialGate,
  nextSendTime,
  populationPrior,
  validateGate,
  type GateState,
} from '../../src';

describe('hysteresis and cooldown', () => {
  const o = validateGate({ enter: 0.6, exit: 0.4, cooldownMs: 7 * DAY_MS });
  const run = (scores: number[], stepMs = DAY_MS) => {
    let s: GateState = initialGate();
    const fired: number[] = [];
    scores.forEach((score, i) => {
      const r = gate(o, s, score, i * stepMs);
      s = r.state;
      if (r.fire) fired.push(i);
    });
    return fired;
  };

  it('fires once for a score hovering around the threshold', () => {
    assert.deepEqual(run([0.5, 0.61, 0.59, 0.62, 0.58, 0.61, 0.45, 0.63]), [1]);
  });

  it('fires again only after the score fell below exit and the cooldown passed', () => {
    assert.deepEqual(run([0.7, 0.3, 0.7, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.7]), [0, 9]);
  });

  it('rejects a band where exit is not below enter', () => {
    assert.throws(() => validateGate({ enter: 0.5, exit: 0.5, cooldownMs: 0 }), /exit/);
  });
});

describe('send-time optimisation', () => {
  const prior = populationPrior(Array.from({ length: 24 }, (_, h) => (h === 19 ? 50 : 10)));

  it('gives a customer without history the population best hour', () => {
    const e = bestSendHour(new Array(24).fill(0), prior);
    assert.equal(e.bestHour, 19);
    assert.equal(e.evidence, 0);
  });

  it('moves to the customer own hour once the history outweighs the prior', () => {
    const few = new Array(24).fill(0);
    few[7] = 1;
    assert.equal(bestSendHour(few, prior).bestHour, 19, 'one open does not beat the prior');
    const many = new Array(24).fill(0);
    many[7] = 12;
    many[8] = 4;
    assert.equal(bestSendHour(many, prior).bestHour, 7);
  });

  it('schedules the next occurrence of the hour, capped by the maximum delay', () => {
    const from = Date.parse('2025-03-01T20:15:00Z');
    assert.equal(nextSendTime(from, 7, DAY_MS), Date.parse('2025-03-02T07:00:00Z'));
    assert.equal(nextSendTime(from, 7, 3_600_000), from + 3_600_000);
  });
});

describe('quality metrics', () => {
  it('computes AUC by ranks with ties at one half', () => {
    assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    assert.equal(auc([0.5, 0.5], [0, 1]), 0.5);
    assert.ok(Number.isNaN(auc([1, 2], [1, 1])));
  });

  it('computes Brier, deciles and ECE', () => {
    assert.equal(brier([1, 0], [1, 1]), 0.5);
    const p = Array.from({ length: 100 }, (_, i) => i / 100);
    const y = p.map((x) => (x >= 0.5 ? 1 : 0));
    const bins = calibrationByDecile(p, y);
    assert.equal(bins.length, 10);
    assert.equal(bins[9].observedRate, 1);
    assert.ok(Math.abs(expectedCalibrationError(p, y) - 0.25) < 0.01);
  });
});
