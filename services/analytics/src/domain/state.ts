/**
 * The in-memory aggregates every report reads. Facts are folded in once each: an outcome whose
 * (action, status) is already known is ignored, so a replayed or redelivered outcome counts once
 * even before the store's unique keys are consulted. A fact lands in the buckets of its own time.
 * The state is rebuilt from the stored facts at start, so a restart loses nothing.
 */
import { attribute, type AttributionModel, type Credit, type Touch, ATTRIBUTION_MODELS } from './attribution';
import { BucketCounts, GRANULARITIES, type Granularity } from './buckets';
import { MessageColumns, RunColumns } from './columns';
import type {
  ActionRef,
  CampaignSendFact,
  ConversionFact,
  FireFact,
  OutcomeFact,
  RequestFact,
  Status,
  WorkflowInfo,
} from './facts';

/** One message (action) or one held-out run, as the raw export shows it. */
export interface MessageRow extends ActionRef {
  triggerId: string;
  channel: string;
  contentVariant: string;
  timingVariant: string;
  sto: boolean;
  holdout: boolean;
  escalation: boolean;
  /** Status → the earliest time it was reported. */
  times: Partial<Record<Status, number>>;
  cost: number;
  reason: string;
  /** The time the row is filed under: the send, else the first thing known of it. */
  at: number;
  /** Group keys `<workflow>/<content variant>` and `<workflow>/<timing variant>`, kept with the fields. */
  variantKey: string;
  timingKey: string;
  /** Conversions credited to the message (sum of weights) and their value, per model, kept current. */
  credited: Record<AttributionModel, { weight: number; value: number }>;
  /** Its slot in the message columns. */
  index: number;
}

/** One workflow run: the unit that lift compares (treated runs against held-out runs). */
export interface RunRow {
  runId: string;
  workflow: string;
  trigger: string;
  customerId: string;
  holdout: boolean;
  /** When the run entered its workflow: the trigger's firing when known, else its earliest fact. */
  enteredAt: number;
  timingVariant: string;
  contentVariant: string;
  /** Whether the customer converted (the workflow's conversion event) within its window after entry. */
  converted: boolean;
  /** Its slot in the run columns. */
  index: number;
}

/** Counts per series key at each granularity. */
export class SeriesSet {
  readonly byKey = new Map<string, Record<Granularity, BucketCounts>>();

  add(key: string, atMs: number): void {
    this.addCount(key, atMs, 1, GRANULARITIES);
  }

  /** Adds `n` at `atMs` to the given granularities (a daily roll-up restores day counts only). */
  addCount(key: string, atMs: number, n: number, granularities: readonly Granularity[]): void {
    let s = this.byKey.get(key);
    if (!s) {
      s = {
        minute: new BucketCounts('minute'),
        hour: new BucketCounts('hour'),
        day: new BucketCounts('day'),
      };
      this.byKey.set(key, s);
    }
    for (const g of granularities) s[g].add(atMs, n);
  }
}

/** A fire's series key: trigger, category and completing event type (NUL-separated). */
export const fireKey = (f: Pick<FireFact, 'trigger' | 'category' | 'eventType'>) =>
  `${f.trigger}\u0000${f.category}\u0000${f.eventType}`;
/** A run's series key: workflow and trigger. */
export const runKey = (workflow: string, trigger: string) => `${workflow}\u0000${trigger}`;

export class AnalyticsState {
  readonly messages = new Map<string, MessageRow>();
  readonly runs = new Map<string, RunRow>();
  readonly fires = new SeriesSet();
  readonly runVolume = new SeriesSet();
  readonly fireTimes = new Map<string, number>();
  readonly touches = new Map<string, Touch[]>();
  readonly conversions = new Map<string, ConversionFact>();
  readonly conversionsByCustomer = new Map<string, ConversionFact[]>();
  private readonly runsByCustomer = new Map<string, RunRow[]>();
  /** Column-wise copies of the rows and runs, which the reports scan. */
  readonly messageCols = new MessageColumns();
  readonly runCols = new RunColumns();
  readonly campaignSends: CampaignSendFact[] = [];
  private readonly requestIds = new Set<string>();
  private readonly campaignIds = new Set<string>();
  /** Outcomes folded in (new ones only). */
  readonly outcomeCount = { value: 0 };
  private readonly credits: Record<AttributionModel, Map<string, Credit[]>> = {
    last: new Map(),
    first: new Map(),
    linear: new Map(),
  };
  workflows = new Map<string, WorkflowInfo>();

  /** Replaces the workflow definitions; attribution is recomputed under the new windows. */
  setWorkflows(list: readonly WorkflowInfo[]): void {
    this.workflows = new Map(list.map((w) => [w.name, w]));
    for (const c of this.conversions.values()) this.attributeConversion(c);
    for (const r of this.runs.values()) this.refreshRun(r);
  }

  /** Folds a TriggerFired in; false when it was already known. */
  addFire(f: FireFact): boolean {
    if (this.fireTimes.has(f.id)) return false;
    this.fireTimes.set(f.id, f.at);
    this.fires.add(fireKey(f), f.at);
    return true;
  }

  /** Folds an ActionRequested in; false when it was already known. */
  addRequest(r: RequestFact): boolean {
    if (this.requestIds.has(r.actionId)) return false;
    this.requestIds.add(r.actionId);
    const row = this.row(r.actionId, {
      runId: r.runId,
      workflow: r.workflow,
      trigger: r.trigger,
      customerId: r.customerId,
      at: r.requestedAt,
    });
    row.triggerId = r.triggerId;
    row.escalation = r.escalation;
    const fired = this.fireTimes.get(r.triggerId);
    const run = this.runs.get(r.runId);
    if (run && fired !== undefined && fired < run.enteredAt) {
      run.enteredAt = fired;
      this.refreshRun(run);
    } else if (!run && !r.escalation)
      this.addRun(r.runId, r.workflow, r.trigger, r.customerId, false, fired ?? r.requestedAt, '', '');
    this.messageCols.set(row.index, row);
    return true;
  }

  /** Folds an outcome in; false when its (action, status) was already known (a replay). */
  addOutcome(o: OutcomeFact): boolean {
    const row = this.row(o.actionId, o);
    if (row.times[o.status] !== undefined) return false;
    row.times[o.status] = o.at;
    this.outcomeCount.value++;
    if (o.channel && (o.status === 'sent' || !row.channel)) row.channel = o.channel;
    if (o.contentVariant) row.contentVariant = o.contentVariant;
    if (o.timingVariant) row.timingVariant = o.timingVariant;
    setKeys(row);
    if (o.sto) row.sto = true;
    if (o.reason && !row.reason) row.reason = o.reason;
    if (o.cost > 0) row.cost += o.cost;
    const holdout = o.status === 'held_out';
    if (holdout) row.holdout = true;
    if (o.status === 'sent') {
      row.at = o.at;
      this.addTouch(row);
    } else if (row.times.sent === undefined && o.at < row.at) row.at = o.at;
    const run = this.runs.get(o.runId);
    if (!run) {
      if (!row.escalation) {
        this.addRun(
          o.runId,
          o.workflow,
          o.trigger,
          o.customerId,
          holdout,
          o.at,
          o.timingVariant,
          o.contentVariant,
        );
      }
    } else {
      if (o.at < run.enteredAt && !row.triggerId) {
        run.enteredAt = o.at;
        this.refreshRun(run);
      }
      if (o.timingVariant) run.timingVariant = o.timingVariant;
      if (o.contentVariant && o.contentVariant !== run.contentVariant) {
        run.contentVariant = o.contentVariant;
        this.syncRun(run);
      }
    }
    this.messageCols.set(row.index, row);
    return true;
  }

  addConversion(c: ConversionFact): boolean {
    if (this.conversions.has(c.id)) return false;
    this.conversions.set(c.id, c);
    const list = this.conversionsByCustomer.get(c.customerId);
    if (list) list.push(c);
    else this.conversionsByCustomer.set(c.customerId, [c]);
    this.attributeConversion(c);
    for (const r of this.runsByCustomer.get(c.customerId) ?? []) if (!r.converted) this.refreshRun(r);
    return true;
  }

  addCampaignSend(c: CampaignSendFact): boolean {
    if (this.campaignIds.has(c.id)) return false;
    this.campaignIds.add(c.id);
    this.campaignSends.push(c);
    return true;
  }

  /** Whether a fact is already folded in (a replay or a redelivery), without folding it. */
  readonly knows = {
    outcome: (o: OutcomeFact) => this.messages.get(o.actionId)?.times[o.status] !== undefined,
    request: (r: RequestFact) => this.requestIds.has(r.actionId),
    fire: (f: FireFact) => this.fireTimes.has(f.id),
    conversion: (c: ConversionFact) => this.conversions.has(c.id),
    campaign: (c: CampaignSendFact) => this.campaignIds.has(c.id),
  };

  /** Credits of one conversion under a model. */
  creditsOf(conversionId: string, model: AttributionModel): Credit[] {
    return this.credits[model].get(conversionId) ?? [];
  }

  allCredits(model: AttributionModel): IterableIterator<Credit[]> {
    return this.credits[model].values();
  }

  /**
   * Forgets one customer (erasure): their messages, runs, touches, conversions and campaign sends.
   * Series counts (fires, run volume per minute/hour/day) hold no customer and stay. Returns the
   * rows removed.
   */
  dropCustomer(customerId: string): {
    messages: number;
    runs: number;
    conversions: number;
    campaign_sends: number;
  } {
    let messages = 0;
    let runs = 0;
    for (const [id, m] of this.messages) {
      if (m.customerId !== customerId) continue;
      this.messages.delete(id);
      this.requestIds.delete(id);
      this.messageCols.kill(m.index);
      messages++;
    }
    for (const r of this.runsByCustomer.get(customerId) ?? []) {
      if (this.runs.delete(r.runId)) runs++;
      this.runCols.kill(r.index);
    }
    for (const [id, r] of this.runs) {
      if (r.customerId !== customerId) continue;
      this.runs.delete(id);
      this.runCols.kill(r.index);
      runs++;
    }
    this.runsByCustomer.delete(customerId);
    this.touches.delete(customerId);
    const conversions = this.conversionsByCustomer.get(customerId) ?? [];
    for (const c of conversions) {
      this.conversions.delete(c.id);
      for (const m of ATTRIBUTION_MODELS) this.credits[m].delete(c.id);
    }
    this.conversionsByCustomer.delete(customerId);
    const sends = this.campaignSends.filter((c) => c.customerId === customerId);
    for (const c of sends) this.campaignIds.delete(c.id);
    this.campaignSends.splice(
      0,
      this.campaignSends.length,
      ...this.campaignSends.filter((c) => c.customerId !== customerId),
    );
    return { messages, runs, conversions: conversions.length, campaign_sends: sends.length };
  }

  /** Drops message-level facts filed before `beforeMs`, and volume detail (see retention). */
  dropBefore(
    beforeMs: number,
    minuteBeforeMs: number,
  ): { messages: number; runs: number; conversions: number } {
    let messages = 0;
    let runs = 0;
    let conversions = 0;
    for (const [id, m] of this.messages) {
      if (m.at < beforeMs) {
        this.messages.delete(id);
        this.requestIds.delete(id);
        this.messageCols.kill(m.index);
        messages++;
      }
    }
    for (const [id, r] of this.runs) {
      if (r.enteredAt < beforeMs) {
        this.runs.delete(id);
        this.runCols.kill(r.index);
        runs++;
      }
    }
    for (const [customer, list] of this.runsByCustomer) {
      const kept = list.filter((r) => r.enteredAt >= beforeMs);
      if (kept.length) this.runsByCustomer.set(customer, kept);
      else this.runsByCustomer.delete(customer);
    }
    for (const [customer, list] of this.touches) {
      const kept = list.filter((t) => t.sentAt >= beforeMs);
      if (kept.length) this.touches.set(customer, kept);
      else this.touches.delete(customer);
    }
    for (const [id, c] of this.conversions) {
      if (c.at < beforeMs) {
        this.conversions.delete(id);
        for (const m of ATTRIBUTION_MODELS) this.credits[m].delete(id);
        conversions++;
      }
    }
    for (const [customer, list] of this.conversionsByCustomer) {
      const kept = list.filter((c) => c.at >= beforeMs);
      if (kept.length) this.conversionsByCustomer.set(customer, kept);
      else this.conversionsByCustomer.delete(customer);
    }
    for (const [id, at] of this.fireTimes) if (at < beforeMs) this.fireTimes.delete(id);
    const keptSends = this.campaignSends.filter((c) => c.at >= beforeMs);
    for (const c of this.campaignSends) if (c.at < beforeMs) this.campaignIds.delete(c.id);
    this.campaignSends.splice(0, this.campaignSends.length, ...keptSends);
    // Their rows are gone: what remains of those days in the rollups is empty cells.
    for (const cells of [this.messageCols.cells, this.messageCols.reasonCells, this.runCols.cells])
      cells.dropBefore(beforeMs);
    for (const set of [this.fires, this.runVolume]) {
      for (const s of set.byKey.values()) {
        s.minute.dropBefore(minuteBeforeMs);
        s.hour.dropBefore(beforeMs);
      }
    }
    return { messages, runs, conversions };
  }

  private row(
    actionId: string,
    o: Pick<OutcomeFact, 'runId' | 'workflow' | 'trigger' | 'customerId' | 'at'>,
  ): MessageRow {
    let row = this.messages.get(actionId);
    if (!row) {
      row = {
        actionId,
        runId: o.runId,
        triggerId: '',
        workflow: o.workflow,
        trigger: o.trigger,
        customerId: o.customerId,
        channel: '',
        contentVariant: '',
        timingVariant: '',
        sto: false,
        holdout: false,
        escalation: false,
        // Every status present from the start (undefined until reported): one shape for every row.
        times: emptyTimes(),
        cost: 0,
        reason: '',
        at: o.at,
        variantKey: '',
        timingKey: '',
        credited: {
          last: { weight: 0, value: 0 },
          first: { weight: 0, value: 0 },
          linear: { weight: 0, value: 0 },
        },
        index: this.messageCols.add(),
      };
      setKeys(row);
      this.messages.set(actionId, row);
    }
    return row;
  }

  private addRun(
    runId: string,
    workflow: string,
    trigger: string,
    customerId: string,
    holdout: boolean,
    enteredAt: number,
    timingVariant: string,
    contentVariant: string,
  ): void {
    const run: RunRow = {
      runId,
      workflow,
      trigger,
      customerId,
      holdout,
      enteredAt,
      timingVariant,
      contentVariant,
      converted: false,
      index: this.runCols.add(),
    };
    this.runs.set(runId, run);
    const list = this.runsByCustomer.get(customerId);
    if (list) list.push(run);
    else this.runsByCustomer.set(customerId, [run]);
    this.refreshRun(run);
    this.runVolume.add(runKey(workflow, trigger), enteredAt);
  }

  /** Decides again whether a run converted (after its entry time, conversions or definitions changed). */
  private refreshRun(run: RunRow): void {
    const conv = this.workflows.get(run.workflow)?.conversion;
    run.converted = false;
    if (conv) {
      for (const c of this.conversionsByCustomer.get(run.customerId) ?? []) {
        if (c.type === conv.event && c.at >= run.enteredAt && c.at - run.enteredAt <= conv.withinMs) {
          run.converted = true;
          break;
        }
      }
    }
    this.syncRun(run);
  }

  private syncRun(run: RunRow): void {
    this.runCols.set(run.index, run, this.workflows.get(run.workflow)?.conversion !== undefined);
  }

  private addTouch(row: MessageRow): void {
    if (row.holdout || row.escalation) return;
    const touch: Touch = {
      actionId: row.actionId,
      runId: row.runId,
      triggerId: row.triggerId,
      workflow: row.workflow,
      trigger: row.trigger,
      customerId: row.customerId,
      channel: row.channel,
      sentAt: row.times.sent!,
    };
    const list = this.touches.get(row.customerId);
    if (list) list.push(touch);
    else this.touches.set(row.customerId, [touch]);
    // A late send may earn conversions already seen: attribute them again.
    for (const c of this.conversionsByCustomer.get(row.customerId) ?? []) {
      if (c.at >= touch.sentAt) this.attributeConversion(c);
    }
  }

  /** Attributes a conversion again under every model, moving its credits between messages. */
  private attributeConversion(c: ConversionFact): void {
    const touches = this.touches.get(c.customerId) ?? [];
    const changed = new Set<MessageRow>();
    for (const m of ATTRIBUTION_MODELS) {
      for (const old of this.credits[m].get(c.id) ?? []) {
        const row = this.messages.get(old.actionId);
        if (row) {
          row.credited[m].weight -= old.weight;
          row.credited[m].value -= old.value;
          changed.add(row);
        }
      }
      const credits = attribute(c, touches, this.workflows, m);
      for (const credit of credits) {
        const row = this.messages.get(credit.actionId);
        // The trigger id may have arrived with the request after the touch was recorded.
        if (!credit.triggerId) credit.triggerId = row?.triggerId ?? '';
        if (row) {
          row.credited[m].weight += credit.weight;
          row.credited[m].value += credit.value;
          changed.add(row);
        }
      }
      if (credits.length) this.credits[m].set(c.id, credits);
      else this.credits[m].delete(c.id);
    }
    for (const row of changed) this.messageCols.set(row.index, row);
  }
}

function emptyTimes(): Partial<Record<Status, number>> {
  return {
    sent: undefined,
    delivered: undefined,
    opened: undefined,
    clicked: undefined,
    failed: undefined,
    suppressed: undefined,
    held_out: undefined,
    unknown: undefined,
  };
}

/** Group keys of a row, set again whenever its workflow or variants change. */
function setKeys(row: MessageRow): void {
  row.variantKey = `${row.workflow}/${row.contentVariant || 'default'}`;
  row.timingKey = `${row.workflow}/${row.timingVariant || 'default'}`;
}

/** Whether a message earned a conversion under a model (weights are sums of fractions: not exactly 0). */
export const earned = (row: MessageRow, model: AttributionModel) => row.credited[model].weight > 1e-9;
