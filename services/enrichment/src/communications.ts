import { duplicateKeyWrites, inject, injectable, isDuplicateKey } from '@kairos/service-kit';
import type { Collection, Db, Filter } from 'mongodb';
import type { BatchCommit } from '@kairos/messaging';
import { actions, OUTCOME_TOKEN, quoteInput } from '@kairos/contracts';
import { TOKENS, type Clock } from '@kairos/service-kit';
import { valueBytes } from './domain/profile-budget';
import {
  addRecentCommunication,
  cloneProfile,
  FieldError,
  type CommunicationDoc,
} from './domain/profile-model';
import { ProfileWriteBehind, type ProfileChange } from './profile-writer';
import type { EnrichmentSettings } from './domain/settings';
import { ENRICHMENT_TOKENS } from './tokens';

export const COMMUNICATIONS = 'communications';

/** One (action, status) record; `_id` = `<action_id>:<status>` makes recording idempotent. */
export interface CommunicationRecord extends CommunicationDoc {
  _id: string;
  customer_id: string;
  reason?: string;
  cost?: number;
  run_id?: string;
}

export interface HistoryQuery {
  since?: Date;
  channel?: string;
  workflow?: string;
  status?: string;
  limit?: number;
}

export const STATUSES = new Set([
  'sent',
  'delivered',
  'failed',
  'suppressed',
  'held_out',
  'opened',
  'clicked',
  'unknown',
]);
/**
 * Bound of one communication (its ids and names): the profile embeds up to `recentCommunications`
 * of them, so this keeps the embedded history a known share of the profile's size budget.
 */
export const MAX_COMMUNICATION_BYTES = 2 * 1024;
const DEFAULT_HISTORY_LIMIT = 50;
const MAX_HISTORY_LIMIT = 1_000;

/**
 * An outcome as a history entry; undefined for one without customer, action or a known status, or
 * past MAX_COMMUNICATION_BYTES.
 */
function outcomeEntry(
  outcome: actions.ActionOutcome,
  now: Date,
): { comm: CommunicationDoc; extra: Partial<CommunicationRecord> } | undefined {
  const status = OUTCOME_TOKEN[outcome.status];
  if (!outcome.customerId || !outcome.actionId || !STATUSES.has(status)) return undefined;
  const entry = {
    comm: {
      action_id: outcome.actionId,
      workflow: outcome.workflow,
      trigger: outcome.trigger,
      channel: outcome.channel,
      status,
      at: outcome.at ?? now,
      template: outcome.metadata?.template ?? '',
      transactional: outcome.transactional,
    },
    extra: { reason: outcome.reason, cost: outcome.cost, run_id: outcome.runId },
  };
  // Our own services name workflows and templates far below the bound: nothing real is left out.
  return valueBytes(entry.comm) > MAX_COMMUNICATION_BYTES ? undefined : entry;
}

/** Communication history: every status in `communications`, the latest N embedded in the profile. */
@injectable()
export class CommunicationLog {
  readonly records: Collection<CommunicationRecord>;

  constructor(
    @inject(TOKENS.Db) db: Db,
    @inject(ENRICHMENT_TOKENS.Settings) private readonly settings: EnrichmentSettings,
    @inject(ProfileWriteBehind) private readonly writer: ProfileWriteBehind,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {
    this.records = db.collection<CommunicationRecord>(COMMUNICATIONS);
  }

  async init(): Promise<void> {
    await this.records.createIndex({ customer_id: 1, at: -1 });
    // The retention sweep's range (KAIROS_COMMUNICATIONS_RETENTION).
    await this.records.createIndex({ at: 1 });
  }

  /**
   * Records a communication; returns false when this (action, status) was already recorded.
   * Both steps are idempotent, so a redelivery after a crash between them completes the second.
   */
  async record(
    customerId: string,
    comm: CommunicationDoc,
    extra: Partial<CommunicationRecord> = {},
  ): Promise<boolean> {
    const record = this.toRecord(customerId, comm, extra);
    let inserted = true;
    try {
      await this.records.insertOne(record);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      inserted = false;
    }
    await this.writer.apply(customerId, this.historyChange(comm));
    return inserted;
  }

  /**
   * Records a batch of ActionOutcomes: one insert for all their records (one SQLite transaction on
   * FerretDB, where 128 concurrent single inserts had queued the profile writes behind them), then
   * their history entries through the write-behind. Acks wait for `committed`.
   */
  async recordOutcomes(outcomes: actions.ActionOutcome[]): Promise<BatchCommit | undefined> {
    const now = new Date(this.clock.now());
    const valid = outcomes.flatMap((o) => {
      const entry = outcomeEntry(o, now);
      return entry ? [{ customerId: o.customerId, ...entry }] : [];
    });
    if (valid.length === 0) return undefined;
    const records = valid.map((v) => this.toRecord(v.customerId, v.comm, v.extra));
    try {
      await this.records.insertMany(records, { ordered: false });
    } catch (err) {
      // Records already there (a redelivery, or the same status twice in the batch) are fine.
      if (!duplicateKeyWrites(err)) throw err;
    }
    for (const v of valid) await this.writer.stage(v.customerId, this.historyChange(v.comm));
    return { committed: this.writer.committed() };
  }

  private toRecord(
    customerId: string,
    comm: CommunicationDoc,
    extra: Partial<CommunicationRecord>,
  ): CommunicationRecord {
    if (!customerId) throw new FieldError('customer_id', 'must not be empty');
    if (!comm.action_id) throw new FieldError('communication.action_id', 'must not be empty');
    if (!STATUSES.has(comm.status)) {
      throw new FieldError(
        'communication.status',
        `expected one of ${[...STATUSES].join(', ')}, got ${quoteInput(comm.status)}`,
      );
    }
    const bytes = valueBytes(comm);
    if (bytes > MAX_COMMUNICATION_BYTES)
      throw new FieldError(
        'communication',
        `takes ${bytes} bytes; a communication may take at most ${MAX_COMMUNICATION_BYTES} bytes`,
      );
    return { ...extra, ...comm, _id: `${comm.action_id}:${comm.status}`, customer_id: customerId };
  }

  /** The communication added to the profile's embedded list (a no-op when nothing changes). */
  private historyChange(comm: CommunicationDoc): ProfileChange {
    return (current, now) => {
      // History of an unknown customer stays in `communications`; no profile is invented for it.
      if (!current) return undefined;
      const added = addRecentCommunication(
        current.recent_communications,
        comm,
        this.settings.recentCommunications,
      );
      if (!added) return undefined;
      const next = cloneProfile(current);
      next.recent_communications = added.list;
      const trimmed = added.trimmedAt;
      if (trimmed && !(next.communications_trimmed_at && next.communications_trimmed_at >= trimmed))
        next.communications_trimmed_at = trimmed;
      next.updated_at = now;
      next.version = current.version + 1;
      return next;
    };
  }

  async history(customerId: string, q: HistoryQuery): Promise<CommunicationDoc[]> {
    const filter: Filter<CommunicationRecord> = { customer_id: customerId };
    if (q.since) filter.at = { $gte: q.since };
    if (q.channel) filter.channel = q.channel;
    if (q.workflow) filter.workflow = q.workflow;
    if (q.status) filter.status = q.status;
    const limit = Math.min(q.limit || DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT);
    return this.records
      .find(filter, { projection: { _id: 0, customer_id: 0, reason: 0, cost: 0, run_id: 0 } })
      .sort({ at: -1 })
      .limit(limit)
      .toArray();
  }

  async deleteCustomer(customerId: string): Promise<number> {
    const res = await this.records.deleteMany({ customer_id: customerId });
    return res.deletedCount;
  }
}
