import { events, profiles, triggers } from '@kairos/contracts';
import type { EngineEvent, FiredTrigger, MatchedStep } from '@kairos/patterns';

/**
 * The profile as conditions see it: the proto JSON form (camelCase fields such as `journeyStage`,
 * `traits`, `counters.totalEvents`; timestamps as ISO strings).
 */
export function profileToPlain(profile: profiles.Profile | undefined): Record<string, unknown> | undefined {
  if (!profile) return undefined;
  return profiles.Profile.toJSON(profile) as Record<string, unknown>;
}

export class EventConversionError extends Error {}

/** EnrichedEvent → the engine's event (time = occurred_at in epoch ms). */
export function toEngineEvent(enriched: events.EnrichedEvent): EngineEvent {
  const e = enriched.event;
  if (!e) throw new EventConversionError('enriched event has no event');
  if (!e.id) throw new EventConversionError('event.id is empty');
  if (!e.customerId) throw new EventConversionError(`event ${e.id}: customer_id is empty`);
  const at = e.occurredAt ?? e.receivedAt;
  if (!at) throw new EventConversionError(`event ${e.id}: occurred_at is missing`);
  const out: EngineEvent = {
    id: e.id,
    type: e.type,
    customerId: e.customerId,
    time: at.getTime(),
    properties: (e.properties as Record<string, unknown> | undefined) ?? {},
  };
  const profile = profileToPlain(enriched.profile);
  if (profile) out.profile = profile;
  return out;
}

function matchedToProto(m: MatchedStep): triggers.MatchedEvent {
  return {
    step: m.path,
    alias: m.alias ?? '',
    eventId: m.event?.id ?? '',
    type: m.type,
    occurredAt: new Date(m.event?.time ?? m.time),
    properties: m.event ? (m.event.properties as { [key: string]: unknown }) : undefined,
  };
}

/**
 * FiredTrigger → TriggerFired. `bindings` maps each alias to the whole bound event
 * ({id, type, customerId, time, properties}), so consumers can rebuild the engine's bindings.
 */
export function toTriggerFired(fired: FiredTrigger, profile?: profiles.Profile): triggers.TriggerFired {
  return triggers.TriggerFired.fromPartial({
    id: fired.id,
    trigger: fired.trigger,
    triggerVersion: fired.version,
    customerId: fired.customerId,
    firedAt: new Date(fired.firedAt),
    priority: fired.priority,
    category: fired.category ?? '',
    matched: fired.matched.map(matchedToProto),
    bindings: JSON.parse(JSON.stringify(fired.bindings)) as { [key: string]: unknown },
    explanation: fired.explanation,
    profile,
    completingEventId: fired.completingEventId ?? '',
  });
}
