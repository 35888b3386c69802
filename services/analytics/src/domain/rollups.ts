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
 * with its ids kept so a report can filter and group cells like rows.
 */
export class Cells {
  private readonly comboIds = new Map<string, number>();
  /** The dimension ids of each combination, in the order the owner defines. */
  readonly combos: Int32Array[] = [];
  /** Day → combination → counters. */
  readonly byDay = new Map<number, Map<number, Float64Array>>();

  constructor(readonly width: number) {}

  /** The combination of these dimension ids. */
  combo(ids: readonly number[]): number {
    const key = ids.join(',');
    let id = this.comboIds.get(key);
    if (id === undefined) {
      id = this.combos.length;
      this.comboIds.set(key, id);
      this.combos.push(Int32Array.from(ids));
    }
    return id;
  }

  /** The counters of (day of `atMs`, combo), created empty. */
  cell(atMs: number, combo: number): Float64Array {
    const day = dayOf(atMs);
    let cells = this.byDay.get(day);
    if (!cells) this.byDay.set(day, (cells = new Map()));
    let c = cells.get(combo);
    if (!c) cells.set(combo, (c = new Float64Array(this.width)));
    return c;
  }

  /** Calls `fn(combo, counters)` for every cell of the days in [fromDay, toDay). */
  forEach(fromDay: number, toDay: number, fn: (combo: Int32Array, counters: Float64Array) => void): void {
    for (const [day, cells] of this.byDay) {
      if (day < fromDay || day >= toDay) continue;
      for (const [combo, counters] of cells) fn(this.combos[combo]!, counters);
    }
  }

  /** Drops the days wholly before `beforeMs` whose cells are all empty (their rows are gone). */
  dropBefore(beforeMs: number): void {
    for (const [day, cells] of this.byDay) {
      if (day + 86_400_000 > beforeMs) continue;
      if ([...cells.values()].every((c) => c.every((v) => v === 0))) this.byDay.delete(day);
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
