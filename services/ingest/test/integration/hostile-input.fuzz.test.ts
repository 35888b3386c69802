import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { events, ingest } from '@kairos/contracts';
import { fuzzParameters, fuzzTimeout, FuzzTally, RawGrpcClient, useNats } from '@kairos/testkit';
import { parseRules, signPayload, startIngestInProcess, type InProcessIngest } from '../../src';
import { storedEvents } from '../helpers/grpc';
import { postRaw } from '../helpers/http';

const TRACK = '/kairos.ingest.v1.IngestService/Track';
const TRACK_BATCH = '/kairos.ingest.v1.IngestService/TrackBatch';
const STREAM = '/kairos.ingest.v1.IngestService/Stream';
const SECRET = 'whsec-fuzz';
const MAX_BATCH = 50;
const CI_RUNS = 150;
/** Far above one call on loopback: a call still unanswered then hangs. */
const CALL_DEADLINE_MS = 10_000;

/** Rejections must say which field: a path (`event.x`, `events[2].x`, `message 3: ...`) or the whole request. */
const NAMED =
  /^(message \d+: )?(event[.:]|events[[.:]|request could not be decoded|not valid protobuf|[a-z_]+(\.[a-z_]+|\[\d+\])*: )/;

/** Rejects when `work` takes longer than the deadline: the property fails on a hang. */
function withDeadline<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${CALL_DEADLINE_MS} ms`)),
      CALL_DEADLINE_MS,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Mostly `valid` (so accepted events are common), sometimes `hostile`. */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>, weight = 8): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight }, { arbitrary: hostile, weight: 1 });
}

const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', 'a b', '\u0000', '\ud800', 'x'.repeat(129), 'Ünïcødé', '\u2028'),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'y'.repeat(n)),
);
/** Struct values: JSON, NaN/Infinity, deep and wide objects, long strings. */
const property: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 6 },
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 60),
  fc.integer({ min: 1, max: 200 }).map((depth) => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
  fc
    .integer({ min: 100, max: 12_000 })
    .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'z'.repeat(n)),
);

/** Events the fuzzer sends; `id: undefined` means "a fresh unique id" (filled in per case). */
const event = fc.record({
  id: mostly(fc.constant(undefined), fc.option(hostileText, { nil: undefined })),
  type: mostly(fc.constantFrom('order.placed', 'cart.item_added', 'page.viewed'), hostileText),
  customerId: mostly(fc.constantFrom('c-1', 'c-2', 'cust_3'), hostileText),
  category: mostly(fc.integer({ min: 0, max: 5 }), fc.constantFrom(6, 99, -1)),
  occurredAt: mostly(
    fc.integer({ min: -120_000, max: 120_000 }).map((d) => new Date(Date.now() + d)),
    fc.oneof(
      fc.constant(undefined),
      fc.date({
        min: new Date('0001-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
        noInvalidDate: true,
      }),
    ),
  ),
  properties: mostly(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), property, { maxKeys: 3 }),
  ),
  context: fc.option(
    fc.record({
      ip: mostly(fc.constant('10.0.0.1'), hostileText),
      userAgent: mostly(fc.constant('fuzz/1.0'), hostileText),
      attributes: mostly(
        fc.dictionary(fc.constantFrom('k', 'traceparent'), fc.string({ maxLength: 10 }), { maxKeys: 2 }),
        fc.dictionary(hostileText, hostileText, { maxKeys: 100 }),
      ),
    }),
    { nil: undefined },
  ),
});
type FuzzEvent = typeof event extends fc.Arbitrary<infer T> ? T : never;

/** A request's bytes changed a little: a byte set, bytes cut off, or random bytes inserted. */
const mutation = fc.oneof(
  fc.tuple(fc.constant('set' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant('cut' as const), fc.nat(), fc.constant(0)),
  fc.tuple(fc.constant('insert' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
);
function mutate(bytes: Uint8Array, [kind, at, byte]: [string, number, number]): Uint8Array {
  const b = Buffer.from(bytes);
  const i = b.length ? at % b.length : 0;
  if (kind === 'set' && b.length) b[i] = byte;
  if (kind === 'cut') return b.subarray(0, i);
  if (kind === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
  return b;
}

type GrpcCase =
  | { kind: 'track'; event: FuzzEvent; mutation: [string, number, number] | null }
  | { kind: 'batch'; events: FuzzEvent[] }
  | { kind: 'stream'; events: FuzzEvent[] }
  | { kind: 'bytes'; path: string; bytes: Uint8Array };

const grpcCase: fc.Arbitrary<GrpcCase> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('track' as const),
      event,
      mutation: mostly(fc.constant(null), mutation, 4),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      events: fc.array(event, { maxLength: MAX_BATCH + 5 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('stream' as const),
      events: fc.array(event, { maxLength: 12 }),
    }),
    weight: 2,
  },
  fc.record({
    kind: fc.constant('bytes' as const),
    path: fc.constantFrom(TRACK, TRACK_BATCH, STREAM),
    bytes: fc.uint8Array({ maxLength: 64 }),
  }),
);

describe('fuzz: ingest gRPC and webhook input over a real socket', function () {
  let service: InProcessIngest;
  let raw: RawGrpcClient;
  const nats = useNats();
  const prefix = `fz-${randomUUID().slice(0, 8)}`;
  let seq = 0;
  /** Ids the service accepted; each must be stored once at the end. */
  const accepted = new Set<string>();

  before(async function () {
    this.timeout(30_000);
    service = await startIngestInProcess(
      { NATS_URL: nats.url, KAIROS_INGEST_MAX_BATCH: String(MAX_BATCH) },
      {
        rules: parseRules(
          JSON.stringify({
            apiKeys: [],
            webhooks: {
              shop: { secret: SECRET, eventTypePath: 'type', customerIdPath: 'customer', idPath: 'id' },
            },
          }),
          'fuzz rules',
        ),
        // Each rejected webhook logs a warning: thousands of lines say nothing here.
        logLevel: 'error',
      },
    );
    raw = new RawGrpcClient(service.address);
  });
  after(async () => {
    raw?.close();
    await service?.stop();
  });

  /** The event as sent: a fresh id unless the case gives one. */
  function toEvent(e: FuzzEvent): events.Event {
    return events.Event.fromPartial({ ...e, id: e.id ?? `${prefix}-${++seq}` } as Partial<events.Event>);
  }

  function expectNamed(err: ServiceError): string {
    assert.ok(
      err.code === status.INVALID_ARGUMENT || err.code === status.RESOURCE_EXHAUSTED,
      `code ${status[err.code]}: ${err.details}`,
    );
    if (err.code === status.RESOURCE_EXHAUSTED) assert.match(err.details, /message larger than max/);
    else assert.match(err.details, NAMED);
    return 'rejected';
  }

  function noteResults(sent: events.Event[], results: ingest.EventResult[]): void {
    assert.equal(results.length, sent.length);
    results.forEach((r, i) => {
      if (r.outcome === ingest.EventOutcome.EVENT_OUTCOME_REJECTED) {
        assert.equal(r.code, status.INVALID_ARGUMENT, r.message);
        assert.match(r.message, new RegExp(`^events\\[${i}\\]\\.`));
      } else if (sent[i].id.startsWith(prefix)) accepted.add(sent[i].id);
    });
  }

  async function run(c: GrpcCase): Promise<string> {
    try {
      switch (c.kind) {
        case 'track': {
          const e = toEvent(c.event);
          let bytes: Uint8Array = ingest.TrackRequest.encode({ event: e }).finish();
          if (c.mutation) bytes = mutate(bytes, c.mutation);
          const res = ingest.TrackResponse.decode(await withDeadline(raw.unary(TRACK, bytes), 'Track'));
          if (!c.mutation && e.id.startsWith(prefix)) accepted.add(e.id);
          assert.notEqual(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_REJECTED);
          return 'accepted';
        }
        case 'batch': {
          const sent = c.events.map(toEvent);
          const bytes = ingest.TrackBatchRequest.encode({ events: sent }).finish();
          const res = ingest.TrackBatchResponse.decode(
            await withDeadline(raw.unary(TRACK_BATCH, bytes), 'TrackBatch'),
          );
          assert.ok(sent.length >= 1 && sent.length <= MAX_BATCH, `a batch of ${sent.length} accepted`);
          noteResults(sent, res.results);
          return 'accepted';
        }
        case 'stream': {
          const sent = c.events.map(toEvent);
          const messages = sent.map((e) => ingest.StreamRequest.encode({ event: e }).finish());
          const res = ingest.StreamResponse.decode(
            await withDeadline(raw.clientStream(STREAM, messages), 'Stream'),
          );
          const failed = new Map(res.failures.map((f) => [f.eventId, f]));
          for (const f of res.failures) assert.match(f.message, /^events\[\d+\]\./);
          for (const e of sent) if (!failed.has(e.id) && e.id.startsWith(prefix)) accepted.add(e.id);
          return 'accepted';
        }
        case 'bytes': {
          const call = c.path === STREAM ? raw.clientStream(STREAM, [c.bytes]) : raw.unary(c.path, c.bytes);
          await withDeadline(call, c.path);
          return 'accepted';
        }
      }
    } catch (err) {
      if (!('code' in (err as object))) throw err;
      const e = err as ServiceError;
      // A client stream's error names the message (the ones before it were processed).
      if (c.kind === 'stream' && e.code === status.INVALID_ARGUMENT)
        assert.match(e.details, /^message \d+: /);
      return expectNamed(e);
    }
  }

  it('answers every Track, TrackBatch and Stream call OK or INVALID_ARGUMENT naming the field', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 60));
    const tally = new FuzzTally('ingest gRPC (Track, TrackBatch, Stream, raw bytes)');
    await fc.assert(
      fc.asyncProperty(grpcCase, async (c) => tally.add(`${c.kind} ${await run(c)}`)),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('answers every webhook 202 or 4xx naming the field or the signature problem', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 40));
    const tally = new FuzzTally('ingest webhooks (HTTP, signatures)');
    const body = fc.oneof(
      {
        arbitrary: fc
          .record({
            id: mostly(
              fc.constant(undefined),
              fc.oneof(hostileText, fc.integer(), fc.jsonValue()) as fc.Arbitrary<unknown>,
            ),
            type: mostly<unknown>(
              fc.constantFrom('order.shipped', 'refund.issued'),
              fc.oneof(hostileText, fc.jsonValue()),
            ),
            customer: mostly<unknown>(
              fc.constantFrom('c-1', 'c-9'),
              fc.oneof(hostileText, fc.integer(), fc.jsonValue()),
            ),
            amount: property,
          })
          .map((b) =>
            Buffer.from(JSON.stringify({ ...b, id: b.id === undefined ? `${prefix}-wh-${++seq}` : b.id })),
          ),
        weight: 6,
      },
      fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 1_048_000, max: 1_100_000 }).map((n) => Buffer.from(`{"pad":"${'p'.repeat(n)}"}`)),
    );
    const signature = fc.oneof(
      { arbitrary: fc.constant('valid'), weight: 6 },
      fc.constantFrom('none', 'wrong', 'stale', 'garbage'),
    );
    const path = mostly(
      fc.constant('/webhooks/shop'),
      fc.constantFrom('/webhooks/nope', '/webhooks/%ff', '/webhooks/shop/x', '/webhooks/'),
    );
    await fc.assert(
      fc.asyncProperty(body, signature, path, async (b, sig, p) => {
        const now = Math.floor(Date.now() / 1000);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (sig === 'valid') headers['x-kairos-signature'] = signPayload(SECRET, b, now);
        if (sig === 'wrong') headers['x-kairos-signature'] = signPayload('other', b, now);
        if (sig === 'stale') headers['x-kairos-signature'] = signPayload(SECRET, b, now - 3_600);
        if (sig === 'garbage') headers['x-kairos-signature'] = 'v1=zz';
        const res = await withDeadline(postRaw(service.httpPort, p, b, headers), `POST ${p}`);
        assert.ok([202, 400, 401, 404, 413].includes(res.status), `${res.status}: ${res.body}`);
        if (res.status === 202) {
          const { eventId } = JSON.parse(res.body) as { eventId: string };
          if (eventId.startsWith(`shop:${prefix}`)) accepted.add(eventId);
        } else if (res.status !== 404) {
          // The webhook route answers JSON; the HTTP server's own path check answers text.
          const error = res.body.startsWith('{')
            ? (JSON.parse(res.body) as { error: string }).error
            : res.body;
          if (res.status === 400)
            assert.match(error, /^(body|event|URL path)[.: ]|^[a-z_]+(\.[a-z_]+|\[\d+\])*: /, error);
          if (res.status === 401) assert.match(error, /signature|x-kairos-signature/, error);
        }
        tally.add(String(res.status));
      }),
      fuzzParameters(CI_RUNS),
    );
    tally.report();
  });

  it('still answers, and stores every accepted event exactly once', async function () {
    this.timeout(fuzzTimeout(CI_RUNS, 10));
    const id = `${prefix}-last`;
    const res = ingest.TrackResponse.decode(
      await withDeadline(
        raw.unary(
          TRACK,
          ingest.TrackRequest.encode({
            event: events.Event.fromPartial({ id, type: 'a.b', customerId: 'c-1' }),
          }).finish(),
        ),
        'Track',
      ),
    );
    assert.equal(res.result?.outcome, ingest.EventOutcome.EVENT_OUTCOME_ACCEPTED);
    accepted.add(id);
    const stored = new Map<string, number>();
    for (const { event: e } of await storedEvents(nats.url, ''))
      if (e.id.startsWith(prefix) || e.id.startsWith(`shop:${prefix}`))
        stored.set(e.id, (stored.get(e.id) ?? 0) + 1);
    const missing = [...accepted].filter((a) => !stored.has(a));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} accepted events are not stored`);
    const doubled = [...stored].filter(([, n]) => n > 1);
    assert.deepEqual(doubled.slice(0, 5), []);
    if (process.env.FUZZ_RUNS)
      console.log(`      fuzz ingest: ${accepted.size} accepted events all stored once`);
  });
});
