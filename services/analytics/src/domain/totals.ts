/**
 * The sums the funnel, timing, ROI, reasons and lift reports are made of, per group, for one query:
 * from the rollup cells of the range's whole days and from the rows of its partial first and last
 * days (or from the rows alone, `viaCells` false: the reference the rollups are tested against, and
 * the way for a grouping no cell keeps, the send hour).
 */
import { addMessage, M, R, type Interner, type MessageColumns, type RunColumns } from './columns';
import type { Query } from './query';
import { MC, MD, RD, RUN_C, RUN_D, splitByDays } from './rollups';

/** Per-group counters, created on first use. */
export class Groups<T> {
  readonly byId: Array<T | undefined> = [];
  constructor(private readonly make: () => T) {}
  at(id: number): T {
    let g = this.byId[id];
    if (!g) this.byId[id] = g = this.make();
    return g;
  }
  /** [name, counters] of the used groups, by name. */
  named(names: readonly string[]): Array<[string, T]> {
    const out: Array<[string, T]> = [];
    this.byId.forEach((g, id) => {
      if (g) out.push([names[id], g]);
    });
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));

/** How messages are grouped: the cell dimension (none for the send hour), a row's group and the names. */
interface MessageGrouping {
  dim: number | undefined;
  of: (i: number) => number;
  names: () => readonly string[];
}

function messageGrouping(c: MessageColumns, groupBy: string): MessageGrouping {
  const by = (dim: number, ids: Int32Array, interner: Interner): MessageGrouping => ({
    dim,
    of: (i) => ids[i]!,
    names: () => interner.names,
  });
  switch (groupBy) {
    case 'workflow':
      return by(MD.WORKFLOW, c.workflow, c.dims.workflow);
    case 'variant':
      return by(MD.VARIANT_KEY, c.variantKey, c.dims.variantKey);
    case 'channel':
      return {
        dim: MD.CHANNEL,
        of: (i) => c.channel[i]!,
        names: () => c.dims.channel.names.map((n) => n || '(none)'),
      };
    case 'timing_variant':
      return by(MD.TIMING_KEY, c.timingKey, c.dims.timingKey);
    case 'send_hour':
      return { dim: undefined, of: (i) => Math.floor(c.sentAt[i]! / 3_600_000) % 24, names: () => HOURS };
    case 'sto':
      return {
        dim: MD.STO,
        of: (i) => (c.flags[i]! & M.STO ? 1 : 0),
        names: () => ['not_optimized', 'optimized'],
      };
    default:
      return by(MD.TRIGGER, c.trigger, c.dims.trigger);
  }
}

/** The filter masks of a query over the message columns (null: the filter lets everything pass). */
export function messageMasks(c: MessageColumns, q: Query) {
  const f = q.filters;
  return {
    trigger: c.dims.trigger.mask(f.triggers),
    workflow: c.dims.workflow.mask(f.workflows),
    channel: c.dims.channel.mask(f.channels),
    variant: c.dims.variant.mask(f.variants),
  };
}

const NO_MASKS = { trigger: null, workflow: null, channel: null, variant: null };
const passes = (mask: Uint8Array | null, id: number) => !mask || mask[id] === 1;

/**
 * Message counters (MC) per group of `groupBy` for the live messages (not held-out runs, not
 * escalations) filed in the range that pass the filters (`filtered`). MC.COST holds the money of
 * every message, the channel's configured cost (`channelCosts`) for those whose outcome carries none.
 */
export function messageTotals(
  c: MessageColumns,
  q: Query,
  groupBy: string,
  opts: { filtered: boolean; channelCosts?: Readonly<Record<string, number>>; viaCells?: boolean },
): { groups: Groups<Float64Array>; names: () => readonly string[] } {
  const m = opts.filtered ? messageMasks(c, q) : NO_MASKS;
  const grouping = messageGrouping(c, groupBy);
  const groups = new Groups(() => new Float64Array(MC.WIDTH));
  const channels = c.dims.channel.names;
  const costs = opts.channelCosts ?? {};
  const fold = (into: Float64Array, counters: Float64Array, channel: number) => {
    for (let k = 0; k < MC.WIDTH; k++) into[k] += counters[k]!;
    into[MC.COST] += counters[MC.DEFAULT_COST]! * (costs[channels[channel]!] ?? 0);
  };
  const split =
    opts.viaCells !== false && grouping.dim !== undefined
      ? splitByDays(q.fromMs, q.toMs)
      : { days: null, edges: [[q.fromMs, q.toMs] as [number, number]] };
  if (split.days) {
    const dim = grouping.dim!;
    c.cells.forEach(split.days[0], split.days[1], (combo, counters) => {
      if (counters[MC.ROWS] === 0) return;
      if (!passes(m.trigger, combo[MD.TRIGGER]!) || !passes(m.workflow, combo[MD.WORKFLOW]!)) return;
      if (!passes(m.channel, combo[MD.CHANNEL]!) || !passes(m.variant, combo[MD.VARIANT]!)) return;
      fold(groups.at(combo[dim]!), counters, combo[MD.CHANNEL]!);
    });
  }
  const row = new Float64Array(MC.WIDTH);
  const skip = M.HOLDOUT | M.ESCALATION;
  for (const [fromMs, toMs] of split.edges) {
    for (let i = 0; i < c.size; i++) {
      const fl = c.flags[i]!;
      if (!(fl & M.ALIVE) || fl & skip) continue;
      const t = c.at[i]!;
      if (t < fromMs || t >= toMs) continue;
      if (!passes(m.trigger, c.trigger[i]!) || !passes(m.workflow, c.workflow[i]!)) continue;
      if (!passes(m.channel, c.channel[i]!) || !passes(m.variant, c.variant[i]!)) continue;
      row.fill(0);
      addMessage(c, i, row, 1);
      fold(groups.at(grouping.of(i)), row, c.channel[i]!);
    }
  }
  return { groups, names: grouping.names };
}

/**
 * Counts of suppressed, failed, held-out and unknown outcomes whose status time is in the range,
 * per (status index of MessageColumns.reasonTimes, reason id), of the messages passing the filters.
 */
export function reasonTotals(c: MessageColumns, q: Query, viaCells = true): Map<number, number> {
  const m = messageMasks(c, q);
  const counts = new Map<number, number>();
  const add = (status: number, reason: number, n: number) => {
    const key = reason * 4 + status;
    counts.set(key, (counts.get(key) ?? 0) + n);
  };
  const split = viaCells ? splitByDays(q.fromMs, q.toMs) : { days: null, edges: [[q.fromMs, q.toMs]] };
  if (split.days) {
    c.reasonCells.forEach(split.days[0], split.days[1], (combo, counters) => {
      if (counters[0] === 0) return;
      if (!passes(m.trigger, combo[RD.TRIGGER]!) || !passes(m.workflow, combo[RD.WORKFLOW]!)) return;
      if (!passes(m.channel, combo[RD.CHANNEL]!)) return;
      add(combo[RD.STATUS]!, combo[RD.REASON]!, counters[0]!);
    });
  }
  const times = c.reasonTimes();
  for (const [fromMs, toMs] of split.edges) {
    for (let i = 0; i < c.size; i++) {
      if (!(c.flags[i]! & M.ALIVE)) continue;
      if (!passes(m.trigger, c.trigger[i]!) || !passes(m.workflow, c.workflow[i]!)) continue;
      if (!passes(m.channel, c.channel[i]!)) continue;
      for (let s = 0; s < times.length; s++) {
        const t = times[s]![i]!;
        if (t >= fromMs! && t < toMs!) add(s, c.reason[i]!, 1);
      }
    }
  }
  return counts;
}

/** Runs and conversions (RUN_C) of measured runs entered in the range, treated and held out apart. */
export function runTotals(
  c: RunColumns,
  q: Query,
  treatedDim: number,
  controlDim: number,
  viaCells = true,
): { treated: Groups<Float64Array>; control: Groups<Float64Array> } {
  const f = q.filters;
  const mTrigger = c.dims.trigger.mask(f.triggers);
  const mWorkflow = c.dims.workflow.mask(f.workflows);
  const mVariant = c.dims.variant.mask(f.variants);
  const treated = new Groups(() => new Float64Array(RUN_C.WIDTH));
  const control = new Groups(() => new Float64Array(RUN_C.WIDTH));
  // Held-out runs have no content variant: every variant of a workflow is compared with its holdout.
  const add = (dims: ArrayLike<number>, held: boolean, n: number, converted: number) => {
    if (!passes(mTrigger, dims[RUN_D.TRIGGER]!) || !passes(mWorkflow, dims[RUN_D.WORKFLOW]!)) return;
    if (!held && !passes(mVariant, dims[RUN_D.VARIANT]!)) return;
    const g = held ? control.at(dims[controlDim]!) : treated.at(dims[treatedDim]!);
    g[RUN_C.N] += n;
    g[RUN_C.CONVERTED] += converted;
  };
  const split = viaCells ? splitByDays(q.fromMs, q.toMs) : { days: null, edges: [[q.fromMs, q.toMs]] };
  if (split.days) {
    c.cells.forEach(split.days[0], split.days[1], (combo, counters) => {
      if (counters[RUN_C.N] !== 0)
        add(combo, combo[RUN_D.HOLDOUT] === 1, counters[RUN_C.N]!, counters[RUN_C.CONVERTED]!);
    });
  }
  const dims = new Int32Array(5);
  for (const [fromMs, toMs] of split.edges) {
    for (let i = 0; i < c.size; i++) {
      const fl = c.flags[i]!;
      if (!(fl & R.ALIVE) || !(fl & R.MEASURED)) continue;
      const t = c.enteredAt[i]!;
      if (t < fromMs! || t >= toMs!) continue;
      dims[RUN_D.TRIGGER] = c.trigger[i]!;
      dims[RUN_D.WORKFLOW] = c.workflow[i]!;
      dims[RUN_D.VARIANT] = c.variant[i]!;
      dims[RUN_D.VARIANT_KEY] = c.variantKey[i]!;
      add(dims, (fl & R.HOLDOUT) !== 0, 1, fl & R.CONVERTED ? 1 : 0);
    }
  }
  return { treated, control };
}
