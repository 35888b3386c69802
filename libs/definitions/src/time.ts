/** Durations (`30s`, `10m`, `1h30m`, `7d`, `250ms`, `0m`) and times of day (`09:00`). */

const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1000, 1];

/** Parses a duration into milliseconds; undefined when it is not a valid duration. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  let ms = 0;
  let any = false;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) {
      any = true;
      ms += Number(part) * UNIT_MS[i];
    }
  }
  return any && Number.isSafeInteger(ms) ? ms : undefined;
}

/** Formats milliseconds as the shortest duration string (`1h30m`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let rest = ms;
  let out = '';
  for (const [u, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}

/** A local time of day (in the customer's time zone). */
export interface TimeOfDay {
  hour: number;
  minute: number;
  /** Minutes since midnight. */
  minutes: number;
  /** Source text, `HH:MM`. */
  text: string;
}

const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function parseTimeOfDay(text: string): TimeOfDay | undefined {
  if (typeof text !== 'string') return undefined;
  const m = TIME_RE.exec(text);
  if (!m) return undefined;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  return { hour, minute, minutes: hour * 60 + minute, text };
}

/** `10%` or a number 0-100 -> percentage; undefined when invalid. */
export function parsePercent(v: unknown): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+(\.\d+)?%$/.test(v)) n = Number(v.slice(0, -1));
  else return undefined;
  return Number.isFinite(n) && n >= 0 && n <= 100 ? n : undefined;
}
