import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  decodeEvent,
  decodeStreamRequest,
  decodeTrackBatchRequest,
  decodeTrackRequest,
  encodeEvent,
  EVENT_CODEC_FIELDS,
  rawPropertiesShape,
} from '../../src/event-codec';
import { Struct } from '../../src/gen/google/protobuf/struct';
import { Event } from '../../src/gen/kairos/events/v1/events';
import { StreamRequest, TrackBatchRequest, TrackRequest } from '../../src/gen/kairos/ingest/v1/ingest';

const plainKey = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a', 'b', 'ü', '1'));
// '__proto__' as a key: decoding drops it (the assignment sets a prototype), the raw bytes keep it.
const key = fc.oneof(plainKey, fc.constant('__proto__'));
const jsonOf = (k: fc.Arbitrary<string>) =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(k, tie('value'), { maxKeys: 3 }),
    ),
  })).value;
const propertiesOf = (k: fc.Arbitrary<string>) =>
  fc.option(fc.dictionary(k, jsonOf(k), { maxKeys: 5 }), { nil: undefined });
const properties = propertiesOf(key);
const date = fc.option(
  fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms)),
  {
    nil: undefined,
  },
);
const event = fc.record({
  id: fc.string({ maxLength: 10 }),
  type: fc.string({ maxLength: 10 }),
  category: fc.integer({ min: 0, max: 5 }),
  customerId: fc.string({ maxLength: 10 }),
  occurredAt: date,
  properties,
  source: fc.string({ maxLength: 5 }),
  context: fc.option(
    fc.record({
      ip: fc.string({ maxLength: 5 }),
      attributes: fc.dictionary(key, fc.string({ maxLength: 5 })),
    }),
    { nil: undefined },
  ),
  receivedAt: date,
});

const encode = (e: unknown) => Event.encode(Event.fromPartial(e as Event)).finish();

/** The outcome of a decode as a comparable value: the error message or the decoded value. */
function outcome(decode: () => unknown): unknown {
  try {
    return { value: decode() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Depth of the deepest object or array value (top-level values at depth 1). */
function depthOf(value: unknown, depth: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Object.values(value).map((v) => depthOf(v, depth + 1));
  return Math.max(depth, ...children);
}

/** JSON size by ingest's measureProperties rule, booleans counted as 5 like the wire walk does. */
function jsonBytesOf(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value) + 2;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 1e15 ? String(value).length : 24;
    case 'boolean':
      return 5;
    case 'object':
      if (value === null) return 4;
      if (Array.isArray(value)) return 2 + value.reduce((n: number, v) => n + 1 + jsonBytesOf(v), 0);
      return Object.entries(value).reduce((n, [k, v]) => n + Buffer.byteLength(k) + 4 + jsonBytesOf(v), 2);
    default:
      return 4;
  }
}

describe('event codec (properties kept as received bytes)', () => {
  it('knows every field of Event and of the ingest requests (a new proto field must be added there)', () => {
    assert.deepEqual(Object.keys(Event.fromPartial({})), [...EVENT_CODEC_FIELDS]);
    assert.deepEqual(Object.keys(TrackBatchRequest.fromPartial({})), ['events']);
    assert.deepEqual(Object.keys(TrackRequest.fromPartial({})), ['event']);
    assert.deepEqual(Object.keys(StreamRequest.fromPartial({})), ['event']);
  });

  it('decodes what the generated decoder decodes, and encodes it back byte for byte', () => {
    fc.assert(
      fc.property(event, (e) => {
        const bytes = encode(e);
        const decoded = decodeEvent(bytes);
        assert.deepEqual(encodeEvent(decodeEvent(bytes)).finish(), bytes);
        assert.deepEqual(decoded, Event.decode(bytes));
      }),
    );
  });

  it('measures the properties on the wire: depth, UTF-8 validity and at least their JSON size', () => {
    fc.assert(
      fc.property(propertiesOf(plainKey), (props) => {
        const shape = rawPropertiesShape(decodeEvent(encode({ properties: props })));
        if (props === undefined) return assert.equal(shape, undefined);
        const decoded = Event.decode(encode({ properties: props })).properties!;
        assert.ok(shape);
        assert.equal(shape.utf8, true, 'fast-check strings are well-formed');
        assert.equal(shape.depth, depthOf(decoded, 0));
        assert.equal(shape.jsonBytes, jsonBytesOf(decoded));
      }),
    );
    const shape = rawPropertiesShape(
      decodeEvent(
        encode({ properties: { s: 'ab', n: 12, f: 1.5, t: true, z: null, l: [1, 'x'], o: { k: 'v' } } }),
      ),
    )!;
    // {"s":"ab","n":12,"f":1.5,"t":true,"z":null,"l":[1,"x"],"o":{"k":"v"}} by measureProperties' rule:
    // keys 7 × (1 + 4), "ab" 4, 12 → 2, 1.5 → 24, true → 5 (bools count 5), null 4, [1,"x"] 2+1+1+1+3,
    // {"k":"v"} 2 + 5 + 3, braces 2.
    assert.equal(shape.jsonBytes, 35 + 4 + 2 + 24 + 5 + 4 + 8 + 10 + 2);
    assert.equal(shape.depth, 1);
  });

  it('measures canonical properties (straight over the bytes) as the decoder-shaped walk does', () => {
    fc.assert(
      fc.property(properties, (props) => {
        const struct = Struct.encode(Struct.wrap(props)).finish();
        // An unknown field in the Struct (field 2, varint 0): decoders skip it, the direct walk
        // does not take it, so this event is measured by the walk that mirrors the decoder.
        const unusual = Uint8Array.from([...struct, 16, 0]);
        const shapeOf = (bytes: Uint8Array) =>
          rawPropertiesShape(decodeEvent(new BinaryWriter().uint32(50).bytes(bytes).finish()));
        assert.deepEqual(shapeOf(struct), shapeOf(unusual));
      }),
    );
  });

  it('flags strings that are not well-formed UTF-8 (decoding would replace characters)', () => {
    // properties { "k": "<0xff>" } written by hand: field 6 { entry { key "k", value { string 0xff } } }
    const value = new BinaryWriter()
      .uint32(26)
      .bytes(new Uint8Array([0xff]))
      .finish();
    const entry = new BinaryWriter().uint32(10).string('k').uint32(18).bytes(value).finish();
    const struct = new BinaryWriter().uint32(10).bytes(entry).finish();
    const bytes = new BinaryWriter().uint32(18).string('a.b').uint32(50).bytes(struct).finish();
    const decoded = decodeEvent(bytes);
    assert.equal(rawPropertiesShape(decoded)?.utf8, false);
    assert.deepEqual(decoded.properties, { k: '\ufffd' });
  });

  it('decodes properties on first read and encodes from them afterwards', () => {
    const bytes = encode({ id: 'e1', properties: { a: 1 } });
    const decoded = decodeEvent(bytes);
    assert.ok(rawPropertiesShape(decoded));
    assert.deepEqual({ ...decoded }.properties, { a: 1 });
    assert.equal(rawPropertiesShape(decoded), undefined, 'read: no longer raw');
    decoded.properties!.a = 2;
    assert.deepEqual(Event.decode(encodeEvent(decoded).finish()).properties, { a: 2 });

    const assigned = decodeEvent(bytes);
    assigned.properties = { b: true };
    assert.deepEqual(Event.decode(encodeEvent(assigned).finish()).properties, { b: true });
    assigned.properties = undefined;
    assert.equal(Event.decode(encodeEvent(assigned).finish()).properties, undefined);
  });

  it('fails or succeeds on damaged bytes exactly like the generated decoder', () => {
    fc.assert(
      fc.property(
        event,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (e, flips, cut) => {
          const bytes = encode(e).slice();
          for (const [at, byte] of flips) if (bytes.length) bytes[at % bytes.length] = byte;
          const damaged = cut % 3 === 0 ? bytes.subarray(0, cut % (bytes.length + 1)) : bytes;
          const mine = outcome(() => {
            const d = decodeEvent(damaged);
            return { ...d, properties: d.properties };
          });
          assert.deepEqual(
            mine,
            outcome(() => Event.decode(damaged)),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stops at the generated decoder recursion limit', () => {
    let nested: unknown = 1;
    for (let i = 0; i < 40; i++) nested = { n: nested };
    const bytes = TrackBatchRequest.encode({
      events: [Event.fromPartial({ properties: { n: nested } })],
    }).finish();
    assert.throws(() => TrackBatchRequest.decode(bytes), /recursion limit/);
    assert.throws(() => decodeTrackBatchRequest(bytes), /recursion limit/);
  });

  it('decodes TrackBatch, Track and Stream requests like the generated decoders', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 4 }), (list) => {
        const batch = TrackBatchRequest.encode(
          TrackBatchRequest.fromPartial({ events: list as Event[] }),
        ).finish();
        assert.deepEqual(decodeTrackBatchRequest(batch), TrackBatchRequest.decode(batch));
        const one = TrackRequest.encode(TrackRequest.fromPartial({ event: list[0] as Event })).finish();
        assert.deepEqual(decodeTrackRequest(one), TrackRequest.decode(one));
        assert.deepEqual(decodeStreamRequest(one), StreamRequest.decode(one));
      }),
    );
  });
});
