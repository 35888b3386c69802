import { inject, injectable } from '@kairos/service-kit';
import { events, partitionOfSubject, SCHEMAS, subjects } from '@kairos/contracts';
import type { MessageContext, Publisher } from '@kairos/messaging';
import { TOKENS, type Clock, type Logger } from '@kairos/service-kit';
import { JourneyClassifier } from './journey';
import { applyEvent, newProfile, toProto, type EventRules, type ProfileDoc } from './profile-model';
import { ProfileStore } from './profile-store';
import type { EnrichmentSettings } from './settings';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

/**
 * The hot path: applies a raw event to its customer's profile (idempotently), recomputes the
 * journey stage and publishes the event with the profile snapshot to `events.enriched.<p>...`.
 * Called by the partition's ordered ConsumeLoop, so per-customer order holds and the publish runs
 * inside the consumer span.
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

  /** Applies the event; returns the profile after it (unchanged when the event was a duplicate). */
  async apply(event: events.Event): Promise<ProfileDoc> {
    const now = new Date(this.clock.now());
    const { previous, profile, result } = await this.store.update(event.customerId, (current) => {
      const applied = applyEvent(current ?? newProfile(event.customerId, now), event, this.rules, now);
      if (!applied) return { result: [] as string[] };
      applied.profile.journey_stage = this.journey.classify(applied.profile, now.getTime());
      return { next: applied.profile, result: applied.problems };
    });
    if (result.length) this.logger.warn({ eventId: event.id, problems: result }, 'profile fields skipped');
    if (profile && TimeEventScheduler.affects(previous, profile)) await this.scheduler.syncProfile(profile);
    return profile!;
  }

  async handle(event: events.Event, ctx: MessageContext): Promise<void> {
    if (!event.customerId || !event.id) {
      // Ingest never publishes these; nothing to enrich them with.
      this.logger.warn(
        { subject: ctx.subject, eventId: event.id },
        'raw event without id or customer id; dropped',
      );
      return;
    }
    const profile = await this.apply(event);
    const enriched: events.EnrichedEvent = {
      event,
      profile: toProto(profile),
      enrichedAt: new Date(this.clock.now()),
    };
    // A duplicate is re-published under the same msg id: JetStream drops it if the first made it.
    await this.publisher.publish(
      subjects.enrichedEvent(partitionOfSubject(ctx.subject), event.category, event.type),
      SCHEMAS.EnrichedEvent,
      enriched,
      { msgId: `enriched:${event.id}` },
    );
  }
}
