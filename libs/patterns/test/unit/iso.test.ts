import assert from 'node:assert/strict';
import fc from 'fast-check';
import { iso } from '../../src/engine/index';

describe('time formatting in explanations', () => {
  it('formats like Date.toISOString for any time, including edges and invalid dates', () => {
    const edges = [0, 1, 999, 59_999, 86_399_999, 951_782_400_000, 4_107_542_400_000, 253_402_300_799_999];
    const odd = [-1, -62_198_755_200_001, 253_402_300_800_000, 8.64e15, 1.5, NaN, Infinity, -Infinity];
    for (const t of [...edges, ...odd]) {
      const d = new Date(t);
      assert.equal(iso(t), Number.isNaN(d.getTime()) ? String(t) : d.toISOString(), String(t));
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (t) => {
        assert.equal(iso(t), new Date(t).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });
});
