/**
 * Column-wise copies of the message rows and the runs (typed arrays, dimension values interned as
 * small integers), kept in step with the rows by the state. A report over a month of messages is
 * then one pass over a few arrays, with no object visited and nothing allocated per message.
 */
import { ATTRIBUTION_MODELS, type AttributionModel } from './attribution';
import { Cells, MC, RUN_C } from './rollups';

/** Flag bits of a message. */
export const M = {
  ALIVE: 1,
  HOLDOUT: 2,
  ESCALATION: 4,
  SENT: 8,
  DELIVERED: 16,
  OPENED: 32,
  CLICKED: 64,
  FAILED: 128,
  SUPPRESSED: 256,
  STO: 512,
} as const;

/** Flag bits of a run. */
export const R = { ALIVE: 1, HOLDOUT: 2, CONVERTED: 4, MEASURED: 8 } as const;

/** Strings as dense integer ids (0, 1, 2…), and back. */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];

  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  /** Ids marked in a mask (1 = passes), or null when the list is empty (everything passes). */
  mask(list: readonly string[]): Uint8Array | null {
    if (list.length === 0) return null;
    const mask = new Uint8Array(this.names.length);
    for (const name of list) {
      const id = this.ids.get(name);
      if (id !== undefined) mask[id] = 1;
    }
    return mask;
  }
}

export const modelIndex = (m: AttributionModel) => ATTRIBUTION_MODELS.indexOf(m);

function grown<T extends Float64Array | Int32Array | Uint16Array | Uint8Array>(a: T, size: number): T {
  if (a.length >= size) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(size, a.length * 2));
  next.set(a);
  return next;
}

/** What the message columns copy from a row. */
export interface MessageFields {
  at: number;
  times: Partial<
    Record<
      'sent' | 'delivered' | 'opened' | 'clicked' | 'failed' | 'suppressed' | 'held_out' | 'unknown',
      number
    >
  >;
  holdout: boolean;
  escalation: boolean;
  sto: boolean;
  workflow: string;
  trigger: string;
  channel: string;
  contentVariant: string;
  variantKey: string;
  timingKey: string;
  reason: string;
  cost: number;
  credited: Record<AttributionModel, { weight: number; value: number }>;
}

export class MessageColumns {
  size = 0;
  at = new Float64Array(1024);
  sentAt = new Float64Array(1024);
  /** Times of the statuses the reasons report counts (NaN: not reported). */
  suppressedAt = new Float64Array(1024);
  failedAt = new Float64Array(1024);
  heldOutAt = new Float64Array(1024);
  unknownAt = new Float64Array(1024);
  flags = new Uint16Array(1024);
  cost = new Float64Array(1024);
  workflow = new Int32Array(1024);
  trigger = new Int32Array(1024);
  channel = new Int32Array(1024);
  variant = new Int32Array(1024);
  variantKey = new Int32Array(1024);
  timingKey = new Int32Array(1024);
  reason = new Int32Array(1024);
  /** The slot's combination in `cells`, and per reasons status (REASON_TIMES order) in `reasonCells`. */
  combo = new Int32Array(1024);
  reasonCombo = [new Int32Array(1024), new Int32Array(1024), new Int32Array(1024), new Int32Array(1024)];
  /** Funnel, timing and ROI counters per (day of `at`, dimensions): see rollups.ts. */
  readonly cells = new Cells(MC.WIDTH);
  /** Reasons counts per (day of the status, status, reason, trigger, workflow, channel). */
  readonly reasonCells = new Cells(1);
  /** Credited weight and value per attribution model (index of ATTRIBUTION_MODELS). */
  creditWeight = [new Float64Array(1024), new Float64Array(1024), new Float64Array(1024)];
  creditValue = [new Float64Array(1024), new Float64Array(1024), new Float64Array(1024)];
  readonly dims = {
    workflow: new Interner(),
    trigger: new Interner(),
    channel: new Interner(),
    variant: new Interner(),
    variantKey: new Interner(),
    timingKey: new Interner(),
    reason: new Interner(),
  };

  /** A new slot; its columns are written by `set`. */
  add(): number {
    const i = this.size++;
    if (i >= this.at.length) {
      const n = this.size;
      this.at = grown(this.at, n);
      this.sentAt = grown(this.sentAt, n);
      this.suppressedAt = grown(this.suppressedAt, n);
      this.failedAt = grown(this.failedAt, n);
      this.heldOutAt = grown(this.heldOutAt, n);
      this.unknownAt = grown(this.unknownAt, n);
      this.flags = grown(this.flags, n);
      this.cost = grown(this.cost, n);
      this.workflow = grown(this.workflow, n);
      this.trigger = grown(this.trigger, n);
      this.channel = grown(this.channel, n);
      this.variant = grown(this.variant, n);
      this.variantKey = grown(this.variantKey, n);
      this.timingKey = grown(this.timingKey, n);
      this.reason = grown(this.reason, n);
      this.combo = grown(this.combo, n);
      this.reasonCombo = this.reasonCombo.map((a) => grown(a, n));
      this.creditWeight = this.creditWeight.map((a) => grown(a, n));
      this.creditValue = this.creditValue.map((a) => grown(a, n));
    }
    return i;
  }

  /** The times of the statuses the reasons report counts, in its order (kept current as they grow). */
  private times: Float64Array[] = [];
  reasonTimes(): Float64Array[] {
    const t = this.times;
    if (t[0] !== this.suppressedAt || t[1] !== this.failedAt)
      this.times = [this.suppressedAt, this.failedAt, this.heldOutAt, this.unknownAt];
    return this.times;
  }

  set(i: number, r: MessageFields): void {
    this.rollUp(i, -1);
    // The dimensions before: most writes change a status or a credit, not the cell combination.
    const was = (this.flags[i] & M.ALIVE) !== 0;
    const [trigger, workflow, channel, variant] = [
      this.trigger[i],
      this.workflow[i],
      this.channel[i],
      this.variant[i],
    ];
    const [variantKey, timingKey, sto, reason] = [
      this.variantKey[i],
      this.timingKey[i],
      this.flags[i] & M.STO,
      this.reason[i],
    ];
    const times = this.reasonTimes();
    let hadReason = 0;
    for (let s = 0; s < times.length; s++) if (!Number.isNaN(times[s]![i])) hadReason |= 1 << s;
    const t = r.times;
    const time = (v: number | undefined) => (v === undefined ? NaN : v);
    this.at[i] = r.at;
    this.sentAt[i] = time(t.sent);
    this.suppressedAt[i] = time(t.suppressed);
    this.failedAt[i] = time(t.failed);
    this.heldOutAt[i] = time(t.held_out);
    this.unknownAt[i] = time(t.unknown);
    this.flags[i] =
      M.ALIVE |
      (r.holdout ? M.HOLDOUT : 0) |
      (r.escalation ? M.ESCALATION : 0) |
      (t.sent !== undefined ? M.SENT : 0) |
      (t.delivered !== undefined ? M.DELIVERED : 0) |
      (t.opened !== undefined ? M.OPENED : 0) |
      (t.clicked !== undefined ? M.CLICKED : 0) |
      (t.failed !== undefined ? M.FAILED : 0) |
      (t.suppressed !== undefined ? M.SUPPRESSED : 0) |
      (r.sto ? M.STO : 0);
    this.cost[i] = r.cost;
    const d = this.dims;
    this.workflow[i] = d.workflow.id(r.workflow);
    this.trigger[i] = d.trigger.id(r.trigger);
    this.channel[i] = d.channel.id(r.channel);
    this.variant[i] = d.variant.id(r.contentVariant);
    this.variantKey[i] = d.variantKey.id(r.variantKey);
    this.timingKey[i] = d.timingKey.id(r.timingKey);
    this.reason[i] = d.reason.id(r.reason);
    for (let k = 0; k < ATTRIBUTION_MODELS.length; k++) {
      const credit = r.credited[ATTRIBUTION_MODELS[k]];
      this.creditWeight[k][i] = credit.weight;
      this.creditValue[k][i] = credit.value;
    }
    const sameDims =
      was &&
      trigger === this.trigger[i] &&
      workflow === this.workflow[i] &&
      channel === this.channel[i] &&
      variant === this.variant[i];
    const nowSto = this.flags[i] & M.STO;
    if (!sameDims || variantKey !== this.variantKey[i] || timingKey !== this.timingKey[i] || sto !== nowSto) {
      this.combo[i] = this.cells.combo([
        this.trigger[i],
        this.workflow[i],
        this.channel[i],
        this.variant[i],
        this.variantKey[i],
        this.timingKey[i],
        nowSto ? 1 : 0,
      ]);
    }
    const sameReason = sameDims && reason === this.reason[i];
    for (let s = 0; s < times.length; s++) {
      if (Number.isNaN(times[s]![i]) || (sameReason && hadReason & (1 << s))) continue;
      this.reasonCombo[s]![i] = this.reasonCells.combo([
        s,
        this.reason[i],
        this.trigger[i],
        this.workflow[i],
        this.channel[i],
      ]);
    }
    this.rollUp(i, 1);
  }

  /** The slot no longer holds a message (retention). */
  kill(i: number): void {
    this.rollUp(i, -1);
    this.flags[i] = 0;
  }

  /** Adds (`sign` 1) or takes out (−1) the slot's contribution to the rollups; nothing for a dead slot. */
  private rollUp(i: number, sign: 1 | -1): void {
    const fl = this.flags[i];
    if (!(fl & M.ALIVE)) return;
    // The offsets first: making room may replace a combination's array.
    if (!(fl & (M.HOLDOUT | M.ESCALATION))) {
      const at = this.cells.offset(this.at[i], this.combo[i]);
      addMessage(this, i, this.cells.data[this.combo[i]], sign, at);
    }
    const times = this.reasonTimes();
    for (let s = 0; s < times.length; s++) {
      const t = times[s]![i];
      if (Number.isNaN(t)) continue;
      const combo = this.reasonCombo[s]![i];
      const at = this.reasonCells.offset(t, combo);
      this.reasonCells.data[combo][at] += sign;
    }
  }
}

/** Adds message i's counters (see MC) to `out` from index `at` on, times `sign`. */
export function addMessage(c: MessageColumns, i: number, out: Float64Array, sign: number, at = 0): void {
  const fl = c.flags[i];
  out[at + MC.ROWS] += sign;
  if (fl & M.SENT) {
    out[at + MC.SENT] += sign;
    if (fl & M.OPENED) out[at + MC.SENT_OPENED] += sign;
    if (fl & M.CLICKED) out[at + MC.SENT_CLICKED] += sign;
    const cost = c.cost[i];
    if (cost > 0) out[at + MC.COST] += sign * cost;
    else out[at + MC.DEFAULT_COST] += sign;
    for (let k = 0; k < ATTRIBUTION_MODELS.length; k++) {
      const value = c.creditValue[k]![i];
      if (c.creditWeight[k]![i] > 1e-9) {
        out[at + MC.CONVERTED + k] += sign;
        out[at + MC.CONVERTED_VALUE + k] += sign * value;
      }
      out[at + MC.SENT_VALUE + k] += sign * value;
    }
  } else {
    if (fl & M.FAILED) out[at + MC.FAILED] += sign;
    if (fl & M.SUPPRESSED) out[at + MC.SUPPRESSED] += sign;
  }
  if (fl & M.DELIVERED) out[at + MC.DELIVERED] += sign;
  if (fl & M.OPENED) out[at + MC.OPENED] += sign;
  if (fl & M.CLICKED) out[at + MC.CLICKED] += sign;
}

/** What the run columns copy from a run. */
export interface RunFields {
  enteredAt: number;
  holdout: boolean;
  converted: boolean;
  workflow: string;
  trigger: string;
  contentVariant: string;
}

export class RunColumns {
  size = 0;
  enteredAt = new Float64Array(1024);
  flags = new Uint8Array(1024);
  workflow = new Int32Array(1024);
  trigger = new Int32Array(1024);
  variantKey = new Int32Array(1024);
  variant = new Int32Array(1024);
  combo = new Int32Array(1024);
  /** Runs and conversions per (day of entry, dimensions) of the measured runs: see rollups.ts. */
  readonly cells = new Cells(RUN_C.WIDTH);
  readonly dims = {
    workflow: new Interner(),
    trigger: new Interner(),
    variantKey: new Interner(),
    variant: new Interner(),
  };

  add(): number {
    const i = this.size++;
    if (i >= this.enteredAt.length) {
      const n = this.size;
      this.enteredAt = grown(this.enteredAt, n);
      this.flags = grown(this.flags, n);
      this.workflow = grown(this.workflow, n);
      this.trigger = grown(this.trigger, n);
      this.variantKey = grown(this.variantKey, n);
      this.variant = grown(this.variant, n);
      this.combo = grown(this.combo, n);
    }
    return i;
  }

  /** `measured`: the run's workflow counts a conversion event (only such runs are compared). */
  set(i: number, r: RunFields, measured: boolean): void {
    this.rollUp(i, -1);
    this.enteredAt[i] = r.enteredAt;
    this.flags[i] =
      R.ALIVE | (r.holdout ? R.HOLDOUT : 0) | (r.converted ? R.CONVERTED : 0) | (measured ? R.MEASURED : 0);
    const workflow = this.dims.workflow.id(r.workflow);
    const variant = this.dims.variant.id(r.contentVariant);
    this.workflow[i] = workflow;
    this.trigger[i] = this.dims.trigger.id(r.trigger);
    this.variant[i] = variant;
    this.variantKey[i] = this.variantKeyOf(workflow, variant, r);
    this.combo[i] = this.cells.combo([
      this.trigger[i],
      workflow,
      variant,
      this.variantKey[i],
      r.holdout ? 1 : 0,
    ]);
    this.rollUp(i, 1);
  }

  /** Adds (`sign` 1) or takes out (−1) a measured run's contribution to the rollups. */
  private rollUp(i: number, sign: 1 | -1): void {
    const fl = this.flags[i];
    if (!(fl & R.ALIVE) || !(fl & R.MEASURED)) return;
    const at = this.cells.offset(this.enteredAt[i], this.combo[i]);
    const cell = this.cells.data[this.combo[i]];
    cell[at + RUN_C.N] += sign;
    if (fl & R.CONVERTED) cell[at + RUN_C.CONVERTED] += sign;
  }

  /** The id of `<workflow>/<content variant>`, remembered per (workflow, variant) pair. */
  private readonly pairs = new Map<number, number>();
  private variantKeyOf(workflow: number, variant: number, r: RunFields): number {
    const pair = workflow * 65_536 + variant;
    let id = this.pairs.get(pair);
    if (id === undefined) {
      id = this.dims.variantKey.id(`${r.workflow}/${r.contentVariant || 'default'}`);
      this.pairs.set(pair, id);
    }
    return id;
  }

  kill(i: number): void {
    this.rollUp(i, -1);
    this.flags[i] = 0;
  }
}
