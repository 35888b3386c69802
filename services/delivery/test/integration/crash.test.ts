import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectPublisher } from '@kairos/messaging';
import { useServers, waitFor } from '@kairos/testkit';
import { startHttpSink, startSmtpSink, type HttpSink, type SmtpSink } from '@kairos/testkit';
import { action, outcomesFor, request, S, startDelivery, type DeliveryProcess } from './harness';

/** The value of one labelled sample in a Prometheus text exposition (0 when absent). */
function sample(metrics: string, name: string, labels: Record<string, string>): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

describe('delivery under kill -9 mid-send', function () {
  this.timeout(90_000);
  const { nats, mongo, bus } = useServers({ dbPrefix: 'delivery-crash', connect: connectPublisher });
  let smtp: SmtpSink;
  let sms: HttpSink;
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
  });

  after(async () => {
    for (const release of releases) release();
    await smtp?.close();
    await sms?.close();
  });

  it('sends the email at most once and publishes exactly one UNKNOWN after a crash during the SMTP reply; the SMS provider dedups the resend by key', async () => {
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
      await request(bus.publisher, email);
      await request(bus.publisher, text);
      // Both sends are on the wire: the peers have the message and are holding their reply.
      await waitFor(() => smtp.messages.length === 1 && sms.requests.length === 1, { timeoutMs: 20_000 });
      await svc.proc.kill();
      svc = undefined;
      for (const release of releases.splice(0)) release();

      svc = await startDelivery(env);
      await waitFor(
        async () =>
          (await outcomesFor(bus.nc, email.actionId)).some((o) => o.status === S.OUTCOME_STATUS_UNKNOWN),
        {
          timeoutMs: 30_000,
          message: 'UNKNOWN for the email after restart',
        },
      );
      await waitFor(
        async () =>
          (await outcomesFor(bus.nc, text.actionId)).some((o) => o.status === S.OUTCOME_STATUS_SENT),
        {
          timeoutMs: 30_000,
          message: 'SENT for the SMS after restart',
        },
      );
      // Nothing left to redeliver: the counts below are final.
      const jsm = await jetstreamManager(bus.nc);
      await waitFor(async () => {
        const info = await jsm.consumers.info('ACTIONS', 'delivery');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      });

      assert.equal(smtp.messages.filter((m) => m.headers['x-kairos-action-id'] === email.actionId).length, 1);
      const emailOutcomes = await outcomesFor(bus.nc, email.actionId);
      assert.deepEqual(
        emailOutcomes.map((o) => [o.status, o.channel, o.reason]),
        [[S.OUTCOME_STATUS_UNKNOWN, 'email', 'interrupted mid-send; not resent (at-most-once)']],
      );
      // The SMS was resent with the same key; a provider honouring Idempotency-Key delivers it once.
      const keys = sms.requests.map((r) => r.headers['idempotency-key']);
      assert.ok(keys.length >= 2, 'resent after the crash');
      assert.deepEqual(new Set(keys), new Set([`${text.actionId}:sms`]));
      const smsOutcomes = await outcomesFor(bus.nc, text.actionId);
      assert.deepEqual(
        smsOutcomes.map((o) => o.status),
        [S.OUTCOME_STATUS_SENT],
      );
    } finally {
      await svc?.proc.stop();
    }
  });

  describe('killed at an exact point by KAIROS_FAULT_POINT', () => {
    let mail: SmtpSink;
    let provider: HttpSink;
    before(async () => {
      mail = await startSmtpSink();
      provider = await startHttpSink();
    });
    after(async () => {
      await mail?.close();
      await provider?.close();
    });

    const baseEnv = () => ({
      NATS_URL: nats.url,
      MONGO_URL: mongo.url,
      MONGO_DB: mongo.dbName,
      KAIROS_SMTP_URL: mail.url,
      KAIROS_SMS_PROVIDER_URL: `${provider.url}/sms`,
      KAIROS_DELIVERY_ACK_WAIT: '2s',
    });

    /**
     * Runs delivery with the fault point set until it SIGKILLs itself on `a`, then restarts it
     * without the fault and waits until `a` has an outcome `until` and nothing is left to redeliver.
     */
    async function crashAndRecover(
      a: ReturnType<typeof action>,
      point: string,
      until: number,
      extraEnv: Record<string, string> = {},
    ): Promise<DeliveryProcess> {
      const faulty = await startDelivery({ ...baseEnv(), ...extraEnv, KAIROS_FAULT_POINT: point });
      try {
        await request(bus.publisher, a);
        await waitFor(() => !faulty.proc.running, { timeoutMs: 30_000, message: `killed at ${point}` });
      } finally {
        await faulty.proc.kill();
      }
      assert.deepEqual(await outcomesFor(bus.nc, a.actionId), [], 'no outcome before the restart');
      const svc = await startDelivery({ ...baseEnv(), ...extraEnv });
      try {
        await waitFor(async () => (await outcomesFor(bus.nc, a.actionId)).some((o) => o.status === until), {
          timeoutMs: 30_000,
          message: `outcome ${S[until]} after the restart`,
        });
        const jsm = await jetstreamManager(bus.nc);
        await waitFor(async () => {
          const info = await jsm.consumers.info('ACTIONS', 'delivery');
          return info.num_pending === 0 && info.num_ack_pending === 0;
        });
      } catch (err) {
        await svc.proc.stop();
        throw err;
      }
      return svc;
    }

    it('an email killed after its intent, before SMTP, ends UNKNOWN (not SENT), is not resent, and is counted', async () => {
      const email = action();
      const svc = await crashAndRecover(email, 'before-send', S.OUTCOME_STATUS_UNKNOWN);
      try {
        const mine = mail.messages.filter((m) => m.headers['x-kairos-action-id'] === email.actionId);
        assert.equal(mine.length, 0, 'email is at-most-once by default: never resent');
        assert.deepEqual(
          (await outcomesFor(bus.nc, email.actionId)).map((o) => [o.status, o.channel, o.reason, o.cost]),
          [[S.OUTCOME_STATUS_UNKNOWN, 'email', 'interrupted mid-send; not resent (at-most-once)', 0]],
        );
        const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text();
        assert.equal(
          sample(metrics, 'kairos_delivery_sends_total', { channel: 'email', result: 'unknown' }),
          1,
        );
        assert.equal(
          sample(metrics, 'kairos_delivery_interrupted_total', { channel: 'email', resolution: 'unknown' }),
          1,
        );
      } finally {
        await svc.proc.stop();
      }
    });

    it('an SMS killed after the provider accepted, before it was recorded, is resent with the same Idempotency-Key and ends SENT', async () => {
      const text = action({ channels: ['sms'], recipient: { phone: '+15550010' }, content: { text: 'hi' } });
      const svc = await crashAndRecover(text, 'after-send', S.OUTCOME_STATUS_SENT);
      try {
        const mine = provider.on('/sms').filter((r) => r.headers['x-kairos-action-id'] === text.actionId);
        assert.deepEqual(
          mine.map((r) => r.headers['idempotency-key']),
          [`${text.actionId}:sms`, `${text.actionId}:sms`],
          'the original request and one resend, both with the same key',
        );
        assert.deepEqual(
          (await outcomesFor(bus.nc, text.actionId)).map((o) => o.status),
          [S.OUTCOME_STATUS_SENT],
        );
        const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text();
        assert.equal(
          sample(metrics, 'kairos_delivery_interrupted_total', { channel: 'sms', resolution: 'resent' }),
          1,
        );
      } finally {
        await svc.proc.stop();
      }
    });

    it('an email on an at-least-once channel (KAIROS_DELIVERY_GUARANTEES) is resent with the same Message-ID and ends SENT', async () => {
      const email = action();
      const svc = await crashAndRecover(email, 'after-send', S.OUTCOME_STATUS_SENT, {
        KAIROS_DELIVERY_GUARANTEES: 'email=at-least-once',
      });
      try {
        const mine = mail.messages.filter((m) => m.headers['x-kairos-action-id'] === email.actionId);
        assert.equal(mine.length, 2, 'the original and one resend');
        assert.equal(new Set(mine.map((m) => m.headers['message-id'])).size, 1, 'one Message-ID');
        assert.deepEqual(
          (await outcomesFor(bus.nc, email.actionId)).map((o) => o.status),
          [S.OUTCOME_STATUS_SENT],
        );
      } finally {
        await svc.proc.stop();
      }
    });
  });
});
