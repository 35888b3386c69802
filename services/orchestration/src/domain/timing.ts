import { DateTime } from 'luxon';
import type { TimeOfDay, WaitStep, WaitVariant } from '@kairos/definitions';
import { unitInterval } from './hashing';

/** A customer's IANA zone, UTC when empty or unknown to the runtime. */
export function customerZone(timeZone: string | undefined): string {
  if (!timeZone) return 'UTC';
  return DateTime.now().setZone(timeZone).isValid ? timeZone : 'UTC';
}

/**
 * Picks a timing variant by weight, deterministically from the run id: a replayed or resumed run
 * always gets the same variant, and over many runs the shares follow the weights.
 */
export function chooseWaitVariant(runId: string, variants: readonly WaitVariant[]): WaitVariant {
  const total = variants.reduce((sum, v) => sum + Math.max(0, v.weight), 0);
  if (variants.length === 0) throw new Error('wait step has no variants');
  if (total <= 0) return variants[0];
  let point = unitInterval('timing', runId) * total;
  for (const v of variants) {
    point -= Math.max(0, v.weight);
    if (point < 0) return v;
  }
  return variants[variants.length - 1];
}

/** Next instant (after `nowMs`, or equal) at which the local clock in `zone` shows `at`. */
export function nextLocalTime(nowMs: number, at: TimeOfDay, zone: string): number {
  const now = DateTime.fromMillis(nowMs, { zone });
  let candidate = now.set({ hour: at.hour, minute: at.minute, second: 0, millisecond: 0 });
  if (candidate.toMillis() < nowMs) candidate = candidate.plus({ days: 1 });
  return candidate.toMillis();
}

/** The next instant at or after `nowMs` whose UTC hour is `hour`, at most `maxDelayMs` away. */
export function nextUtcHour(nowMs: number, hour: number, maxDelayMs: number): number {
  const dayStart = Math.floor(nowMs / 86_400_000) * 86_400_000;
  let t = dayStart + hour * 3_600_000;
  if (t < nowMs) t += 86_400_000;
  return Math.min(t, nowMs + maxDelayMs);
}

/** A customer's best hour to be reached (prediction's send-time estimate). */
export interface BestHour {
  /** 0-23, UTC. */
  bestHour: number;
  /** The customer's own observations behind it (0: the population prior alone). */
  evidence: number;
}

export interface WaitDue {
  dueAt: number;
  /** The timing variant chosen, for `variants` waits. */
  variant?: string;
}

/**
 * When a wait step ends, for a run started in `zone`. A `best-time` wait needs the customer's
 * `best` hour; without one (prediction unreachable) it does not wait: sending at the trigger's time
 * is what the workflow would do without the step, a guessed hour is not.
 */
export function waitDue(
  step: WaitStep,
  runId: string,
  nowMs: number,
  zone: string,
  best?: BestHour,
): WaitDue {
  switch (step.mode) {
    case 'duration':
      return { dueAt: nowMs + step.durationMs };
    case 'until':
      return { dueAt: nextLocalTime(nowMs, step.until, zone) };
    case 'variants': {
      const v = chooseWaitVariant(runId, step.variants);
      return { dueAt: nowMs + v.durationMs, variant: v.name };
    }
    case 'best-time':
      return { dueAt: best ? nextUtcHour(nowMs, best.bestHour, step.maxDelayMs) : nowMs };
  }
}

export interface QuietHours {
  from: TimeOfDay;
  to: TimeOfDay;
}

/**
 * If `nowMs` falls in the quiet hours (local to `zone`; `from` > `to` spans midnight), the instant
 * they end; otherwise undefined.
 */
export function quietHoursEnd(nowMs: number, quiet: QuietHours, zone: string): number | undefined {
  const now = DateTime.fromMillis(nowMs, { zone });
  const minutes = now.hour * 60 + now.minute;
  const { from, to } = quiet;
  const inside =
    from.minutes < to.minutes
      ? minutes >= from.minutes && minutes < to.minutes
      : minutes >= from.minutes || minutes < to.minutes;
  if (!inside) return undefined;
  return nextLocalTime(nowMs, to, zone);
}
