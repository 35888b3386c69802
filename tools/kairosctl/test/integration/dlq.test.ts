import assert from 'node:assert/strict';
import { HEADERS, SCHEMAS, STREAMS, events } from '@kairos/contracts';
import { connectPublisher, scanStream, type NatsConnection, type Publisher } from '@kairos/messaging';
import { useNats } from '@kairos/testkit';
import { cli } from '../support';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('kairosctl dlq against a real NATS', function () {
  const nats = useNats({ ignoreEnv: true });
  const env = () => ({ NATS_URL: nats.url });
  let nc: NatsConnection;
  const subject = 'events.raw.5.customer_action.order.completed';

  before(async () => {
    let publisher: Publisher;
    ({ nc, publisher } = await connectPublisher(nats.url, 'kairosctl-dlq-test'));
    // A dead letter as a consume loop writes it: the original payload and headers, plus the DLQ's own.
    const data = SCHEMAS.Event.type
      .encode(events.Event.fromPartial({ id: 'e-poison', customerId: 'c5' }))
      .finish();
    await publisher.publishBytes(`dlq.${subject}`, SCHEMAS.Event.name, data, {
      msgId: 'dlq:EVENTS:42',
      headers: {
        traceparent: TRACEPARENT,
        [HEADERS.dlqError]: 'order.completed without a total',
        [HEADERS.dlqSubject]: subject,
        [HEADERS.dlqDeliveries]: '1',
        [HEADERS.dlqStream]: STREAMS.EVENTS.name,
        [HEADERS.dlqSequence]: '42',
        [HEADERS.dlqConsumer]: 'enrichment-p05',
      },
    });
  });
  after(() => nc?.close());

  it('lists, shows and replays a dead letter once; a second replay fails with exit 1', async function () {
    const list = await cli(['dlq', 'list'], env());
    assert.equal(list.code, 0, list.err.join('\n'));
    assert.match(list.out[0]!, /^SEQ +AT +SUBJECT +CONSUMER +TRIES +ERROR$/);
    assert.equal(list.out.length, 2, list.out.join('\n'));
    assert.match(
      list.out[1]!,
      new RegExp(
        `^1 .* ${subject.replace(/\./g, '\\.')} +enrichment-p05 +1 +order\\.completed without a total$`,
      ),
    );

    const json = await cli(['dlq', 'list', '--subject', 'events.raw.5.>', '-o', 'json'], env());
    const [entry] = JSON.parse(json.out.join('\n'));
    assert.deepEqual(
      {
        seq: entry.seq,
        consumer: entry.consumer,
        stream: entry.stream,
        streamSequence: entry.streamSequence,
      },
      { seq: 1, consumer: 'enrichment-p05', stream: 'EVENTS', streamSequence: 42 },
    );
    const none = await cli(['dlq', 'list', '--subject', 'triggers.>'], env());
    assert.deepEqual(none.out, ['no dead letters']);

    const show = await cli(['dlq', 'show', '1'], env());
    assert.equal(show.code, 0, show.err.join('\n'));
    const shown = JSON.parse(show.out.join('\n'));
    assert.equal(shown.payload.id, 'e-poison', 'the payload decoded with its schema');
    assert.equal(shown.headers.traceparent, TRACEPARENT);

    const replay = await cli(['dlq', 'replay', '1'], env());
    assert.equal(replay.code, 0, replay.err.join('\n'));
    assert.match(
      replay.out[0]!,
      /^replayed 1 to events\.raw\.5\.customer_action\.order\.completed \(consumer enrichment-p05\)/,
    );
    const back = [];
    for await (const m of scanStream(nc, { stream: STREAMS.EVENTS.name, filter: subject })) back.push(m);
    assert.equal(back.length, 1);
    assert.equal(SCHEMAS.Event.type.decode(back[0]!.data).id, 'e-poison');
    assert.equal(back[0]!.headers?.get(HEADERS.replayFor), 'enrichment-p05');
    assert.equal(back[0]!.headers?.get('traceparent'), TRACEPARENT, 'the trace continues');
    assert.equal(back[0]!.headers?.get(HEADERS.dlqError), '', 'the DLQ headers stay behind');

    const again = await cli(['dlq', 'replay', '1'], env());
    assert.equal(again.code, 1);
    assert.match(again.err.join('\n'), /no dead letter with sequence 1/);
    assert.deepEqual((await cli(['dlq', 'list'], env())).out, ['no dead letters']);
  });

  it('refuses a sequence that is not a positive integer, and an unknown subcommand, with exit 2', async function () {
    const bad = await cli(['dlq', 'show', 'abc'], env());
    assert.equal(bad.code, 2);
    assert.match(bad.err[0]!, /'abc' is not a DLQ sequence/);
    const unknown = await cli(['dlq', 'purge'], env());
    assert.equal(unknown.code, 2);
    assert.match(unknown.err[0]!, /unknown subcommand 'purge'/);
  });
});
