/** A matched event as kept in state and reported: the enriched event without its profile snapshot. */
export interface BoundEvent {
  id: string;
  type: string;
  customerId: string;
  time: number;
  properties: Record<string, unknown>;
}

/** One step of a match: an event that matched a step, or an absence that held until its deadline. */
export interface MatchedStep {
  /** Step path, e.g. `sequence[0]`, `sequence[1].all[2]`, `count`. */
  path: string;
  kind: 'event' | 'count' | 'absent';
  /** Event type matched (for absent: the type that did not occur). */
  type: string;
  alias?: string;
  /** The matched event (event and count steps). */
  event?: BoundEvent;
  /** Event time, or for absent the deadline. */
  time: number;
  /** absent only: the interval [from, until) in which no matching event occurred. */
  absentFrom?: number;
  absentUntil?: number;
}

export interface FiredTrigger {
  /** `<trigger>@<version>/<customer>/<completing event id>` or `…/@<deadline ms>` (see firedTriggerId). */
  id: string;
  trigger: string;
  version: number;
  customerId: string;
  /** Event time of the completion: the completing event's time or the absence deadline. */
  firedAt: number;
  priority: number;
  category?: string;
  description?: string;
  matched: MatchedStep[];
  /** alias -> bound event (a count alias binds the event that reached the threshold). */
  bindings: Record<string, BoundEvent>;
  /** Human-readable summary of why it fired. */
  explanation: string;
  /** The event that completed the match; null when an absence deadline completed it. */
  completingEventId: string | null;
  /** Set when an absence deadline completed the match. */
  completedByDeadline?: number;
}

/** What a partial match waits for. */
export interface WaitingStep {
  path: string;
  kind: 'event' | 'count' | 'absent';
  type: string;
  condition?: string;
  /** count: events in the window so far / needed. */
  counted?: number;
  atLeast?: number;
  /** absent: fires when the watermark reaches this time unless a matching event comes first. */
  deadline?: number;
}

export interface PartialMatchExplanation {
  startedAt: number;
  matchedSoFar: MatchedStep[];
  waitingFor: WaitingStep[];
  /** The earliest time after which this partial match can no longer complete (a window ends). */
  expiresAfter?: number;
}

export interface ConditionFailure {
  path: string;
  condition: string;
  eventId: string;
  eventTime: number;
  /** Set when the condition threw: evaluation errors count as false. */
  error?: string;
}

export interface Explanation {
  trigger: string;
  version?: number;
  customerId: string;
  status: 'unknown-trigger' | 'idle' | 'waiting' | 'cooldown';
  watermark: number;
  lastFiredAt?: number;
  cooldownUntil?: number;
  /** The last match completed while the cooldown was active (consumed, not emitted). */
  lastSuppressed?: { at: number; eventIds: string[] };
  partialMatches: PartialMatchExplanation[];
  /** The last failed condition per step path. */
  conditionFailures: ConditionFailure[];
  summary: string;
}

export interface EngineStats {
  eventsProcessed: number;
  lateEventsDropped: number;
  fired: number;
  suppressedByCooldown: number;
  partialMatchesEvicted: number;
  conditionErrors: number;
}
