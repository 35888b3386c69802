import { inject, injectable } from '@kairos/service-kit';
import { events, partitionOfSubject, SCHEMAS, subjects } from '@kairos/contracts';
import type { BatchItem, MessageContext, Publisher } from '@kairos/messaging';
import { TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { JourneyClassifier } from './journey';
import { applyEvent, newProfile, toProto, type EventRules, type ProfileDoc } from './profile-model';
import { ProfileStore } from './profile-store';
import type { EnrichmentSettings } from './settings';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

const MAX_CONFLICT_RETRIES = 8;

/**
 * The hot path: applies a raw event to its customer's profile (idempotently), recomputes the
 * journey stage and publishes the event with the profile snapshot to `events.enriched.<p>...`.
 * Called by the partition's `ordered-batch` ConsumeLoop, so per-customer order holds and each
 * publish runs inside its own message's consumer span.
 */
@injectable()
export class Enricher {
  private readonly rules: EventRules;

  constructor(
    @inject(ENRICHMENT_TOKENS.Settings) settings: EnrichmentSettings,
    @inject(ProfileStore) private readonly store: ProfileStore,
    @inject(JourneyClassifier) private readonly journey: JourneyClassifier,
    @inject(TimeEventScheduler) private readonly scheduler: TimeEventScheduler,
    @inject(TOKENS.Publisher) private readonly publisher: Publisher,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {
    this.rules = {
      purchaseEventTypes: new Set(settings.purchaseEventTypes),
      profileEventTypes: new Set(settings.profileEventTypes),
      revenueProperty: settings.revenueProperty,
    };
  }

  /** One event (a batch of one); the publish runs in the caller's trace context. */
  async handle(event: events.Event, ctx: MessageContext): Promise<void> {
    await this.handleBatch([{ message: event, ctx, inContext: (fn) => fn() }]);
  }

  /**
   * A partition's batch, in stream order: folds every event into its customer's profile in memory,
   * writes each touched profile once (one bulk write, conditional on the version read), then
   * publishes every event with the profile as of that event, each inside its own message's trace
   * context. The caller acks only after this resolves, so a crash before the write is durable
   * redelivers the batch; applied event ids make the redelivery a no-op for the profile.
   */
  async handleBatch(items: Array<BatchItem<events.Event>>): Promise<void> {
    const valid: Array<BatchItem<events.Event>> = [];
    for (const item of items) {
      if (item.message.customerId && item.message.id) valid.push(item);
      // Ingest never publishes these; nothing to enrich them with.
      else
        this.logger.warn(
          { subject: item.ctx.subject, eventId: item.message.id },
          'raw event without id or customer id; dropped',
        );
    }
    if (valid.length === 0) return;
    const snapshots = await this.applyAll(valid.map((i) => i.message));
    const enrichedAt = new Date(this.clock.now());
    await Promise.all(
      valid.map((item, i) => {
        const event = item.message;
        const enriched: events.EnrichedEvent = { event, profile: toProto(snapshots[i]!), enrichedAt };
        // A duplicate is re-published under the same msg id: JetStream drops it if the first made it.
        return item.inContext(() =>
          this.publisher.publish(
            subjects.enrichedEvent(partitionOfSubject(item.ctx.subject), event.category, event.type),
            SCHEMAS.EnrichedEvent,
            enriched,
            { msgId: `enriched:${event.id}` },
          ),
        );
      }),
    );
  }

  /**
   * Applies the events in order; returns the profile as of each event (unchanged for a duplicate).
   * Each profile version still counts the events applied to it, as if written one at a time.
   */
  private async applyAll(batch: events.Event[]): Promise<ProfileDoc[]> {
    const customers = [...new Set(batch.map((e) => e.customerId))];
    for (let attempt = 0; ; attempt++) {
      const now = new Date(this.clock.now());
      const stored = await Promise.all(customers.map((c) => this.store.getForWrite(c)));
      const original = new Map(customers.map((c, i) => [c, stored[i]]));
      const current = new Map(original);
      const snapshots: ProfileDoc[] = [];
      for (const event of batch) {
        const before = current.get(event.customerId);
        const applied = applyEvent(before ?? newProfile(event.customerId, now), event, this.rules, now);
        if (!applied) {
          snapshots.push(before ?? newProfile(event.customerId, now));
          continue;
        }
        if (applied.problems.length)
          this.logger.warn({ eventId: event.id, problems: applied.problems }, 'profile fields skipped');
        const next = applied.profile;
        next.journey_stage = this.journey.classify(next, now.getTime());
        next.version = (before?.version ?? 0) + 1;
        current.set(event.customerId, next);
        snapshots.push(next);
      }
      const changes = customers
        .filter((c) => current.get(c) !== original.get(c))
        .map((c) => ({ next: current.get(c)!, previous: original.get(c) }));
      if (await this.store.saveMany(changes)) {
        for (const { next, previous } of changes)
          if (TimeEventScheduler.affects(previous, next)) await this.scheduler.syncProfile(next);
        return snapshots;
      }
      if (attempt >= MAX_CONFLICT_RETRIES)
        throw new Error(`profiles ${customers.join(',')}: too many concurrent updates`);
    }
  }
}
