/**
 * The service's edges, pure: an enriched event as the engine's input, and a decided prediction as
 * the `Event` published on the normal event path.
 */
import { createHash } from 'node:crypto';
import { CATEGORY_TOKEN, events } from '@kairos/contracts';
import { dayOf, type FeatureEvent } from './features';
import type { PredictedEvent } from './hysteresis';

/** Where a predicted event says it comes from (`Event.source`). */
export const PREDICTION_SOURCE = 'prediction';

/** Why an enriched event is not an input (undefined: it is one). */
export function skipReason(enriched: events.EnrichedEvent): string | undefined {
  const e = enriched.event;
  if (!e) return 'enriched event has no event';
  if (!e.id) return 'event.id is empty';
  if (!e.customerId) return `event ${e.id}: customer_id is empty`;
  if (!(e.occurredAt ?? e.receivedAt)) return `event ${e.id}: occurred_at is missing`;
  // Predictions never feed themselves: a model learning from its own output is a feedback loop.
  if (e.category === events.EventCategory.EVENT_CATEGORY_PREDICTED) return 'predicted';
  return undefined;
}

/** An enriched event (checked by `skipReason`) as the engine's input, on its event time. */
export function toFeatureEvent(enriched: events.EnrichedEvent): FeatureEvent & { id: string } {
  const e = enriched.event!;
  const props = (e.properties ?? {}) as Record<string, unknown>;
  const value = [props.revenue, props.value, props.amount].find(
    (v) => typeof v === 'number' || typeof v === 'string',
  );
  const revenue = value === undefined ? undefined : Number(value);
  return {
    id: e.id,
    customerId: e.customerId,
    type: e.type,
    at: (e.occurredAt ?? e.receivedAt)!.getTime(),
    revenue: Number.isFinite(revenue) ? revenue : undefined,
    category: CATEGORY_TOKEN[e.category],
  };
}

/**
 * The predicted event's id: the same decision always gets the same id, so a replay after a crash
 * or a redelivery publishes a duplicate that JetStream (Nats-Msg-Id) and enrichment (event ids)
 * drop. A gate fires a model at most once per customer per event-time day (the cooldown is at
 * least a day in practice), so model + customer + day identifies the decision even if a replay
 * decides it at a slightly different time of that day.
 */
export function predictedEventId(p: Pick<PredictedEvent, 'model' | 'customerId' | 'at'>): string {
  const h = createHash('sha256').update(`${p.model}\u0000${p.customerId}`).digest('hex').slice(0, 24);
  return `pred-${p.model}-${dayOf(p.at)}-${h}`;
}

/** A decided prediction as an `Event` (category predicted) for `events.raw.<p>.predicted.<type>`. */
export function toPredictedEvent(p: PredictedEvent, partition: number, receivedAt: Date): events.Event {
  return {
    id: predictedEventId(p),
    type: p.type,
    category: events.EventCategory.EVENT_CATEGORY_PREDICTED,
    customerId: p.customerId,
    occurredAt: new Date(p.at),
    properties: {
      score: p.score,
      model: p.model,
      model_version: p.modelVersion,
      model_partition: partition,
      top_features: p.topFeatures.map((f) => ({ ...f })),
      cause_event_id: p.causeEventId,
    },
    source: PREDICTION_SOURCE,
    receivedAt,
  };
}
