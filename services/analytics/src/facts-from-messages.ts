/** ActionOutcome, ActionRequested, TriggerFired and enriched events, as the facts analytics keeps. */
import { OUTCOME_TOKEN, SCHEMAS, type actions, type events, type triggers } from '@kairos/contracts';
import type { FireFact, OutcomeFact, RequestFact, Status } from './domain/facts';

/** The outcome's id: the message id delivery publishes it with, so redeliveries share it. */
export const outcomeId = (status: string, actionId: string, channel: string) =>
  `${status}:${actionId}:${channel}`;

export function outcomeFact(o: actions.ActionOutcome): OutcomeFact {
  const status = OUTCOME_TOKEN[o.status] as Status;
  return {
    id: outcomeId(status, o.actionId, o.channel),
    actionId: o.actionId,
    runId: o.runId,
    workflow: o.workflow,
    trigger: o.trigger,
    customerId: o.customerId,
    channel: o.channel,
    status,
    reason: o.reason,
    at: o.at?.getTime() ?? 0,
    cost: o.cost,
    contentVariant: o.contentVariant,
    timingVariant: o.timingVariant,
    sto: o.metadata.send_time_optimized === 'true',
  };
}

export function requestFact(a: actions.ActionRequested): RequestFact {
  return {
    actionId: a.actionId,
    runId: a.runId,
    triggerId: a.triggerId,
    workflow: a.workflow,
    trigger: a.trigger,
    customerId: a.customerId,
    step: a.step,
    requestedAt: a.requestedAt?.getTime() ?? 0,
    escalation: a.escalation,
  };
}

export function fireFact(tf: triggers.TriggerFired): FireFact {
  const completing =
    tf.matched.find((m) => m.eventId === tf.completingEventId) ?? tf.matched[tf.matched.length - 1];
  return {
    id: tf.id,
    trigger: tf.trigger,
    customerId: tf.customerId,
    category: tf.category,
    eventType: tf.completingEventId ? (completing?.type ?? '') : '',
    at: tf.firedAt?.getTime() ?? 0,
  };
}

/** The event time of an enriched event (epoch ms). */
export const eventTime = (e: events.Event) => e.occurredAt?.getTime() ?? e.receivedAt?.getTime() ?? 0;

/**
 * The facts kept as the messages' own bytes (one protobuf message each): what each kind's message
 * decodes to. The mapping is pure, so the bytes read back give the facts first recorded.
 */
export const FACT_OF_BYTES = {
  fire: (b: Uint8Array) => fireFact(SCHEMAS.TriggerFired.type.decode(b)),
  request: (b: Uint8Array) => requestFact(SCHEMAS.ActionRequested.type.decode(b)),
  outcome: (b: Uint8Array) => outcomeFact(SCHEMAS.ActionOutcome.type.decode(b)),
};
export type BytesKind = keyof typeof FACT_OF_BYTES;

/** The fact of a message's bytes, for a kind FACT_OF_BYTES reads. */
export const factOfBytes = (kind: BytesKind, bytes: Uint8Array): unknown => FACT_OF_BYTES[kind](bytes);
