import { EventCategory } from './gen/kairos/events/v1/events';
import { OutcomeStatus } from './gen/kairos/actions/v1/actions';

/** Subject token of each event category, as in `events.raw.<p>.<category>.<type>`. */
export const CATEGORY_TOKEN: Record<EventCategory, string> = {
  [EventCategory.EVENT_CATEGORY_UNSPECIFIED]: 'unspecified',
  [EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION]: 'customer_action',
  [EventCategory.EVENT_CATEGORY_SYSTEM]: 'system',
  [EventCategory.EVENT_CATEGORY_TIME_BASED]: 'time_based',
  [EventCategory.EVENT_CATEGORY_EXTERNAL]: 'external',
  [EventCategory.EVENT_CATEGORY_PREDICTED]: 'predicted',
  [EventCategory.UNRECOGNIZED]: 'unrecognized',
};

export function categoryFromToken(token: string): EventCategory | undefined {
  for (const [k, v] of Object.entries(CATEGORY_TOKEN)) if (v === token) return Number(k) as EventCategory;
  return undefined;
}

export const OUTCOME_TOKEN: Record<OutcomeStatus, string> = {
  [OutcomeStatus.OUTCOME_STATUS_UNSPECIFIED]: 'unspecified',
  [OutcomeStatus.OUTCOME_STATUS_SENT]: 'sent',
  [OutcomeStatus.OUTCOME_STATUS_DELIVERED]: 'delivered',
  [OutcomeStatus.OUTCOME_STATUS_FAILED]: 'failed',
  [OutcomeStatus.OUTCOME_STATUS_SUPPRESSED]: 'suppressed',
  [OutcomeStatus.OUTCOME_STATUS_HELD_OUT]: 'held_out',
  [OutcomeStatus.OUTCOME_STATUS_OPENED]: 'opened',
  [OutcomeStatus.OUTCOME_STATUS_CLICKED]: 'clicked',
  [OutcomeStatus.OUTCOME_STATUS_UNKNOWN]: 'unknown',
  [OutcomeStatus.UNRECOGNIZED]: 'unrecognized',
};

/** Event types are dotted lower-case names; each dot-separated part becomes a subject token. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
/** Definition names (triggers, workflows) are DNS-label-like, so they are one subject token. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Channel names (email, sms, push, in_app, webhook, slack, preferred): one subject token each. */
export const CHANNEL_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

function token(value: string, what: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new Error(`invalid ${what} '${value}' for a subject`);
  return value;
}

export const subjects = {
  rawEvent: (partition: number, category: EventCategory, type: string) =>
    `events.raw.${partition}.${CATEGORY_TOKEN[category]}.${token(type, 'event type', EVENT_TYPE_PATTERN)}`,
  enrichedEvent: (partition: number, category: EventCategory, type: string) =>
    `events.enriched.${partition}.${CATEGORY_TOKEN[category]}.${token(type, 'event type', EVENT_TYPE_PATTERN)}`,
  triggerFired: (partition: number, trigger: string) =>
    `triggers.fired.${partition}.${token(trigger, 'trigger name', NAME_PATTERN)}`,
  actionRequested: (channel: string) => `actions.requested.${token(channel, 'channel', CHANNEL_PATTERN)}`,
  actionOutcome: (status: OutcomeStatus) => `actions.outcome.${OUTCOME_TOKEN[status]}`,
  /** An erasure command for a customer of partition `p` (stream PRIVACY). */
  privacyErase: (partition: number) => `privacy.erase.${partition}`,
  /** A service's acknowledgement of an erasure (stream PRIVACY). */
  privacyErased: (service: string) => `privacy.erased.${token(service, 'service name', NAME_PATTERN)}`,
  /** Dead letters keep the original subject after the prefix. */
  deadLetter: (originalSubject: string) => `dlq.${originalSubject}`,
};

/** Filters for consumers. */
export const filters = {
  allRaw: 'events.raw.>',
  rawPartition: (p: number) => `events.raw.${p}.>`,
  allEnriched: 'events.enriched.>',
  enrichedPartition: (p: number) => `events.enriched.${p}.>`,
  allFired: 'triggers.fired.>',
  firedPartition: (p: number) => `triggers.fired.${p}.>`,
  allRequested: 'actions.requested.>',
  requested: (channel: string) => `actions.requested.${channel}`,
  allOutcomes: 'actions.outcome.>',
  allErase: 'privacy.erase.>',
  erasePartition: (p: number) => `privacy.erase.${p}`,
  allErased: 'privacy.erased.>',
};

/** Partition encoded in an events/triggers subject (`<family>.<kind>.<p>...`). */
export function partitionOfSubject(subject: string): number {
  const p = Number(subject.split('.')[2]);
  if (!Number.isInteger(p)) throw new Error(`subject '${subject}' carries no partition`);
  return p;
}
