import assert from 'node:assert/strict';
import fc from 'fast-check';
import { firedTriggerId } from '../../src/engine/index';

/** The parts of an id, decoded: the test's proof that no two firings can share one. */
function parseFiredId(id: string): [string, number, string, string | null, number | undefined] {
  const parts = id.split('/');
  assert.equal(parts.length, 3, id);
  const at = parts[0].lastIndexOf('@');
  const decode = (s: string): string =>
    s.replace(/%u([0-9a-f]{4})|%([0-9a-f]{2})/g, (_, u: string, b: string) =>
      String.fromCharCode(parseInt(u ?? b, 16)),
    );
  const last = parts[2];
  return [
    decode(parts[0].slice(0, at)),
    Number(parts[0].slice(at + 1)),
    decode(parts[1]),
    last.startsWith('@') ? null : decode(last),
    last.startsWith('@') ? Number(last.slice(1)) : undefined,
  ];
}

describe('fired trigger ids', () => {
  it('name the trigger version, the customer and the completing event or deadline', () => {
    assert.equal(
      firedTriggerId('cart-abandoned', 3, 'c-42', 'evt-9', undefined),
      'cart-abandoned@3/c-42/evt-9',
    );
    assert.equal(
      firedTriggerId('cart-abandoned', 3, 'c-42', null, 1_767_229_200_000),
      'cart-abandoned@3/c-42/@1767229200000',
    );
    assert.equal(firedTriggerId('a/b@c', 1, 'x y%', '@e/1', undefined), 'a%2fb%40c@1/x%20y%25/%40e%2f1');
    assert.equal(firedTriggerId('t', 1, 'ü\ud800', 'e\n', undefined), 't@1/ü%ud800/e%0a');
  });

  it('decode back to their parts for any text, so different firings never share an id', () => {
    const text = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
    const tricky = fc.constantFrom(
      '%',
      '/',
      '@',
      '%2f',
      '@1',
      ' ',
      '\u0000',
      '\u007f',
      '\ud800',
      'a\udc00b',
      '😀',
      '',
    );
    const part = fc.oneof(text, tricky, fc.stringMatching(/^[a-z0-9/@%-]{0,6}$/));
    fc.assert(
      fc.property(
        part,
        fc.integer({ min: 1, max: 1e6 }),
        part,
        fc.oneof(
          part.map((id): [string | null, number | undefined] => [id, undefined]),
          fc
            .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
            .map((t): [string | null, number | undefined] => [null, Object.is(t, -0) ? 0 : t]),
        ),
        (trigger, version, customer, [eventId, deadline]) => {
          const id = firedTriggerId(trigger, version, customer, eventId, deadline);
          assert.deepEqual(parseFiredId(id), [trigger, version, customer, eventId, deadline]);
          // No surrogates (so valid UTF-8 as it is), spaces or control characters: fit for a header.
          // eslint-disable-next-line no-control-regex -- control characters are what it looks for
          assert.doesNotMatch(id, /[\u0000-\u0020\u007f\ud800-\udfff]/);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
