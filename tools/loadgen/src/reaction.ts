import type { Rng } from './prng';
import {
  activityWeight,
  CHANNELS,
  hourDistance,
  localHour,
  MEAN_ACTIVITY_WEIGHT,
  type Channel,
  type CustomerTraits,
} from './traits';

export interface ReactionOptions {
  /**
   * True uplift: added to the purchase probability (after a click) when the message arrives within
   * `wellTimedWindowHours` of the customer's preferred local hour.
   */
  uplift: number;
  wellTimedWindowHours: number;
}

export const DEFAULT_REACTION_OPTIONS: ReactionOptions = { uplift: 0.1, wellTimedWindowHours: 1 };

/** A message that reached a simulated customer. */
export interface Delivery {
  actionId: string;
  customerId: string;
  channel: string;
  /** Epoch ms at which the message was delivered (decides whether it was well timed). */
  deliveredAt: number;
  /**
   * The population's simulated time at delivery, which decides whether the customer has churned.
   * Default `deliveredAt`; live runs pass the simulated clock, which runs apart from the wall clock.
   */
  simulatedAt?: number;
  workflow?: string;
  trigger?: string;
}

export interface ReactionDecision {
  opened: boolean;
  clicked: boolean;
  converted: boolean;
  /** Delivered near the preferred local hour, so the uplift applied. */
  wellTimed: boolean;
  localHour: number;
  openProbability: number;
  conversionProbability: number;
  /** Order value when converted. */
  revenue?: number;
}

/**
 * Share of a customer's open probability that depends on when the message arrives. A message that
 * lands while the customer is active (their session-hour curve, `activityWeight`) is seen while it
 * is fresh; one that lands at night sits under newer ones. The rest does not depend on the hour.
 */
export const OPEN_HOUR_SENSITIVITY = 0.3;

/**
 * How the delivery hour scales the open probability: `1 − s + s · w(h) / mean(w)`, with `w` the
 * customer's activity at local hour `h` and `s` = OPEN_HOUR_SENSITIVITY. Its mean over the hours of
 * a day is 1, so a message sent at a random hour keeps the channel's responsiveness on average;
 * about 1.5 at the preferred hour and 0.8 at the least active one.
 */
export function openHourFactor(traits: Pick<CustomerTraits, 'preferredHour'>, hour: number): number {
  const s = OPEN_HOUR_SENSITIVITY;
  return 1 - s + (s * activityWeight(traits.preferredHour, hour)) / MEAN_ACTIVITY_WEIGHT;
}

/**
 * Open probability of a channel (unknown channels such as webhook or slack get the customer's mean
 * responsiveness), scaled by the delivery's local hour when it is given (`openHourFactor`).
 */
export function openProbability(traits: CustomerTraits, channel: string, hour?: number): number {
  let base: number;
  if ((CHANNELS as readonly string[]).includes(channel)) base = traits.responsiveness[channel as Channel];
  else {
    let sum = 0;
    for (const c of CHANNELS) sum += traits.responsiveness[c];
    base = sum / CHANNELS.length;
  }
  return hour === undefined ? base : Math.min(1, base * openHourFactor(traits, hour));
}

/** Base probability of buying after clicking a message. */
export function baseConversionProbability(traits: CustomerTraits): number {
  return Math.min(0.9, traits.purchasePropensity * 3);
}

/**
 * How a customer reacts to one delivered message, decided from the hidden traits: open with the
 * channel's responsiveness scaled by the delivery's local hour (`openHourFactor`), click with the
 * click rate, buy with the base conversion probability
 * plus the uplift when well timed. The draws always happen in the same order, so the decision
 * depends only on the Rng passed in (derived from the action id).
 */
export function decideReaction(
  traits: CustomerTraits,
  delivery: Delivery,
  rng: Rng,
  options: ReactionOptions = DEFAULT_REACTION_OPTIONS,
): ReactionDecision {
  const hour = localHour(traits, delivery.deliveredAt);
  const wellTimed = hourDistance(hour, traits.preferredHour) <= options.wellTimedWindowHours;
  const pOpen = openProbability(traits, delivery.channel, hour);
  const pConvert = Math.min(1, baseConversionProbability(traits) + (wellTimed ? options.uplift : 0));
  const openDraw = rng.next();
  const clickDraw = rng.next();
  const convertDraw = rng.next();
  const revenueDraw = rng.logNormal(traits.averageOrderValue, 0.3);
  const opened = openDraw < pOpen;
  const clicked = opened && clickDraw < traits.clickRate;
  const converted = clicked && convertDraw < pConvert;
  return {
    opened,
    clicked,
    converted,
    wellTimed,
    localHour: Math.round(hour * 100) / 100,
    openProbability: pOpen,
    conversionProbability: pConvert,
    revenue: converted ? Math.round(revenueDraw * 100) / 100 : undefined,
  };
}
