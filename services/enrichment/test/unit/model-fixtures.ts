import { events } from '@kairos/contracts';
import type { EventRules } from '../../src/domain/profile-model';

/** The time the profile model's tests fold their events at. */
export const NOW = new Date('2026-03-10T12:00:00Z');

/** Event rules with purchases as `order.completed` (revenue in `revenue`) and trait updates as `profileEventType`. */
export function eventRules(profileEventType: string, budget: EventRules['budget']): EventRules {
  return {
    purchaseEventTypes: new Set(['order.completed']),
    profileEventTypes: new Set([profileEventType]),
    revenueProperty: 'revenue',
    budget,
  };
}

/** A customer action of customer c1. */
export function customerEvent(
  id: string,
  type: string,
  properties: Record<string, unknown> = {},
  at = NOW,
): events.Event {
  return events.Event.fromPartial({
    id,
    type,
    category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
    customerId: 'c1',
    occurredAt: at,
    properties,
  });
}
