import * as assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { parseTimeOfDay, type WaitStep } from '@kairos/definitions';
import {
  chooseWaitVariant,
  customerZone,
  nextLocalTime,
  quietHoursEnd,
  waitDue,
} from '../../src/domain/timing';

const tod = (t: string) => parseTimeOfDay(t)!;
const at = (iso: string, zone: string) => DateTime.fromISO(iso, { zone }).toMillis();

describe('timing', () => {
  describe('quiet hours in the customer time zone', () => {
    const night = { from: tod('21:00'), to: tod('08:00') };

    it('spans midnight and ends at the next local 08:00', () => {
      const end = quietHoursEnd(at('2026-03-10T23:30', 'Europe/Paris'), night, 'Europe/Paris');
      assert.equal(end, at('2026-03-11T08:00', 'Europe/Paris'));
      const early = quietHoursEnd(at('2026-03-11T06:00', 'Europe/Paris'), night, 'Europe/Paris');
      assert.equal(early, at('2026-03-11T08:00', 'Europe/Paris'));
    });

    it('is not quiet during the day, and `to` is exclusive', () => {
      assert.equal(quietHoursEnd(at('2026-03-10T12:00', 'Europe/Paris'), night, 'Europe/Paris'), undefined);
      assert.equal(quietHoursEnd(at('2026-03-10T08:00', 'Europe/Paris'), night, 'Europe/Paris'), undefined);
      assert.notEqual(
        quietHoursEnd(at('2026-03-10T21:00', 'Europe/Paris'), night, 'Europe/Paris'),
        undefined,
      );
    });

    it('judges the same instant by each customer own clock', () => {
      const instant = Date.UTC(2026, 2, 10, 22, 0); // 23:00 Paris, 07:00 next day Tokyo, 18:00 New York
      assert.notEqual(quietHoursEnd(instant, night, 'Europe/Paris'), undefined);
      assert.equal(quietHoursEnd(instant, night, 'Asia/Tokyo'), at('2026-03-11T08:00', 'Asia/Tokyo'));
      assert.equal(quietHoursEnd(instant, night, 'America/New_York'), undefined);
    });

    it('handles a same-day window', () => {
      const lunch = { from: tod('12:00'), to: tod('14:00') };
      assert.equal(quietHoursEnd(at('2026-03-10T13:00', 'UTC'), lunch, 'UTC'), at('2026-03-10T14:00', 'UTC'));
      assert.equal(quietHoursEnd(at('2026-03-10T15:00', 'UTC'), lunch, 'UTC'), undefined);
    });

    it('falls back to UTC for empty or unknown zones', () => {
      assert.equal(customerZone(''), 'UTC');
      assert.equal(customerZone('Mars/Olympus'), 'UTC');
      assert.equal(customerZone('Asia/Kolkata'), 'Asia/Kolkata');
    });
  });

  describe('timer due computation', () => {
    it('adds a fixed duration', () => {
      const step: WaitStep = { id: 'steps[0]', kind: 'wait', mode: 'duration', durationMs: 7_200_000 };
      assert.deepEqual(waitDue(step, 'run-1', 1_000, 'UTC'), { dueAt: 7_201_000 });
    });

    it('waits until the next local time of day, today or tomorrow', () => {
      const step: WaitStep = { id: 'steps[0]', kind: 'wait', mode: 'until', until: tod('09:00') };
      const zone = 'America/New_York';
      assert.equal(
        waitDue(step, 'r', at('2026-06-01T07:15', zone), zone).dueAt,
        at('2026-06-01T09:00', zone),
      );
      assert.equal(
        waitDue(step, 'r', at('2026-06-01T10:00', zone), zone).dueAt,
        at('2026-06-02T09:00', zone),
      );
    });

    it('keeps the local time across a daylight-saving change', () => {
      // Europe/Paris springs forward on 2026-03-29: 09:00 local is then 07:00 UTC, not 08:00.
      const due = nextLocalTime(at('2026-03-28T22:00', 'Europe/Paris'), tod('09:00'), 'Europe/Paris');
      assert.equal(new Date(due).toISOString(), '2026-03-29T07:00:00.000Z');
    });

    it('records the timing variant of a variants wait', () => {
      const step: WaitStep = {
        id: 'steps[0]',
        kind: 'wait',
        mode: 'variants',
        variants: [
          { name: 'immediate', durationMs: 0, weight: 1 },
          { name: 'later', durationMs: 3_600_000, weight: 1 },
        ],
      };
      const due = waitDue(step, 'run-x', 0, 'UTC');
      assert.ok(due.variant === 'immediate' || due.variant === 'later');
      assert.equal(due.dueAt, due.variant === 'later' ? 3_600_000 : 0);
      assert.deepEqual(waitDue(step, 'run-x', 0, 'UTC'), due, 'deterministic per run');
    });
  });

  describe('A/B delay assignment', () => {
    it('follows the weights over many runs (30/70 within 2 points over 10k runs)', () => {
      const variants = [
        { name: 'a', durationMs: 0, weight: 30 },
        { name: 'b', durationMs: 1, weight: 70 },
      ];
      let a = 0;
      for (let i = 0; i < 10_000; i++) if (chooseWaitVariant(`run_${i}`, variants).name === 'a') a++;
      assert.ok(Math.abs(a / 100 - 30) < 2, `share of a: ${a / 100}%`);
    });

    it('never picks a zero-weight variant', () => {
      const variants = [
        { name: 'never', durationMs: 0, weight: 0 },
        { name: 'always', durationMs: 1, weight: 5 },
      ];
      for (let i = 0; i < 1_000; i++) assert.equal(chooseWaitVariant(`r${i}`, variants).name, 'always');
    });
  });
});
