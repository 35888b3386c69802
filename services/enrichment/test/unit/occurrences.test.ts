import assert from 'node:assert/strict';
import { nextOccurrence, occurrenceId } from '../../src/domain/occurrences';
import type { DateRule } from '../../src/domain/settings';

const birthday: DateRule = {
  name: 'birthday',
  attribute: 'birthday',
  eventType: 'date.birthday',
  offsetDays: 0,
  at: '09:00',
  recurrence: 'yearly',
};

describe('date occurrences', () => {
  it('fires at the local time in the customer zone', () => {
    const occ = nextOccurrence(birthday, '1990-05-01', 'Europe/Paris', Date.parse('2026-01-01T00:00:00Z'))!;
    assert.equal(occ.date, '2026-05-01');
    // Paris is UTC+2 in May (summer time).
    assert.equal(occ.fireAt.toISOString(), '2026-05-01T07:00:00.000Z');
    const tokyo = nextOccurrence(birthday, '1990-05-01', 'Asia/Tokyo', Date.parse('2026-01-01T00:00:00Z'))!;
    assert.equal(tokyo.fireAt.toISOString(), '2026-05-01T00:00:00.000Z');
  });

  it('uses UTC for an empty or unknown time zone', () => {
    const from = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(
      nextOccurrence(birthday, '1990-05-01', '', from)!.fireAt.toISOString(),
      '2026-05-01T09:00:00.000Z',
    );
    assert.equal(
      nextOccurrence(birthday, '1990-05-01', 'Mars/Olympus', from)!.fireAt.toISOString(),
      '2026-05-01T09:00:00.000Z',
    );
  });

  it('moves to next year once this year fired', () => {
    const occ = nextOccurrence(birthday, '1990-05-01', 'UTC', Date.parse('2026-05-01T09:00:00.001Z'))!;
    assert.equal(occ.date, '2027-05-01');
    const sameInstant = nextOccurrence(birthday, '1990-05-01', 'UTC', Date.parse('2026-05-01T09:00:00Z'))!;
    assert.equal(sameInstant.date, '2026-05-01', 'an occurrence exactly at the from instant is still due');
  });

  it('applies negative offsets as calendar days before, crossing the year boundary', () => {
    const rule: DateRule = { ...birthday, name: 'renewal-reminder', offsetDays: -7 };
    const occ = nextOccurrence(rule, '2020-01-03', 'America/New_York', Date.parse('2026-06-01T00:00:00Z'))!;
    assert.equal(occ.date, '2027-01-03', 'the occurrence is named by the anniversary');
    assert.equal(
      occ.fireAt.toISOString(),
      '2026-12-27T14:00:00.000Z',
      '7 days before, 09:00 New York (UTC-5)',
    );
  });

  it('celebrates a 29 February birthday on 28 February in non-leap years and on 29 in leap years', () => {
    const from = Date.parse('2027-01-01T00:00:00Z');
    assert.equal(nextOccurrence(birthday, '2000-02-29', 'UTC', from)!.date, '2027-02-28');
    assert.equal(
      nextOccurrence(birthday, '2000-02-29', 'UTC', Date.parse('2028-01-01T00:00:00Z'))!.date,
      '2028-02-29',
    );
  });

  it('starts yearly rules at the date itself, not before', () => {
    const occ = nextOccurrence(birthday, '2030-07-14', 'UTC', Date.parse('2026-01-01T00:00:00Z'))!;
    assert.equal(occ.date, '2030-07-14');
  });

  it('fires a once rule only for the date itself', () => {
    const rule: DateRule = { ...birthday, name: 'trial-end', recurrence: 'once' };
    assert.equal(
      nextOccurrence(rule, '2026-03-01', 'UTC', Date.parse('2026-02-01T00:00:00Z'))!.date,
      '2026-03-01',
    );
    assert.equal(nextOccurrence(rule, '2026-03-01', 'UTC', Date.parse('2026-03-02T00:00:00Z')), undefined);
  });

  it('keeps the local time across a DST change (fires at 09:00 both in winter and summer)', () => {
    const winter = nextOccurrence(
      birthday,
      '1990-01-15',
      'Europe/Paris',
      Date.parse('2026-01-01T00:00:00Z'),
    )!;
    const summer = nextOccurrence(
      birthday,
      '1990-07-15',
      'Europe/Paris',
      Date.parse('2026-01-01T00:00:00Z'),
    )!;
    assert.equal(winter.fireAt.toISOString(), '2026-01-15T08:00:00.000Z');
    assert.equal(summer.fireAt.toISOString(), '2026-07-15T07:00:00.000Z');
  });

  it('ignores invalid dates', () => {
    assert.equal(nextOccurrence(birthday, '1990-02-30', 'UTC', 0), undefined);
    assert.equal(nextOccurrence(birthday, 'May 1st', 'UTC', 0), undefined);
  });

  it('derives a deterministic occurrence id', () => {
    assert.equal(occurrenceId('c-1', 'birthday', '2026-05-01'), 'time:c-1:birthday:2026-05-01');
  });
});
