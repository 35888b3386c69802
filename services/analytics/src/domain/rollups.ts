/**
 * Pre-aggregated rollups of the message and run columns: per UTC day and per combination of the
 * dimensions a report filters or groups by, the sums a report needs. The columns keep them current:
 * whenever a slot is written, its old contribution is taken out of its cell and the new one put in
 * (a late outcome, a send that moves a message's time, a conversion credited later, retention), so
 * a cell always equals the sum over the rows it covers. A report over a range then reads the cells
 * of its whole days and only the rows of its partial first and last days.
 */

/** Start of the UTC day holding `ms`. */
export const dayOf = (ms: number) => Math.floor(ms / 86_400_000) * 86_400_000;

/** The whole UTC days of [fromMs, toMs), and the partial ranges before and after them. */
export function splitByDays(
  fromMs: number,
  toMs: number,
): { days: [number, number] | null; edges: Array<[number, number]> } {
  const first = dayOf(fromMs) === fromMs ? fromMs : dayOf(fromMs) + 86_400_000;
  const end = dayOf(toMs);
  if (first >= end) return { days: null, edges: [[fromMs, toMs]] };
  const edges: Array<[number, number]> = [];
  if (fromMs < first) edges.push([fromMs, first]);
  if (end < toMs) edges.push([end, toMs]);
  return { days: [first, end], edges };
}

/**
 * Cells of counters keyed by (day, combination of dimension ids). A combination is interned once,
 * with its ids kept so a report can filter and group cells like rows. Each combination keeps its
 * days in one array (day after day, `width` counters each), so a report sums a combination's days
 * in one tight loop and judges its filters once.
 */
export class Cells {
  private readonly comboIds = new Map<string, number>();
  /** The dimension ids of each combination, in the order the owner defines. */
  readonly combos: Int32Array[] = [];
  /** Per combination: the day number (days since the epoch) its array starts at, and the array. */
  private readonly firstDay: number[] = [];
  readonly data: Float64Array[] = [];
  private readonly sums: Float64Array;

  constructor(readonly width: number) {
    this.sums = new Float64Array(width);
  }

  /** The combination of these dimension ids. */
  combo(ids: readonly number[]): number {
    const key = ids.join(',');
    let id = this.comboIds.get(key);
    if (id === undefined) {
      id = this.combos.length;
      this.comboIds.set(key, id);
      this.combos.push(Int32Array.from(ids));
      this.firstDay.push(0);
      this.data.push(new Float64Array(0));
    }
    return id;
  }

  /** Where the counters of (day of `atMs`, combo) start in `data[combo]` (made room for, zero at first). */
  offset(atMs: number, combo: number): number {
    const day = Math.floor(atMs / 86_400_000);
    const w = this.width;
    let a = this.data[combo]!;
    let first = this.firstDay[combo]!;
    if (a.length === 0) {
      first = day;
      a = new Float64Array(w * 8);
    } else if (day < first) {
      const grown = new Float64Array(a.length + (first - day) * w);
      grown.set(a, (first - day) * w);
      a = grown;
      first = day;
    } else if ((day - first + 1) * w > a.length) {
      const grown = new Float64Array(Math.max((day - first + 1) * w, a.length * 2));
      grown.set(a);
      a = grown;
    }
    this.data[combo] = a;
    this.firstDay[combo] = first;
    return (day - first) * w;
  }

  /**
   * Calls `fn(combo, sums)` for each combination with counters in the days of [fromDayMs, toDayMs),
   * `sums` the counters summed over those days (valid during the call only).
   */
  forEach(fromDayMs: number, toDayMs: number, fn: (combo: Int32Array, sums: Float64Array) => void): void {
    const w = this.width;
    const sums = this.sums;
    const from = Math.floor(fromDayMs / 86_400_000);
    const to = Math.floor(toDayMs / 86_400_000);
    for (let c = 0; c < this.combos.length; c++) {
      const a = this.data[c]!;
      const first = this.firstDay[c]!;
      const lo = Math.max(from, first) - first;
      const hi = Math.min(to - first, a.length / w);
      if (lo >= hi) continue;
      sums.fill(0);
      for (let d = lo * w, end = hi * w; d < end; d += w) for (let k = 0; k < w; k++) sums[k] += a[d + k]!;
      fn(this.combos[c]!, sums);
    }
  }

  /**
   * Frees the days before `beforeMs`'s day (retention: their rows are gone), of the combinations
   * whose counters there are all empty.
   */
  dropBefore(beforeMs: number): void {
    const day = Math.floor(beforeMs / 86_400_000);
    for (let c = 0; c < this.combos.length; c++) {
      const first = this.firstDay[c]!;
      const a = this.data[c]!;
      if (a.length === 0 || day <= first) continue;
      const cut = Math.min((day - first) * this.width, a.length);
      if (!a.subarray(0, cut).every((v) => v === 0)) continue;
      this.data[c] = a.slice(cut);
      this.firstDay[c] = day;
    }
  }
}

/** Dimensions of a message cell, in combination order. */
export const MD = { TRIGGER: 0, WORKFLOW: 1, CHANNEL: 2, VARIANT: 3, VARIANT_KEY: 4, TIMING_KEY: 5, STO: 6 };

/**
 * Counters of a message cell (one row of the funnel, timing and ROI reports each). Per attribution
 * model k: CONVERTED + k counts sent messages credited under it, CONVERTED_VALUE + k their value,
 * SENT_VALUE + k the value credited to every sent message.
 */
export const MC = {
  SENT: 0,
  DELIVERED: 1,
  OPENED: 2,
  CLICKED: 3,
  /** Failed, suppressed: messages never sent. */
  FAILED: 4,
  SUPPRESSED: 5,
  SENT_OPENED: 6,
  SENT_CLICKED: 7,
  /** Σ the outcome's cost of sent messages that carry one, and how many carry none (channel cost). */
  COST: 8,
  DEFAULT_COST: 9,
  CONVERTED: 10,
  CONVERTED_VALUE: 13,
  SENT_VALUE: 16,
  /** Rows in the cell (a cell whose rows all moved away adds no group). */
  ROWS: 19,
  WIDTH: 20,
} as const;

/** Dimensions of a reasons cell. */
export const RD = { STATUS: 0, REASON: 1, TRIGGER: 2, WORKFLOW: 3, CHANNEL: 4 };

/** Dimensions of a run cell, and its counters. */
export const RUN_D = { TRIGGER: 0, WORKFLOW: 1, VARIANT: 2, VARIANT_KEY: 3, HOLDOUT: 4 };
export const RUN_C = { N: 0, CONVERTED: 1, WIDTH: 2 } as const;
