import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ingest, partitionOf } from '@kairos/contracts';
import { metricsRegistry } from '@kairos/telemetry';
import { grpcFailure } from '@kairos/testkit';
import { parseRules, sha256Hex, signPayload } from '../../src';
import {
  auth,
  newClient,
  storedEvents,
  stream,
  track,
  trackBatch,
  useIngestInProcess,
  type Client,
} from '../helpers/grpc';
import { postRaw } from '../helpers/http';

const { EventOutcome } = ingest;
const WEBHOOK_SECRET = 'whsec-test';

const RULES = parseRules(
  JSON.stringify({
    apiKeys: [
      { name: 'web', sha256: sha256Hex('k-web'), allowedCategories: ['customer_action'] },
      { name: 'backend', sha256: sha256Hex('k-sys'), allowedSources: ['billing'] },
      { name: 'limited', sha256: sha256Hex('k-limited'), rateLimit: { eventsPerSecond: 2, burst: 5 } },
    ],
    prioritization: [
      { name: 'drop-debug', type: 'debug.*', action: 'drop' },
      { name: 'drop-bots', type: 'page.view', when: 'event.properties.bot == true', action: 'drop' },
      { name: 'sample-scroll', type: 'page.scroll', action: 'sample', rate: 0.5 },
    ],
    categories: [{ prefix: 'payment.', category: 'system' }],
    webhooks: {
      shop: {
        secret: WEBHOOK_SECRET,
        eventTypePath: 'type',
        customerIdPath: 'data.customer',
        idPath: 'id',
        propertiesPath: 'data',
      },
    },
  }),
  'test rules',
);

/** POSTs `body`; resolves the status and the parsed JSON answer. */
async function post(
  port: number,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: any }> {
  const res = await postRaw(port, path, Buffer.from(body), headers);
  return { status: res.status, body: JSON.parse(res.body || '{}') };
}

function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  return (async () => {
    const metric = metricsRegistry.getSingleMetric(name);
    if (!metric) return 0;
    const { values } = await metric.get();
    const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return hit?.value ?? 0;
  })();
}

describe('ingest service (in-process, real NATS)', function () {
  let client: Client;
  const inProcess = useIngestInProcess(RULES, () => client);
  const web = () => auth('k-web');
  const sys = () => auth('k-sys');

  before(() => {
    client = newClient(inProcess.service.address);
  });

  it('stores an accepted event exactly once, also when it is sent twice with the same id', async () => {
    const id = `once-${randomUUID()}`;
    const event = { id, type: 'cart.item_added', customerId: 'c-1', properties: { sku: 'A1', qty: 2 } };
    const first = await track(client, event, web());
    const second = await track(client, event, web());
    assert.equal(first.result?.outcome, EventOutcome.EVENT_OUTCOME_ACCEPTED);
    assert.equal(second.result?.outcome, EventOutcome.EVENT_OUTCOME_DUPLICATE);

    const batchIds = [0, 1, 2].map((i) => `${id}-b${i}`);
    const batch = batchIds.map((bid) => ({ id: bid, type: 'page.view', customerId: 'c-2' }));
    const b1 = await trackBatch(client, batch, web());
    const b2 = await trackBatch(client, batch, web());
    assert.deepEqual(
      b1.results.map((r) => r.outcome),
      [1, 1, 1],
    );
    assert.deepEqual(
      b2.results.map((r) => r.outcome),
      [2, 2, 2],
    );
    assert.equal(b2.accepted, 3);

    const stored = await storedEvents(inProcess.nats.url, id);
    assert.equal(stored.length, 4);
    assert.equal(stored.filter((s) => s.event.id === id).length, 1);
    const single = stored.find((s) => s.event.id === id)!;
    assert.equal(single.subject, `events.raw.${partitionOf('c-1', 16)}.customer_action.cart.item_added`);
    assert.equal(single.event.source, 'web');
    assert.deepEqual(single.event.properties, { sku: 'A1', qty: 2 });
    assert.ok(single.event.receivedAt && single.event.occurredAt, 'received_at and occurred_at are set');
  });

  it('assigns an id to events sent without one', async () => {
    const res = await track(client, { type: 'app.opened', customerId: 'c-3' }, web());
    assert.match(res.result!.eventId, /^[0-9a-f-]{36}$/);
    assert.equal((await storedEvents(inProcess.nats.url, res.result!.eventId)).length, 1);
  });

  it('rejects invalid events with INVALID_ARGUMENT naming the field and the rule', async () => {
    const cases: Array<[Record<string, unknown>, string | RegExp]> = [
      [
        { type: 'Cart Added', customerId: 'c' },
        "event.type: expected a dotted lower-case name like cart.item_added, got 'Cart Added'",
      ],
      [
        { type: 'cart.added', customerId: '' },
        'event.customer_id: required (the customer the event is about)',
      ],
      [
        { type: 'cart.added', customerId: 'a b' },
        /^event\.customer_id: must not contain whitespace or control characters/,
      ],
      [
        { type: 'cart.added', customerId: 'x'.repeat(129) },
        'event.customer_id: at most 128 characters, got 129',
      ],
      [
        { type: 'cart.added', customerId: 'c', occurredAt: new Date(Date.now() + 3_600_000) },
        /^event\.occurred_at: at most 5m in the future, got .* \(1h ahead\)$/,
      ],
      [
        { type: 'cart.added', customerId: 'c', occurredAt: new Date(Date.now() - 40 * 86_400_000) },
        /^event\.occurred_at: at most 30d in the past/,
      ],
      [
        {
          type: 'cart.added',
          customerId: 'c',
          properties: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } },
        },
        'event.properties: nested deeper than 8 levels at properties.a.b.c.d.e.f.g.h',
      ],
      [
        { type: 'cart.added', customerId: 'c', properties: { blob: 'x'.repeat(40_000) } },
        /^event\.properties: at most 32768 bytes serialized/,
      ],
    ];
    for (const [event, message] of cases) {
      const err = await grpcFailure(track(client, event, web()));
      assert.equal(
        err.code,
        status.INVALID_ARGUMENT,
        `${JSON.stringify(event).slice(0, 80)}: ${err.message}`,
      );
      if (typeof message === 'string') assert.equal(err.details, message);
      else assert.match(err.details, message);
    }
    const tooMany = Array.from({ length: 1001 }, () => ({ type: 'a.b', customerId: 'c' }));
    const batchErr = await grpcFailure(trackBatch(client, tooMany, web()));
    assert.equal(batchErr.code, status.INVALID_ARGUMENT);
    assert.equal(batchErr.details, 'events: at most 1000 events per batch, got 1001');
  });

  it('accepts the good events of a mixed batch and reports each bad one at its position', async () => {
    const p = `mixed-${randomUUID()}`;
    const res = await trackBatch(
      client,
      [
        { id: `${p}-0`, type: 'cart.item_added', customerId: 'c-1' },
        { id: `${p}-1`, type: 'Bad Type', customerId: 'c-1' },
        { id: `${p}-2`, type: 'cart.checkout', customerId: 'c-2' },
        { id: `${p}-3`, type: 'cart.checkout', customerId: '' },
        { id: `${p}-4`, type: 'debug.trace', customerId: 'c-2' },
      ],
      web(),
    );
    assert.deepEqual(
      res.results.map((r) => [r.eventId, r.outcome, r.code]),
      [
        [`${p}-0`, EventOutcome.EVENT_OUTCOME_ACCEPTED, 0],
        [`${p}-1`, EventOutcome.EVENT_OUTCOME_REJECTED, status.INVALID_ARGUMENT],
        [`${p}-2`, EventOutcome.EVENT_OUTCOME_ACCEPTED, 0],
        [`${p}-3`, EventOutcome.EVENT_OUTCOME_REJECTED, status.INVALID_ARGUMENT],
        [`${p}-4`, EventOutcome.EVENT_OUTCOME_FILTERED, 0],
      ],
    );
    assert.match(res.results[1].message, /^events\[1\]\.type: expected a dotted lower-case name/);
    assert.match(res.results[3].message, /^events\[3\]\.customer_id: required/);
    assert.equal(res.accepted, 2);
    assert.equal(res.rejected, 2);
    const stored = await storedEvents(inProcess.nats.url, p);
    assert.deepEqual(stored.map((s) => s.event.id).sort(), [`${p}-0`, `${p}-2`]);
  });

  it('ingests a client stream and answers with the totals after the client half-closes', async () => {
    const p = `stream-${randomUUID()}`;
    const batch = Array.from({ length: 300 }, (_, i) => ({
      id: `${p}-${i}`,
      type: 'page.view',
      customerId: `c-${i % 17}`,
    }));
    batch.push({ id: `${p}-0`, type: 'page.view', customerId: 'c-0' });
    batch.push({ id: `${p}-bad`, type: 'Nope', customerId: 'c-0' });
    const res = await stream(client, batch, web());
    assert.equal(res.accepted, 300);
    assert.equal(res.duplicates, 1);
    assert.equal(res.rejected, 1);
    assert.deepEqual(
      res.failures.map((f) => [f.eventId, f.code]),
      [[`${p}-bad`, status.INVALID_ARGUMENT]],
    );
    assert.match(res.failures[0].message, /^events\[301\]\.type:/);
    assert.equal((await storedEvents(inProcess.nats.url, p)).length, 300);
  });

  it('classifies events without a category by type prefix', async () => {
    const id = `cls-${randomUUID()}`;
    await track(client, { id, type: 'payment.failed', customerId: 'c-9' }, sys());
    const [stored] = await storedEvents(inProcess.nats.url, id);
    assert.equal(stored.subject, `events.raw.${partitionOf('c-9', 16)}.system.payment.failed`);
    assert.equal(stored.event.source, 'backend');
  });

  it('refuses TrackBatch and Stream without a known API key, storing nothing', async () => {
    const id = `nokey-${randomUUID()}`;
    for (const md of [undefined, auth('nope')]) {
      const batch = await grpcFailure(
        trackBatch(client, [{ id: `${id}-b`, type: 'a.b', customerId: 'c' }], md),
      );
      assert.equal(batch.code, status.UNAUTHENTICATED);
      assert.match(batch.details, md ? /unknown API key/ : /missing API key/);
      const streamed = await grpcFailure(
        stream(client, [{ id: `${id}-s`, type: 'a.b', customerId: 'c' }], md),
      );
      assert.equal(streamed.code, status.UNAUTHENTICATED);
      assert.match(streamed.details, md ? /unknown API key/ : /missing API key/);
    }
    await trackBatch(client, [{ id: `${id}-ok`, type: 'a.b', customerId: 'c' }], web());
    assert.deepEqual(
      (await storedEvents(inProcess.nats.url, id)).map((e) => e.event.id),
      [`${id}-ok`],
    );
  });

  it('authenticates API keys and enforces their sources and categories', async () => {
    const missing = await grpcFailure(track(client, { type: 'a.b', customerId: 'c' }));
    assert.equal(missing.code, status.UNAUTHENTICATED);
    assert.match(missing.details, /missing API key/);
    assert.equal(
      (await grpcFailure(track(client, { type: 'a.b', customerId: 'c' }, auth('nope')))).code,
      status.UNAUTHENTICATED,
    );

    const viaHeader = new (await import('@grpc/grpc-js')).Metadata();
    viaHeader.set('x-api-key', 'k-web');
    assert.equal(
      (await track(client, { type: 'a.b', customerId: 'c' }, viaHeader)).result?.outcome,
      EventOutcome.EVENT_OUTCOME_ACCEPTED,
    );

    const denied = await grpcFailure(track(client, { type: 'payment.failed', customerId: 'c' }, web()));
    assert.equal(denied.code, status.PERMISSION_DENIED);
    assert.match(denied.details, /^event\.category: API key 'web' may not send EVENT_CATEGORY_SYSTEM events/);

    const wrongSource = await grpcFailure(
      track(client, { type: 'a.b', customerId: 'c', source: 'crm' }, sys()),
    );
    assert.equal(wrongSource.code, status.PERMISSION_DENIED);
    const id = `src-${randomUUID()}`;
    await track(client, { id, type: 'invoice.paid', customerId: 'c', source: 'billing' }, sys());
    assert.equal((await storedEvents(inProcess.nats.url, id))[0].event.source, 'billing');
  });

  it('answers RESOURCE_EXHAUSTED with a retry hint when a key exceeds its rate limit', async () => {
    const limited = () => auth('k-limited');
    const burst = Array.from({ length: 5 }, () => ({ type: 'a.b', customerId: 'c' }));
    assert.equal((await trackBatch(client, burst, limited())).accepted, 5);
    const err = await grpcFailure(track(client, { type: 'a.b', customerId: 'c' }, limited()));
    assert.equal(err.code, status.RESOURCE_EXHAUSTED);
    const retryAfter = Number(err.metadata.get('retry-after-ms')[0]);
    assert.ok(retryAfter > 0 && retryAfter <= 500, `retry-after-ms ${retryAfter}`);
    assert.match(err.details, /rate limit of API key 'limited' exceeded \(2 events\/s\); retry after \d+ ms/);
  });

  it('filters events by prioritization rules and counts each decision', async () => {
    const p = `prio-${randomUUID()}`;
    const droppedBefore = await counterValue('kairos_ingest_prioritization_total', {
      rule: 'drop-bots',
      decision: 'dropped',
    });
    const bot = await track(
      client,
      { id: `${p}-bot`, type: 'page.view', customerId: 'c', properties: { bot: true } },
      web(),
    );
    assert.equal(bot.result?.outcome, EventOutcome.EVENT_OUTCOME_FILTERED);
    assert.equal(bot.result?.rule, 'drop-bots');
    const human = await track(
      client,
      { id: `${p}-human`, type: 'page.view', customerId: 'c', properties: { bot: false } },
      web(),
    );
    assert.equal(human.result?.outcome, EventOutcome.EVENT_OUTCOME_ACCEPTED);
    assert.equal(
      await counterValue('kairos_ingest_prioritization_total', { rule: 'drop-bots', decision: 'dropped' }),
      droppedBefore + 1,
    );

    const scrolls = Array.from({ length: 400 }, (_, i) => ({
      id: `${p}-s${i}`,
      type: 'page.scroll',
      customerId: 'c',
    }));
    const first = await trackBatch(client, scrolls, web());
    const kept = first.results.filter((r) => r.outcome === EventOutcome.EVENT_OUTCOME_ACCEPTED).length;
    assert.ok(kept > 140 && kept < 260, `sampled about half, kept ${kept} of 400`);
    assert.ok(
      first.results
        .filter((r) => r.outcome === EventOutcome.EVENT_OUTCOME_FILTERED)
        .every((r) => r.rule === 'sample-scroll'),
    );
    const again = await trackBatch(client, scrolls, web());
    assert.deepEqual(
      again.results.map((r) => r.outcome === EventOutcome.EVENT_OUTCOME_FILTERED),
      first.results.map((r) => r.outcome === EventOutcome.EVENT_OUTCOME_FILTERED),
      'sampling is deterministic by event id',
    );
    assert.ok(
      (await counterValue('kairos_ingest_prioritization_total', {
        rule: 'sample-scroll',
        decision: 'sampled_out',
      })) >=
        400 - kept,
    );
    assert.equal((await storedEvents(inProcess.nats.url, p)).length, kept + 1);
  });

  it('accepts signed webhooks and rejects bad signatures, stale timestamps and replays', async () => {
    const id = `wh-${randomUUID()}`;
    const body = JSON.stringify({ id, type: 'order.shipped', data: { customer: 'c-42', carrier: 'ups' } });
    const now = Math.floor(Date.now() / 1000);
    const headers = (sig: string) => ({ 'content-type': 'application/json', 'x-kairos-signature': sig });

    const ok = await post(
      inProcess.service.httpPort,
      '/webhooks/shop',
      body,
      headers(signPayload(WEBHOOK_SECRET, body, now)),
    );
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, { eventId: `shop:${id}`, outcome: 'EVENT_OUTCOME_ACCEPTED' });
    const [stored] = await storedEvents(inProcess.nats.url, `shop:${id}`);
    assert.equal(stored.subject, `events.raw.${partitionOf('c-42', 16)}.external.order.shipped`);
    assert.equal(stored.event.source, 'shop');
    assert.deepEqual(stored.event.properties, { customer: 'c-42', carrier: 'ups' });

    const replay = await post(
      inProcess.service.httpPort,
      '/webhooks/shop',
      body,
      headers(signPayload(WEBHOOK_SECRET, body, now)),
    );
    assert.equal(replay.status, 401);
    assert.match(replay.body.error, /replayed/);

    const bad = await post(
      inProcess.service.httpPort,
      '/webhooks/shop',
      body,
      headers(signPayload('wrong-secret', body, now)),
    );
    assert.equal(bad.status, 401);
    assert.match(bad.body.error, /does not match/);

    const stale = await post(
      inProcess.service.httpPort,
      '/webhooks/shop',
      body,
      headers(signPayload(WEBHOOK_SECRET, body, now - 600)),
    );
    assert.equal(stale.status, 401);
    assert.match(stale.body.error, /outside the 300s tolerance/);

    const unsigned = await post(inProcess.service.httpPort, '/webhooks/shop', body, {
      'content-type': 'application/json',
    });
    assert.equal(unsigned.status, 401);
    assert.equal(
      (await post(inProcess.service.httpPort, '/webhooks/nope', body, headers('t=1,v1=00'))).status,
      404,
    );
    assert.equal((await storedEvents(inProcess.nats.url, `shop:${id}`)).length, 1);
  });
});
