import { inject, injectable, TOKENS, type Logger } from '@kairos/service-kit';
import type { events } from '@kairos/contracts';
import { counter } from '@kairos/telemetry';
import { JourneyClassifier } from './journey';
import type { ProfileBudget } from './profile-budget';
import { applyEvent, newProfile, type EventRules, type ProfileDoc } from './profile-model';
import type { EnrichmentSettings } from './settings';
import { ENRICHMENT_TOKENS } from '../tokens';

const overBudget = counter(
  'kairos_profile_fields_over_budget_total',
  'Profile fields of events not stored because they would take the profile past its size budget',
);

/** One raw event folded into a profile: counters, profile fields, journey stage, version. */
@injectable()
export class ProfileFolder {
  private readonly rules: EventRules;

  constructor(
    @inject(ENRICHMENT_TOKENS.Settings) settings: EnrichmentSettings,
    @inject(JourneyClassifier) private readonly journey: JourneyClassifier,
    @inject(ENRICHMENT_TOKENS.Budget) budget: ProfileBudget,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {
    this.rules = {
      purchaseEventTypes: new Set(settings.purchaseEventTypes),
      profileEventTypes: new Set(settings.profileEventTypes),
      revenueProperty: settings.revenueProperty,
      budget,
    };
  }

  /** The profile after `event`, or undefined when `before` already counts it (a redelivery). */
  apply(before: ProfileDoc | undefined, event: events.Event, now: Date): ProfileDoc | undefined {
    const applied = applyEvent(before ?? newProfile(event.customerId, now), event, this.rules, now);
    if (!applied) return undefined;
    if (applied.problems.length)
      this.logger.warn(
        { eventId: event.id, customerId: event.customerId, problems: applied.problems },
        'profile fields skipped',
      );
    if (applied.overBudget) overBudget.inc({}, applied.overBudget);
    const next = applied.profile;
    next.journey_stage = this.journey.classify(next, now.getTime());
    next.version = (before?.version ?? 0) + 1;
    return next;
  }
}
