import assert from 'node:assert/strict';
import { events, ingest, profiles, PROTO_DIR, PROTO_FILES, triggers } from '@kairos/contracts';
import { loadSchema, RequestChecker } from '../../src/request-check';

const checker = new RequestChecker(loadSchema(PROTO_DIR, PROTO_FILES));
const TRACK_BATCH = checker.planFor(checker.requestType('kairos.ingest.v1.IngestService', 'TrackBatch'));
const SIMULATE = checker.planFor(checker.requestType('kairos.triggers.v1.PatternService', 'Simulate'));

function batch(...list: Array<Partial<events.Event>>): Uint8Array {
  return ingest.TrackBatchRequest.encode({ events: list.map((e) => events.Event.fromPartial(e)) }).finish();
}

function patch(bytes: Uint8Array, marker: string, replacement: number[]): Uint8Array {
  const out = Buffer.from(bytes);
  out.set(replacement, out.indexOf(marker, 0, 'latin1'));
  return out;
}

describe('RequestChecker: encoded requests against the proto schema', () => {
  it('passes well-formed requests: multi-byte text, pre-1970 times, nested properties', () => {
    const bytes = batch(
      { id: 'é€😀', type: 'a.b', customerId: 'ü', occurredAt: new Date('1950-01-01T00:00:00.5Z') },
      { properties: { a: { b: [1, 'x', { c: null }] } }, context: { attributes: { k: 'v' } } as never },
    );
    assert.equal(checker.check(TRACK_BATCH, bytes), undefined);
  });

  it('names the field, the map key or the Struct path holding invalid UTF-8', () => {
    assert.equal(
      checker.check(TRACK_BATCH, patch(batch({ id: 'a' }, { source: 's~' }), '~', [0xff])),
      'events[1].source: not valid UTF-8',
    );
    const key = patch(batch({ context: { attributes: { 'k~': 'v' } } as never }), '~', [0x80]);
    assert.equal(checker.check(TRACK_BATCH, key), 'events[0].context.attributes[?]: key is not valid UTF-8');
    const struct = patch(batch({ properties: { 'odd key': { list: [1, 'x~'] } } }), '~', [0xed]);
    assert.equal(
      checker.check(TRACK_BATCH, struct),
      'events[0].properties["odd key"].list[1]: not valid UTF-8',
    );
  });

  it('ignores unknown fields, as the decoders do', () => {
    const unknown = Buffer.concat([
      Buffer.from(batch({ id: 'a' })),
      Buffer.from([0xfa, 0x06, 2, 0xff, 0xfe]),
    ]);
    assert.equal(checker.check(TRACK_BATCH, unknown), undefined);
  });

  it('rejects 64-bit integers a JS number cannot hold (the decoder would throw)', () => {
    const fired = events.EnrichedEvent.fromPartial({
      event: { id: 'e' },
      profile: { customerId: 'c', counters: { totalEvents: 2 ** 60 } },
    });
    const bytes = triggers.SimulateRequest.encode(
      triggers.SimulateRequest.fromPartial({ events: [fired] }),
    ).finish();
    assert.equal(
      checker.check(SIMULATE, bytes),
      'events[0].profile.counters.total_events: 1152921504606846976 is out of range (at most 2^53 - 1 in magnitude)',
    );
  });

  it('passes only what the generated decoders read without error and without U+FFFD (mutated requests)', () => {
    const cases = [
      {
        type: ingest.TrackBatchRequest,
        plan: TRACK_BATCH,
        bytes: batch({
          id: 'a-é',
          customerId: 'c',
          occurredAt: new Date(),
          properties: { a: { b: [1, 's', { c: null, d: true }] } },
          context: { ip: '1', attributes: { k: 'v' } } as never,
        }),
      },
      {
        type: profiles.UpsertRequest,
        plan: checker.planFor('kairos.profiles.v1.UpsertRequest'),
        bytes: profiles.UpsertRequest.encode(
          profiles.UpsertRequest.fromPartial({
            customerId: 'c',
            traits: { a: { b: 'c' } },
            dates: { x: 'y' },
            contacts: { pushTokens: ['t1', 't2'] },
          }),
        ).finish(),
      },
    ];
    let seed = 12345; // deterministic: the same mutations on every run
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let passed = 0;
    for (const { type, plan, bytes } of cases) {
      for (let n = 0; n < 5_000; n++) {
        const mutated = Buffer.from(bytes);
        for (let j = 0; j < 1 + Math.floor(random() * 3); j++) {
          const m = random();
          mutated[Math.floor(random() * mutated.length)] =
            m < 0.3 ? 0xff : m < 0.5 ? 0x80 | Math.floor(random() * 64) : Math.floor(random() * 256);
        }
        if (checker.check(plan, mutated) !== undefined) continue;
        passed++;
        const json = JSON.stringify((type.toJSON as (m: unknown) => unknown)(type.decode(mutated)));
        assert.ok(!json.includes('\ufffd'), `U+FFFD decoded from ${mutated.toString('hex')}`);
      }
    }
    assert.ok(passed > 500, `only ${passed} mutations passed the check`);
  });

  it('says a truncated request is not valid protobuf', () => {
    const bytes = batch({ id: 'abcdef' });
    assert.match(checker.check(TRACK_BATCH, bytes.subarray(0, bytes.length - 2)) ?? '', /not valid protobuf/);
  });
});
