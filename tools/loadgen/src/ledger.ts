import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { SimEvent } from './events';
import type { Population } from './population';
import type { ReactionDecision } from './reaction';

export type SendOutcome = 'pending' | 'accepted' | 'duplicate' | 'filtered' | 'rejected';

export interface SentRecord {
  id: string;
  type: string;
  customerId: string;
  /** The `occurredAt` sent (wall clock or simulated), as ISO 8601. */
  occurredAt: string;
  origin: 'population' | 'reaction';
  scenario?: string;
  outcome: SendOutcome;
  error?: string;
}

/** An action outcome seen on NATS for a simulated customer, and how the customer reacted to it. */
export interface ReceivedRecord {
  actionId: string;
  customerId: string;
  channel: string;
  status: string;
  workflow: string;
  trigger: string;
  at: string;
  reaction?: ReactionDecision;
}

export interface LedgerSummary {
  sent: number;
  accepted: number;
  duplicates: number;
  filtered: number;
  rejected: number;
  byType: Record<string, number>;
  received: number;
  reactions: { opened: number; clicked: number; converted: number; wellTimed: number; revenue: number };
}

export interface LedgerOptions {
  /** Keep one record per sent event (memory grows with the run). Default true. Counters are always kept. */
  recordEvents?: boolean;
}

/**
 * Everything the simulator sent and received, plus ground truth from its population, so later
 * measurement (uplift, attribution) and prediction (churn, next purchase) can be scored.
 */
export class Ledger {
  readonly sent: SentRecord[] = [];
  readonly received: ReceivedRecord[] = [];
  private readonly byId = new Map<string, SentRecord>();
  private readonly counts = { sent: 0, accepted: 0, duplicates: 0, filtered: 0, rejected: 0 };
  private readonly byType: Record<string, number> = {};
  private readonly recordEvents: boolean;

  constructor(
    readonly population: Population,
    options: LedgerOptions = {},
  ) {
    this.recordEvents = options.recordEvents ?? true;
  }

  recordSent(event: SimEvent, occurredAt: number, origin: SentRecord['origin'] = 'population'): void {
    this.counts.sent++;
    this.byType[event.type] = (this.byType[event.type] ?? 0) + 1;
    if (!this.recordEvents) return;
    const record: SentRecord = {
      id: event.id,
      type: event.type,
      customerId: event.customerId,
      occurredAt: new Date(occurredAt).toISOString(),
      origin,
      outcome: 'pending',
    };
    if (event.scenario) record.scenario = event.scenario;
    this.sent.push(record);
    this.byId.set(event.id, record);
  }

  recordOutcome(eventId: string, outcome: Exclude<SendOutcome, 'pending'>, error?: string): void {
    if (outcome === 'accepted') this.counts.accepted++;
    else if (outcome === 'duplicate') this.counts.duplicates++;
    else if (outcome === 'filtered') this.counts.filtered++;
    else this.counts.rejected++;
    const record = this.byId.get(eventId);
    if (!record) return;
    record.outcome = outcome;
    if (error) record.error = error;
  }

  recordReceived(record: ReceivedRecord): void {
    this.received.push(record);
  }

  summary(): LedgerSummary {
    const reactions = { opened: 0, clicked: 0, converted: 0, wellTimed: 0, revenue: 0 };
    for (const r of this.received) {
      if (!r.reaction) continue;
      if (r.reaction.opened) reactions.opened++;
      if (r.reaction.clicked) reactions.clicked++;
      if (r.reaction.converted) reactions.converted++;
      if (r.reaction.wellTimed) reactions.wellTimed++;
      reactions.revenue += r.reaction.revenue ?? 0;
    }
    reactions.revenue = Math.round(reactions.revenue * 100) / 100;
    return { ...this.counts, byType: { ...this.byType }, received: this.received.length, reactions };
  }

  /** The whole ledger as one JSON document. */
  toJSON(asOf?: number): Record<string, unknown> {
    const p = this.population;
    return {
      kind: 'kairos-loadgen-ledger',
      version: 1,
      options: p.options,
      clock: new Date(asOf ?? p.clock).toISOString(),
      scenarioCustomers: p.scenarioCustomers(),
      summary: this.summary(),
      truth: p.groundTruth(asOf),
      sent: this.sent,
      received: this.received,
    };
  }

  /** The ledger as NDJSON lines: a `meta` line, then `truth`, `sent` and `received` lines, then `summary`. */
  *ndjsonLines(asOf?: number): Generator<string> {
    const p = this.population;
    yield JSON.stringify({
      kind: 'meta',
      version: 1,
      options: p.options,
      clock: new Date(asOf ?? p.clock).toISOString(),
      scenarioCustomers: p.scenarioCustomers(),
    });
    for (const t of p.groundTruth(asOf)) yield JSON.stringify({ kind: 'truth', ...t });
    for (const s of this.sent) yield JSON.stringify({ kind: 'sent', ...s });
    for (const r of this.received) yield JSON.stringify({ kind: 'received', ...r });
    yield JSON.stringify({ kind: 'summary', ...this.summary() });
  }

  /** Writes NDJSON when the path ends in `.ndjson` or `.jsonl`, one JSON document otherwise. */
  async write(path: string, asOf?: number): Promise<void> {
    const out = createWriteStream(path);
    const lines = /\.(ndjson|jsonl)$/i.test(path)
      ? this.ndjsonLines(asOf)
      : [JSON.stringify(this.toJSON(asOf), null, 2)];
    for (const line of lines) if (!out.write(line + '\n')) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
  }
}
