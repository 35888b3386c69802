import assert from 'node:assert/strict';
import { consumerSpec, HEADERS, SCHEMAS, STREAMS, events } from '@kairos/contracts';
import { useNats, waitFor } from '@kairos/testkit';
import {
  ConsumeLoop,
  connectPublisher,
  DeadLetterNotFound,
  getDeadLetter,
  listDeadLetters,
  PermanentError,
  type Publisher,
  replayDeadLetter,
  silentLogger,
  type NatsConnection,
} from '../../src';

const event = (id: string) => events.Event.fromPartial({ id, type: 'order.completed', customerId: 'c9' });

describe('dead letters: list, show and replay on a real nats-server', function () {
  const nats = useNats({ ignoreEnv: true });
  let nc: NatsConnection;
  let publisher: Publisher;
  const loops: ConsumeLoop<events.Event>[] = [];

  before(async () => {
    ({ nc, publisher } = await connectPublisher(nats.url, 'dlq-test'));
  });
  after(async () => {
    await Promise.all(loops.map((l) => l.drain()));
    await nc?.close();
  });

  /** A loop on partition 7 of events.raw that records what it handled. */
  async function start(
    durable: string,
    mode: 'ordered' | 'ordered-batch',
    handle: (e: events.Event) => void,
  ): Promise<void> {
    const spec = consumerSpec(STREAMS.EVENTS.name, durable, 'events.raw.7.>', {
      maxDeliver: 3,
      backoffMs: [50],
    });
    const loop =
      mode === 'ordered'
        ? new ConsumeLoop(nc, {
            spec,
            schema: SCHEMAS.Event,
            handler: async (e) => handle(e),
            mode: { kind: 'ordered' },
            logger: silentLogger,
            publisher,
          })
        : new ConsumeLoop(nc, {
            spec,
            schema: SCHEMAS.Event,
            batchHandler: async (items) => items.forEach((i) => handle(i.message)),
            mode: { kind: 'ordered-batch', max: 10, maxWaitMs: 5 },
            logger: silentLogger,
            publisher,
          });
    loops.push(loop);
    await loop.start();
  }

  it('replays a dead letter to the one consumer that failed it, once, and removes it from the DLQ', async () => {
    let fixed = false;
    const handledByFailing: string[] = [];
    const handledByOther: string[] = [];
    await start('t-dlq-failing', 'ordered', (e) => {
      if (e.id === 'poison-1' && !fixed) throw new PermanentError('order.completed without a total');
      handledByFailing.push(e.id);
    });
    await start('t-dlq-other', 'ordered-batch', (e) => handledByOther.push(e.id));

    const subject = 'events.raw.7.customer_action.order.completed';
    for (const id of ['ok-1', 'poison-1', 'ok-2'])
      await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
    await waitFor(() => handledByFailing.includes('ok-2') && handledByOther.length === 3, {
      message: `both consumers past the poison message (failing ${handledByFailing}, other ${handledByOther})`,
    });

    const [dead, ...more] = await waitFor(async () => {
      const l = await listDeadLetters(nc, { subject: 'events.raw.7.>' });
      return l.length ? l : undefined;
    });
    assert.equal(more.length, 0);
    assert.equal(dead.subject, subject);
    assert.equal(dead.consumer, 't-dlq-failing');
    assert.equal(dead.stream, STREAMS.EVENTS.name);
    assert.equal(dead.deliveries, 1, 'a permanent error is dead-lettered at the first attempt');
    assert.match(dead.error, /without a total/);
    assert.ok(dead.size > 0);

    const shown = await getDeadLetter(nc, dead.seq);
    assert.equal(SCHEMAS.Event.type.decode(shown.data).id, 'poison-1');
    assert.equal(shown.headers[HEADERS.schema], SCHEMAS.Event.name);
    assert.ok(!Object.keys(shown.headers).some((k) => k.startsWith('Kairos-Dlq-')), 'DLQ headers left out');

    fixed = true;
    const replay = await replayDeadLetter(nc, dead.seq);
    assert.equal(replay.duplicate, false);
    await waitFor(() => handledByFailing.includes('poison-1'), {
      message: 'the replay reaches the failing consumer',
    });
    // A marker behind the replay: once the other consumer has it, it has seen (and skipped) the replay.
    await publisher.publish(subject, SCHEMAS.Event, event('ok-3'), { msgId: 'ok-3' });
    await waitFor(() => handledByOther.includes('ok-3') && handledByFailing.includes('ok-3'));

    assert.deepEqual(handledByFailing, ['ok-1', 'ok-2', 'poison-1', 'ok-3']);
    assert.deepEqual(
      handledByOther,
      ['ok-1', 'poison-1', 'ok-2', 'ok-3'],
      'the other consumer handles it once',
    );
    assert.deepEqual(await listDeadLetters(nc, { subject: 'events.raw.7.>' }), []);
    await assert.rejects(replayDeadLetter(nc, dead.seq), DeadLetterNotFound, 'a second replay finds nothing');
  });
});
