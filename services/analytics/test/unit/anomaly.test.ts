import assert from 'node:assert/strict';
import { anomalyOptions, detectAnomalies, seasonalBaseline } from '../../src/domain/anomaly';

/** Hourly volumes with a daily cycle (busy 09–17 UTC) and a quieter weekend, for `weeks` weeks. */
function seasonalHours(weeks: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < weeks * 168; h++) {
    const hour = h % 24;
    const day = Math.floor(h / 24) % 7;
    const base = hour >= 9 && hour < 17 ? 100 : 20;
    out.push((day >= 5 ? base / 2 : base) + ((h * 7) % 5)); // small deterministic wobble
  }
  return out;
}

describe('anomaly rule (seasonal baseline, robust z-score with MAD)', () => {
  const o = anomalyOptions('hour');

  it('takes the median of the same hour in earlier weeks as the baseline', () => {
    const v = seasonalHours(4);
    // Same hour one, two and three weeks earlier: 100 + wobble each; the median of three.
    const i = 3 * 168 + 10;
    const peers = [v[i - 168], v[i - 336], v[i - 504]].sort((a, b) => a - b);
    assert.equal(seasonalBaseline(v, i, o), peers[1]);
  });

  it('does not flag the daily and weekly cycle itself', () => {
    assert.deepEqual(detectAnomalies(seasonalHours(4), o), []);
  });

  it('flags a spike and a drop, with their sign, and nothing else', () => {
    const v = seasonalHours(4);
    const spike = 3 * 168 + 30; // a Tuesday 06:00: expected about 20
    const drop = 3 * 168 + 60; // a Wednesday 12:00: expected about 100
    v[spike] = 200;
    v[drop] = 5;
    const found = detectAnomalies(v, o);
    assert.deepEqual(
      found.map((a) => [a.index, a.kind]),
      [
        [spike, 'spike'],
        [drop, 'drop'],
      ],
    );
    // The z-score of the spike is (200 − baseline) / max(1.4826·MAD, √baseline).
    assert.ok(found[0].z > 3.5);
  });

  it('needs three earlier seasons before judging (no baseline, no flag)', () => {
    const v = seasonalHours(4);
    v[3 * 168 - 5] = 10_000; // in the third week: only two earlier weeks
    assert.equal(seasonalBaseline(v, 3 * 168 - 5, o), undefined);
    assert.deepEqual(detectAnomalies(v, o), []);
  });

  it('falls back to the daily cycle while there is less than three weeks of history', () => {
    const v = seasonalHours(1).slice(0, 5 * 24); // Monday to Friday
    v[4 * 24 + 3] = 300;
    assert.deepEqual(
      detectAnomalies(v, o).map((a) => a.index),
      [4 * 24 + 3],
    );
  });
});
