import { inject, injectable } from '@kairos/service-kit';
import type { Collection, Db, Filter } from 'mongodb';
import { actions, OUTCOME_TOKEN } from '@kairos/contracts';
import { TOKENS, type Clock } from '@kairos/service-kit';
import { addRecentCommunication, cloneProfile, FieldError, type CommunicationDoc } from './profile-model';
import { ProfileWriteBehind } from './profile-writer';
import type { EnrichmentSettings } from './settings';
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
]);
const DEFAULT_HISTORY_LIMIT = 50;
const MAX_HISTORY_LIMIT = 1_000;

/** Communication history: every status in `communications`, the latest N embedded in the profile. */
@injectable()
export class CommunicationLog {
  readonly records: Collection<CommunicationRecord>;

  constructor(
    @inject(ENRICHMENT_TOKENS.Db) db: Db,
    @inject(ENRICHMENT_TOKENS.Settings) private readonly settings: EnrichmentSettings,
    @inject(ProfileWriteBehind) private readonly writer: ProfileWriteBehind,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {
    this.records = db.collection<CommunicationRecord>(COMMUNICATIONS);
  }

  async init(): Promise<void> {
    await this.records.createIndex({ customer_id: 1, at: -1 });
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
    if (!customerId) throw new FieldError('customer_id', 'must not be empty');
    if (!comm.action_id) throw new FieldError('communication.action_id', 'must not be empty');
    if (!STATUSES.has(comm.status)) {
      throw new FieldError(
        'communication.status',
        `expected one of ${[...STATUSES].join(', ')}, got '${comm.status}'`,
      );
    }
    let inserted = true;
    try {
      await this.records.insertOne({
        ...extra,
        ...comm,
        _id: `${comm.action_id}:${comm.status}`,
        customer_id: customerId,
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      inserted = false;
    }
    await this.writer.apply(customerId, (current, now) => {
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
    });
    return inserted;
  }

  /** Records an ActionOutcome from delivery or orchestration. */
  async recordOutcome(outcome: actions.ActionOutcome): Promise<boolean> {
    const status = OUTCOME_TOKEN[outcome.status];
    if (!outcome.customerId || !outcome.actionId || !STATUSES.has(status)) return false;
    return this.record(
      outcome.customerId,
      {
        action_id: outcome.actionId,
        workflow: outcome.workflow,
        trigger: outcome.trigger,
        channel: outcome.channel,
        status,
        at: outcome.at ?? new Date(this.clock.now()),
        template: outcome.metadata?.template ?? '',
        transactional: outcome.transactional,
      },
      { reason: outcome.reason, cost: outcome.cost, run_id: outcome.runId },
    );
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
