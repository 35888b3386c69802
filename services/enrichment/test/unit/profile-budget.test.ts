import assert from 'node:assert/strict';
import { BSON } from 'mongodb';
import { loadEnrichmentConfig, profileBudget } from '../../src/config';
import { boundTraits, traitBytes, valueBytes } from '../../src/domain/profile-budget';
import { applyEvent, applyUpsert, BudgetError, newProfile } from '../../src/domain/profile-model';
import { customerEvent, eventRules, NOW } from './model-fixtures';

const BUDGET = { maxProfileBytes: 16 * 1024, maxTraitBytes: 4 * 1024 };
const rules = eventRules('profile.updated', BUDGET);
const update = (id: string, properties: Record<string, unknown>) =>
  customerEvent(id, 'profile.updated', properties);

describe('profile size budget', () => {
  it('measures strings in UTF-8 bytes, within 1% of the BSON size of a profile', () => {
    assert.equal(valueBytes('é'), 5 + 2);
    const p = newProfile('c1', NOW);
    p.traits = { name: 'Zoë', bio: '日本語'.repeat(1000), tags: ['a', 'b'], n: 3 };
    const exact = BSON.calculateObjectSize(p);
    assert.ok(Math.abs(valueBytes(p) - exact) <= exact * 0.01, `${valueBytes(p)} vs ${exact}`);
  });

  it('folds profile events up to the budget: an over-large trait and the traits that would overflow are skipped, the event still counts', () => {
    let p = newProfile('c1', NOW);
    const problems: string[] = [];
    let overBudget = 0;
    for (let i = 0; i < 10; i++) {
      const applied = applyEvent(
        p,
        update(`e${i}`, { traits: { [`t${i}`]: 'x'.repeat(3_000) } }),
        rules,
        NOW,
      )!;
      p = applied.profile;
      problems.push(...applied.problems);
      overBudget += applied.overBudget;
    }
    const tooLarge = applyEvent(p, update('big', { huge: 'y'.repeat(5_000), small: 1 }), rules, NOW)!;
    p = tooLarge.profile;
    assert.equal(p.counters.total_events, 11, 'every event counted');
    assert.ok(valueBytes(p) <= BUDGET.maxProfileBytes, `${valueBytes(p)} bytes`);
    const kept = Object.keys(p.traits).filter((k) => k.startsWith('t'));
    assert.deepEqual(kept, ['t0', 't1', 't2', 't3', 't4'], 'the traits in order until the budget is full');
    assert.equal(overBudget, 5);
    assert.match(
      problems[0]!,
      /^properties\.traits\.t5: not stored: the profile would take \d+ bytes, past its budget of 16384 bytes$/,
    );
    assert.match(
      tooLarge.problems[0]!,
      /^properties\.traits\.huge: takes 5011 bytes; a trait may take at most 4096 bytes$/,
    );
    assert.equal(p.traits.small, 1, 'a small trait of the same event still fits');
    // Removing and shrinking always apply, and make room again.
    p = applyEvent(p, update('shrink', { t0: null, t1: 'short' }), rules, NOW)!.profile;
    p = applyEvent(p, update('again', { t9: 'z'.repeat(3_000) }), rules, NOW)!.profile;
    assert.equal(p.traits.t1, 'short');
    assert.equal(typeof p.traits.t9, 'string');
    assert.equal(p.traits.t0, undefined);
  });

  it('skips the contacts and dates of an event that would take the profile past its budget', () => {
    let p = newProfile('c1', NOW);
    p = applyEvent(
      p,
      update('e0', { traits: { a: 'x'.repeat(4_000), b: 'x'.repeat(4_000) } }),
      rules,
      NOW,
    )!.profile;
    p = applyEvent(
      p,
      update('e1', { traits: { c: 'x'.repeat(4_000), d: 'x'.repeat(3_500) } }),
      rules,
      NOW,
    )!.profile;
    const applied = applyEvent(
      p,
      update('e2', { email: 'e'.repeat(2_000), push_tokens: ['t'.repeat(1_000)], time_zone: 'Europe/Paris' }),
      rules,
      NOW,
    )!;
    assert.equal(applied.profile.contacts.email, '');
    assert.deepEqual(applied.profile.contacts.push_tokens, []);
    assert.equal(applied.profile.time_zone, '');
    assert.match(applied.problems.join(), /contacts, preferences and dates not stored/);
    assert.equal(applied.overBudget, 1);
  });

  it('Upsert: a trait past its limit, or a profile past its budget, is a BudgetError naming the field and the limit', () => {
    const base = newProfile('c1', NOW);
    const upsert = (traits: Record<string, unknown>, from = base) =>
      applyUpsert(from, { customerId: 'c1', traits, timeZone: '', dates: {} }, NOW, BUDGET);
    assert.throws(
      () => upsert({ ok: 1, huge: 'y'.repeat(8 * 1024 * 1024) }),
      (e: BudgetError) =>
        e instanceof BudgetError &&
        e.field === 'traits.huge' &&
        /a trait may take at most 4096 bytes/.test(e.message),
    );
    const full = upsert({ a: 'x'.repeat(4_000), b: 'x'.repeat(4_000), c: 'x'.repeat(4_000) });
    assert.throws(
      () => upsert({ d: 'x'.repeat(4_000) }, full),
      (e: BudgetError) => e.field === 'traits' && /past its budget of 16384 bytes/.test(e.message),
    );
    assert.throws(
      () =>
        applyUpsert(
          full,
          {
            customerId: 'c1',
            timeZone: '',
            dates: { renewal: '2026-01-01' },
            contacts: { email: 'e'.repeat(4_000), phone: '', pushTokens: [], webhookUrl: '' },
          },
          NOW,
          BUDGET,
        ),
      (e: BudgetError) => e.field === 'contacts',
    );
    // A change that does not grow a profile over budget is taken.
    assert.equal(upsert({ a: null, d: 'x'.repeat(3_000) }, full).traits.a, undefined);
  });

  it('bounds the traits of a snapshot, leaving the largest out first and naming them', () => {
    const traits = { name: 'Ada', notes: 'n'.repeat(500), bio: 'b'.repeat(300), plan: 'pro' };
    assert.deepEqual(boundTraits(traits, 10_000), { traits, omitted: [] });
    const bound = 5 + traitBytes('name', 'Ada') + traitBytes('plan', 'pro') + traitBytes('bio', traits.bio);
    assert.deepEqual(boundTraits(traits, bound), {
      traits: { name: 'Ada', bio: traits.bio, plan: 'pro' },
      omitted: ['notes'],
    });
    assert.deepEqual(boundTraits(traits, bound - 1).omitted, ['bio', 'notes']);
    assert.deepEqual(boundTraits(traits, 0), { traits: {}, omitted: ['bio', 'name', 'notes', 'plan'] });
  });

  it('is configured by validated env vars, a trait bound no larger than the profile budget', () => {
    assert.deepEqual(profileBudget(loadEnrichmentConfig({})), {
      maxProfileBytes: 256 * 1024,
      maxTraitBytes: 32 * 1024,
      enrichedTraitsBytes: 64 * 1024,
    });
    assert.equal(
      profileBudget(loadEnrichmentConfig({ KAIROS_PROFILE_MAX_BYTES: '1MiB' })).maxProfileBytes,
      1024 * 1024,
    );
    assert.throws(
      () => loadEnrichmentConfig({ KAIROS_PROFILE_MAX_BYTES: '16KiB' }),
      /KAIROS_PROFILE_MAX_TRAIT_BYTES: must not exceed KAIROS_PROFILE_MAX_BYTES/,
    );
    assert.throws(
      () => loadEnrichmentConfig({ KAIROS_ENRICHED_MAX_TRAITS_BYTES: '12' }),
      /KAIROS_ENRICHED_MAX_TRAITS_BYTES: must be at least 1024 bytes/,
    );
  });
});
