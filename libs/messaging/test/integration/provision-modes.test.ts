import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { consumerSpec, SCHEMAS, STREAMS, events } from '@kairos/contracts';
import { useNats, waitFor } from '@kairos/testkit';
import {
  ConsumeLoop,
  connectNats,
  ensureConsumer,
  ensureKv,
  provisionStreams,
  Publisher,
  restartConsumerAt,
  silentLogger,
  type NatsConnection,
} from '../../src';

const event = (id: string) => events.Event.fromPartial({ id, type: 'page.viewed', customerId: 'c1' });

describe('KAIROS_PROVISION=external: binding to what the provisioning Job made', function () {
  this.timeout(30_000);
  const nats = useNats({ ignoreEnv: true });
  let nc: NatsConnection;
  let publisher: Publisher;

  before(async () => {
    nc = await connectNats({ servers: nats.url, name: 'provision-modes-test', logger: silentLogger });
    await provisionStreams(nc);
    publisher = new Publisher(nc, { logger: silentLogger, timeoutMs: 2_000 });
  });
  after(async () => {
    await nc?.close();
  });

  const publish = (p: number, id: string) =>
    publisher.publish(`events.raw.${p}.customer_action.page.viewed`, SCHEMAS.Event, event(id), { msgId: id });

  it('waits for a consumer that does not exist yet, creates nothing, and consumes once it is provisioned', async () => {
    const spec = consumerSpec(STREAMS.EVENTS.name, 'ext-wait', 'events.raw.3.>');
    const seen: string[] = [];
    const loop = new ConsumeLoop(nc, {
      spec,
      provision: 'external',
      schema: SCHEMAS.Event,
      handler: async (e) => void seen.push(e.id),
      mode: { kind: 'ordered' },
      logger: silentLogger,
      publisher,
    });
    let started = false;
    const starting = loop.start().then(() => (started = true));
    await publish(3, 'ext-1');
    const jsm = await jetstreamManager(nc);
    await assert.rejects(jsm.consumers.info(STREAMS.EVENTS.name, 'ext-wait'), /consumer not found/);
    assert.equal(started, false, 'start waits for the consumer');
    await ensureConsumer(nc, spec); // what the Job does
    await starting;
    await waitFor(() => seen.includes('ext-1'), { message: 'the event on the provisioned consumer' });
    await loop.drain();
  });

  it("refuses a provisioned consumer whose delivery differs from the service's settings, naming the field", async () => {
    const spec = consumerSpec(STREAMS.EVENTS.name, 'ext-drift', 'events.raw.4.>', { maxDeliver: 5 });
    await ensureConsumer(nc, { ...spec, maxDeliver: 10 });
    const loop = new ConsumeLoop(nc, {
      spec,
      provision: 'external',
      schema: SCHEMAS.Event,
      handler: async () => undefined,
      mode: { kind: 'ordered' },
      logger: silentLogger,
      publisher,
    });
    await assert.rejects(loop.start(), /ext-drift differs .*max_deliver is 11, the service expects 6/);
  });

  it('restarts a provisioned consumer at a stream sequence with a reset, below or above its ack floor', async () => {
    const spec = consumerSpec(STREAMS.EVENTS.name, 'ext-reset', 'events.raw.5.>');
    await ensureConsumer(nc, spec);
    const acks: Array<{ seq: number }> = [];
    for (let i = 0; i < 4; i++) acks.push(await publish(5, `reset-${i}`));
    const seqs = acks.map((a) => a.seq);
    const jsm = await jetstreamManager(nc);
    const next = async () => {
      const m = await (
        await jetstream(nc).consumers.get(STREAMS.EVENTS.name, 'ext-reset')
      ).next({ expires: 2_000 });
      m!.ack();
      return m!.seq;
    };
    assert.equal(await next(), seqs[0]);
    assert.equal(await next(), seqs[1]);
    await restartConsumerAt(nc, spec, seqs[0], 'external');
    assert.equal(await next(), seqs[0], 'back to an acked message');
    await restartConsumerAt(nc, spec, seqs[3], 'external');
    assert.equal(await next(), seqs[3], 'past messages never delivered');
    const info = await jsm.consumers.info(STREAMS.EVENTS.name, 'ext-reset');
    assert.equal(info.num_pending, 0);
  });

  it('waits for a KV bucket the Job has not made yet instead of creating it', async () => {
    let opened = false;
    const opening = ensureKv(nc, 'ext-bucket', { provision: 'external' }).then((kv) => ((opened = true), kv));
    const jsm = await jetstreamManager(nc);
    await assert.rejects(jsm.streams.info('KV_ext-bucket'), /stream not found/);
    assert.equal(opened, false);
    await ensureKv(nc, 'ext-bucket', { history: 3 }); // what the Job does
    const kv = await opening;
    assert.equal((await kv.status()).history, 3);
  });

  it('an ordered loop started after its predecessor died holding unacked messages gets them first, in stream order', async () => {
    // The predecessor: the same durable, with the services' 30 s ack wait, pulled two messages and
    // was killed before acking them.
    const spec = consumerSpec(STREAMS.EVENTS.name, 't-rewind', 'events.raw.14.>', {
      maxDeliver: 3,
      backoffMs: [20],
      ackWaitMs: 30_000,
    });
    await ensureConsumer(nc, spec);
    const subject = 'events.raw.14.customer_action.page.viewed';
    for (const id of ['u-1', 'u-2'])
      await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
    const predecessor = await jetstream(nc).consumers.get(STREAMS.EVENTS.name, 't-rewind');
    const held: string[] = [];
    for await (const m of await predecessor.fetch({ max_messages: 2, expires: 2_000 })) {
      held.push(SCHEMAS.Event.type.decode(m.data).id);
    }
    assert.deepEqual(held, ['u-1', 'u-2'], 'the predecessor holds both, unacked');
    await publisher.publish(subject, SCHEMAS.Event, event('u-3'), { msgId: 'u-3' });

    const seen: string[] = [];
    const loop = new ConsumeLoop(nc, {
      spec,
      schema: SCHEMAS.Event,
      handler: async (e) => void seen.push(e.id),
      mode: { kind: 'ordered' },
      logger: silentLogger,
      publisher,
    });
    await loop.start();
    // Well within the ack wait: the held messages come again at once, not after 30 s.
    await waitFor(() => seen.length >= 3, {
      timeoutMs: 10_000,
      message: `three messages (saw ${seen.join(', ')})`,
    });
    await loop.drain();
    assert.deepEqual(seen, ['u-1', 'u-2', 'u-3']);
  });
});
