import assert from 'node:assert/strict';
import fc from 'fast-check';
import { firedTriggerId, iso } from '../../src/engine';
import { createHash } from 'node:crypto';

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

  it('fired ids are the first 32 hex chars of sha256 over the JSON of their parts', () => {
    const want = createHash('sha256')
      .update(JSON.stringify(['t', 2, 'c-ü', ['e1', 'e2'], null]))
      .digest('hex')
      .slice(0, 32);
    assert.equal(firedTriggerId('t', 2, 'c-ü', ['e1', 'e2'], undefined), want);
    // Any UTF-16 text (quotes, backslashes, control characters, lone surrogates) and any deadline.
    const text = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
    const tricky = fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\ud800', 'a\udc00b', '😀', '\u2028');
    fc.assert(
      fc.property(
        fc.oneof(text, tricky),
        fc.integer({ min: 1, max: 1e6 }),
        fc.oneof(text, tricky),
        fc.array(fc.oneof(text, tricky), { maxLength: 4 }),
        fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
        (trigger, version, customer, ids, deadline) => {
          const json = JSON.stringify([trigger, version, customer, ids, deadline ?? null]);
          const expected = createHash('sha256').update(json).digest('hex').slice(0, 32);
          assert.equal(firedTriggerId(trigger, version, customer, ids, deadline), expected);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
