/**
 * The compiled form of a trigger: what libs/definitions produces from YAML and what the engine runs.
 * Durations are milliseconds; times are epoch milliseconds (event time).
 * Conditions are opaque predicates here (libs/definitions compiles CEL into them), so the engine
 * stays pure and tests can use plain functions.
 */

/** The event shape the engine sees. */
export interface EngineEvent {
  id: string;
  type: string;
  customerId: string;
  /** Event time (occurred_at), epoch ms. */
  time: number;
  properties: Record<string, unknown>;
  /** Profile snapshot carried by the enriched event (plain object), if any. */
  profile?: Record<string, unknown>;
}

/** What a condition can see: the candidate event, the profile, and events bound by earlier steps. */
export interface ConditionContext {
  event: EngineEvent;
  profile: Record<string, unknown>;
  /** alias -> bound event */
  bindings: Readonly<Record<string, EngineEvent>>;
}

export interface Condition {
  /** The source text (CEL), for explanations. */
  source: string;
  /** Must be pure and deterministic; a throw counts as false and is reported by explain(). */
  evaluate(ctx: ConditionContext): boolean;
}

export interface EventPattern {
  kind: 'event';
  type: string;
  where?: Condition;
  as?: string;
}

/** Every sub-pattern, in any order, within `withinMs` of the first match (compound trigger). */
export interface AllPattern {
  kind: 'all';
  of: Pattern[];
  withinMs?: number;
}

/** Whichever sub-pattern completes first. */
export interface AnyPattern {
  kind: 'any';
  of: Pattern[];
}

/** Steps in order (skip-till-next-match), all within `withinMs` of the first step's event. */
export interface SequencePattern {
  kind: 'sequence';
  steps: Pattern[];
  withinMs?: number;
}

/** "Not followed by": no event matching `pattern` for `forMs` after the previous step completed. */
export interface AbsentPattern {
  kind: 'absent';
  pattern: EventPattern;
  forMs: number;
}

/** At least `atLeast` matching events within a sliding window of `withinMs`. */
export interface CountPattern {
  kind: 'count';
  type: string;
  where?: Condition;
  atLeast: number;
  withinMs: number;
  as?: string;
}

export type Pattern = EventPattern | AllPattern | AnyPattern | SequencePattern | AbsentPattern | CountPattern;

export interface TriggerSpec {
  name: string;
  /** Increases on every applied change; part of fired ids. */
  version: number;
  /** 0-100; higher wins arbitration. */
  priority: number;
  /** Per customer: after a firing, the same trigger does not fire again for this long (0 = none). */
  cooldownMs: number;
  category?: string;
  description?: string;
  pattern: Pattern;
}
