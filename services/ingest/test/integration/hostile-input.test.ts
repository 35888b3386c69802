import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { events, ingest } from '@kairos/contracts';
import { grpcFailure, patchBytes, RawGrpcClient, useNats } from '@kairos/testkit';
import { parseRules, signPayload, startIngestInProcess, type InProcessIngest } from '../../src';
import { newClient, storedEvents, useIngestInProcess } from '../helpers/grpc';
import { postRaw } from '../helpers/http';

const TRACK = '/kairos.ingest.v1.IngestService/Track';
const TRACK_BATCH = '/kairos.ingest.v1.IngestService/TrackBatch';
const STREAM = '/kairos.ingest.v1.IngestService/Stream';
const SECRET = 'whsec-hostile';
const RULES = parseRules(
  JSON.stringify({
    apiKeys: [],
    webhooks: { shop: { secret: SECRET, eventTypePath: 'type', customerIdPath: 'customer', idPath: 'id' } },
  }),
  'test rules',
);

function event(partial: Partial<events.Event>): events.Event {
  return events.Event.fromPartial({ type: 'order.placed', customerId: 'c-1', ...partial });
}

function trackBytes(e: events.Event): Uint8Array {
  return ingest.TrackRequest.encode({ event: e }).finish();
}

/** `{ a: { a: ... 1 } }` `depth` objects deep, or lists when `list`. */
function nested(depth: number, list = false): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 1; i < depth; i++) v = list ? [v] : { a: v };
  return { a: v };
}

/** The varint encoding of an int64 (two's complement, as protobuf writes it). */
function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
}

/** A TrackRequest (hand-encoded) whose event's occurred_at seconds is the given int64. */
function trackWithSeconds(seconds: bigint): Uint8Array {
  const timestamp = [8, ...varint(seconds)];
  const body = [
    ...events.Event.encode(event({ id: `ts-${randomUUID()}` })).finish(),
    42,
    timestamp.length,
    ...timestamp,
  ];
  return Uint8Array.from([10, body.length, ...body]);
}

/** A webhook POST of `body` to `path`, signed with the shop's secret. */
function postSigned(port: number, path: string, body: Buffer) {
  const signature = signPayload(SECRET, body, Math.floor(Date.now() / 1000));
  return postRaw(port, path, body, { 'content-type': 'application/json', 'x-kairos-signature': signature });
}

describe('ingest rejects hostile input at the API edge (real socket)', function () {
  let raw: RawGrpcClient;
  const inProcess = useIngestInProcess(RULES, () => raw);

  before(() => {
    raw = new RawGrpcClient(inProcess.service.address);
  });

  it('rejects event ids with invalid UTF-8 naming the field, so X\\xff and X\\xfe never collapse', async () => {
    const prefix = `utf8-${randomUUID()}`;
    for (const byte of [0xff, 0xfe]) {
      const bytes = patchBytes(trackBytes(event({ id: `${prefix}~` })), '~', [byte]);
      const err = await grpcFailure(raw.unary(TRACK, bytes));
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.equal(err.details, 'event.id: not valid UTF-8');
    }
    assert.equal((await storedEvents(inProcess.nats.url, prefix)).length, 0);
  });

  it('rejects invalid UTF-8 in customer ids, types, context and properties, naming each', async () => {
    const cases: Array<[events.Event, string]> = [
      [event({ customerId: 'Y~' }), 'event.customer_id: not valid UTF-8'],
      [event({ type: 'order.~' }), 'event.type: not valid UTF-8'],
      [
        event({ context: { attributes: { k: 'v~' } } as never }),
        'event.context.attributes["k"]: not valid UTF-8',
      ],
      [event({ properties: { note: 'n~' } }), 'event.properties.note: not valid UTF-8'],
      [event({ properties: { list: ['ok', 'n~'] } }), 'event.properties.list[1]: not valid UTF-8'],
    ];
    for (const [e, message] of cases) {
      const err = await grpcFailure(raw.unary(TRACK, patchBytes(trackBytes(e), '~', [0xff])));
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.equal(err.details, message);
    }
  });

  it('rejects a batch holding invalid UTF-8 as a whole, naming the event by its position', async () => {
    const prefix = `batch-${randomUUID()}`;
    const request = ingest.TrackBatchRequest.encode({
      events: [event({ id: `${prefix}-0` }), event({ id: `${prefix}-1`, customerId: 'Y~' })],
    }).finish();
    const err = await grpcFailure(raw.unary(TRACK_BATCH, patchBytes(request, '~', [0xfe])));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.equal(err.details, 'events[1].customer_id: not valid UTF-8');
    assert.equal((await storedEvents(inProcess.nats.url, prefix)).length, 0);
  });

  it('ends a client stream with INVALID_ARGUMENT naming the message and field', async () => {
    const prefix = `stream-${randomUUID()}`;
    const good = ingest.StreamRequest.encode({ event: event({ id: `${prefix}-0` }) }).finish();
    const bad = patchBytes(
      ingest.StreamRequest.encode({ event: event({ id: `${prefix}-1`, customerId: 'Y~' }) }).finish(),
      '~',
      [0xff],
    );
    const err = await grpcFailure(raw.clientStream(STREAM, [good, bad]));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.equal(err.details, 'message 2: event.customer_id: not valid UTF-8');
  });

  it('answers INVALID_ARGUMENT with the limit for properties nested 200 levels deep', async () => {
    for (const list of [false, true]) {
      const err = await grpcFailure(raw.unary(TRACK, trackBytes(event({ properties: nested(200, list) }))));
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.match(
        err.details,
        /^event\.properties\.a\S* nested deeper than 32 levels \(Struct \/ ListValue\)$/,
      );
    }
  });

  it('answers INVALID_ARGUMENT for occurred_at seconds at int64 max and min', async () => {
    for (const seconds of [2n ** 63n - 1n, -(2n ** 63n)]) {
      const err = await grpcFailure(raw.unary(TRACK, trackWithSeconds(seconds)));
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.equal(
        err.details,
        `event.occurred_at: seconds ${seconds} is out of range (a Timestamp lies in years 0001 to 9999)`,
      );
    }
  });

  it('answers 400 to a webhook whose body is not valid UTF-8, and to a malformed path', async () => {
    const body = Buffer.from(
      JSON.stringify({ id: `wh-${randomUUID()}`, type: 'order.shipped', customer: 'Y~' }),
    );
    const bad = patchBytes(body, '~', [0xff]);
    const res = await postSigned(inProcess.service.httpPort, '/webhooks/shop', bad);
    assert.equal(res.status, 400, res.body);
    assert.match(res.body, /body: not valid UTF-8/);
    const path = await postSigned(inProcess.service.httpPort, '/webhooks/%ff', body);
    assert.equal(path.status, 400, path.body);
    assert.match(path.body, /percent-encoding/);
  });

  it('rejects webhook ids holding lone surrogates (JSON escapes) instead of replacing them', async () => {
    const body = Buffer.from(`{"id":"wh-${randomUUID()}","type":"order.shipped","customer":"Y\\udcff"}`);
    const res = await postSigned(inProcess.service.httpPort, '/webhooks/shop', body);
    assert.equal(res.status, 400, res.body);
    assert.match(res.body, /customer_id: not valid UTF-8/);
  });

  it('answers INVALID_ARGUMENT for oversized context text and attributes, and stores nothing of them', async () => {
    const prefix = `ctx-${randomUUID()}`;
    const attributes = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const cases: Array<[Partial<events.Event>, string]> = [
      // Two megabytes pass the gRPC limit but not the event store's message size: before the limit,
      // the publish failed and the client was told UNAVAILABLE, to retry forever.
      [
        { context: { userAgent: 'u'.repeat(2_000_000) } as never },
        'event.context.user_agent: at most 1024 characters, got 2000000',
      ],
      [{ context: { attributes } as never }, 'event.context.attributes: at most 64 entries'],
      [
        { context: { attributes: { k: 'v'.repeat(1_025) } } as never },
        'event.context.attributes["k"]: at most 1024 characters, got 1025',
      ],
    ];
    for (const [partial, message] of cases) {
      const err = await grpcFailure(
        raw.unary(TRACK, trackBytes(event({ id: `${prefix}-${randomUUID()}`, ...partial }))),
      );
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.equal(err.details, message);
    }
    assert.equal((await storedEvents(inProcess.nats.url, prefix)).length, 0);
  });

  it('answers RESOURCE_EXHAUSTED naming the size to a request past 16 MiB, and still answers after', async () => {
    const big = trackBytes(event({ properties: { blob: 'b'.repeat(17 * 1024 * 1024) } }));
    const err = await grpcFailure(raw.unary(TRACK, big));
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
    assert.match(err.details, /^Received message larger than max \(\d+ vs 16777216\)$/);
    const ok = ingest.TrackResponse.decode(
      await raw.unary(TRACK, trackBytes(event({ id: `after-${randomUUID()}` }))),
    );
    assert.equal(ok.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
  });

  it('bounds the width of properties by their serialized size, naming the limit', async () => {
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const err = await grpcFailure(raw.unary(TRACK, trackBytes(event({ properties: wide }))));
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, /^event\.properties: at most 32768 bytes serialized, got more than \d+$/);
  });
});

describe('ingest ends a Stream open longer than KAIROS_INGEST_STREAM_MAX_DURATION', function () {
  let service: InProcessIngest;
  const nats = useNats();
  before(async function () {
    this.timeout(30_000);
    service = await startIngestInProcess(
      { NATS_URL: nats.url, KAIROS_INGEST_STREAM_MAX_DURATION: '1s' },
      { rules: RULES },
    );
  });
  after(async () => service?.stop());

  it('answers DEADLINE_EXCEEDED saying how many messages were processed, and keeps them', async () => {
    const prefix = `long-${randomUUID()}`;
    const client = newClient(service.address);
    try {
      // The client never half-closes: only the limit can end the call.
      const err = await grpcFailure(
        new Promise((resolve, reject) => {
          const call = client.stream((e, res) => (e ? reject(e) : resolve(res)));
          call.write({ event: event({ id: `${prefix}-1` }) });
          call.write({ event: event({ id: `${prefix}-2`, type: 'Not A Type' }) });
        }),
      );
      assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
      assert.equal(
        err.details,
        'stream: open longer than 1000 ms (KAIROS_INGEST_STREAM_MAX_DURATION); the first 2 messages were processed (accepted 1, rejected 1); send the rest on a new stream',
      );
      assert.deepEqual(
        (await storedEvents(nats.url, prefix)).map((s) => s.event.id),
        [`${prefix}-1`],
      );
    } finally {
      client.close();
    }
  });
});
