import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { jetstreamManager } from '@nats-io/jetstream';
import { consumerSpec, HEADERS, SCHEMAS, STREAMS, events } from '@kairos/contracts';
import { activeTraceIds } from '@kairos/telemetry';
import { useNats, waitFor } from '@kairos/testkit';
import {
  ConsumeLoop,
  connectNats,
  PermanentError,
  provisionStreams,
  Publisher,
  silentLogger,
  type BatchHandler,
  type MessageContext,
  type NatsConnection,
} from '../../src';
import { useInMemoryTracing } from '../tracing';

const event = (id: string) =>
  events.Event.fromPartial({
    id,
    type: 'cart.item_added',
    customerId: 'c1',
    properties: { sku: 'A-1', price: 25 },
  });

describe('messaging on a real nats-server', function () {
  const nats = useNats({ ignoreEnv: true });
  let nc: NatsConnection;
  let publisher: Publisher;
  const exporter = useInMemoryTracing();
  let loops: ConsumeLoop<any>[] = [];

  before(async () => {
    nc = await connectNats({ servers: nats.url, name: 'messaging-test', logger: silentLogger });
    await provisionStreams(nc);
    publisher = new Publisher(nc, { logger: silentLogger, timeoutMs: 2_000 });
  });
  afterEach(async () => {
    await Promise.all(loops.map((l) => l.drain()));
    loops = [];
  });
  after(async () => {
    await nc?.close();
  });

  function startLoop(
    durable: string,
    filter: string,
    handler: (e: events.Event, ctx: MessageContext) => Promise<void>,
    mode: 'ordered' | 'concurrent' = 'concurrent',
    maxDeliver = 3,
  ) {
    const loop = new ConsumeLoop(nc, {
      spec: consumerSpec(STREAMS.EVENTS.name, durable, filter, {
        maxDeliver,
        backoffMs: [20, 40],
        ackWaitMs: 5_000,
      }),
      schema: SCHEMAS.Event,
      handler,
      mode: mode === 'ordered' ? { kind: 'ordered' } : { kind: 'concurrent', max: 8 },
      logger: silentLogger,
      publisher,
    });
    loops.push(loop);
    return loop.start();
  }

  /** Starts an ordered-batch loop on EVENTS `filter` with `batchHandler` (drained after the test). */
  async function startBatchLoop(
    durable: string,
    filter: string,
    spec: Parameters<typeof consumerSpec>[3],
    batchHandler: BatchHandler<events.Event>,
    batch: { max: number; maxWaitMs: number; spans?: 'message' | 'batch' },
  ): Promise<ConsumeLoop<events.Event>> {
    const loop = new ConsumeLoop(nc, {
      spec: consumerSpec(STREAMS.EVENTS.name, durable, filter, spec),
      schema: SCHEMAS.Event,
      batchHandler,
      mode: { kind: 'ordered-batch', ...batch },
      logger: silentLogger,
      publisher,
    });
    loops.push(loop);
    await loop.start();
    return loop;
  }

  /**
   * A batch handler that records each batch, attempt and trace (through `inContext`), holds the first
   * batch until `release` (so the rest pile up into one batch), fails a batch holding a `poison-*`
   * message and records the others as done.
   */
  function gatedHandler() {
    const r = {
      batches: [] as string[][],
      done: [] as string[],
      attempts: new Map<string, number>(),
      traceIds: new Map<string, string | undefined>(),
      release: () => {},
      handler: (async () => undefined) as BatchHandler<events.Event>,
    };
    const gate = new Promise<void>((resolve) => (r.release = resolve));
    r.handler = async (items) => {
      r.batches.push(items.map((i) => i.message.id));
      for (const i of items) {
        r.attempts.set(i.message.id, (r.attempts.get(i.message.id) ?? 0) + 1);
        r.traceIds.set(
          i.message.id,
          i.inContext(() => activeTraceIds()?.trace_id),
        );
      }
      if (r.batches.length === 1) await gate;
      if (items.some((i) => i.message.id.startsWith('poison'))) throw new Error('cannot handle poison');
      r.done.push(...items.map((i) => i.message.id));
    };
    return r;
  }

  /**
   * Publishes `ids` to `subject`, each in a span of its own, waiting after the first until
   * `firstHandled`; returns each message's trace id.
   */
  async function publishTraced(
    subject: string,
    ids: readonly string[],
    firstHandled: () => boolean,
  ): Promise<Map<string, string>> {
    const traces = new Map<string, string>();
    const tracer = trace.getTracer('test');
    for (const id of ids) {
      await tracer.startActiveSpan(`send ${id}`, async (span) => {
        traces.set(id, span.spanContext().traceId);
        await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
        span.end();
      });
      if (id === ids[0]) await waitFor(firstHandled, { timeoutMs: 10_000, message: 'no batch' });
    }
    return traces;
  }

  /** The last dead letter of `subject`, once there is one. */
  async function deadLetterOf(subject: string) {
    const jsm = await jetstreamManager(nc);
    return waitFor(
      () => jsm.streams.getMessage(STREAMS.DLQ.name, { last_by_subj: `dlq.${subject}` }).catch(() => null),
      { timeoutMs: 10_000, message: 'no dead letter' },
    );
  }

  /** Waits until consumer `durable` of EVENTS has nothing pending and nothing unacked. */
  async function allAcked(durable: string): Promise<void> {
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () => {
        const info = await jsm.consumers.info(STREAMS.EVENTS.name, durable);
        return info.num_ack_pending === 0 && info.num_pending === 0;
      },
      { timeoutMs: 10_000, message: 'messages left unacked' },
    );
  }

  it('delivers a message exactly once with the producer trace id, despite a duplicate publish with the same id', async () => {
    const received: Array<{ id: string; traceId?: string }> = [];
    await startLoop('t-once', 'events.raw.1.>', async (e) => {
      received.push({ id: e.id, traceId: activeTraceIds()?.trace_id });
    });
    const tracer = trace.getTracer('test');
    let producerTrace = '';
    await tracer.startActiveSpan('client call', async (span) => {
      producerTrace = span.spanContext().traceId;
      const first = await publisher.publish(
        'events.raw.1.customer_action.cart.item_added',
        SCHEMAS.Event,
        event('e-1'),
        {
          msgId: 'e-1',
        },
      );
      const second = await publisher.publish(
        'events.raw.1.customer_action.cart.item_added',
        SCHEMAS.Event,
        event('e-1'),
        {
          msgId: 'e-1',
        },
      );
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, true);
      span.end();
    });
    // A marker published after the duplicate: once it arrives, the duplicate would have too.
    await publisher.publish('events.raw.1.customer_action.cart.item_added', SCHEMAS.Event, event('marker'), {
      msgId: 'm-1',
    });
    await waitFor(() => received.some((r) => r.id === 'marker'), {
      timeoutMs: 10_000,
      message: 'marker not consumed',
    });
    assert.deepEqual(
      received.filter((r) => r.id === 'e-1'),
      [{ id: 'e-1', traceId: producerTrace }],
    );
    const consumerSpan = exporter
      .getFinishedSpans()
      .find((s) => s.name.endsWith(' process') && s.spanContext().traceId === producerTrace);
    assert.ok(consumerSpan, 'a CONSUMER span continues the producer trace');
  });

  it('dead-letters a message whose handler always throws after max_deliver attempts, and keeps the ones behind it flowing', async () => {
    for (const mode of ['concurrent', 'ordered'] as const) {
      const attempts = new Map<string, number>();
      const done: string[] = [];
      const partition = mode === 'ordered' ? 3 : 2;
      await startLoop(
        `t-dlq-${mode}`,
        `events.raw.${partition}.>`,
        async (e) => {
          attempts.set(e.id, (attempts.get(e.id) ?? 0) + 1);
          if (e.id.startsWith('poison')) throw new Error(`cannot handle ${e.id}`);
          done.push(e.id);
        },
        mode,
        3,
      );
      const subject = `events.raw.${partition}.customer_action.cart.item_added`;
      await publisher.publish(subject, SCHEMAS.Event, event(`poison-${mode}`), { msgId: `poison-${mode}` });
      for (let i = 0; i < 5; i++) {
        await publisher.publish(subject, SCHEMAS.Event, event(`ok-${mode}-${i}`), {
          msgId: `ok-${mode}-${i}`,
        });
      }
      await waitFor(() => done.length === 5, {
        timeoutMs: 15_000,
        message: `${mode}: healthy messages not all handled`,
      });
      const jsm = await jetstreamManager(nc);
      const dead = await waitFor(
        () => jsm.streams.getMessage(STREAMS.DLQ.name, { last_by_subj: `dlq.${subject}` }).catch(() => null),
        { timeoutMs: 10_000, message: `${mode}: no dead letter` },
      );
      assert.equal(dead.header.get(HEADERS.dlqError), `cannot handle poison-${mode}`);
      assert.equal(dead.header.get(HEADERS.dlqSubject), subject);
      assert.equal(dead.header.get(HEADERS.dlqDeliveries), '3');
      assert.equal(SCHEMAS.Event.type.decode(dead.data).id, `poison-${mode}`);
      assert.equal(attempts.get(`poison-${mode}`), 3);
      if (mode === 'ordered') {
        assert.deepEqual(
          done,
          [0, 1, 2, 3, 4].map((i) => `ok-ordered-${i}`),
          'order kept behind the poison message',
        );
      }
    }
  });

  it('ordered-batch: hands delivered messages over in stream-order batches, acks all after the handler, and dead-letters a poison message alone', async () => {
    const { batches, done, attempts, traceIds, release, handler } = gatedHandler();
    await startBatchLoop(
      't-batch',
      'events.raw.7.>',
      { maxDeliver: 3, backoffMs: [20, 40], ackWaitMs: 5_000 },
      handler,
      {
        max: 50,
        maxWaitMs: 20,
      },
    );
    const subject = 'events.raw.7.customer_action.cart.item_added';
    const ids = [
      'b-0',
      ...[1, 2, 3, 4, 5].map((i) => `b-${i}`),
      'poison-b',
      ...[6, 7, 8].map((i) => `b-${i}`),
    ];
    const producerTraces = await publishTraced(subject, ids, () => batches.length === 1);
    release();
    await waitFor(() => done.length === 9, {
      timeoutMs: 15_000,
      message: 'healthy messages not all handled',
    });
    assert.deepEqual(
      done,
      ids.filter((id) => !id.startsWith('poison')),
      'stream order kept',
    );
    assert.ok(
      batches.some((b) => b.length > 1),
      `several messages per batch (got ${JSON.stringify(batches)})`,
    );
    // The failed batch counts as the poison's first attempt; then it is retried alone.
    assert.equal(attempts.get('poison-b'), 3);
    for (const id of ids) assert.equal(traceIds.get(id), producerTraces.get(id), `trace of ${id}`);
    const dead = await deadLetterOf(subject);
    assert.equal(SCHEMAS.Event.type.decode(dead.data).id, 'poison-b');
    assert.equal(dead.header.get(HEADERS.dlqDeliveries), '3');
    await allAcked('t-batch');
  });

  it('ordered-batch on an ack-all consumer with batch spans: one span per batch linked to each message, one ack per batch, a poison message still dead-lettered alone', async () => {
    const { batches, done, traceIds, release, handler } = gatedHandler();
    await startBatchLoop(
      't-ack-all',
      'events.raw.11.>',
      { maxDeliver: 3, backoffMs: [20, 40], ackWaitMs: 5_000, ackPolicy: 'all' },
      handler,
      { max: 50, maxWaitMs: 20, spans: 'batch' },
    );
    const jsm = await jetstreamManager(nc);
    assert.equal((await jsm.consumers.info(STREAMS.EVENTS.name, 't-ack-all')).config.ack_policy, 'all');
    const subject = 'events.raw.11.customer_action.cart.item_added';
    const ids = ['a-0', 'a-1', 'a-2', 'poison-a', 'a-3', 'a-4'];
    const producerTraces = await publishTraced(subject, ids, () => batches.length === 1);
    // Held in the handler, the first batch is not acked, and nothing behind it is.
    const held = await jsm.consumers.info(STREAMS.EVENTS.name, 't-ack-all');
    assert.ok(held.num_ack_pending >= 1, 'the held batch is not acked');
    release();
    await waitFor(() => done.length === 5, {
      timeoutMs: 15_000,
      message: 'healthy messages not all handled',
    });
    assert.deepEqual(done, ['a-0', 'a-1', 'a-2', 'a-3', 'a-4'], 'stream order kept');
    for (const id of ids) assert.equal(traceIds.get(id), producerTraces.get(id), `inContext: trace of ${id}`);
    const batchSpan = exporter
      .getFinishedSpans()
      .find((s) => s.name === 't-ack-all process' && s.links.length > 1);
    assert.ok(batchSpan, 'one span for a batch of several messages');
    const linked = new Set(batchSpan.links.map((l) => l.context.traceId));
    assert.ok(
      batchSpan.links.every((l) => [...producerTraces.values()].includes(l.context.traceId)) &&
        linked.size > 1,
      "the batch span links to the messages' traces",
    );
    const dead = await deadLetterOf(subject);
    assert.equal(SCHEMAS.Event.type.decode(dead.data).id, 'poison-a');
    await allAcked('t-ack-all');
  });

  it('ordered-batch on an ack-all consumer awaits a commit before the next batch, and a failed commit re-runs its messages', async () => {
    const attempts = new Map<string, number>();
    let failFirst = true;
    await startBatchLoop(
      't-ack-all-commit',
      'events.raw.13.>',
      { maxDeliver: 3, backoffMs: [20, 40], ackWaitMs: 5_000, ackPolicy: 'all' },
      async (items) => {
        for (const { message } of items) attempts.set(message.id, (attempts.get(message.id) ?? 0) + 1);
        const fail = failFirst;
        failFirst = false;
        return { committed: fail ? Promise.reject(new Error('database unavailable')) : Promise.resolve() };
      },
      { max: 10, maxWaitMs: 5 },
    );
    const ids = ['c-0', 'c-1', 'c-2'];
    for (const id of ids)
      await publisher.publish('events.raw.13.customer_action.page.viewed', SCHEMAS.Event, event(id), {
        msgId: id,
      });
    await allAcked('t-ack-all-commit');
    assert.ok(attempts.get('c-0')! >= 2, 'the batch whose commit failed ran again');
    for (const id of ids) assert.ok(attempts.get(id)! >= 1, id);
  });

  it('recreates an explicit-ack consumer as ack-all where it stood: nothing acked is delivered again', async () => {
    const seen: string[] = [];
    const subject = 'events.raw.12.customer_action.page.viewed';
    const spec = (ackPolicy: 'explicit' | 'all') =>
      consumerSpec(STREAMS.EVENTS.name, 't-ack-migrate', 'events.raw.12.>', { ackWaitMs: 5_000, ackPolicy });
    const start = async (ackPolicy: 'explicit' | 'all') => {
      const loop = new ConsumeLoop(nc, {
        spec: spec(ackPolicy),
        schema: SCHEMAS.Event,
        batchHandler: async (items) => void seen.push(...items.map((i) => i.message.id)),
        mode: { kind: 'ordered-batch', max: 10, maxWaitMs: 5 },
        logger: silentLogger,
        publisher,
      });
      await loop.start();
      return loop;
    };
    const first = await start('explicit');
    for (const id of ['mig-0', 'mig-1', 'mig-2'])
      await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () =>
        (await jsm.consumers.info(STREAMS.EVENTS.name, 't-ack-migrate')).ack_floor.stream_seq > 0 &&
        seen.length === 3,
      { timeoutMs: 10_000, message: 'first three not acked' },
    );
    await first.drain();
    for (const id of ['mig-3', 'mig-4'])
      await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
    loops.push(await start('all'));
    await waitFor(() => seen.length === 5, { timeoutMs: 10_000, message: 'the two new ones not consumed' });
    assert.deepEqual(seen, ['mig-0', 'mig-1', 'mig-2', 'mig-3', 'mig-4'], 'each once');
    assert.equal((await jsm.consumers.info(STREAMS.EVENTS.name, 't-ack-migrate')).config.ack_policy, 'all');
  });

  it('ordered-batch with a commit: later batches run before the first commit resolves, and messages are acked only once their commit does', async () => {
    const handled: string[] = [];
    let commit!: () => void;
    const committed = new Promise<void>((r) => (commit = r));
    await startBatchLoop(
      't-commit',
      'events.raw.8.>',
      { ackWaitMs: 30_000 },
      async (items) => {
        handled.push(...items.map((i) => i.message.id));
        return { committed };
      },
      { max: 2, maxWaitMs: 5 },
    );
    const ids = ['k-0', 'k-1', 'k-2', 'k-3', 'k-4'];
    for (const id of ids)
      await publisher.publish('events.raw.8.customer_action.page.viewed', SCHEMAS.Event, event(id), {
        msgId: id,
      });
    // Batches of at most two: all five handled means three batches ran with none committed.
    await waitFor(() => handled.length === ids.length, { timeoutMs: 10_000, message: 'not all handled' });
    assert.deepEqual(handled, ids, 'stream order kept');
    const jsm = await jetstreamManager(nc);
    const before = await jsm.consumers.info(STREAMS.EVENTS.name, 't-commit');
    assert.equal(before.num_ack_pending, ids.length, 'nothing acked before the commit');
    commit();
    await waitFor(
      async () => (await jsm.consumers.info(STREAMS.EVENTS.name, 't-commit')).num_ack_pending === 0,
      { timeoutMs: 10_000, message: 'messages not acked after the commit' },
    );
  });

  it('dead-letters a permanent failure at once (a publish past max_payload, a PermanentError) instead of retrying it while the messages behind it wait', async () => {
    const done: string[] = [];
    const attempts = new Map<string, number>();
    // Retrying with this backoff would hold the partition for minutes.
    const backoff = { maxDeliver: 5, backoffMs: [600_000], ackWaitMs: 30_000 };
    await startBatchLoop(
      't-permanent',
      'events.raw.9.>',
      backoff,
      async (items) => {
        for (const { message } of items) {
          const id = message.id;
          attempts.set(id, (attempts.get(id) ?? 0) + 1);
          if (id.startsWith('too-large'))
            await publisher.publishBytes('events.test.too_large', 'test', new Uint8Array(2 * 1024 * 1024), {
              msgId: `out:${id}`,
            });
          if (id.startsWith('invalid')) throw new PermanentError(`${id} can never be handled`);
        }
        done.push(...items.map((i) => i.message.id));
      },
      { max: 10, maxWaitMs: 5 },
    );
    const subject = 'events.raw.9.customer_action.page.viewed';
    const dlq: string[] = [];
    const sub = nc.subscribe(`dlq.${subject}`, {
      callback: (_err, m) => {
        dlq.push(`${SCHEMAS.Event.type.decode(m.data).id}: ${m.headers?.get(HEADERS.dlqError)}`);
      },
    });
    for (const id of ['too-large-1', 'p-1', 'invalid-1', 'p-2', 'too-large-2', 'p-3'])
      await publisher.publish(subject, SCHEMAS.Event, event(id), { msgId: id });
    await waitFor(() => done.includes('p-3') && dlq.length === 3, {
      timeoutMs: 20_000,
      message: `healthy messages handled and the others dead-lettered (done ${done}, dlq ${dlq})`,
    });
    sub.unsubscribe();
    assert.deepEqual(
      done.filter((id) => id.startsWith('p-')),
      ['p-1', 'p-2', 'p-3'],
      'order kept',
    );
    assert.deepEqual(
      dlq.map((d) => d.split(':')[0]),
      ['too-large-1', 'invalid-1', 'too-large-2'],
    );
    assert.match(dlq[0]!, /max_payload/);
    assert.match(dlq[1]!, /invalid-1 can never be handled/);
    // At most the failed batch and one attempt alone: no retry with backoff.
    for (const id of ['too-large-1', 'invalid-1', 'too-large-2']) assert.ok(attempts.get(id)! <= 2, id);
  });

  it('drains without waiting out the backoff of a message that failed, and leaves it to be redelivered', async () => {
    const attempts = new Map<string, number>();
    const loop = await startBatchLoop(
      't-drain-backoff',
      'events.raw.10.>',
      {
        maxDeliver: 5,
        backoffMs: [600_000],
        ackWaitMs: 30_000,
      },
      async (items) => {
        for (const { message } of items) attempts.set(message.id, (attempts.get(message.id) ?? 0) + 1);
        throw new Error('database unavailable');
      },
      { max: 10, maxWaitMs: 5 },
    );
    await publisher.publish('events.raw.10.customer_action.page.viewed', SCHEMAS.Event, event('w-1'), {
      msgId: 'w-1',
    });
    // The batch attempt and the first attempt alone failed: the loop now waits 10 minutes to retry.
    await waitFor(() => attempts.get('w-1') === 2, { timeoutMs: 10_000, message: 'two attempts' });
    await loop.drain();
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(STREAMS.EVENTS.name, 't-drain-backoff');
    assert.equal(info.num_ack_pending + info.num_pending, 1, 'not acked: redelivered to the next consumer');
    assert.equal(attempts.get('w-1'), 2, 'no attempt after the drain');
  });

  it('recovers when the nats-server is killed and restarted mid-consume, losing nothing', async () => {
    const seen = new Set<string>();
    await startLoop('t-restart', 'events.raw.4.>', async (e) => {
      seen.add(e.id);
    });
    const subject = 'events.raw.4.customer_action.page.viewed';
    for (let i = 0; i < 50; i++)
      await publisher.publish(subject, SCHEMAS.Event, event(`r-${i}`), { msgId: `r-${i}` });
    await waitFor(() => seen.size >= 10, { timeoutMs: 10_000, message: 'consumption did not start' });
    await nats.kill();
    await nats.start();
    for (let i = 50; i < 100; i++)
      await publisher.publish(subject, SCHEMAS.Event, event(`r-${i}`), { msgId: `r-${i}` });
    await waitFor(() => seen.size === 100, {
      timeoutMs: 45_000,
      message: 'all 100 messages consumed after the restart',
    });
  });

  it('recreates its consumer after the consumer is deleted and keeps consuming', async () => {
    const seen = new Set<string>();
    await startLoop('t-deleted', 'events.raw.5.>', async (e) => {
      seen.add(e.id);
    });
    const subject = 'events.raw.5.customer_action.page.viewed';
    await publisher.publish(subject, SCHEMAS.Event, event('d-0'), { msgId: 'd-0' });
    await waitFor(() => seen.has('d-0'), { timeoutMs: 10_000, message: 'first message not consumed' });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(STREAMS.EVENTS.name, 't-deleted');
    await publisher.publish(subject, SCHEMAS.Event, event('d-1'), { msgId: 'd-1' });
    await waitFor(() => seen.has('d-1'), {
      timeoutMs: 30_000,
      message: 'no message consumed after the consumer was deleted',
    });
  });

  it('drains: stops pulling, finishes the in-flight handler and acks it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    let finished = false;
    await startLoop('t-drain', 'events.raw.6.>', async () => {
      started = true;
      await gate;
      finished = true;
    });
    await publisher.publish('events.raw.6.customer_action.page.viewed', SCHEMAS.Event, event('slow'), {
      msgId: 'slow',
    });
    await waitFor(() => started, { timeoutMs: 10_000, message: 'handler did not start' });
    const loop = loops.pop()!;
    const drained = loop.drain();
    release();
    await drained;
    assert.equal(finished, true);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(STREAMS.EVENTS.name, 't-drain');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  });
});
