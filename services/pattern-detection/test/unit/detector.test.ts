import assert from 'node:assert/strict';
import { events, SCHEMAS, type triggers } from '@kairos/contracts';
import type { MessageContext, Publisher } from '@kairos/messaging';
import { parseDefinitions } from '@kairos/definitions';
import type { TriggerSpec } from '@kairos/patterns';
import { createLogger } from '@kairos/service-kit';
import { paymentFailuresTrigger } from '@kairos/testkit';
import { MemoryCheckpointStore } from '../../src/checkpoints';
import { loadPatternDetectionConfig } from '../../src/config';
import { EventConversionError, toEngineEvent } from '../../src/domain/convert';
import { PartitionDetector } from '../../src/partition-detector';
import { explanationSteps } from '../../src/pattern-service';

const logger = createLogger('pattern-detection-unit', 'silent');

function specs(yaml: string): TriggerSpec[] {
  const r = parseDefinitions(yaml, 't.yaml');
  assert.deepEqual(r.errors, []);
  return r.documents.flatMap((d) => (d.kind === 'Trigger' ? [d.trigger] : []));
}

const TRIGGERS = specs(`${paymentFailuresTrigger('three-failures', 3)}---
apiVersion: kairos/v1
kind: Trigger
metadata: { name: cart-abandoned }
spec:
  pattern:
    sequence:
      - event: cart.item_added
      - absent: { event: order.completed }
        for: 1h
`);

/** Records publishes; `failNext` makes the next n publishes throw (as a NATS outage would). */
class FakePublisher {
  readonly sent: Array<{ subject: string; msgId: string; message: triggers.TriggerFired }> = [];
  private readonly ids = new Set<string>();
  failNext = 0;
  async publish(subject: string, _schema: unknown, message: triggers.TriggerFired, opts: { msgId: string }) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('publish timeout');
    }
    const duplicate = this.ids.has(opts.msgId);
    this.ids.add(opts.msgId);
    if (!duplicate) this.sent.push({ subject, msgId: opts.msgId, message });
    return { duplicate, seq: this.sent.length, stream: 'TRIGGERS' };
  }
}

const T0 = Date.parse('2026-03-01T10:00:00Z');

function ev(id: string, type: string, customer: string, at: number): events.EnrichedEvent {
  return events.EnrichedEvent.fromPartial({
    event: { id, type, customerId: customer, occurredAt: new Date(at), properties: { n: 1 } },
    profile: { customerId: customer, journeyStage: 'active' },
  });
}

const ctx = (seq: number): MessageContext => ({
  subject: 'events.enriched.0.x',
  streamSequence: seq,
  deliveryCount: 1,
  headers: {},
});

function detector(
  pub: FakePublisher,
  store: MemoryCheckpointStore,
  clock: { ms: number },
  checkpointEvents = 1_000,
) {
  return new PartitionDetector(
    0,
    TRIGGERS,
    {
      allowedLatenessMs: 0,
      checkpointIntervalMs: 5_000,
      checkpointEvents,
      maxPartialMatches: 32,
      explainRetentionMs: 24 * 3_600_000,
      profileCacheSize: 20_000,
    },
    pub as unknown as Publisher,
    store,
    { now: () => clock.ms },
    logger,
  );
}

/** Offers customer c1's n-th payment failure to `d`: event `e<n>` at T0 + n - 1 ms, stream sequence n. */
const failure = (d: PartitionDetector, n: number) =>
  d.handle(ev(`e${n}`, 'payment.failed', 'c1', T0 + n - 1), ctx(n));

/**
 * A detector that checkpointed after c1's first payment failure and then fired on the third: its
 * publisher, checkpoint store and clock, for a second detector that restores from them.
 */
async function firedAfterCheckpoint() {
  const pub = new FakePublisher();
  const store = new MemoryCheckpointStore();
  const clock = { ms: T0 };
  const before = detector(pub, store, clock);
  await failure(before, 1);
  await before.checkpoint();
  await failure(before, 2);
  await failure(before, 3);
  return { pub, store, clock };
}

/** A detector whose fire on c1's third payment failure could not be published (NATS refused it). */
async function fireAwaitingPublish() {
  const pub = new FakePublisher();
  const d = detector(pub, new MemoryCheckpointStore(), { ms: T0 });
  await failure(d, 1);
  await failure(d, 2);
  pub.failNext = 1;
  await assert.rejects(failure(d, 3), /publish timeout/);
  return { pub, d };
}

describe('PartitionDetector', function () {
  it('folds each stream sequence once: a retried message re-publishes its pending fires only', async function () {
    const { pub, d } = await fireAwaitingPublish();
    await failure(d, 3);
    await failure(d, 3);
    assert.equal(d.engine.stats.eventsProcessed, 3);
    assert.equal(pub.sent.length, 1);
    assert.equal(pub.sent[0].subject, 'triggers.fired.0.three-failures');
    assert.equal(pub.sent[0].msgId, pub.sent[0].message.id);
    assert.equal(pub.sent[0].message.completingEventId, 'e3');
    assert.equal(pub.sent[0].message.profile?.journeyStage, 'active');
    // The TriggerFired message round-trips through protobuf.
    const decoded = SCHEMAS.TriggerFired.type.decode(
      SCHEMAS.TriggerFired.type.encode(pub.sent[0].message).finish(),
    );
    assert.equal(decoded.matched.length, 3);
  });

  it('matches an event that arrives behind the watermark at the watermark instead of dropping it', async function () {
    const pub = new FakePublisher();
    const d = detector(pub, new MemoryCheckpointStore(), { ms: T0 });
    await d.handle(ev('e1', 'payment.failed', 'c1', T0 + 60_000), ctx(1));
    await d.handle(ev('e2', 'payment.failed', 'c1', T0), ctx(2)); // a minute late: delayed upstream
    await d.handle(ev('e3', 'payment.failed', 'c1', T0 + 61_000), ctx(3));
    assert.equal(d.engine.stats.lateEventsDropped, 0);
    assert.equal(pub.sent.length, 1, 'all three failures count');
    assert.deepEqual(
      pub.sent[0].message.matched.map((m) => [m.eventId, m.occurredAt?.getTime()]),
      [
        ['e1', T0 + 60_000],
        ['e2', T0 + 60_000],
        ['e3', T0 + 61_000],
      ],
    );
  });

  it('does not checkpoint past a fire that is not yet published', async function () {
    const pub = new FakePublisher();
    const store = new MemoryCheckpointStore();
    const d = detector(pub, store, { ms: T0 });
    await failure(d, 1);
    await d.checkpoint();
    assert.equal((await store.load(0))?.sequence, 1);
    await failure(d, 2);
    pub.failNext = 5;
    await assert.rejects(failure(d, 3));
    await d.checkpoint();
    assert.equal((await store.load(0))?.sequence, 1, 'checkpoint stays before the unpublished fire');
  });

  it('restores a checkpoint and replays to the same fire ids (de-duplicated by msg id)', async function () {
    const { pub, store, clock } = await firedAfterCheckpoint();
    assert.equal(pub.sent.length, 1);

    const after = detector(pub, store, clock);
    assert.equal(await after.restore(), 2, 'replay starts after the checkpointed sequence');
    await failure(after, 2);
    await failure(after, 3);
    assert.equal(pub.sent.length, 1, 'the re-fire has the same id');
    assert.equal(after.engine.stats.eventsProcessed, 3);
  });

  it('skips replayed fires already stored since the checkpoint, even past the duplicate window', async function () {
    const { pub, store, clock } = await firedAfterCheckpoint();
    const stored = new Set(pub.sent.map((s) => s.msgId));

    // A publisher that no longer remembers the ids (restart after the 2-minute window).
    const later = new FakePublisher();
    const after = detector(later, store, clock);
    let asked = 0;
    await after.restore(async (since) => {
      asked = since;
      return stored;
    });
    assert.equal(asked, T0 - 60_000, 'reads stored fires from the checkpoint time minus a margin');
    await failure(after, 2);
    await failure(after, 3);
    assert.equal(later.sent.length, 0);
    after.markCaughtUp();
    await failure(after, 4);
    await failure(after, 5);
    await failure(after, 6);
    assert.equal(later.sent.length, 1, 'new fires are published');
  });

  it('advances idle partitions with the wall clock only once caught up, firing absence deadlines', async function () {
    const pub = new FakePublisher();
    const clock = { ms: T0 };
    const d = detector(pub, new MemoryCheckpointStore(), clock);
    await d.handle(ev('a1', 'cart.item_added', 'c9', T0), ctx(1));
    clock.ms = T0 + 3_600_000 + 1;
    await d.tick();
    assert.equal(pub.sent.length, 0, 'no wall-clock advance while replaying');
    d.caughtUp = true;
    await d.tick();
    assert.equal(pub.sent.length, 1);
    const f = pub.sent[0].message;
    assert.equal(f.trigger, 'cart-abandoned');
    assert.equal(f.completingEventId, '');
    assert.equal(f.firedAt?.getTime(), T0 + 3_600_000);
    assert.equal(f.profile?.customerId, 'c9', 'the last profile of the customer is attached');
  });

  it('checkpoints every N events', async function () {
    const store = new MemoryCheckpointStore();
    const d = detector(new FakePublisher(), store, { ms: T0 }, 2);
    await d.handle(ev('x1', 'page.viewed', 'c1', T0), ctx(1));
    assert.equal(await store.load(0), undefined);
    await d.handle(ev('x2', 'page.viewed', 'c1', T0), ctx(2));
    assert.equal((await store.load(0))?.sequence, 2);
  });
});

describe('conversion and explanation', function () {
  it('gives conditions the event time in ms, plain properties and the proto-JSON profile', function () {
    const e = toEngineEvent(ev('e1', 'a.b', 'c1', T0));
    assert.equal(e.time, T0);
    assert.deepEqual(e.properties, { n: 1 });
    assert.equal(e.profile?.journeyStage, 'active');
    assert.throws(
      () => toEngineEvent(events.EnrichedEvent.fromPartial({ event: { id: 'x', type: 'a' } })),
      EventConversionError,
    );
  });

  it('maps an explanation to matched / waiting / failed steps', function () {
    const steps = explanationSteps({
      trigger: 't',
      customerId: 'c',
      status: 'waiting',
      watermark: T0,
      summary: '',
      partialMatches: [
        {
          startedAt: T0,
          matchedSoFar: [
            {
              path: 'sequence[0]',
              kind: 'event',
              type: 'a',
              time: T0,
              event: { id: 'e1', type: 'a', customerId: 'c', time: T0, properties: {} },
            },
          ],
          waitingFor: [{ path: 'sequence[1]', kind: 'absent', type: 'b', deadline: T0 + 1000 }],
        },
      ],
      conditionFailures: [{ path: 'sequence[0]', condition: 'x > 1', eventId: 'e0', eventTime: T0 }],
    });
    assert.deepEqual(
      steps.map((s) => [s.step, s.state]),
      [
        ['sequence[0]', 'matched'],
        ['sequence[1]', 'waiting'],
        ['sequence[0]', 'failed'],
      ],
    );
    assert.match(steps[1].detail, /no b until 2026-03-01T10:00:01.000Z/);
  });

  it('erases a customer: engine state and profile gone, a checkpoint without them written at once', async function () {
    const pub = new FakePublisher();
    const store = new MemoryCheckpointStore();
    const d = detector(pub, store, { ms: T0 });
    await failure(d, 1);
    await d.handle(ev('k1', 'cart.item_added', 'keep', T0 + 5), ctx(2));
    await d.checkpoint();
    assert.match(store.saved.get(0)!, /"c1"/);
    assert.deepEqual(await d.erase('c1'), { engine_customers: 1, checkpoints: 1 });
    assert.deepEqual(d.engine.customersWithState(), ['keep']);
    assert.doesNotMatch(store.saved.get(0)!, /"c1"/, 'the checkpoint no longer holds the customer');
    assert.match(store.saved.get(0)!, /"keep"/, 'other customers stay');
    // Idempotent, and the customer starts afresh: two more failures do not complete a count of 3.
    assert.deepEqual(await d.erase('c1'), { engine_customers: 0, checkpoints: 1 });
    await failure(d, 3);
    await failure(d, 4);
    assert.equal(pub.sent.length, 0);
  });

  it('retries an erasure while a fire awaits publishing (no checkpoint could hold the erasure)', async function () {
    const { pub, d } = await fireAwaitingPublish();
    await assert.rejects(d.erase('c1'), /awaits publishing/);
    await failure(d, 3);
    assert.equal(pub.sent.length, 1);
    assert.deepEqual(await d.erase('c1'), { engine_customers: 1, checkpoints: 1 });
  });

  it('has safe configuration defaults and names a bad variable', function () {
    const c = loadPatternDetectionConfig({});
    assert.equal(c.KAIROS_GRPC_PORT, 50053);
    assert.equal(c.KAIROS_HTTP_PORT, 8083);
    assert.equal(c.KAIROS_ALLOWED_LATENESS, 1_000);
    assert.equal(c.KAIROS_WATERMARK_INTERVAL, 250);
    assert.equal(c.KAIROS_CHECKPOINT_INTERVAL, 5_000);
    assert.throws(
      () => loadPatternDetectionConfig({ KAIROS_ALLOWED_LATENESS: 'soon' }),
      /KAIROS_ALLOWED_LATENESS/,
    );
  });
});
