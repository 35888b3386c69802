import { events, partitionOf, SCHEMAS, subjects, type profiles, type Schema } from '@kairos/contracts';

const { EventCategory } = events;

/** A customer action as a test states it: what happened, to whom, when (epoch ms). */
export interface EventInput {
  id: string;
  type: string;
  customer: string;
  at: number;
  props?: Record<string, unknown>;
  profile?: Partial<profiles.Profile>;
}

/** What a test publishes with: the `publish` of `@kairos/messaging`'s Publisher. */
export interface EnrichedPublisher {
  publish<T>(
    subject: string,
    schema: Schema<T>,
    message: T,
    options: { msgId: string },
  ): Promise<{ seq: number }>;
}

/** `e` as enrichment would emit it: a customer action with an `active` profile (plus `e.profile`). */
export function enriched(e: EventInput): events.EnrichedEvent {
  return events.EnrichedEvent.fromPartial({
    event: {
      id: e.id,
      type: e.type,
      category: EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
      customerId: e.customer,
      occurredAt: new Date(e.at),
      receivedAt: new Date(e.at),
      properties: e.props ?? {},
      source: 'test',
    },
    profile: { customerId: e.customer, journeyStage: 'active', ...(e.profile ?? {}) },
    enrichedAt: new Date(),
  });
}

/**
 * Publishes `e` as enrichment would: `events.enriched.<p>.customer_action.<type>`, message id
 * `enriched:<event id>`. Resolves with its stream sequence.
 */
export async function publishEnriched(
  publisher: EnrichedPublisher,
  partitions: number,
  e: EventInput,
): Promise<number> {
  const subject = subjects.enrichedEvent(
    partitionOf(e.customer, partitions),
    EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
    e.type,
  );
  const ack = await publisher.publish(subject, SCHEMAS.EnrichedEvent, enriched(e), {
    msgId: `enriched:${e.id}`,
  });
  return ack.seq;
}
