import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  actions,
  ERASURE_SERVICES,
  OUTCOME_TOKEN,
  SCHEMAS,
  subjects,
  type profiles,
} from '@kairos/contracts';
import { waitFor } from '@kairos/testkit';
import { appliedEventIds } from '../../src/domain/profile-model';
import { call, Collector, enrichedFor, publishRaw, rawEvent, useHarness } from './helpers';

describe('enrichment (real NATS + MongoDB-wire)', function () {
  this.timeout(60_000);

  describe('service', () => {
    const h = useHarness('enrich');

    it('publishes raw events enriched with the updated profile on events.enriched.<p>.<category>.<type>', async () => {
      await publishRaw(h, rawEvent('e-a1', 'alice', 'page.viewed'));
      await publishRaw(h, rawEvent('e-a2', 'alice', 'order.completed', { revenue: 25.5 }));
      const enriched = await waitFor(() => enrichedFor(h, 'e-a2'), { message: 'enriched e-a2' });
      const subject = h.enriched.items.find((i) => i.message.event?.id === 'e-a2')!.subject;
      assert.match(subject, /^events\.enriched\.\d+\.customer_action\.order\.completed$/);
      const c = enriched.profile!.counters!;
      assert.equal(enriched.profile!.customerId, 'alice');
      assert.equal(c.totalEvents, 2);
      assert.equal(c.purchases, 1);
      assert.equal(c.lifetimeValue, 25.5);
      assert.deepEqual(c.eventsByType, { 'page.viewed': 1, 'order.completed': 1 });
      assert.equal(enriched.profile!.journeyStage, 'active');
      assert.ok(enriched.enrichedAt);
    });

    it('counts an event once when it is published twice under different msg ids', async () => {
      await publishRaw(h, rawEvent('e-b1', 'bob', 'order.completed', { revenue: 10 }), 'first-publish');
      await publishRaw(h, rawEvent('e-b1', 'bob', 'order.completed', { revenue: 10 }), 'second-publish');
      // Same partition, in order: once e-b2 is enriched, both copies of e-b1 were handled.
      await publishRaw(h, rawEvent('e-b2', 'bob', 'page.viewed'));
      const after = await waitFor(() => enrichedFor(h, 'e-b2'), { message: 'enriched e-b2' });
      assert.equal(after.profile!.counters!.totalEvents, 2);
      assert.equal(after.profile!.counters!.purchases, 1);
      assert.equal(after.profile!.counters!.lifetimeValue, 10);
      await h.app.writer.committed();
      const stored = await h.app.store.read('bob');
      assert.equal(stored!.counters.total_events, 2);
    });

    it('applies a replayed event once even after the profile cache is gone (idempotency is in MongoDB)', async () => {
      await h.restartApp();
      await publishRaw(h, rawEvent('e-b1', 'bob', 'order.completed', { revenue: 10 }), 'third-publish');
      await publishRaw(h, rawEvent('e-b3', 'bob', 'page.viewed'));
      const after = await waitFor(() => enrichedFor(h, 'e-b3'), { message: 'enriched e-b3' });
      assert.equal(after.profile!.counters!.totalEvents, 3);
      assert.equal(after.profile!.counters!.lifetimeValue, 10);
    });

    it('keeps per-customer order: snapshots count up one by one in publish order', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `e-c${i}`);
      for (const id of ids) await publishRaw(h, rawEvent(id, 'carol', 'page.viewed'));
      await waitFor(() => enrichedFor(h, 'e-c39'), { message: 'enriched e-c39' });
      const carol = h.enriched.items
        .filter((i) => i.message.event?.customerId === 'carol')
        .map((i) => i.message);
      assert.deepEqual(
        carol.map((e) => e.event!.id),
        ids,
      );
      assert.deepEqual(
        carol.map((e) => e.profile!.counters!.totalEvents),
        ids.map((_, i) => i + 1),
      );
    });

    it('folds a burst into batches: each customer still sees snapshots counting up in order, and the stored version counts every event', async () => {
      const customers = ['erin', 'frank'];
      const ids = customers.flatMap((c) => Array.from({ length: 30 }, (_, i) => `e-${c}-${i}`));
      // Published without waiting one by one, so the partitions' loops get them in batches.
      await Promise.all(ids.map((id) => publishRaw(h, rawEvent(id, id.split('-')[1]!, 'page.viewed'))));
      await waitFor(() => ids.every((id) => enrichedFor(h, id)), { message: 'burst not all enriched' });
      await h.app.writer.committed();
      for (const customer of customers) {
        const snapshots = h.enriched.items
          .filter((i) => i.message.event?.customerId === customer)
          .map((i) => i.message.profile!.counters!.totalEvents);
        assert.deepEqual(
          snapshots,
          snapshots.map((_, i) => i + 1),
          `${customer}: one snapshot per event, in order`,
        );
        const stored = await h.app.store.profiles.findOne({ _id: customer });
        assert.equal(stored?.version, 30, `${customer}: version counts every applied event`);
        assert.equal(appliedEventIds(stored!).length, 30);
      }
    });

    it('keeps an upsert made while event changes wait to be written: the events are re-applied onto it', async () => {
      await h.restartApp({ KAIROS_PROFILE_FLUSH_INTERVAL: 600_000 }); // nothing is written until flushNow()
      try {
        await call(h.client, 'upsert', {
          customerId: 'hal',
          traits: { plan: 'free' },
          timeZone: '',
          dates: {},
        });
        await publishRaw(h, rawEvent('e-hal1', 'hal', 'order.completed', { revenue: 7 }));
        await waitFor(() => enrichedFor(h, 'e-hal1'), { message: 'enriched e-hal1' });
        assert.equal((await h.app.store.read('hal'))!.counters.purchases, 0, 'not written yet');
        // Written straight to the database, so the unwritten change's base version is now stale.
        await call(h.client, 'upsert', {
          customerId: 'hal',
          traits: { plan: 'pro' },
          timeZone: '',
          dates: {},
        });
        await h.app.writer.flushNow();
        const stored = (await h.app.store.read('hal'))!;
        assert.deepEqual(stored.traits, { plan: 'pro' });
        assert.equal(stored.counters.purchases, 1);
        assert.equal(stored.counters.lifetime_value, 7);
        assert.equal(h.app.writer.unwritten, 0);
      } finally {
        await h.restartApp();
      }
    });

    it('takes profile fields from identify events (traits, contacts, consent, time zone, dates)', async () => {
      await publishRaw(
        h,
        rawEvent('e-d1', 'dave', 'identify', {
          traits: { plan: 'pro' },
          email: 'dave@example.test',
          consent: { marketing: true },
          time_zone: 'Europe/Paris',
          dates: { renewal_date: '2026-06-01' },
        }),
      );
      const e = await waitFor(() => enrichedFor(h, 'e-d1'), { message: 'enriched e-d1' });
      const p = e.profile!;
      assert.deepEqual(p.traits, { plan: 'pro' });
      assert.equal(p.contacts!.email, 'dave@example.test');
      assert.equal(p.consent!.marketing, true);
      assert.equal(p.timeZone, 'Europe/Paris');
      assert.deepEqual(p.dates, { renewal_date: '2026-06-01' });
      // Occurrences follow the profile write (write-behind), not the enriched event.
      await h.app.writer.committed();
      const scheduled = await h.app.scheduler.occurrences.findOne({ customer_id: 'dave' });
      assert.equal(scheduled?._id, 'time:dave:renewal-reminder:2026-06-01');
      assert.equal(
        scheduled?.fire_at.toISOString(),
        '2026-05-25T07:00:00.000Z',
        '7 days before, 09:00 Paris',
      );
    });

    it('fires a birthday event once at 09:00 local time, across two scans and a restart', async () => {
      h.clock.set('2026-05-01T06:00:00Z');
      await call(h.client, 'upsert', {
        customerId: 'erin',
        timeZone: 'Europe/Paris',
        dates: { birthday: '1990-05-01' },
      });
      const timeBased = () =>
        h.enriched.items.filter(
          (i) => i.message.event?.customerId === 'erin' && i.subject.includes('.time_based.'),
        );

      h.clock.set('2026-05-01T06:59:59Z');
      assert.equal(await h.app.scheduler.scan(), 0, 'not due before 09:00 Paris (07:00 UTC)');
      h.clock.set('2026-05-01T07:00:30Z');
      assert.equal(await h.app.scheduler.scan(), 1);
      assert.equal(await h.app.scheduler.scan(), 0, 'a second scan does not emit again');
      await h.restartApp();
      assert.equal(await h.app.scheduler.scan(), 0, 'a restarted scheduler does not emit again');

      const fired = await waitFor(() => timeBased()[0], { message: 'the enriched birthday event' });
      assert.match(fired.subject, /^events\.enriched\.\d+\.time_based\.date\.birthday$/);
      assert.equal(fired.message.event!.id, 'time:erin:birthday:2026-05-01');
      assert.equal(fired.message.event!.occurredAt!.toISOString(), '2026-05-01T07:00:00.000Z');
      assert.equal(fired.message.profile!.counters!.eventsByType['date.birthday'], 1);
      // Give a duplicate every chance to show up behind a later event of the same customer.
      await publishRaw(h, rawEvent('e-erin-after', 'erin', 'page.viewed'));
      await waitFor(() => enrichedFor(h, 'e-erin-after'));
      await h.app.writer.committed();
      assert.equal(timeBased().length, 1);
      const next = await h.app.scheduler.occurrences.findOne({ customer_id: 'erin', status: 'pending' });
      assert.equal(next?._id, 'time:erin:birthday:2027-05-01', 'next year is scheduled');
    });

    it('moves a scheduled occurrence when the date changes: the new one is pending, the old one gone', async () => {
      h.clock.set('2026-03-01T00:00:00Z');
      const dates = (birthday: string) => ({ customerId: 'jo', timeZone: 'UTC', dates: { birthday } });
      await call(h.client, 'upsert', dates('1990-06-10'));
      const ids = async () =>
        (await h.app.scheduler.occurrences.find({ customer_id: 'jo' }).toArray()).map((o) => o._id).sort();
      assert.deepEqual(await ids(), ['time:jo:birthday:2026-06-10']);
      await call(h.client, 'upsert', dates('1990-07-20'));
      assert.deepEqual(await ids(), ['time:jo:birthday:2026-07-20']);
      await call(h.client, 'upsert', { customerId: 'jo', timeZone: 'UTC', dates: { birthday: '' } });
      assert.deepEqual(await ids(), [], 'a removed date drops its occurrence');
    });

    it('keeps communication history from ActionOutcome messages, idempotent by action and status', async () => {
      await call(h.client, 'upsert', {
        customerId: 'frank',
        traits: { name: 'Frank' },
        dates: {},
        timeZone: '',
      });
      const outcome = (status: actions.OutcomeStatus, minute: number) =>
        actions.ActionOutcome.fromPartial({
          actionId: 'act-1',
          runId: 'run-1',
          workflow: 'welcome',
          trigger: 'signup',
          customerId: 'frank',
          channel: 'email',
          status,
          at: new Date(Date.UTC(2026, 4, 1, 8, minute)),
        });
      const publish = (o: actions.ActionOutcome, msgId: string) =>
        h.publisher.publish(subjects.actionOutcome(o.status), SCHEMAS.ActionOutcome, o, { msgId });
      await publish(outcome(actions.OutcomeStatus.OUTCOME_STATUS_SENT, 0), 'o1');
      await publish(outcome(actions.OutcomeStatus.OUTCOME_STATUS_SENT, 0), 'o1-again');
      await publish(outcome(actions.OutcomeStatus.OUTCOME_STATUS_OPENED, 5), 'o2');
      const history = await waitFor(
        async () => {
          const res = await call<profiles.HistoryRequest, profiles.HistoryResponse>(h.client, 'history', {
            customerId: 'frank',
            channel: '',
            workflow: '',
            status: '',
            limit: 0,
          });
          return res.communications.length === 2 && res.communications;
        },
        { message: 'two history records' },
      );
      assert.deepEqual(
        history.map((c) => c.status),
        [OUTCOME_TOKEN[actions.OutcomeStatus.OUTCOME_STATUS_OPENED], 'sent'],
      );
      const profile = await waitFor(async () => {
        const res = await call<profiles.GetRequest, profiles.GetResponse>(h.client, 'get', {
          customerId: 'frank',
        });
        return res.profile!.recentCommunications[0]?.status === 'opened' && res.profile!;
      });
      assert.equal(profile.recentCommunications.length, 1);
      assert.equal(profile.recentCommunications[0].actionId, 'act-1');
      assert.equal(await h.app.communications.records.countDocuments({ customer_id: 'frank' }), 2);
    });

    it('keeps the newest communications embedded and says from when the list is incomplete', async () => {
      await call(h.client, 'upsert', { customerId: 'jude', timeZone: '', dates: {} });
      const at = (minute: number) => new Date(Date.UTC(2026, 4, 2, 8, minute));
      for (let i = 0; i <= 20; i++) {
        await call(h.client, 'recordCommunication', {
          customerId: 'jude',
          communication: {
            actionId: `jude-${i}`,
            workflow: 'w',
            channel: 'email',
            status: 'sent',
            at: at(i),
          },
        });
      }
      const { profile } = await call<profiles.GetRequest, profiles.GetResponse>(h.client, 'get', {
        customerId: 'jude',
      });
      assert.equal(profile!.recentCommunications.length, 20, 'the default bound');
      assert.equal(profile!.recentCommunications[19].actionId, 'jude-1');
      assert.deepEqual(profile!.communicationsTrimmedAt, at(0), 'the send time of the one pushed out');
    });

    describe('ProfileService over gRPC', () => {
      it('answers NOT_FOUND naming the customer, and INVALID_ARGUMENT naming customer_id', async () => {
        await assert.rejects(call(h.client, 'get', { customerId: 'nobody' }), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.NOT_FOUND);
          assert.match(err.details, /nobody/);
          return true;
        });
        await assert.rejects(call(h.client, 'get', { customerId: '' }), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.match(err.details, /customer_id/);
          return true;
        });
        await assert.rejects(
          call(h.client, 'upsert', { customerId: 'x', timeZone: 'Not/AZone', dates: {} }),
          (err: grpc.ServiceError) =>
            err.code === grpc.status.INVALID_ARGUMENT && /time_zone/.test(err.details),
        );
      });

      it('upserts (merging traits, null removes), gets and batch-gets profiles', async () => {
        const created = await call<profiles.UpsertRequest, profiles.UpsertResponse>(h.client, 'upsert', {
          customerId: 'gina',
          traits: { plan: 'free', color: 'blue' },
          contacts: { email: 'gina@example.test', phone: '', pushTokens: [], webhookUrl: '' },
          preferences: { preferredChannel: 'email', optedOutChannels: ['sms'] },
          timeZone: 'Asia/Tokyo',
          dates: {},
        });
        assert.equal(created.created, true);
        const updated = await call<profiles.UpsertRequest, profiles.UpsertResponse>(h.client, 'upsert', {
          customerId: 'gina',
          traits: { plan: 'pro', color: null },
          timeZone: '',
          dates: {},
        });
        assert.equal(updated.created, false);
        const got = await call<profiles.GetRequest, profiles.GetResponse>(h.client, 'get', {
          customerId: 'gina',
        });
        assert.deepEqual(got.profile!.traits, { plan: 'pro' });
        assert.equal(got.profile!.contacts!.email, 'gina@example.test');
        assert.equal(got.profile!.preferences!.preferredChannel, 'email');
        assert.equal(got.profile!.timeZone, 'Asia/Tokyo');
        assert.equal(got.profile!.journeyStage, 'new');
        const batch = await call<profiles.BatchGetRequest, profiles.BatchGetResponse>(h.client, 'batchGet', {
          customerIds: ['gina', 'alice', 'ghost'],
        });
        assert.deepEqual(batch.profiles.map((p) => p.customerId).sort(), ['alice', 'gina']);
        assert.deepEqual(batch.missingCustomerIds, ['ghost']);
      });

      it('records communications and filters history by channel, workflow, status, since and limit', async () => {
        const comm = (
          actionId: string,
          channel: string,
          workflow: string,
          status: string,
          minute: number,
        ) => ({
          customerId: 'hank',
          communication: {
            actionId,
            workflow,
            trigger: 't',
            channel,
            status,
            at: new Date(Date.UTC(2026, 4, 1, 10, minute)),
            template: 'tpl',
            transactional: false,
          },
        });
        await call(h.client, 'upsert', { customerId: 'hank', dates: {}, timeZone: '' });
        const r1 = await call<unknown, profiles.RecordCommunicationResponse>(
          h.client,
          'recordCommunication',
          comm('a1', 'email', 'w1', 'sent', 1),
        );
        const again = await call<unknown, profiles.RecordCommunicationResponse>(
          h.client,
          'recordCommunication',
          comm('a1', 'email', 'w1', 'sent', 1),
        );
        assert.equal(r1.recorded, true);
        assert.equal(again.recorded, false);
        await call(h.client, 'recordCommunication', comm('a2', 'sms', 'w2', 'sent', 2));
        await call(h.client, 'recordCommunication', comm('a3', 'push', 'w1', 'failed', 3));
        const history = (q: Partial<profiles.HistoryRequest>) =>
          call<profiles.HistoryRequest, profiles.HistoryResponse>(h.client, 'history', {
            customerId: 'hank',
            channel: '',
            workflow: '',
            status: '',
            limit: 0,
            ...q,
          }).then((r) => r.communications.map((c) => c.actionId));
        assert.deepEqual(await history({}), ['a3', 'a2', 'a1']);
        assert.deepEqual(await history({ channel: 'sms' }), ['a2']);
        assert.deepEqual(await history({ workflow: 'w1' }), ['a3', 'a1']);
        assert.deepEqual(await history({ status: 'failed' }), ['a3']);
        assert.deepEqual(await history({ since: new Date(Date.UTC(2026, 4, 1, 10, 2)) }), ['a3', 'a2']);
        assert.deepEqual(await history({ limit: 1 }), ['a3']);
        await assert.rejects(
          call(h.client, 'recordCommunication', comm('a4', 'email', 'w1', 'bogus', 4)),
          (err: grpc.ServiceError) =>
            err.code === grpc.status.INVALID_ARGUMENT && /communication\.status/.test(err.details),
        );
      });

      it('erases a customer: profile, history and scheduled occurrences', async () => {
        await call(h.client, 'upsert', {
          customerId: 'ivy',
          dates: { birthday: '1990-12-24' },
          timeZone: '',
        });
        await call(h.client, 'recordCommunication', {
          customerId: 'ivy',
          communication: {
            actionId: 'z1',
            workflow: 'w',
            trigger: 't',
            channel: 'email',
            status: 'sent',
            template: '',
            transactional: false,
          },
        });
        const acks = new Collector(h.nc, 'privacy.erased.enrichment', (d) =>
          SCHEMAS.CustomerErased.type.decode(d),
        );
        const occurrences = await h.app.scheduler.occurrences.countDocuments({ customer_id: 'ivy' });
        assert.ok(occurrences > 0, 'the birthday is scheduled');
        const res = await call<profiles.DeleteRequest, profiles.DeleteResponse>(h.client, 'delete', {
          customerId: 'ivy',
        });
        assert.deepEqual(
          { ...res, erasureId: '' },
          {
            deleted: true,
            communicationsDeleted: 1,
            timeOccurrencesDeleted: occurrences,
            erasureId: '',
            services: [...ERASURE_SERVICES],
          },
        );
        assert.match(res.erasureId, /^[0-9a-f-]{36}$/);
        // The owning partition's consumer handles the command too, and acknowledges it.
        await waitFor(() => acks.items.some((a) => a.message.erasureId === res.erasureId));
        await assert.rejects(
          call(h.client, 'get', { customerId: 'ivy' }),
          (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND,
        );
        assert.equal(await h.app.scheduler.occurrences.countDocuments({ customer_id: 'ivy' }), 0);
        const again = await call<profiles.DeleteRequest, profiles.DeleteResponse>(h.client, 'delete', {
          customerId: 'ivy',
        });
        assert.equal(again.deleted, false);
      });
    });
  });
});
