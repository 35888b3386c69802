import assert from 'node:assert/strict';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { partitionOf, triggers } from '@kairos/contracts';
import { openNatsDefinitionStore, parseDefinitions, type KvDefinitionStore } from '@kairos/definitions';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import { createLogger, GrpcServer } from '@kairos/service-kit';
import { paymentFailuresTrigger, useNats, waitFor } from '@kairos/testkit';
import { startPatternDetection, type PatternDetectionApp } from '../../src/app';
import { loadPatternDetectionConfig } from '../../src/config';
import { PATTERN_SERVICE_NAME } from '../../src/pattern-service';
import {
  enriched,
  firedFor,
  onlyFired,
  publishEnriched,
  readFired,
  TRIGGERS_YAML,
  type EventInput,
} from './helpers';

const PARTITIONS = 4;

function explain(client: triggers.PatternServiceClient, req: triggers.ExplainRequest) {
  return new Promise<triggers.ExplainResponse>((resolve, reject) =>
    client.explain(req, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function simulate(client: triggers.PatternServiceClient, req: triggers.SimulateRequest) {
  return new Promise<triggers.SimulateResponse>((resolve, reject) =>
    client.simulate(req, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe('pattern-detection on a real NATS JetStream', function () {
  // Registered before useNats(), so it runs before the server is disposed.
  after(async function () {
    this.timeout(20_000);
    client?.close();
    await server?.shutdown(1_000);
    await app?.stop();
    await nc?.drain();
  });

  const nats = useNats();
  let nc: NatsConnection;
  let publisher: Publisher;
  let store: KvDefinitionStore;
  let app: PatternDetectionApp;
  let server: GrpcServer;
  let client: triggers.PatternServiceClient;
  const startedAt = Date.now();

  before(async function () {
    ({ nc, publisher } = await connectPublisher(nats.url, 'pattern-detection-test'));
    store = await openNatsDefinitionStore(nc);
    const parsed = parseDefinitions(TRIGGERS_YAML, 'triggers.yaml');
    assert.deepEqual(parsed.errors, []);
    await store.apply(parsed.documents);
    const logger = createLogger('pattern-detection-test', process.env.KAIROS_TEST_LOGS ? 'debug' : 'silent');
    const config = loadPatternDetectionConfig({
      KAIROS_PARTITIONS: String(PARTITIONS),
      KAIROS_ALLOWED_LATENESS: '300ms',
      KAIROS_WATERMARK_INTERVAL: '100ms',
      KAIROS_CHECKPOINT_INTERVAL: '500ms',
    });
    app = await startPatternDetection(config, { nc, logger });
    server = new GrpcServer(logger);
    server.addService(triggers.PatternServiceService, app.service.handlers(), PATTERN_SERVICE_NAME);
    const port = await server.start(0, '127.0.0.1');
    server.setServing(true);
    client = new triggers.PatternServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  let n = 0;
  const send = (customer: string, type: string, props: Record<string, unknown> = {}, at = Date.now()) => {
    const e: EventInput = { id: `ev-${++n}-${customer}`, type, customer, at, props };
    return publishEnriched(publisher, PARTITIONS, e).then((seq) => ({ ...e, seq }));
  };

  /** Waits until the customer's partition has folded `seq` and released every buffered event. */
  const settled = (customer: string, seq: number, extraWatermarkMs = 0) => {
    const d = app.detectors.get(partitionOf(customer, PARTITIONS))!;
    const target = Date.now() + extraWatermarkMs;
    return waitFor(
      () =>
        d.lastSequence >= seq && d.engine.bufferedEvents === 0 && d.engine.currentWatermark >= target - 300,
      { timeoutMs: 15_000, message: `partition of ${customer} to settle past seq ${seq}` },
    );
  };

  const waitFired = (trigger: string, customer: string, count = 1) =>
    waitFor(
      async () => (firedFor(await readFired(nc), trigger, customer).length >= count ? true : undefined),
      {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: `${count} ${trigger} firing(s) for ${customer}`,
      },
    );

  it('fires cart-abandoned once when no order follows the added item within the absence window', async function () {
    const add = await send('cart-1', 'cart.item_added', { price: 30, sku: 'A' });
    const ordered = await send('cart-2', 'cart.item_added', { price: 30, sku: 'A' });
    await send('cart-2', 'order.completed', { total: 30 });
    const cheap = await send('cart-3', 'cart.item_added', { price: 5 });
    await waitFired('cart-abandoned', 'cart-1');
    // Let every deadline (added + 2s) pass the watermark of the other customers' partitions.
    await settled('cart-2', ordered.seq, 2_100);
    await settled('cart-3', cheap.seq, 2_100);
    await settled('cart-1', add.seq, 500);
    const all = await readFired(nc);
    const f = onlyFired(all, 'cart-abandoned', 'cart-1');
    assert.equal(firedFor(all, 'cart-abandoned', 'cart-2').length, 0);
    assert.equal(firedFor(all, 'cart-abandoned', 'cart-3').length, 0);
    assert.equal(f.completingEventId, '', 'an absence deadline completed it');
    assert.equal(f.triggerVersion, 1);
    assert.equal(f.priority, 60);
    assert.equal(f.firedAt!.getTime(), add.at + 2_000);
    assert.deepEqual(
      f.matched.map((m) => [m.step, m.eventId]),
      [
        ['sequence[0]', add.id],
        ['sequence[1]', ''],
      ],
    );
    assert.equal((f.bindings as { add: { id: string } }).add.id, add.id);
    assert.equal(f.profile?.customerId, 'cart-1');
    assert.match(f.explanation, /cart-abandoned/);
  });

  it('fires a compound trigger once when all three events occur within ten minutes (then cooldown)', async function () {
    const t = Date.now();
    await send('all-1', 'pricing.viewed', {}, t);
    await send('all-1', 'product.viewed', { sku: 'S1' }, t + 1);
    const last = await send('all-1', 'review.read', { sku: 'S1' }, t + 2);
    await send('all-2', 'product.viewed', { sku: 'S1' }, t);
    await send('all-2', 'pricing.viewed', {}, t + 1);
    const mismatch = await send('all-2', 'review.read', { sku: 'OTHER' }, t + 2);
    await waitFired('high-purchase-intent', 'all-1');
    // The same three again: matched, but suppressed by the 7d cooldown.
    await send('all-1', 'pricing.viewed', {}, t + 3);
    await send('all-1', 'product.viewed', { sku: 'S1' }, t + 4);
    const again = await send('all-1', 'review.read', { sku: 'S1' }, t + 5);
    await settled('all-1', again.seq, 100);
    await settled('all-2', mismatch.seq, 100);
    const all = await readFired(nc);
    const fired = onlyFired(all, 'high-purchase-intent', 'all-1');
    assert.equal(fired.completingEventId, last.id);
    assert.equal(firedFor(all, 'high-purchase-intent', 'all-2').length, 0);
  });

  it('fires a threshold trigger once on the third payment failure within five minutes', async function () {
    const t = Date.now();
    await send('count-1', 'payment.failed', { amount: 1 }, t);
    await send('count-1', 'payment.failed', { amount: 2 }, t + 1_000);
    const third = await send('count-1', 'payment.failed', { amount: 3 }, t + 2_000);
    await send('count-2', 'payment.failed', {}, t);
    const two = await send('count-2', 'payment.failed', {}, t + 1);
    await waitFired('payment-failures', 'count-1');
    await settled('count-1', third.seq, 2_100);
    await settled('count-2', two.seq, 100);
    const all = await readFired(nc);
    const fired = onlyFired(all, 'payment-failures', 'count-1');
    assert.equal(fired.completingEventId, third.id);
    assert.equal(fired.category, 'system');
    assert.equal(firedFor(all, 'payment-failures', 'count-2').length, 0);
  });

  it('fires a sequence whose condition compares with a bound earlier event only for the matching value', async function () {
    const t = Date.now();
    const view = await send('seq-1', 'product.viewed', { sku: 'A' }, t);
    await send('seq-1', 'catalog.price_changed', { sku: 'B', old_price: 10, new_price: 5 }, t + 1);
    await send('seq-1', 'catalog.price_changed', { sku: 'A', old_price: 10, new_price: 12 }, t + 2);
    const drop = await send(
      'seq-1',
      'catalog.price_changed',
      { sku: 'A', old_price: 10, new_price: 8 },
      t + 3,
    );
    await waitFired('price-drop-on-viewed-item', 'seq-1');
    await settled('seq-1', drop.seq, 100);
    const fired = onlyFired(await readFired(nc), 'price-drop-on-viewed-item', 'seq-1');
    assert.equal(fired.completingEventId, drop.id);
    const bindings = fired.bindings as { view: { id: string; properties: { sku: string } } };
    assert.equal(bindings.view.id, view.id);
    assert.equal(bindings.view.properties.sku, 'A');
    assert.deepEqual(fired.matched[1].properties, { sku: 'A', old_price: 10, new_price: 8 });
  });

  it('explains a waiting partial match over gRPC and rejects unknown triggers and missing fields', async function () {
    const view = await send('explain-1', 'product.viewed', { sku: 'Z' });
    await settled('explain-1', view.seq, 100);
    const res = await explain(client, {
      trigger: 'price-drop-on-viewed-item',
      customerId: 'explain-1',
    });
    assert.match(res.summary, /explain-1/);
    const states = res.steps.map((s) => `${s.step}:${s.state}`);
    assert.deepEqual(states, ['sequence[0]:matched', 'sequence[1]:waiting']);
    assert.match(res.steps[1].detail, /catalog\.price_changed/);
    assert.equal(res.lastFiredAt, undefined);

    const fired = await explain(client, { trigger: 'payment-failures', customerId: 'count-1' });
    assert.ok(fired.lastFiredAt, 'last firing time is reported');

    await assert.rejects(explain(client, { trigger: 'nope', customerId: 'explain-1' }), (err) => {
      assert.equal((err as ServiceError).code, status.NOT_FOUND);
      return true;
    });
    await assert.rejects(explain(client, { trigger: 'nope', customerId: '' }), (err) => {
      assert.equal((err as ServiceError).code, status.INVALID_ARGUMENT);
      assert.match((err as ServiceError).details, /customer_id/);
      return true;
    });
  });

  it('bounds Explain identifiers at 128 characters and cuts the trigger it quotes', async () => {
    await assert.rejects(explain(client, { trigger: 'nope', customerId: 'c'.repeat(8192) }), (err) => {
      assert.equal((err as ServiceError).code, status.INVALID_ARGUMENT);
      assert.equal((err as ServiceError).details, 'customer_id: at most 128 characters, got 8192');
      return true;
    });
    await assert.rejects(explain(client, { trigger: 't'.repeat(100), customerId: 'explain-1' }), (err) => {
      assert.equal((err as ServiceError).code, status.NOT_FOUND);
      assert.equal(
        (err as ServiceError).details,
        `trigger '${'t'.repeat(64)}…' (100 characters) is not loaded`,
      );
      return true;
    });
  });

  it('simulates a draft trigger over supplied and stored events without publishing anything', async function () {
    const before = (await readFired(nc)).length;
    const draft = paymentFailuresTrigger('two-failures', 2);
    const t = Date.parse('2026-01-01T00:00:00Z');
    const supplied = [
      enriched({ id: 's1', type: 'payment.failed', customer: 'sim-a', at: t }),
      enriched({ id: 's2', type: 'payment.failed', customer: 'sim-b', at: t + 1_000 }),
      enriched({ id: 's3', type: 'payment.failed', customer: 'sim-a', at: t + 60_000 }),
    ];
    const sim = await simulate(client, {
      definitionYaml: draft,
      events: supplied,
      customerIds: [],
    });
    assert.equal(sim.eventsScanned, 3);
    assert.equal(sim.customers, 2);
    assert.deepEqual(
      sim.fired.map((f) => [f.customerId, f.completingEventId, f.firedAt?.toISOString()]),
      [['sim-a', 's3', '2026-01-01T00:01:00.000Z']],
    );
    assert.match(sim.fired[0].explanation, /two-failures/);

    // Stored events: count-1 had three failures, count-2 two (published by an earlier test).
    const stored = await simulate(client, {
      definitionYaml: draft,
      events: [],
      from: new Date(startedAt - 1_000),
      to: new Date(),
      customerIds: ['count-1', 'count-2'],
    });
    assert.deepEqual(stored.fired.map((f) => f.customerId).sort(), ['count-1', 'count-2']);
    assert.equal(stored.eventsScanned, 5);
    assert.equal((await readFired(nc)).length, before, 'simulation publishes nothing');

    await assert.rejects(
      simulate(client, {
        definitionYaml: draft.replace('atLeast: 2', 'atLeast: many'),
        events: supplied,
        customerIds: [],
      }),
      (err) => {
        assert.equal((err as ServiceError).code, status.INVALID_ARGUMENT);
        assert.match((err as ServiceError).details, /definition_yaml:\d+:\d+ spec\.pattern\.count\.atLeast/);
        return true;
      },
    );
  });

  it('rejects hostile drafts (alias bomb, 3,000-deep pattern, 5,000 nested parentheses) and an 8 KiB customer id with INVALID_ARGUMENT naming the limit', async function () {
    const head = 'apiVersion: kairos/v1\nkind: Trigger\nmetadata: { name: hostile }\n';
    let bomb = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      bomb += `l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]\n`;
    let deep = '{ event: a.b }';
    for (let i = 0; i < 3_000; i++) deep = `{ sequence: [${deep}] }`;
    const drafts: Array<[string, string, RegExp]> = [
      [
        'alias bomb',
        `${head}spec: { pattern: { event: a.b } }\nbomb:\n${bomb.replace(/^/gm, '  ')}`,
        /YAML aliases expand past the limit of 100/,
      ],
      ['deep pattern', `${head}spec:\n  pattern: ${deep}\n`, /nesting deeper than 64 levels/],
      [
        'nested parentheses',
        `${head}spec:\n  pattern: { event: a.b, where: "${'('.repeat(5_000)}true${')'.repeat(5_000)}" }\n`,
        /spec\.pattern\.where: CEL expression nesting deeper than 32 levels/,
      ],
    ];
    for (const [what, definitionYaml, expected] of drafts) {
      await assert.rejects(simulate(client, { definitionYaml, events: [], customerIds: [] }), (err) => {
        assert.equal(
          (err as ServiceError).code,
          status.INVALID_ARGUMENT,
          `${what}: ${(err as Error).message}`,
        );
        assert.match((err as ServiceError).details, /^definition_yaml/, what);
        assert.match((err as ServiceError).details, expected, what);
        return true;
      });
    }
    const valid = `${head}spec: { pattern: { event: a.b } }\n`;
    await assert.rejects(
      simulate(client, { definitionYaml: valid, events: [], customerIds: ['ok', 'c'.repeat(8192)] }),
      (err) => {
        assert.equal((err as ServiceError).code, status.INVALID_ARGUMENT);
        assert.equal((err as ServiceError).details, 'customer_ids[1]: at most 128 characters, got 8192');
        return true;
      },
    );
  });

  it('hot-reloads a changed trigger from the store and fires with the new version', async function () {
    const v2 = parseDefinitions(TRIGGERS_YAML.replace('atLeast: 3', 'atLeast: 2'), 'triggers.yaml');
    const results = await store.apply(v2.documents);
    assert.deepEqual(
      results.filter((r) => r.action !== 'unchanged').map((r) => [r.name, r.action, r.version]),
      [['payment-failures', 'updated', 2]],
    );
    await waitFor(() => app.registry.get('payment-failures')?.version === 2, { message: 'v2 to be loaded' });
    const t = Date.now();
    await send('reload-1', 'payment.failed', {}, t);
    const second = await send('reload-1', 'payment.failed', {}, t + 1);
    await waitFired('payment-failures', 'reload-1');
    await settled('reload-1', second.seq, 100);
    const fired = onlyFired(await readFired(nc), 'payment-failures', 'reload-1');
    assert.equal(fired.triggerVersion, 2);
  });
});
