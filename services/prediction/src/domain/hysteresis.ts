/**
 * Threshold crossing with hysteresis and a per-customer cooldown. A customer is "armed" until its
 * score reaches `enter`; then one prediction fires and the customer is disarmed until the score
 * falls below `exit` (< `enter`) AND `cooldownMs` of event time has passed since the last fire.
 * A score hovering around `enter` therefore fires once, not on every wobble.
 */

export interface GateOptions {
  enter: number;
  exit: number;
  cooldownMs: number;
}

export interface GateState {
  /** Above the band since the last fire. */
  raised: boolean;
  lastFiredAt: number;
}

export function validateGate(o: GateOptions): GateOptions {
  if (!(o.enter > 0 && o.enter <= 1))
    throw new Error(`enter: expected a probability in (0, 1], got ${o.enter}`);
  if (!(o.exit >= 0 && o.exit < o.enter))
    throw new Error(`exit: expected 0 <= exit < enter (${o.enter}), got ${o.exit}`);
  if (!(o.cooldownMs >= 0)) throw new Error(`cooldownMs: expected >= 0, got ${o.cooldownMs}`);
  return o;
}

export const initialGate = (): GateState => ({ raised: false, lastFiredAt: -Infinity });

/** The decision for a new score at event time `at`; returns the next state and whether to fire. */
export function gate(
  o: GateOptions,
  s: GateState,
  score: number,
  at: number,
): { state: GateState; fire: boolean } {
  if (s.raised) {
    if (score < o.exit) return { state: { raised: false, lastFiredAt: s.lastFiredAt }, fire: false };
    return { state: s, fire: false };
  }
  if (score >= o.enter && at - s.lastFiredAt >= o.cooldownMs)
    return { state: { raised: true, lastFiredAt: at }, fire: true };
  return { state: s, fire: false };
}

/** A predicted event decided by the domain (the service turns it into an Event on the normal path). */
export interface PredictedEvent {
  type: 'churn.predicted' | 'purchase.predicted';
  category: 'predicted';
  customerId: string;
  /** Event time of the decision. */
  at: number;
  score: number;
  model: string;
  modelVersion: number;
  topFeatures: Array<{ feature: string; contribution: number; value: number }>;
  /** Id of the event that moved the score, empty when the passing of time did (a silence tick). */
  causeEventId: string;
}
