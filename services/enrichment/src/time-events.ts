import { inject, injectable, isDuplicateKey } from '@kairos/service-kit';
import type { Collection, Db } from 'mongodb';
import { events, partitionOf, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import { TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { nextOccurrence, occurrenceId, type Occurrence } from './domain/occurrences';
import type { ProfileDoc } from './domain/profile-model';
import { ProfileStore } from './profile-store';
import type { DateRule, EnrichmentSettings } from './domain/settings';
import { ENRICHMENT_TOKENS } from './tokens';

export const TIME_OCCURRENCES = 'time_occurrences';

/** A scheduled (or emitted) occurrence; `_id` is the emitted event's id. */
export interface OccurrenceDoc {
  _id: string;
  customer_id: string;
  partition: number;
  rule: string;
  date: string;
  fire_at: Date;
  status: 'pending' | 'emitted' | 'skipped' | 'cancelled';
  emitted_at?: Date;
}

/**
 * Time-based events for date attributes. Each customer's next occurrence per rule is a `pending`
 * document in MongoDB (written when the profile's dates or time zone change); a scan on an interval
 * emits the due ones to `events.raw.<p>.time_based.<type>` and marks them `emitted`. Exactly once:
 * the event id (and Nats-Msg-Id) is `time:<customer>:<rule>:<date>`, JetStream de-duplicates a
 * re-publish after a crash between publish and mark, and an emitted record is never re-emitted.
 */
@injectable()
export class TimeEventScheduler {
  readonly occurrences: Collection<OccurrenceDoc>;
  private readonly rules: Map<string, DateRule>;
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<number>;

  constructor(
    @inject(TOKENS.Db) db: Db,
    @inject(ENRICHMENT_TOKENS.Settings) private readonly settings: EnrichmentSettings,
    @inject(ENRICHMENT_TOKENS.Partitions) private readonly partitions: number,
    @inject(ENRICHMENT_TOKENS.OwnedPartitions) private readonly owned: number[],
    @inject(ProfileStore) private readonly store: ProfileStore,
    @inject(TOKENS.Publisher) private readonly publisher: Publisher,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {
    this.occurrences = db.collection<OccurrenceDoc>(TIME_OCCURRENCES);
    this.rules = new Map(settings.dateRules.map((r) => [r.name, r]));
  }

  /** Whether a profile change can move its time-based occurrences. */
  static affects(previous: ProfileDoc | undefined, next: ProfileDoc): boolean {
    if (!previous) return Object.keys(next.dates).length > 0;
    return (
      previous.time_zone !== next.time_zone || JSON.stringify(previous.dates) !== JSON.stringify(next.dates)
    );
  }

  /**
   * Schedules each rule's next occurrence for the profile, and drops the one `previous` (the profile
   * before this change) had scheduled when it is no longer next. Dropped by `_id`: FerretDB filters
   * anything but `_id` by scanning the whole collection. Anything left behind is harmless: the scan
   * re-checks every occurrence against the current profile before emitting it.
   */
  async syncProfile(profile: ProfileDoc, previous?: ProfileDoc): Promise<void> {
    const nowMs = this.clock.now();
    for (const rule of this.rules.values()) {
      const value = profile.dates[rule.attribute];
      const occ = value ? nextOccurrence(rule, value, profile.time_zone, nowMs) : undefined;
      if (occ) await this.schedule(profile._id, occ);
      const oldValue = previous?.dates[rule.attribute];
      const old = oldValue ? nextOccurrence(rule, oldValue, previous!.time_zone, nowMs) : undefined;
      if (old && old.date !== occ?.date)
        // Due ones stay (fire_at <= now): the scan decides about them.
        await this.occurrences.deleteOne({
          _id: occurrenceId(profile._id, rule.name, old.date),
          status: 'pending',
          fire_at: { $gt: new Date(nowMs) },
        });
    }
  }

  private async schedule(customerId: string, occ: Occurrence): Promise<void> {
    const id = occurrenceId(customerId, occ.rule, occ.date);
    // Only a pending record moves (time zone change); an emitted one is final.
    const res = await this.occurrences.updateOne(
      { _id: id, status: 'pending' },
      { $set: { fire_at: occ.fireAt } },
    );
    if (res.matchedCount > 0) return;
    try {
      await this.occurrences.insertOne({
        _id: id,
        customer_id: customerId,
        partition: partitionOf(customerId, this.partitions),
        rule: occ.rule,
        date: occ.date,
        fire_at: occ.fireAt,
        status: 'pending',
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** Emits every due occurrence of the owned partitions; returns how many were emitted. */
  scan(): Promise<number> {
    // One scan at a time: a slow scan and the next tick never work on the same records.
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(): Promise<number> {
    let emitted = 0;
    for (;;) {
      const nowMs = this.clock.now();
      const due = await this.occurrences
        .find({ status: 'pending', fire_at: { $lte: new Date(nowMs) }, partition: { $in: this.owned } })
        .sort({ fire_at: 1 })
        .limit(500)
        .toArray();
      for (const occ of due) if (await this.process(occ, nowMs)) emitted++;
      if (due.length < 500) return emitted;
    }
  }

  private async setStatus(occ: OccurrenceDoc, status: OccurrenceDoc['status'], nowMs: number): Promise<void> {
    await this.occurrences.updateOne(
      { _id: occ._id, status: 'pending' },
      { $set: { status, ...(status === 'emitted' ? { emitted_at: new Date(nowMs) } : {}) } },
    );
  }

  private async process(occ: OccurrenceDoc, nowMs: number): Promise<boolean> {
    const rule = this.rules.get(occ.rule);
    const profile = await this.store.read(occ.customer_id);
    const value = rule && profile?.dates[rule.attribute];
    // Re-check against the current profile: the date or zone may have changed since scheduling.
    const current =
      rule && value
        ? nextOccurrence(rule, value, profile.time_zone, occ.fire_at.getTime() - 86_400_000)
        : undefined;
    if (!rule || !profile || !current || current.date !== occ.date) {
      await this.setStatus(occ, 'cancelled', nowMs);
      if (profile) await this.syncProfile(profile);
      return false;
    }
    if (current.fireAt.getTime() > nowMs) {
      await this.occurrences.updateOne(
        { _id: occ._id, status: 'pending' },
        { $set: { fire_at: current.fireAt } },
      );
      return false;
    }
    let emitted = false;
    if (nowMs - current.fireAt.getTime() > this.settings.maxLatenessMs) {
      this.logger.warn(
        { occurrence: occ._id, fireAt: current.fireAt },
        'time-based occurrence too late; skipped',
      );
      await this.setStatus(occ, 'skipped', nowMs);
    } else {
      const event: events.Event = {
        id: occ._id,
        type: rule.eventType,
        category: events.EventCategory.EVENT_CATEGORY_TIME_BASED,
        customerId: occ.customer_id,
        occurredAt: current.fireAt,
        properties: {
          rule: rule.name,
          attribute: rule.attribute,
          date: occ.date,
          offset_days: rule.offsetDays,
          time_zone: profile.time_zone || 'UTC',
        },
        source: 'scheduler',
        receivedAt: new Date(nowMs),
      };
      const subject = subjects.rawEvent(occ.partition, event.category, event.type);
      await this.publisher.publish(subject, SCHEMAS.Event, event, { msgId: occ._id });
      await this.setStatus(occ, 'emitted', nowMs);
      emitted = true;
    }
    if (rule.recurrence === 'yearly') {
      const next = nextOccurrence(rule, value!, profile.time_zone, current.fireAt.getTime() + 1);
      if (next) await this.schedule(occ.customer_id, next);
    }
    return emitted;
  }

  /** Scans now and then every `intervalMs`. */
  start(intervalMs: number): void {
    const tick = () =>
      void this.scan().catch((err) =>
        this.logger.error({ err: (err as Error).message }, 'time-based event scan failed'),
      );
    tick();
    this.timer = setInterval(tick, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.scanning?.catch(() => undefined);
  }

  /** Removes the customer's occurrences (erasure); returns how many. */
  async deleteCustomer(customerId: string): Promise<number> {
    return (await this.occurrences.deleteMany({ customer_id: customerId })).deletedCount;
  }
}
