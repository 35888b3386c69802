import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { SCHEMAS } from '@kairos/contracts';
import { connectPublisher } from '@kairos/messaging';
import {
  startHttpSink,
  startSmtpSink,
  testCredentials,
  useServers,
  waitFor,
  type HttpSink,
  type SmtpSink,
} from '@kairos/testkit';
import { createTrackingToken, signBody, verifySignature } from '../../src';
import { action, outcomesFor, request, S, startDelivery, type DeliveryProcess } from './harness';

const WEBHOOK_SECRET = 'whsec-test';
const TRACKING_SECRET = 'track-test';

/** The service token the application backend sends to the inbox API. */
const inbox = () => ({ authorization: `Bearer ${testCredentials().serviceToken}` });

describe('delivery service (SMTP, HTTP providers, inbox, tracking against real peers)', function () {
  this.timeout(60_000);
  const { nats, mongo, bus } = useServers({ dbPrefix: 'delivery', connect: connectPublisher });
  let smtp: SmtpSink;
  let peers: HttpSink;
  let svc: DeliveryProcess;
  /** sms calls per action id, so a test can make the first ones fail. */
  const failFirstSms = new Map<string, number>();
  /** SMTP replies held until the end (mail to `stall...`): the client times out after the DATA. */
  const held: Array<() => void> = [];

  before(async function () {
    this.timeout(120_000);
    smtp = await startSmtpSink((mail) => {
      if (mail.to.some((t) => t.startsWith('stall'))) return new Promise<void>((r) => held.push(r));
      return mail.to.some((t) => t.startsWith('bounce'))
        ? { code: 550, message: 'mailbox unavailable' }
        : undefined;
    });
    peers = await startHttpSink((req, i) => {
      if (req.path === '/sms') {
        const id = (JSON.parse(req.body) as { action_id: string }).action_id;
        const left = failFirstSms.get(id) ?? 0;
        if (left > 0) {
          failFirstSms.set(id, left - 1);
          return { status: 503, body: { error: 'busy' } };
        }
      }
      if (req.path === '/hooks/rejecting') return { status: 410, body: { error: 'gone' } };
      if (req.path === '/push' && req.body.includes('"token":"hang"')) {
        return new Promise<{ status: number }>((r) => held.push(() => r({ status: 200 })));
      }
      return { status: 200, body: { id: `prov-${i}` } };
    });
    svc = await startDelivery({
      NATS_URL: nats.url,
      MONGO_URL: mongo.url,
      MONGO_DB: mongo.dbName,
      KAIROS_SMTP_URL: smtp.url,
      KAIROS_EMAIL_FROM: 'Kairos <kairos@example.test>',
      KAIROS_SMS_PROVIDER_URL: `${peers.url}/sms`,
      KAIROS_PUSH_PROVIDER_URL: `${peers.url}/push`,
      KAIROS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      KAIROS_TRACKING_SECRET: TRACKING_SECRET,
      KAIROS_ESCALATION_TARGETS: JSON.stringify({ 'sales-desk': `${peers.url}/slack/sales-desk` }),
      KAIROS_RATE_LIMITS: 'push=5/s',
      KAIROS_SMTP_TIMEOUT: '2s',
      KAIROS_HTTP_TIMEOUT: '1s',
    });
  });

  after(async () => {
    for (const release of held) release();
    await svc?.proc.stop();
    await smtp?.close();
    await peers?.close();
  });

  const waitOutcome = (actionId: string, status: number, channel?: string) =>
    waitFor(
      async () =>
        (await outcomesFor(bus.nc, actionId)).find(
          (o) => o.status === status && (!channel || o.channel === channel),
        ),
      { timeoutMs: 20_000, message: `outcome ${status} for ${actionId}` },
    );

  /** Requests an email action with the defaults and waits until the SMTP sink received it. */
  const sendEmail = async () => {
    const a = action();
    await request(bus.publisher, a);
    const mail = await waitFor(
      () => smtp.messages.find((m) => m.headers['x-kairos-action-id'] === a.actionId),
      {
        timeoutMs: 20_000,
        message: `the email of ${a.actionId}`,
      },
    );
    return { a, mail };
  };

  it('sends the rendered email over SMTP with action, trace and Message-ID headers, and publishes SENT with cost', async () => {
    const { a, mail } = await sendEmail();
    assert.deepEqual(mail.to, [a.recipient.email]);
    assert.equal(mail.headers.subject, 'Hello');
    assert.equal(mail.headers['message-id'], `<${a.actionId}@kairos>`);
    assert.match(mail.headers['x-kairos-trace-id'], /^[0-9a-f]{32}$/);
    assert.match(mail.decoded, /\/t\/o\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.gif/, 'tracking pixel');
    assert.match(mail.decoded, /\/t\/c\/[^"?]+\?u=https%3A%2F%2Fshop\.example%2Foffer/, 'rewritten link');
    const sent = await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT);
    assert.equal(sent.channel, 'email');
    assert.equal(sent.cost, 0.001);
    assert.equal(sent.workflow, 'welcome');
    assert.equal(sent.contentVariant, 'A');
    assert.equal(sent.metadata.trace_id, a.metadata.trace_id);
  });

  it('posts a signed webhook whose X-Kairos-Signature verifies with the shared secret', async () => {
    const a = action({
      channels: ['webhook'],
      recipient: { webhook_url: `${peers.url}/hooks/customer` },
      content: { text: 'order shipped', payload: { order: 42 } },
    });
    await request(bus.publisher, a);
    const hit = await waitFor(() =>
      peers.on('/hooks/customer').find((r) => r.headers['idempotency-key'] === `${a.actionId}:webhook`),
    );
    const check = verifySignature(
      WEBHOOK_SECRET,
      hit.body,
      hit.headers['x-kairos-signature'] as string,
      Date.now() / 1000,
    );
    assert.deepEqual(check, { ok: true });
    assert.equal(
      verifySignature('wrong', hit.body, hit.headers['x-kairos-signature'] as string, Date.now() / 1000).ok,
      false,
    );
    const body = JSON.parse(hit.body) as Record<string, unknown>;
    assert.equal(body.action_id, a.actionId);
    assert.deepEqual(body.payload, { order: 42 });
    await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'webhook');
  });

  it('calls the SMS and push providers with Idempotency-Key <actionId>:<channel> and the documented JSON', async () => {
    const sms = action({
      channels: ['sms'],
      recipient: { phone: '+15550001' },
      content: { text: 'code 1234' },
      transactional: true,
    });
    const push = action({
      channels: ['push'],
      recipient: { push_token: 'tok-1' },
      content: { title: 'Sale', body: 'now on' },
    });
    await request(bus.publisher, sms);
    await request(bus.publisher, push);
    const s = await waitFor(() =>
      peers.on('/sms').find((r) => r.headers['idempotency-key'] === `${sms.actionId}:sms`),
    );
    assert.deepEqual(
      { to: '+15550001', text: 'code 1234' },
      (({ to, text }) => ({ to, text }))(JSON.parse(s.body) as { to: string; text: string }),
    );
    const p = await waitFor(() =>
      peers.on('/push').find((r) => r.headers['idempotency-key'] === `${push.actionId}:push`),
    );
    const pb = JSON.parse(p.body) as Record<string, unknown>;
    assert.equal(pb.token, 'tok-1');
    assert.equal(pb.title, 'Sale');
    assert.equal(pb.body, 'now on');
    await waitOutcome(sms.actionId, S.OUTCOME_STATUS_SENT, 'sms');
    await waitOutcome(push.actionId, S.OUTCOME_STATUS_SENT, 'push');
  });

  it('sends an escalation to the Slack-style webhook of a named target', async () => {
    const a = action({
      channels: ['slack'],
      escalation: true,
      recipient: { target: 'sales-desk' },
      metadata: {},
      content: { text: 'VIP cart abandoned: call cust-9' },
    });
    await request(bus.publisher, a);
    const hit = await waitFor(() => peers.on('/slack/sales-desk').find((r) => r.body.includes('cust-9')));
    assert.deepEqual(JSON.parse(hit.body), { text: 'VIP cart abandoned: call cust-9' });
    await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'slack');
  });

  it('stores in-app messages in the inbox, lists them newest first (and unread only), and marks them read', async () => {
    const customerId = `inbox-${Date.now()}`;
    /** Sends an in-app message to the customer and waits until it is in the inbox. */
    const sendInApp = async (title: string, body: string) => {
      const a = action({ customerId, channels: ['in_app'], recipient: {}, content: { title, body } });
      await request(bus.publisher, a);
      await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'in_app');
      return a;
    };
    const first = await sendInApp('one', 'first');
    const second = await sendInApp('two', 'second');

    const list = (await (await fetch(`${svc.httpUrl}/inbox/${customerId}`, { headers: inbox() })).json()) as {
      messages: Array<{ id: string; read: boolean }>;
    };
    assert.deepEqual(
      list.messages.map((m) => m.id),
      [second.actionId, first.actionId],
    );
    const read = await fetch(`${svc.httpUrl}/inbox/${customerId}/${first.actionId}/read`, {
      method: 'POST',
      headers: inbox(),
    });
    assert.equal(read.status, 200);
    const unread = (await (
      await fetch(`${svc.httpUrl}/inbox/${customerId}?unread=true`, { headers: inbox() })
    ).json()) as {
      messages: Array<{ id: string }>;
    };
    assert.deepEqual(
      unread.messages.map((m) => m.id),
      [second.actionId],
    );
    assert.equal(
      (await fetch(`${svc.httpUrl}/inbox/${customerId}/nope/read`, { method: 'POST', headers: inbox() }))
        .status,
      404,
    );
    await waitOutcome(first.actionId, S.OUTCOME_STATUS_OPENED, 'in_app');
  });

  it('refuses the inbox without a service or admin token (401) and names what to send', async () => {
    const none = await fetch(`${svc.httpUrl}/inbox/c-1`);
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), {
      error:
        '/inbox needs the admin or a service credential: send "authorization: Bearer <admin or service token>"',
    });
    const wrong = await fetch(`${svc.httpUrl}/inbox/c-1`, {
      headers: { authorization: 'Bearer not-a-token-of-this-mesh' },
    });
    assert.equal(wrong.status, 401);
    const admin = await fetch(`${svc.httpUrl}/inbox/c-1`, {
      headers: { authorization: `Bearer ${testCredentials().adminToken}` },
    });
    assert.equal(admin.status, 200);
  });

  it('answers 400 to malformed or overlong inbox paths and quotes at most 64 characters', async () => {
    for (const path of ['/inbox/%ff', '/t/o/%ff.gif', '/t/c/%ff', '/callbacks/%ff']) {
      assert.equal((await fetch(`${svc.httpUrl}${path}`, { headers: inbox() })).status, 400, path);
    }
    const long = await fetch(`${svc.httpUrl}/inbox/${'x'.repeat(200)}`, { headers: inbox() });
    assert.equal(long.status, 400);
    assert.deepEqual(await long.json(), { error: 'path segment: at most 128 characters, got 200' });
    const unknown = await fetch(`${svc.httpUrl}/inbox/c-1/${'m'.repeat(100)}/read`, {
      method: 'POST',
      headers: inbox(),
    });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), {
      error: `no inbox message '${'m'.repeat(64)}…' (100 characters) for customer 'c-1'`,
    });
  });

  it('falls through to the next channel after a permanent failure (SMTP 550 -> sms)', async () => {
    const a = action({
      channels: ['email', 'sms'],
      recipient: { email: 'bounce@example.test', phone: '+15550002' },
      content: { subject: 's', text: 'fallback text' },
    });
    await request(bus.publisher, a);
    const failed = await waitOutcome(a.actionId, S.OUTCOME_STATUS_FAILED, 'email');
    assert.match(failed.reason, /550/);
    await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'sms');
    assert.ok(peers.on('/sms').some((r) => r.headers['idempotency-key'] === `${a.actionId}:sms`));
  });

  it('reports an SMTP session lost after the message went out as UNKNOWN (not SENT), counts it and does not resend', async () => {
    const a = action({ recipient: { email: 'stall@example.test' } });
    await request(bus.publisher, a);
    const unknown = await waitOutcome(a.actionId, S.OUTCOME_STATUS_UNKNOWN, 'email');
    assert.match(unknown.reason, /^may have been sent; not resent \(at-most-once\): smtp /);
    assert.equal(unknown.cost, 0);
    const jsm = await jetstreamManager(bus.nc);
    await waitFor(async () => {
      const info = await jsm.consumers.info('ACTIONS', 'delivery');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    assert.equal(smtp.messages.filter((m) => m.headers['x-kairos-action-id'] === a.actionId).length, 1);
    assert.deepEqual(
      (await outcomesFor(bus.nc, a.actionId)).map((o) => o.status),
      [S.OUTCOME_STATUS_UNKNOWN],
    );
    const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text();
    assert.match(
      metrics,
      /^kairos_delivery_sends_total\{[^}]*channel="email"[^}]*result="unknown"[^}]*\} 1$/m,
    );
  });

  it('retries a transient provider failure (HTTP 503) with backoff until it succeeds, with the same idempotency key', async () => {
    const a = action({ channels: ['sms'], recipient: { phone: '+15550003' }, content: { text: 'retry me' } });
    failFirstSms.set(a.actionId, 2);
    await request(bus.publisher, a);
    await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'sms');
    const calls = peers.on('/sms').filter((r) => r.headers['idempotency-key'] === `${a.actionId}:sms`);
    assert.equal(calls.length, 3);
    const outcomes = await outcomesFor(bus.nc, a.actionId);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      [S.OUTCOME_STATUS_SENT],
    );
  });

  it('after the last attempt of a transient failure publishes FAILED and dead-letters the request', async () => {
    const a = action({ channels: ['sms'], recipient: { phone: '+15550005' }, content: { text: 'never' } });
    failFirstSms.set(a.actionId, 1_000);
    await request(bus.publisher, a);
    const failed = await waitOutcome(a.actionId, S.OUTCOME_STATUS_FAILED, 'sms');
    assert.match(failed.reason, /gave up after 5 attempts: sms provider: HTTP 503/);
    const dead = await waitFor(async () => {
      const js = jetstream(bus.nc);
      const c = await js.consumers.get('DLQ', { filter_subjects: ['dlq.actions.requested.sms'] });
      for (;;) {
        const m = await c.next({ expires: 1_000 });
        if (!m) return undefined;
        if (SCHEMAS.ActionRequested.type.decode(m.data).actionId === a.actionId) return m;
      }
    });
    assert.equal(dead.headers?.get('Kairos-Dlq-Deliveries'), '5');
    assert.equal(
      peers.on('/sms').filter((r) => r.headers['idempotency-key'] === `${a.actionId}:sms`).length,
      5,
    );
  });

  it('after the last attempt of a request that may have reached the provider (timeout) publishes UNKNOWN, not FAILED', async () => {
    const a = action({ channels: ['push'], recipient: { push_token: 'hang' }, content: { body: 'b' } });
    await request(bus.publisher, a);
    const unknown = await waitOutcome(a.actionId, S.OUTCOME_STATUS_UNKNOWN, 'push');
    assert.equal(unknown.reason, 'gave up after 5 attempts: push provider: timeout');
    const keys = peers.on('/push').filter((r) => r.headers['x-kairos-action-id'] === a.actionId);
    assert.deepEqual(new Set(keys.map((r) => r.headers['idempotency-key'])), new Set([`${a.actionId}:push`]));
    assert.equal(keys.length, 5, 'at-least-once: each attempt resent with the same key');
    assert.deepEqual(
      (await outcomesFor(bus.nc, a.actionId)).map((o) => o.status),
      [S.OUTCOME_STATUS_UNKNOWN],
    );
  });

  it('suppresses a marketing message without consent and one with no reachable channel', async () => {
    const noConsent = action({ metadata: { consent_marketing: 'false' } });
    const unreachable = action({ channels: ['sms', 'push'], recipient: {}, transactional: true });
    await request(bus.publisher, noConsent);
    await request(bus.publisher, unreachable);
    const s1 = await waitOutcome(noConsent.actionId, S.OUTCOME_STATUS_SUPPRESSED);
    assert.match(s1.reason, /no_marketing_consent/);
    const s2 = await waitOutcome(unreachable.actionId, S.OUTCOME_STATUS_SUPPRESSED);
    assert.match(s2.reason, /unreachable/);
    assert.ok(!smtp.messages.some((m) => m.headers['x-kairos-action-id'] === noConsent.actionId));
  });

  it('turns open-pixel and click hits into OPENED/CLICKED once per action; tampered and expired tokens are rejected', async () => {
    const { a, mail } = await sendEmail();
    const pixel = /(\/t\/o\/[A-Za-z0-9_.-]+\.gif)/.exec(mail.decoded)![1];
    const click = /(\/t\/c\/[A-Za-z0-9_.-]+\?u=[^"]+)/.exec(mail.decoded)![1];
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${svc.httpUrl}${pixel}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'image/gif');
    }
    const redirect = await fetch(`${svc.httpUrl}${click}`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), 'https://shop.example/offer?x=1&y=2');

    const swapped = click.replace(/\?u=.*/, `?u=${encodeURIComponent('https://evil.example/')}`);
    assert.equal((await fetch(`${svc.httpUrl}${swapped}`, { redirect: 'manual' })).status, 404);
    const tampered = pixel.replace(/\/t\/o\/(.)/, (_m, c: string) => `/t/o/${c === 'A' ? 'B' : 'A'}`);
    assert.equal((await fetch(`${svc.httpUrl}${tampered}`)).status, 404);
    const expired = createTrackingToken(TRACKING_SECRET, {
      a: a.actionId,
      c: 'email',
      k: 'o',
      e: Math.floor(Date.now() / 1000) - 60,
    });
    assert.equal((await fetch(`${svc.httpUrl}/t/o/${expired}.gif`)).status, 410);

    await waitOutcome(a.actionId, S.OUTCOME_STATUS_CLICKED, 'email');
    const opened = await waitOutcome(a.actionId, S.OUTCOME_STATUS_OPENED, 'email');
    assert.equal(opened.workflow, 'welcome', 'outcome carries the action fields from the ledger');
    const all = await outcomesFor(bus.nc, a.actionId);
    assert.equal(all.filter((o) => o.status === S.OUTCOME_STATUS_OPENED).length, 1);
  });

  it('accepts signed provider callbacks as outcomes and rejects unsigned ones', async () => {
    const a = action({ channels: ['sms'], recipient: { phone: '+15550004' }, content: { text: 'hi' } });
    await request(bus.publisher, a);
    await waitOutcome(a.actionId, S.OUTCOME_STATUS_SENT, 'sms');
    const body = JSON.stringify({ action_id: a.actionId, channel: 'sms', status: 'delivered' });
    const unsigned = await fetch(`${svc.httpUrl}/callbacks/acme-sms`, { method: 'POST', body });
    assert.equal(unsigned.status, 401);
    const signed = await fetch(`${svc.httpUrl}/callbacks/acme-sms`, {
      method: 'POST',
      body,
      headers: { 'X-Kairos-Signature': signBody(WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000)) },
    });
    assert.equal(signed.status, 202);
    const delivered = await waitOutcome(a.actionId, S.OUTCOME_STATUS_DELIVERED, 'sms');
    assert.equal(delivered.workflow, 'welcome');
  });

  it('respects the push rate limit (5/s): no 1-second window holds more than capacity + rate', async () => {
    const batch = Array.from({ length: 15 }, () =>
      action({ channels: ['push'], recipient: { push_token: 'rl' }, content: { body: 'rate' } }),
    );
    const ids = new Set(batch.map((b) => `${b.actionId}:push`));
    await Promise.all(batch.map((b) => request(bus.publisher, b)));
    const hits = await waitFor(
      () => {
        const h = peers.on('/push').filter((r) => ids.has(String(r.headers['idempotency-key'])));
        return h.length === 15 && h;
      },
      { timeoutMs: 30_000, message: '15 push calls' },
    );
    const times = hits.map((h) => h.at).sort((x, y) => x - y);
    // Token bucket (capacity 5, 5/s): any window of 1 s holds at most 5 + 5 calls, and 15 calls
    // need at least (15 - 5) / 5 = 2 s. Both bounds hold however slow the machine is.
    for (const t0 of times) assert.ok(times.filter((t) => t >= t0 && t < t0 + 1000).length <= 10);
    assert.ok(
      times[times.length - 1] - times[0] >= 1_900,
      `15 calls spread over ${times[times.length - 1] - times[0]} ms`,
    );
  });
});
