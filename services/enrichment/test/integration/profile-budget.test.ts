import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { partitionOf, profiles } from '@kairos/contracts';
import { waitFor } from '@kairos/testkit';
import { createLogger } from '@kairos/service-kit';
import { startEnrichment } from '../../src/app';
import { newProfile, type ProfileDoc } from '../../src/domain/profile-model';
import { DEFAULT_SETTINGS } from '../../src/domain/settings';
import {
  Collector,
  call,
  enrichedFor,
  PARTITIONS,
  publishRaw,
  rawEvent,
  useHarness,
  testConfig,
} from './helpers';

/** A customer id in the same partition as `customerId`. */
function neighbourOf(customerId: string): string {
  const p = partitionOf(customerId, PARTITIONS);
  for (let i = 0; ; i++)
    if (partitionOf(`${customerId}-n${i}`, PARTITIONS) === p) return `${customerId}-n${i}`;
}

describe('profile size budget (real NATS + MongoDB-wire)', function () {
  this.timeout(120_000);

  describe('service', () => {
    const h = useHarness('budget');
    let deadLetters: Collector<Uint8Array>;
    before(() => {
      deadLetters = new Collector(h.nc, 'dlq.>', (d) => d);
    });

    it('a customer whose traits outgrow the message size keeps being enriched, and so do the others of its partition, with nothing dead-lettered', async () => {
      const poison = 'budget-poison';
      const other = neighbourOf(poison);
      // 40 new traits of 30,000 characters: 1.2 MB of traits, past NATS's 1 MiB max_payload.
      for (let i = 0; i < 40; i++)
        await publishRaw(
          h,
          rawEvent(`bp-${i}`, poison, 'profile.updated', { traits: { [`blob_${i}`]: 'x'.repeat(30_000) } }),
        );
      const later = [
        rawEvent('bp-after-1', poison, 'order.completed', { revenue: 5 }),
        rawEvent('bo-1', other, 'page.viewed'),
        rawEvent('bp-after-2', poison, 'page.viewed'),
        rawEvent('bo-2', other, 'order.completed', { revenue: 7 }),
      ];
      for (const e of later) await publishRaw(h, e);

      // In stream order: once the last one is enriched, every earlier one of the partition was handled.
      await waitFor(() => enrichedFor(h, 'bo-2'), { timeoutMs: 60_000, message: 'enriched bo-2' });
      const ids = [...Array.from({ length: 40 }, (_, i) => `bp-${i}`), ...later.map((e) => e.id)];
      const missing = ids.filter((id) => !enrichedFor(h, id));
      assert.deepEqual(missing, [], 'every event enriched');
      assert.equal(deadLetters.items.length, 0, 'nothing dead-lettered');

      const after2 = enrichedFor(h, 'bp-after-2')!.profile!;
      assert.equal(after2.counters!.totalEvents, 42);
      assert.equal(after2.counters!.purchases, 1);
      // The snapshot carries only part of the traits and names the ones it left out.
      assert.ok(after2.omittedTraits.length > 0, 'some traits omitted from the snapshot');
      for (const name of after2.omittedTraits) assert.equal(after2.traits?.[name], undefined);
      assert.equal(enrichedFor(h, 'bo-2')!.profile!.counters!.purchases, 1);

      // The stored profile stays within its budget: the traits that would overflow it were refused.
      await h.app.writer.committed();
      const stored = await h.app.store.read(poison);
      const traitNames = Object.keys(stored!.traits);
      assert.ok(traitNames.length > 0 && traitNames.length < 40, `${traitNames.length} traits stored`);
      assert.ok(Buffer.byteLength(JSON.stringify(stored)) <= 256 * 1024, 'stored profile within 256 KiB');
    });

    it('a trait the database cannot store (a nested $ or . name, NaN) is skipped, so the profile writes of every customer go on', async () => {
      const poison = 'unstorable-poison';
      const other = neighbourOf(poison);
      await publishRaw(h, rawEvent('us-1', poison, 'profile.updated', { traits: { x: { $set: 1 }, ok: 1 } }));
      await publishRaw(
        h,
        rawEvent('us-2', poison, 'profile.updated', { score: Number.NaN, 'a.b': { c: 1 } }),
      );
      await publishRaw(h, rawEvent('us-3', other, 'profile.updated', { plan: 'pro' }));
      await waitFor(() => enrichedFor(h, 'us-3'), { timeoutMs: 30_000, message: 'enriched us-3' });
      // Written: a write the database refuses would be retried forever, holding every profile back.
      const stored = await waitFor(() => h.app.store.read(other), {
        timeoutMs: 30_000,
        message: `profile of ${other} written`,
      });
      assert.equal(stored.traits.plan, 'pro');
      const poisoned = await waitFor(() => h.app.store.read(poison), {
        timeoutMs: 30_000,
        message: `profile of ${poison} written`,
      });
      assert.deepEqual(poisoned.traits, { ok: 1 });
      assert.equal(poisoned.counters.total_events, 2);
    });

    it('the write-behind drops a profile whose document the database refuses and writes the others of its flush', async () => {
      const now = new Date(h.clock.now());
      const unstorable = (doc: ProfileDoc): ProfileDoc => ({
        ...doc,
        traits: { x: { $bad: 1 } },
        version: doc.version + 1,
      });
      // Inserts: one refused, one fine, in one flush.
      h.app.writer.record(undefined, unstorable(newProfile('wb-refused', now)), []);
      h.app.writer.record(undefined, { ...newProfile('wb-good', now), version: 1 }, []);
      await h.app.writer.committed();
      assert.equal(await h.app.store.read('wb-refused'), undefined);
      const good = (await h.app.store.read('wb-good'))!;
      assert.equal(good.version, 1);
      // Updates: the stored profile stays as it was, the other is written.
      const base = (await h.app.store.getForWrite('wb-good'))!;
      h.app.writer.record(base, unstorable(base), []);
      h.app.writer.record(undefined, { ...newProfile('wb-good-2', now), version: 1 }, []);
      await h.app.writer.committed();
      assert.deepEqual((await h.app.store.read('wb-good'))!.traits, {});
      assert.ok(await h.app.store.read('wb-good-2'));
      // And the writer goes on: the next change of the refused customer is written.
      await h.app.writer.apply(
        'wb-good',
        (current) => current && { ...current, traits: { ok: 1 }, version: current.version + 1 },
      );
      assert.deepEqual((await h.app.store.read('wb-good'))!.traits, { ok: 1 });
    });

    it('refuses to start when the traits an enriched event embeds could take more than half the max_payload', async () => {
      await assert.rejects(
        startEnrichment(
          {
            ...testConfig(),
            KAIROS_PROFILE_MAX_BYTES: 1 << 20,
            KAIROS_PROFILE_MAX_TRAIT_BYTES: 1 << 15,
            KAIROS_ENRICHED_MAX_TRAITS_BYTES: 1 << 20,
          },
          {
            nc: h.nc,
            db: h.mongo.db(h.dbName),
            logger: createLogger('budget-test', 'silent'),
            settings: DEFAULT_SETTINGS,
          },
        ),
        /KAIROS_ENRICHED_MAX_TRAITS_BYTES: 1048576 is more than half the NATS server's max_payload \(1048576\)/,
      );
    });

    it('Upsert answers INVALID_ARGUMENT naming the trait and the limit for an 8 MiB trait', async () => {
      const req = profiles.UpsertRequest.fromPartial({
        customerId: 'budget-upsert',
        traits: { huge: 'y'.repeat(8 * 1024 * 1024) },
      });
      const err = await call<profiles.UpsertRequest, profiles.UpsertResponse>(h.client, 'upsert', req).then(
        () => assert.fail('an 8 MiB trait was accepted'),
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /^traits\.huge: /);
      assert.match(err.details, /at most 32768 bytes/);
      assert.equal(await h.app.store.read('budget-upsert'), undefined, 'nothing stored');
    });

    it('RecordCommunication refuses a 10 KB workflow name by the identifier rule, before it reaches the profile', async () => {
      const req = profiles.RecordCommunicationRequest.fromPartial({
        customerId: 'budget-poison',
        communication: { actionId: 'a-big', status: 'sent', workflow: 'w'.repeat(10_000), channel: 'email' },
      });
      const err = await call<profiles.RecordCommunicationRequest, profiles.RecordCommunicationResponse>(
        h.client,
        'recordCommunication',
        req,
      ).then(
        () => assert.fail('a 10 KB workflow name was recorded'),
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, 'communication.workflow: at most 128 characters, got 10000');
    });
  });
});
