import assert from 'node:assert/strict';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { useNats } from '@kairos/testkit';
import { connectNats, Publisher, silentLogger, type Logger, type NatsConnection } from '../../src';

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

describe('Publisher acknowledgements (one reply subscription per connection)', function () {
  let nc: NatsConnection;
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
    const seen: string[] = [];
    const silent = nc.subscribe('silent.x', {
      callback: (_err, msg) => void seen.push(msg.headers!.get('Nats-Msg-Id')),
    });
    try {
      const publisher = new Publisher(nc, { logger: silentLogger, maxAttempts: 2, timeoutMs: 100 });
      await assert.rejects(
        publisher.publishBytes('silent.x', 'test', payload, { msgId: 's-1' }),
        (err: Error) => err.name === 'TimeoutError',
      );
      assert.deepEqual(seen, ['s-1', 's-1']);
    } finally {
      silent.unsubscribe();
    }
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
});
