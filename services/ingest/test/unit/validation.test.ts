import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeEvent, events, SCHEMAS } from '@kairos/contracts';
import { measureProperties, validateAndComplete, validateBatchSize } from '../../src/domain/validation';

const LIMITS = { maxPropertiesBytes: 200, maxDepth: 3, maxFutureMs: 300_000, maxPastMs: 86_400_000 };
const NOW = Date.parse('2025-06-01T12:00:00Z');
const ev = (e: Partial<events.Event>) =>
  events.Event.fromPartial({ type: 'cart.item_added', customerId: 'c-1', ...e });

describe('validateAndComplete', () => {
  it('accepts a valid event, assigning a uuid v4 id and occurred_at = now when missing', () => {
    const e = ev({});
    assert.equal(validateAndComplete(e, LIMITS, NOW), undefined);
    assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(e.occurredAt?.getTime(), NOW);
  });

  it('bounds context text and attributes, naming the field (at the limit is accepted)', () => {
    const ctx = (c: Partial<events.EventContext>) => ev({ context: events.EventContext.fromPartial(c) });
    assert.equal(validateAndComplete(ctx({ sessionId: 's'.repeat(1_024) }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ctx({ sessionId: 's'.repeat(1_025) }), LIMITS, NOW, 'events[2]'),
      'events[2].context.session_id: at most 1024 characters, got 1025',
    );
    const attributes = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    assert.equal(validateAndComplete(ctx({ attributes: attributes(64) }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ctx({ attributes: attributes(65) }), LIMITS, NOW),
      'event.context.attributes: at most 64 entries',
    );
    assert.equal(
      validateAndComplete(ctx({ attributes: { ['k'.repeat(129)]: 'v' } }), LIMITS, NOW),
      `event.context.attributes["${'k'.repeat(64)}…"]: keys of at most 128 characters, got 129`,
    );
  });

  it('keeps a given id', () => {
    const e = ev({ id: 'order-17' });
    validateAndComplete(e, LIMITS, NOW);
    assert.equal(e.id, 'order-17');
  });

  it('names the field and the rule for a bad type', () => {
    assert.equal(
      validateAndComplete(ev({ type: 'Cart Added' }), LIMITS, NOW),
      "event.type: expected a dotted lower-case name like cart.item_added, got 'Cart Added'",
    );
    assert.equal(
      validateAndComplete(ev({ type: '' }), LIMITS, NOW),
      'event.type: required, e.g. cart.item_added',
    );
    assert.match(validateAndComplete(ev({ type: 'a..b' }), LIMITS, NOW)!, /^event\.type: expected/);
  });

  it('checks customer ids: present, at most 128 characters, no whitespace or control characters', () => {
    assert.match(validateAndComplete(ev({ customerId: '' }), LIMITS, NOW)!, /^event\.customer_id: required/);
    assert.equal(validateAndComplete(ev({ customerId: 'x'.repeat(128) }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ev({ customerId: 'x'.repeat(129) }), LIMITS, NOW),
      'event.customer_id: at most 128 characters, got 129',
    );
    assert.match(
      validateAndComplete(ev({ customerId: 'a\tb' }), LIMITS, NOW)!,
      /whitespace or control characters, found one at index 1/,
    );
    assert.match(validateAndComplete(ev({ customerId: 'ab\u0000' }), LIMITS, NOW)!, /at index 2/);
    assert.match(
      validateAndComplete(ev({ id: 'has space' }), LIMITS, NOW)!,
      /^event\.id: must not contain whitespace/,
    );
  });

  it('applies the identifier rule to source, and rejects lone surrogates in ids and properties', () => {
    assert.equal(
      validateAndComplete(ev({ source: 's'.repeat(200) }), LIMITS, NOW),
      'event.source: at most 128 characters, got 200',
    );
    assert.equal(validateAndComplete(ev({ source: 'billing' }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ev({ customerId: 'Y\udcff' }), LIMITS, NOW),
      'event.customer_id: not valid UTF-8 (holds a lone surrogate)',
    );
    assert.equal(
      validateAndComplete(ev({ properties: { a: ['x', '\ud800'] } }), LIMITS, NOW),
      'event.properties.a[1]: not valid UTF-8 (holds a lone surrogate)',
    );
    const key = 'k'.repeat(150);
    const roomy = { ...LIMITS, maxPropertiesBytes: 10_000 };
    const deep = validateAndComplete(ev({ properties: { [key]: { [key]: { [key]: {} } } } }), roomy, NOW)!;
    assert.equal(
      deep,
      `event.properties: nested deeper than 3 levels at properties.${key.slice(0, 109)}…${key.slice(-60)}`,
    );
  });

  it('bounds occurred_at in the future and in the past', () => {
    assert.equal(validateAndComplete(ev({ occurredAt: new Date(NOW + 299_000) }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ev({ occurredAt: new Date(NOW + 2 * 3_600_000) }), LIMITS, NOW),
      'event.occurred_at: at most 5m in the future, got 2025-06-01T14:00:00.000Z (2h ahead)',
    );
    assert.equal(
      validateAndComplete(ev({ occurredAt: new Date(NOW - 2 * 86_400_000) }), LIMITS, NOW),
      'event.occurred_at: at most 1d in the past, got 2025-05-30T12:00:00.000Z',
    );
  });

  it('limits properties by serialized size and depth', () => {
    assert.equal(validateAndComplete(ev({ properties: { a: { b: 1 } } }), LIMITS, NOW), undefined);
    assert.equal(
      validateAndComplete(ev({ properties: { a: { b: { c: { d: 1 } } } } }), LIMITS, NOW),
      'event.properties: nested deeper than 3 levels at properties.a.b.c',
    );
    assert.match(
      validateAndComplete(ev({ properties: { s: 'x'.repeat(300) } }), LIMITS, NOW)!,
      /^event\.properties: at most 200 bytes serialized/,
    );
  });

  it('rejects NaN and Infinity anywhere in properties, naming the path, decoded or still on the wire', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const event = ev({ id: 'e-nan', properties: { a: { b: [1, bad] } } });
      const expected =
        'event.properties.a.b[1]: must be a finite number (NaN and Infinity have no JSON form)';
      assert.equal(validateAndComplete(event, LIMITS, NOW), expected);
      const bytes = SCHEMAS.Event.type.encode(event).finish();
      assert.equal(validateAndComplete(decodeEvent(bytes), LIMITS, NOW), expected);
    }
  });

  it('rejects an unknown category', () => {
    assert.match(
      validateAndComplete(ev({ category: 42 as events.EventCategory }), LIMITS, NOW)!,
      /^event\.category: unknown category 42/,
    );
  });

  it('prefixes fields with the position in a batch', () => {
    assert.match(validateAndComplete(ev({ type: 'X' }), LIMITS, NOW, 'events[7]')!, /^events\[7\]\.type:/);
  });
});

describe('validateAndComplete on events decoded with their properties as bytes', () => {
  const json = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
    ),
  })).value;

  it('gives the same verdict and message as on decoded properties (the wire measure only skips work)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 120 }),
        (properties, maxDepth, maxPropertiesBytes) => {
          const limits = { ...LIMITS, maxDepth, maxPropertiesBytes };
          const bytes = SCHEMAS.Event.type.encode(ev({ id: 'e-1', properties })).finish();
          const viaWire = decodeEvent(bytes);
          const decoded = SCHEMAS.Event.type.decode(bytes);
          assert.equal(validateAndComplete(viaWire, limits, NOW), validateAndComplete(decoded, limits, NOW));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('measures properties holding malformed UTF-8 as decoded (with replacement characters)', () => {
    // { "s": "<0xff 0xff 0xff>" }: 3 bytes on the wire (12 of JSON), 9 as decoded text (18 of JSON).
    const value = [26, 3, 0xff, 0xff, 0xff];
    const entry = [10, 1, 115, 18, value.length, ...value];
    const struct = [10, entry.length, ...entry];
    const bytes = Uint8Array.from([18, 3, 97, 46, 98, 34, 1, 99, 50, struct.length, ...struct]);
    const limits = { ...LIMITS, maxPropertiesBytes: 17 };
    assert.match(
      validateAndComplete(decodeEvent(bytes), limits, NOW)!,
      /^event\.properties: at most 17 bytes/,
    );
    assert.equal(
      validateAndComplete(decodeEvent(bytes), { ...limits, maxPropertiesBytes: 18 }, NOW),
      undefined,
    );
  });
});

describe('measureProperties', () => {
  it('measures about the JSON size in UTF-8 bytes (never less; a separator per member at most more)', () => {
    const value = { name: 'Zoë', n: 12, ok: true, list: [1, 'a'], nested: { x: null } };
    const json = Buffer.byteLength(JSON.stringify(value));
    const { bytes } = measureProperties(value, 1e6, 10);
    assert.ok(bytes >= json && bytes <= json + 8, `measured ${bytes}, JSON has ${json}`);
  });
});

describe('validateBatchSize', () => {
  it('requires 1..max events', () => {
    assert.equal(validateBatchSize(0, 10), 'events: at least one event per batch, got 0');
    assert.equal(validateBatchSize(10, 10), undefined);
    assert.equal(validateBatchSize(11, 10), 'events: at most 10 events per batch, got 11');
  });
});
