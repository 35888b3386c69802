/** ISO 8601 formatting of event times for explanations, without Date objects on the common path. */

/** Largest epoch ms whose ISO string still has a 4-digit year (9999-12-31T23:59:59.999Z). */
const ISO_FAST_MAX = 253_402_300_800_000;

/** "00".."99" and "000".."999": formatting many times per firing without building digit strings. */
const DIGITS2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** The date part (`YYYY-MM-DDT`) of the last day formatted: times in one firing share their day. */
let isoDay = NaN;
let isoDayPrefix = '';
/**
 * Recently formatted times, direct-mapped by the low bits of the time: a firing formats its
 * completing event's time at least twice, and one event often completes several triggers.
 */
const ISO_CACHE = 1024;
const isoTimes = new Float64Array(ISO_CACHE).fill(NaN);
const isoStrings: string[] = new Array<string>(ISO_CACHE).fill('');

/**
 * `new Date(t).toISOString()` (or String(t) for an invalid date), computed arithmetically for integer
 * times in [1970, 10000): explanations format many times per firing and Date objects are costly.
 */
export function iso(t: number): string {
  if (!(t >= 0 && t < ISO_FAST_MAX && t % 1 === 0)) {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
  }
  const slot = t % ISO_CACHE;
  if (isoTimes[slot] === t) return isoStrings[slot];
  const days = Math.floor(t / 86_400_000);
  let rest = t - days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const s = Math.floor(rest / 1000);
  const ms = rest - s * 1000;
  if (days !== isoDay) {
    isoDay = days;
    isoDayPrefix = isoDate(days);
  }
  const out = `${isoDayPrefix}${DIGITS2[h]}:${DIGITS2[mi]}:${DIGITS2[s]}.${DIGITS3[ms]}Z`;
  isoTimes[slot] = t;
  isoStrings[slot] = out;
  return out;
}

/** `YYYY-MM-DDT` of a day number (days since 1970-01-01, >= 0): civil-from-days (H. Hinnant). */
function isoDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const yyyy = y < 1000 ? `000${y}`.slice(-4) : `${y}`;
  return `${yyyy}-${DIGITS2[m]}-${DIGITS2[d]}T`;
}
