import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ingest, SCHEMAS } from '@kairos/contracts';
import { startIngestInProcess, type InProcessIngest } from '@kairos/ingest';
import { makeTestPki, useNats, waitFor } from '@kairos/testkit';
import { KairosCallError, KairosClient, KairosEventRejectedError } from '../../src';

/** A scriptable IngestService: records every TrackBatch call's ids; can fail or hold calls. */
class FakeIngest {
  readonly server = new Server();
  readonly calls: string[][] = [];
  readonly apiKeys: string[] = [];
  failures: Array<{ code: status; retryAfterMs?: number }> = [];
  hold: Promise<void> | undefined;
  port = 0;

  async start(): Promise<string> {
    const impl: ingest.IngestServiceServer = {
      track: (call, cb) =>
        cb(null, { result: { eventId: call.request.event!.id, outcome: 1, code: 0, message: '', rule: '' } }),
      trackBatch: (call, cb) => {
        void (async () => {
          this.calls.push(call.request.events.map((e) => e.id));
          this.apiKeys.push(String(call.metadata.get('authorization')[0] ?? ''));
          const failure = this.failures.shift();
          if (failure) {
            const md = new Metadata();
            if (failure.retryAfterMs) md.set('retry-after-ms', String(failure.retryAfterMs));
            return cb({ code: failure.code, details: 'scripted failure', metadata: md });
          }
          await this.hold;
          cb(null, {
            results: call.request.events.map((e) =>
              e.type === 'bad.event'
                ? {
                    eventId: e.id,
                    outcome: 4,
                    code: status.INVALID_ARGUMENT,
                    message: 'events[0].type: scripted',
                    rule: '',
                  }
                : { eventId: e.id, outcome: 1, code: 0, message: '', rule: '' },
            ),
            accepted: call.request.events.length,
            rejected: 0,
          });
        })();
      },
      stream: (_call, cb) => cb({ code: status.UNIMPLEMENTED }),
    };
    this.server.addService(ingest.IngestServiceService, impl);
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return `127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

describe('KairosClient against a scripted server', () => {
  let fake: FakeIngest;
  let address: string;
  beforeEach(async () => {
    fake = new FakeIngest();
    address = await fake.start();
  });
  afterEach(() => fake.stop());

  it('batches buffered events into TrackBatch calls of batchSize and sends the API key', async () => {
    const client = new KairosClient({ address, apiKey: 'secret-key', batchSize: 10, flushIntervalMs: 1000 });
    const all = Promise.all(
      Array.from({ length: 25 }, (_, i) => client.track({ type: 'page.view', customerId: `c${i}` })),
    );
    await client.close();
    const results = await all;
    // Two full batches leave at once; close() flushes the partial third without waiting for the timer.
    assert.deepEqual(
      fake.calls.map((c) => c.length),
      [10, 10, 5],
    );
    assert.ok(results.every((r) => r.outcome === 'accepted'));
    assert.deepEqual(fake.apiKeys, ['Bearer secret-key', 'Bearer secret-key', 'Bearer secret-key']);
  });

  it('retries transient failures with the same event ids and honours retry-after-ms', async () => {
    fake.failures = [{ code: status.UNAVAILABLE }, { code: status.RESOURCE_EXHAUSTED, retryAfterMs: 150 }];
    const client = new KairosClient({ address, batchSize: 3, flushIntervalMs: 5 });
    const started = Date.now();
    const results = await Promise.all(
      [0, 1, 2].map((i) => client.track({ id: `e-${i}`, type: 'a.b', customerId: 'c' })),
    );
    assert.ok(Date.now() - started >= 150, 'waited for the retry hint');
    assert.equal(fake.calls.length, 3);
    assert.deepEqual(fake.calls[0], ['e-0', 'e-1', 'e-2']);
    assert.deepEqual(fake.calls[1], fake.calls[0]);
    assert.deepEqual(fake.calls[2], fake.calls[0]);
    assert.deepEqual(
      results.map((r) => r.eventId),
      ['e-0', 'e-1', 'e-2'],
    );
    await client.close();
  });

  it('assigns ids before the first attempt, so a retried event keeps its generated id', async () => {
    fake.failures = [{ code: status.DEADLINE_EXCEEDED }];
    const client = new KairosClient({ address, batchSize: 1 });
    const result = await client.track({ type: 'a.b', customerId: 'c' });
    assert.equal(fake.calls.length, 2);
    assert.equal(fake.calls[0][0], result.eventId);
    assert.equal(fake.calls[1][0], result.eventId);
    await client.close();
  });

  it('rejects events the server rejected, with a clear error, and gives up on non-transient failures', async () => {
    const client = new KairosClient({ address, batchSize: 2, maxRetries: 2 });
    const [good, bad] = await Promise.allSettled([
      client.track({ type: 'a.b', customerId: 'c' }),
      client.track({ id: 'x1', type: 'bad.event', customerId: 'c' }),
    ]);
    assert.equal(good.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    const err = (bad as PromiseRejectedResult).reason as KairosEventRejectedError;
    assert.ok(err instanceof KairosEventRejectedError);
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.equal(err.message, 'event x1 rejected: events[0].type: scripted');

    fake.failures = [{ code: status.UNAUTHENTICATED }];
    const denied = await client.track({ type: 'a.b', customerId: 'c' }).catch((e: unknown) => e);
    assert.ok(denied instanceof KairosCallError);
    assert.equal((denied as KairosCallError).code, status.UNAUTHENTICATED);
    assert.equal((denied as KairosCallError).attempts, 1);
    await client.close();
  });

  it('refuses an event whose strings hold a lone surrogate before sending it, naming the field', async () => {
    const client = new KairosClient({ address, batchSize: 1 });
    await assert.rejects(client.track({ type: 'a.b', customerId: 'Y\udcff' }), {
      name: 'TypeError',
      message: 'customer_id: not valid UTF-8 (holds a lone surrogate)',
    });
    await assert.rejects(
      client.trackNow({ type: 'a.b', customerId: 'c', properties: { note: ['ok', '\ud800'] } }),
      {
        message: 'properties.note[1]: not valid UTF-8 (holds a lone surrogate)',
      },
    );
    assert.deepEqual(fake.calls, []);
    await client.close();
  });

  it('applies backpressure: track waits while the buffer is full and continues when batches complete', async () => {
    let release!: () => void;
    fake.hold = new Promise((r) => (release = r));
    const client = new KairosClient({
      address,
      batchSize: 2,
      maxBufferedEvents: 4,
      maxConcurrentBatches: 2,
      // Batches leave only when full, so the split does not depend on how fast the machine is (with a
      // 1 ms timer a loaded machine sent a batch of one and the count below was off).
      flushIntervalMs: 60_000,
    });
    const tracked: Array<Promise<unknown>> = [];
    const enqueued: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 6; i++) {
        const p = client.track({ type: 'a.b', customerId: `c${i}` });
        tracked.push(p);
        // track() resolves its buffering step synchronously unless it is waiting for room.
        await new Promise((r) => setImmediate(r));
        enqueued.push(i);
      }
    })();
    await waitFor(() => fake.calls.length === 2 && enqueued.length >= 4, {
      message: 'two batches in flight',
    });
    // Give the producer several more turns of the event loop: it must stay blocked on the fifth event.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(client.pending, 4, 'buffer is full');
    assert.equal(enqueued.length, 6, 'all six track() calls were made');
    assert.equal(fake.calls.flat().length, 4, 'the fifth and sixth events wait outside the buffer');
    release();
    await producer;
    await Promise.all(tracked);
    assert.deepEqual(fake.calls.flat().length, 6);
    await client.close();
  });

  it('flushes buffered events on close and refuses new ones afterwards', async () => {
    const client = new KairosClient({ address, batchSize: 100, flushIntervalMs: 60_000 });
    const pending = [
      client.track({ type: 'a.b', customerId: 'c1' }),
      client.track({ type: 'a.b', customerId: 'c2' }),
    ];
    await client.close();
    assert.equal(fake.calls.length, 1);
    assert.equal((await Promise.all(pending)).length, 2);
    await assert.rejects(client.track({ type: 'a.b', customerId: 'c3' }), /closed/);
  });
});

describe('KairosClient against the ingest service on real NATS', () => {
  let service: InProcessIngest;
  after(async () => service?.stop());
  const nats = useNats();
  before(async () => {
    service = await startIngestInProcess({ NATS_URL: nats.url });
  });

  it('stores tracked events durably exactly once and reports invalid ones', async () => {
    const client = new KairosClient({ address: service.address, batchSize: 50 });
    const p = `cl-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        client.track({
          id: `${p}-${i}`,
          type: 'cart.item_added',
          customerId: `c${i % 7}`,
          properties: { i },
        }),
      ),
    );
    assert.ok(results.every((r) => r.outcome === 'accepted'));
    assert.equal(
      (await client.trackNow({ id: `${p}-0`, type: 'cart.item_added', customerId: 'c0' })).outcome,
      'duplicate',
    );
    await assert.rejects(client.track({ type: 'Cart Added', customerId: 'c' }), (err: unknown) => {
      assert.ok(err instanceof KairosEventRejectedError);
      assert.match(
        err.message,
        /events\[0\]\.type: expected a dotted lower-case name like cart\.item_added, got 'Cart Added'/,
      );
      return true;
    });
    await assert.rejects(
      client.trackNow({ type: 'ok.type', customerId: '' }),
      /event\.customer_id: required/,
    );
    await client.close();

    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS');
    let ours = 0;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage('EVENTS', { seq });
      if (msg && SCHEMAS.Event.type.decode(msg.data).id.startsWith(p)) ours++;
    }
    await nc.close();
    assert.equal(ours, 120);
  });
});

describe('KairosClient over mTLS to the ingest service (a CA made at test time)', function () {
  this.timeout(30_000);
  const pki = makeTestPki();
  const server = pki.issue('ingest');
  const app = pki.issue('shop-backend');
  let service: InProcessIngest;
  after(async () => service?.stop());
  const nats = useNats();
  before(async () => {
    service = await startIngestInProcess({
      NATS_URL: nats.url,
      KAIROS_TLS_CERT_FILE: server.certFile,
      KAIROS_TLS_KEY_FILE: server.keyFile,
      KAIROS_TLS_CA_FILE: pki.caFile,
      KAIROS_TLS_CLIENT_AUTH: 'true',
    });
  });

  it('tracks with the CA and a client certificate (file paths or PEM), and is refused without the certificate', async () => {
    const withCert = new KairosClient({
      address: service.address,
      tls: { ca: pki.caFile, cert: app.certFile, key: app.keyFile },
      maxRetries: 0,
    });
    assert.equal(
      (await withCert.trackNow({ type: 'order.completed', customerId: 'c-tls' })).outcome,
      'accepted',
    );
    await withCert.close();

    const noCert = new KairosClient({ address: service.address, tls: { ca: pki.ca }, maxRetries: 0 });
    await assert.rejects(
      noCert.trackNow({ type: 'order.completed', customerId: 'c-tls' }),
      (err: unknown) => {
        assert.ok(err instanceof KairosCallError);
        assert.equal(err.code, status.UNAVAILABLE);
        return true;
      },
    );
    await noCert.close();

    const plaintext = new KairosClient({ address: service.address, maxRetries: 0 });
    await assert.rejects(
      plaintext.trackNow({ type: 'order.completed', customerId: 'c-tls' }),
      KairosCallError,
    );
    await plaintext.close();
  });
});
