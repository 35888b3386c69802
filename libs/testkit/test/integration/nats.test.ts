import { strict as assert } from 'node:assert';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { useNats } from '../../src';

describe('useNats', () => {
  const nats = useNats({ ignoreEnv: true });

  type NatsConnection = Awaited<ReturnType<typeof connect>>;

  async function withConnection<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
    const nc = await connect({ servers: nats.url });
    try {
      return await fn(nc);
    } finally {
      await nc.close();
    }
  }

  it('provides a JetStream server where a published message can be read back from a stream', async () => {
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'KT_BASIC', subjects: ['kt.basic.>'] });
      const js = jetstream(nc);
      const ack = await js.publish('kt.basic.one', 'hello');
      assert.equal(ack.stream, 'KT_BASIC');
      const msg = await jsm.streams.getMessage('KT_BASIC', { seq: ack.seq });
      assert.equal(msg?.string(), 'hello');
      assert.equal(msg?.subject, 'kt.basic.one');
    });
  });

  it('keeps JetStream streams and messages across restart() on the same URL', async () => {
    const urlBefore = nats.url;
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'KT_DURABLE', subjects: ['kt.durable.>'] });
      await jetstream(nc).publish('kt.durable.a', 'survives');
    });
    await nats.restart();
    assert.equal(nats.url, urlBefore);
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('KT_DURABLE');
      assert.equal(info.state.messages, 1);
      const msg = await jsm.streams.getMessage('KT_DURABLE', { last_by_subj: 'kt.durable.a' });
      assert.equal(msg?.string(), 'survives');
    });
  });

  it('recovers JetStream data after kill() (SIGKILL) followed by start()', async () => {
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'KT_KILLED', subjects: ['kt.killed.>'] });
      const js = jetstream(nc);
      for (let i = 0; i < 5; i++) await js.publish('kt.killed.x', String(i));
    });
    await nats.kill();
    assert.equal(nats.running, false);
    await assert.rejects(connect({ servers: nats.url, reconnect: false, timeout: 500 }));
    await nats.start();
    assert.equal(nats.running, true);
    await withConnection(async (nc) => {
      const info = await (await jetstreamManager(nc)).streams.info('KT_KILLED');
      assert.equal(info.state.messages, 5);
    });
  });
});
