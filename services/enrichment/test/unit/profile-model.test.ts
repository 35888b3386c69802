import assert from 'node:assert/strict';
import { BSON } from 'mongodb';
import {
  addRecentCommunication,
  APPLIED_EVENT_IDS,
  approximateBytes,
  appliedEventIds,
  applyEvent,
  applyUpsert,
  FieldError,
  mergeTraits,
  newProfile,
  toProto,
  type CommunicationDoc,
} from '../../src/domain/profile-model';
import { customerEvent, eventRules, NOW } from './model-fixtures';

const BUDGET = { maxProfileBytes: 256 * 1024, maxTraitBytes: 32 * 1024 };
const rules = eventRules('identify', BUDGET);

describe('profile size for the cache bound', () => {
  it('is within 10% of the BSON size, for a new profile and one with history and traits', () => {
    let p = newProfile('customer-1', NOW);
    const fresh = [approximateBytes(p), BSON.calculateObjectSize(p)];
    p = applyUpsert(
      p,
      {
        customerId: 'customer-1',
        traits: { name: 'Ada', plan: 'pro', tags: ['a', 'b'] },
        dates: {},
        timeZone: '',
      },
      NOW,
      BUDGET,
    );
    for (let i = 0; i < 150; i++)
      p = applyEvent(p, customerEvent(`evt-0196f0c2-7f7e-${i}`, `type.${i % 20}`), rules, NOW)!.profile;
    const grown = [approximateBytes(p), BSON.calculateObjectSize(p)];
    for (const [approx, exact] of [fresh, grown])
      assert.ok(Math.abs(approx - exact) <= exact * 0.1, `${approx} vs ${exact}`);
    assert.ok(grown[1] > 2 * fresh[1]);
  });
});

describe('profile merge logic', () => {
  it('merges traits and removes a trait whose value is null', () => {
    assert.deepEqual(mergeTraits({ a: 1, b: 2 }, { b: null, c: 'x' }), { a: 1, c: 'x' });
  });

  it('rejects trait names with dots or a leading $, naming the field', () => {
    assert.throws(
      () => mergeTraits({}, { 'a.b': 1 }),
      (e: FieldError) => e.field === 'traits.a.b',
    );
    assert.throws(() => mergeTraits({}, { $set: 1 }), FieldError);
  });

  it('rejects a trait value the database cannot store, naming the field inside it, and merges nothing of that patch', () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : { n: nested(depth - 1) });
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ x: { $set: 1 } }, 'traits.x.$set', /must not contain '\.' or NUL, nor start with '\$'/],
      [{ x: [{ 'a.b': 1 }] }, 'traits.x[0].a.b', /names inside a trait/],
      [{ x: { 'a\0': 1 } }, 'traits.x.a\0', /names inside a trait/],
      [{ 'a\0': 1 }, 'traits.a\0', /trait names must be non-empty/],
      [{ score: Number.NaN }, 'traits.score', /must be a finite number, got NaN/],
      [{ x: [1, Infinity] }, 'traits.x[1]', /finite number/],
      [{ deep: nested(40) }, `traits.deep${'.n'.repeat(32)}`, /nesting deeper than 32/],
    ];
    for (const [patch, field, message] of cases)
      assert.throws(
        () => mergeTraits({ kept: 1 }, { ok: 2, ...patch }),
        (e: FieldError) => e.field === field && message.test(e.message),
        field,
      );
    assert.deepEqual(mergeTraits({}, { deep: nested(31), x: { '': 1, 'ü-名': [1.5] } }).x, {
      '': 1,
      'ü-名': [1.5],
    });
  });

  it('counts events per type, first and last seen, purchases and lifetime value', () => {
    let p = newProfile('c1', NOW);
    p = applyEvent(
      p,
      customerEvent('e1', 'page.viewed', {}, new Date('2026-03-01T00:00:00Z')),
      rules,
      NOW,
    )!.profile;
    p = applyEvent(
      p,
      customerEvent('e2', 'order.completed', { revenue: 19.9 }, new Date('2026-03-05T00:00:00Z')),
      rules,
      NOW,
    )!.profile;
    p = applyEvent(
      p,
      customerEvent('e3', 'order.completed', { revenue: '10.1' }, new Date('2026-02-01T00:00:00Z')),
      rules,
      NOW,
    )!.profile;
    assert.equal(p.counters.total_events, 3);
    assert.deepEqual(p.counters.events_by_type, [
      { t: 'page.viewed', n: 1 },
      { t: 'order.completed', n: 2 },
    ]);
    assert.equal(p.counters.purchases, 2);
    assert.equal(p.counters.lifetime_value, 30);
    assert.equal(
      p.counters.first_seen!.toISOString(),
      '2026-02-01T00:00:00.000Z',
      'an older event moves first_seen back',
    );
    assert.equal(
      p.counters.last_seen!.toISOString(),
      '2026-03-05T00:00:00.000Z',
      'an older event leaves last_seen',
    );
  });

  it('does not apply the same event id twice, and keeps a bounded list of applied ids', () => {
    const p = applyEvent(newProfile('c1', NOW), customerEvent('e1', 'page.viewed'), rules, NOW)!.profile;
    assert.equal(applyEvent(p, customerEvent('e1', 'page.viewed'), rules, NOW), undefined);
    let q = p;
    for (let i = 0; i < APPLIED_EVENT_IDS + 10; i++)
      q = applyEvent(q, customerEvent(`x${i}`, 'page.viewed'), rules, NOW)!.profile;
    assert.equal(appliedEventIds(q).length, APPLIED_EVENT_IDS);
    assert.equal(appliedEventIds(q).at(-1), `x${APPLIED_EVENT_IDS + 9}`);
  });

  it('does not mutate the profile it was given, nested parts included', () => {
    const first = applyEvent(
      newProfile('c1', NOW),
      customerEvent('e0', 'identify', {
        push_token: 't0',
        opted_out_channels: ['sms'],
        dates: { a: '2000-01-01' },
      }),
      rules,
      NOW,
    )!.profile;
    const before = structuredClone(first);
    const props = {
      traits: { plan: 'pro' },
      push_token: 't1',
      email: 'x@example.test',
      consent: { marketing: false },
      preferred_channel: 'email',
      opted_out_channels: ['push'],
      dates: { b: '2001-02-03' },
      time_zone: 'Europe/Paris',
    };
    const next = applyEvent(first, customerEvent('e1', 'identify', props), rules, NOW)!.profile;
    applyEvent(first, customerEvent('e2', 'identify'), rules, NOW);
    assert.deepEqual(first, before);
    assert.deepEqual(next.contacts.push_tokens, ['t0', 't1']);
    assert.equal(next.counters.events_by_type[0].n, 2);
  });

  it('takes traits, contacts, consent, preferences, time zone and dates from identify events', () => {
    const { profile, problems } = applyEvent(
      newProfile('c1', NOW),
      customerEvent('e1', 'identify', {
        traits: { plan: 'pro' },
        name: 'Ada',
        email: 'ada@example.test',
        push_token: 'tok-1',
        consent: { marketing: true },
        preferred_channel: 'push',
        opted_out_channels: ['sms'],
        time_zone: 'Europe/Paris',
        dates: { birthday: '1990-05-01', renewal_date: 'soon' },
      }),
      rules,
      NOW,
    )!;
    assert.deepEqual(profile.traits, { plan: 'pro', name: 'Ada' });
    assert.equal(profile.contacts.email, 'ada@example.test');
    assert.deepEqual(profile.contacts.push_tokens, ['tok-1']);
    assert.deepEqual(profile.consent, { marketing: true, transactional: true });
    assert.deepEqual(profile.preferences, { preferred_channel: 'push', opted_out_channels: ['sms'] });
    assert.equal(profile.time_zone, 'Europe/Paris');
    assert.deepEqual(profile.dates, { birthday: '1990-05-01' });
    assert.match(problems.join(), /properties\.dates\.renewal_date/);
  });

  it('ignores profile properties on events that are not profile events', () => {
    const { profile } = applyEvent(
      newProfile('c1', NOW),
      customerEvent('e1', 'page.viewed', { email: 'x@y.z' }),
      rules,
      NOW,
    )!;
    assert.equal(profile.contacts.email, '');
  });

  it('upserts: merges traits and dates, replaces present sections, keeps unset contact fields', () => {
    const base = newProfile('c1', NOW);
    base.traits = { a: 1, b: 2 };
    base.contacts.phone = '+33100000000';
    base.dates = { birthday: '1990-05-01' };
    const next = applyUpsert(
      base,
      {
        customerId: 'c1',
        traits: { b: null, c: 3 },
        consent: { marketing: true, transactional: false },
        contacts: { email: 'a@b.c', phone: '', pushTokens: [], webhookUrl: '' },
        timeZone: 'Asia/Tokyo',
        dates: { trial_end: '2026-04-01', birthday: '' },
      },
      NOW,
      BUDGET,
    );
    assert.deepEqual(next.traits, { a: 1, c: 3 });
    assert.deepEqual(next.consent, { marketing: true, transactional: false });
    assert.equal(next.contacts.email, 'a@b.c');
    assert.equal(next.contacts.phone, '+33100000000');
    assert.equal(next.time_zone, 'Asia/Tokyo');
    assert.deepEqual(next.dates, { trial_end: '2026-04-01' }, 'an empty date value removes it');
  });

  it('rejects an unknown time zone and a malformed date, naming the field', () => {
    const base = newProfile('c1', NOW);
    assert.throws(
      () => applyUpsert(base, { customerId: 'c1', timeZone: 'Nowhere/Land', dates: {} }, NOW, BUDGET),
      /time_zone/,
    );
    assert.throws(
      () =>
        applyUpsert(base, { customerId: 'c1', timeZone: '', dates: { birthday: '01/05/1990' } }, NOW, BUDGET),
      (e: FieldError) => e.field === 'dates.birthday',
    );
  });

  it('keeps one embedded entry per action, upgrading its status, newest first, bounded', () => {
    const comm = (id: string, status: string, minute: number): CommunicationDoc => ({
      action_id: id,
      workflow: 'w',
      trigger: 't',
      channel: 'email',
      status,
      at: new Date(Date.UTC(2026, 0, 1, 0, minute)),
      template: '',
      transactional: false,
    });
    let added = addRecentCommunication([], comm('a1', 'sent', 1), 2)!;
    added = addRecentCommunication(added.list, comm('a2', 'sent', 2), 2)!;
    assert.deepEqual(
      added.list.map((c) => c.action_id),
      ['a2', 'a1'],
    );
    assert.equal(added.trimmedAt, undefined, 'nothing trimmed while under the bound');
    added = addRecentCommunication(added.list, comm('a1', 'opened', 5), 2)!;
    assert.equal(added.list.find((c) => c.action_id === 'a1')!.status, 'opened');
    assert.equal(
      addRecentCommunication(added.list, comm('a1', 'delivered', 6), 2),
      undefined,
      'a lower status changes nothing',
    );
    added = addRecentCommunication(added.list, comm('a3', 'sent', 3), 2)!;
    assert.deepEqual(
      added.list.map((c) => c.action_id),
      ['a3', 'a2'],
    );
    assert.deepEqual(added.trimmedAt, comm('a1', 'sent', 1).at, 'the send time of the entry pushed out');
    const late = addRecentCommunication(added.list, comm('a0', 'sent', 0), 2)!;
    assert.deepEqual(late.list, added.list, 'an entry older than a full list is not kept');
    assert.deepEqual(late.trimmedAt, comm('a0', 'sent', 0).at);
  });

  it('maps a profile to the proto shape with events_by_type as a map', () => {
    const p = applyEvent(newProfile('c1', NOW), customerEvent('e1', 'page.viewed'), rules, NOW)!.profile;
    const proto = toProto(p, 'new');
    assert.equal(proto.customerId, 'c1');
    assert.equal(proto.journeyStage, 'new');
    assert.deepEqual(proto.counters!.eventsByType, { 'page.viewed': 1 });
  });
});
