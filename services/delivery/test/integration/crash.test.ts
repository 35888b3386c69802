import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Publisher } from '@kairos/messaging';
import { useMongo, useNats, waitFor } from '@kairos/testkit';
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from '../../src';
import { action, natsClient, outcomesFor, request, S, startDelivery, type DeliveryProcess } from './harness';

describe('delivery under kill -9 mid-send', function () {
  this.timeout(90_000);
  const nats = useNats();
  const mongo = useMongo({ dbPrefix: 'delivery-crash' });
  let smtp: SmtpSink;
  let sms: HttpSink;
  let nc: NatsConnection;
  let publisher: Publisher;
  const releases: Array<() => void> = [];
  const hold = <T>(value: T) => new Promise<T>((resolve) => releases.push(() => resolve(value)));

  before(async () => {
    // Both peers accept the first message, then hold their reply until the test releases it.
    smtp = await startSmtpSink((_mail, index) => (index === 0 ? hold(undefined) : undefined));
    sms = await startHttpSink((_req, index) =>
      index === 0
        ? hold({ status: 200, body: { id: 'late' } })
        : { status: 200, body: { id: `sms-${index}` } },
    );
    ({ nc, publisher } = await natsClient(nats.url));
  });

  after(async () => {
    for (const release of releases) release();
    await nc?.close();
    await smtp?.close();
    await sms?.close();
  });

  it('sends the email exactly once and publishes exactly one SENT after a crash during the SMTP reply; the SMS provider dedups the resend by key', async () => {
    const env = {
      NATS_URL: nats.url,
      MONGO_URL: mongo.url,
      MONGO_DB: mongo.dbName,
      KAIROS_SMTP_URL: smtp.url,
      KAIROS_SMS_PROVIDER_URL: `${sms.url}/sms`,
      KAIROS_DELIVERY_ACK_WAIT: '2s',
    };
    let svc: DeliveryProcess | undefined = await startDelivery(env);
    const email = action();
    const text = action({ channels: ['sms'], recipient: { phone: '+15550009' }, content: { text: 'crash' } });
    try {
      await request(publisher, email);
      await request(publisher, text);
      // Both sends are on the wire: the peers have the message and are holding their reply.
      await waitFor(() => smtp.messages.length === 1 && sms.requests.length === 1, { timeoutMs: 20_000 });
      await svc.proc.kill();
      svc = undefined;
      for (const release of releases.splice(0)) release();

      svc = await startDelivery(env);
      await waitFor(
        async () => (await outcomesFor(nc, email.actionId)).some((o) => o.status === S.OUTCOME_STATUS_SENT),
        {
          timeoutMs: 30_000,
          message: 'SENT for the email after restart',
        },
      );
      await waitFor(
        async () => (await outcomesFor(nc, text.actionId)).some((o) => o.status === S.OUTCOME_STATUS_SENT),
        {
          timeoutMs: 30_000,
          message: 'SENT for the SMS after restart',
        },
      );
      // Nothing left to redeliver: the counts below are final.
      const jsm = await jetstreamManager(nc);
      await waitFor(async () => {
        const info = await jsm.consumers.info('ACTIONS', 'delivery');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      });

      assert.equal(smtp.messages.filter((m) => m.headers['x-kairos-action-id'] === email.actionId).length, 1);
      const emailOutcomes = await outcomesFor(nc, email.actionId);
      assert.deepEqual(
        emailOutcomes.map((o) => [o.status, o.channel, o.reason]),
        [[S.OUTCOME_STATUS_SENT, 'email', 'unconfirmed']],
      );
      // The SMS was resent with the same key; a provider honouring Idempotency-Key delivers it once.
      const keys = sms.requests.map((r) => r.headers['idempotency-key']);
      assert.ok(keys.length >= 2, 'resent after the crash');
      assert.deepEqual(new Set(keys), new Set([`${text.actionId}:sms`]));
      const smsOutcomes = await outcomesFor(nc, text.actionId);
      assert.deepEqual(
        smsOutcomes.map((o) => o.status),
        [S.OUTCOME_STATUS_SENT],
      );
    } finally {
      await svc?.proc.stop();
    }
  });
});
