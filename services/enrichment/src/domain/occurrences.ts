import { DateTime } from 'luxon';
import type { DateRule } from './settings';
import { isValidIsoDate } from './profile-model';

/** One firing of a date rule for one customer. */
export interface Occurrence {
  rule: string;
  /** The anniversary (or the date itself for `once` rules), YYYY-MM-DD; part of the event id. */
  date: string;
  /** When to emit: the anniversary plus the offset, at the rule's local time in the customer's zone. */
  fireAt: Date;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The deterministic id of an occurrence: the emitted event's id and its Nats-Msg-Id. */
export function occurrenceId(customerId: string, rule: string, date: string): string {
  return `time:${customerId}:${rule}:${date}`;
}

function fireTime(rule: DateRule, year: number, month: number, day: number, zone: string): Date {
  const [hour, minute] = rule.at.split(':').map(Number);
  // Offsets move the calendar date; the wall-clock time is then applied in the customer's zone.
  // Luxon moves a time that falls in a DST gap forward, so it still fires that day.
  const local = DateTime.fromObject({ year, month, day }, { zone })
    .plus({ days: rule.offsetDays })
    .set({ hour, minute, second: 0, millisecond: 0 });
  return local.toJSDate();
}

/**
 * The first occurrence of `rule` for the date attribute `value` whose fire time is at or after
 * `fromMs`, or undefined (invalid date, or a `once` rule already past). Yearly rules start at the
 * date itself; a 29 February date falls on 28 February in non-leap years.
 */
export function nextOccurrence(
  rule: DateRule,
  value: string,
  timeZone: string,
  fromMs: number,
): Occurrence | undefined {
  if (!isValidIsoDate(value)) return undefined;
  const zone = timeZone && DateTime.local().setZone(timeZone).isValid ? timeZone : 'UTC';
  const [y, m, d] = value.split('-').map(Number);
  if (rule.recurrence === 'once') {
    const fireAt = fireTime(rule, y, m, d, zone);
    return fireAt.getTime() >= fromMs ? { rule: rule.name, date: value, fireAt } : undefined;
  }
  const fromYear = DateTime.fromMillis(fromMs, { zone }).year;
  // An offset of up to a year either way can put the fire time in the neighbouring year.
  const firstYear = Math.max(y, fromYear - 2);
  for (let year = firstYear; year <= firstYear + 4; year++) {
    const day = m === 2 && d === 29 && !isLeap(year) ? 28 : d;
    const fireAt = fireTime(rule, year, m, day, zone);
    if (fireAt.getTime() >= fromMs)
      return { rule: rule.name, date: `${pad(year, 4)}-${pad(m)}-${pad(day)}`, fireAt };
  }
  return undefined;
}
