import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { useNats } from '@kairos/testkit';
import { connectNats, Publisher, silentLogger, type Logger, type NatsConnection } from '../../src';
import { useInMemoryTracing } from '../tracing';

const payload = new TextEncoder().encode('{}');

/** Records the attempt numbers of 'publish retry' warnings. */
function retryLog(): Logger & { retries: number[] } {
  const retries: number[] = [];
  return {
    ...silentLogger,
    retries,
    warn: (obj, msg) => void (msg === 'publish retry' && retries.push((obj as { attempt: number }).attempt)),
  };
}

/**
 * Runs `fn` while a core subscription on `subject` (no JetStream behind it, so nobody acknowledges)
 * records the message id of every publish that reaches it into `seen`.
 */
async function withSilentSubject(
  nc: NatsConnection,
  subject: string,
  fn: (seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const silent = nc.subscribe(subject, {
    callback: (_err, msg) => void seen.push(msg.headers!.get('Nats-Msg-Id')),
  });
  try {
    await fn(seen);
  } finally {
    silent.unsubscribe();
  }
}

describe('Publisher acknowledgements (one reply subscription per connection)', function () {
  let nc: NatsConnection;
  const exporter = useInMemoryTracing();
  // Registered before useNats so it runs first, while the server is up.
  after(async () => {
    if (!nc) return;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete('PUBTEST').catch(() => undefined);
    await jsm.streams.delete('PUBTEST_FULL').catch(() => undefined);
    await nc.close();
  });
  const nats = useNats();

  before(async () => {
    nc = await connectNats({ servers: nats.url, name: 'publisher-test', logger: silentLogger });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'PUBTEST', subjects: ['pubtest.>'] });
    await jsm.streams.add({
      name: 'PUBTEST_FULL',
      subjects: ['pubfull.>'],
      max_msgs: 1,
      discard: DiscardPolicy.New,
    });
  });
  it('resolves each of many concurrent publishes with its own PubAck, duplicates flagged', async () => {
    const publisher = new Publisher(nc, { logger: silentLogger });
    const acks = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        publisher.publishBytes(`pubtest.a.${i % 7}`, 'test', payload, { msgId: `a-${i % 250}` }),
      ),
    );
    assert.equal(new Set(acks.filter((a) => !a.duplicate).map((a) => a.seq)).size, 250);
    assert.equal(acks.filter((a) => a.duplicate).length, 50);
    assert.ok(acks.every((a) => a.stream === 'PUBTEST'));
  });

  it('rejects with the JetStream error a stream answers with', async () => {
    const publisher = new Publisher(nc, { logger: silentLogger });
    await publisher.publishBytes('pubfull.x', 'test', payload, { msgId: 'full-1' });
    await assert.rejects(
      publisher.publishBytes('pubfull.x', 'test', payload, { msgId: 'full-2' }),
      (err: Error) => err.name === 'JetStreamApiError' && /maximum messages/i.test(err.message),
    );
  });

  it('retries a publish no stream answers (no responders) and then rejects', async () => {
    const logger = retryLog();
    const publisher = new Publisher(nc, { logger, maxAttempts: 2 });
    await assert.rejects(
      publisher.publishBytes('nostream.x', 'test', payload, { msgId: 'n-1' }),
      (err: Error) => err.name === 'NoResponders',
    );
    assert.deepEqual(logger.retries, [1]);
  });

  it('times out a publish nobody acknowledges and retries it with the same message id', async () => {
    await withSilentSubject(nc, 'silent.x', async (seen) => {
      const publisher = new Publisher(nc, { logger: silentLogger, maxAttempts: 2, timeoutMs: 100 });
      await assert.rejects(
        publisher.publishBytes('silent.x', 'test', payload, { msgId: 's-1' }),
        (err: Error) => err.name === 'TimeoutError',
      );
      assert.deepEqual(seen, ['s-1', 's-1']);
    });
  });

  it('rejects what waits for an acknowledgement when its connection closes', async () => {
    const own = await connectNats({ servers: nats.url, name: 'publisher-close', logger: silentLogger });
    const silent = own.subscribe('silent.y', { callback: () => undefined });
    const publisher = new Publisher(own, { logger: silentLogger, maxAttempts: 1, timeoutMs: 30_000 });
    const waiting = publisher.publishBytes('silent.y', 'test', payload, { msgId: 'c-1' });
    await own.flush();
    silent.unsubscribe();
    await own.close();
    await assert.rejects(waiting, (err: Error) => err.name === 'ClosedConnectionError');
  });

  describe('publishBatch', () => {
    it('stores every message once under one PRODUCER span whose trace each message carries', async () => {
      const publisher = new Publisher(nc, { logger: silentLogger });
      await publisher.publishBytes('pubtest.b.0', 'test', payload, { msgId: 'b-3' });
      const messages = Array.from({ length: 200 }, (_, i) => ({
        subject: `pubtest.b.${i % 5}`,
        payload: new TextEncoder().encode(`m${i}`),
        msgId: `b-${i}`,
      }));
      const tracer = trace.getTracer('test');
      const { acks, traceId } = await tracer.startActiveSpan('call', async (span) => {
        const acks = await publisher.publishBatch('kairos.test.v1.Thing', messages);
        span.end();
        return { acks, traceId: span.spanContext().traceId };
      });
      assert.equal(acks.length, 200);
      assert.deepEqual(
        acks.map((a, i) => [i, a.duplicate]).filter(([, d]) => d),
        [[3, true]],
      );
      const producer = exporter.getFinishedSpans().filter((s) => s.name === 'pubtest.b.> publish');
      assert.equal(producer.length, 1);
      assert.equal(producer[0].spanContext().traceId, traceId);
      assert.equal(producer[0].attributes['messaging.batch.message_count'], 200);
      assert.equal(producer[0].attributes['messaging.nats.duplicates'], 1);

      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage('PUBTEST', { seq: acks[150].seq });
      assert.equal(new TextDecoder().decode(stored!.data), 'm150');
      assert.equal(stored!.header.get('Nats-Msg-Id'), 'b-150');
      assert.equal(stored!.header.get('Kairos-Schema'), 'kairos.test.v1.Thing');
      assert.equal(stored!.header.get('traceparent'), `00-${traceId}-${producer[0].spanContext().spanId}-01`);
    });

    it('retries a message that is not acknowledged with its id, and rejects when it never is', async () => {
      await withSilentSubject(nc, 'silent.z', async (seen) => {
        const publisher = new Publisher(nc, { logger: silentLogger, maxAttempts: 2, timeoutMs: 100 });
        await assert.rejects(
          publisher.publishBatch('test', [
            { subject: 'pubtest.c', payload, msgId: 'c-1' },
            { subject: 'silent.z', payload, msgId: 'z-1' },
          ]),
          (err: Error) => err.name === 'TimeoutError',
        );
        assert.deepEqual(seen, ['z-1', 'z-1']);
        const jsm = await jetstreamManager(nc);
        assert.equal(
          (await jsm.streams.getMessage('PUBTEST', { last_by_subj: 'pubtest.c' }))?.header.get('Nats-Msg-Id'),
          'c-1',
        );
      });
    });

    it('rejects a batch holding a message id no header can carry', async () => {
      const publisher = new Publisher(nc, { logger: silentLogger });
      await assert.rejects(
        publisher.publishBatch('test', [
          { subject: 'pubtest.e', payload, msgId: 'e-1' },
          { subject: 'pubtest.e', payload, msgId: 'e-2\r\nX-Injected: 1' },
        ]),
        /header|invalid/i,
      );
    });

    it('names the span after the one subject of a batch, and resolves an empty batch at once', async () => {
      const publisher = new Publisher(nc, { logger: silentLogger });
      await publisher.publishBatch('test', [
        { subject: 'pubtest.d.x', payload, msgId: 'd-1' },
        { subject: 'pubtest.d.x', payload, msgId: 'd-2' },
      ]);
      assert.ok(exporter.getFinishedSpans().some((s) => s.name === 'pubtest.d.x publish'));
      assert.deepEqual(await publisher.publishBatch('test', []), []);
    });
  });
});
