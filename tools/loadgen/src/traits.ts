import { logit, Rng, sigmoid } from './prng';

export const CHANNELS = ['email', 'push', 'sms', 'in_app'] as const;
export type Channel = (typeof CHANNELS)[number];

/** A time zone with a fixed offset (no DST: the simulation needs a stable local hour, not a calendar). */
export interface SimTimeZone {
  name: string;
  offsetMinutes: number;
}

export const TIME_ZONES: readonly SimTimeZone[] = [
  { name: 'America/Los_Angeles', offsetMinutes: -480 },
  { name: 'America/Chicago', offsetMinutes: -360 },
  { name: 'America/New_York', offsetMinutes: -300 },
  { name: 'America/Sao_Paulo', offsetMinutes: -180 },
  { name: 'Europe/London', offsetMinutes: 0 },
  { name: 'Europe/Berlin', offsetMinutes: 60 },
  { name: 'Asia/Kolkata', offsetMinutes: 330 },
  { name: 'Asia/Singapore', offsetMinutes: 480 },
  { name: 'Asia/Tokyo', offsetMinutes: 540 },
  { name: 'Australia/Sydney', offsetMinutes: 600 },
];
const TIME_ZONE_WEIGHTS = [10, 8, 14, 5, 10, 12, 8, 5, 5, 4];

/**
 * Parameters of the trait distributions, exported so tests (and analysts scoring predictions) can
 * compare observed populations with the model.
 */
export const TRAIT_MODEL = {
  /** Sessions per day: log-normal. */
  activityRate: { median: 1.2, sigma: 0.8 },
  /** Probability that a session ends in a purchase: logit-normal. */
  purchasePropensity: { median: 0.08, sigma: 0.9 },
  /** Churn hazard per day: log-normal (median 0.01 ≈ 26% churn within 30 days). */
  churnHazard: { median: 0.01, sigma: 0.9 },
  /** Order value in currency units: log-normal. */
  averageOrderValue: { median: 60, sigma: 0.6 },
  /** Open probability per channel: logit-normal around these medians. */
  responsiveness: { email: 0.22, push: 0.12, sms: 0.35, in_app: 0.3 } as Record<Channel, number>,
  responsivenessSigma: 1.0,
  /** Probability of a click given an open: logit-normal. */
  clickRate: { median: 0.25, sigma: 0.7 },
  /** Preferred local hours and how often each is the centre of a customer's day. */
  preferredHours: { hours: [8, 12, 19, 21], weights: [2, 2, 3, 2], spread: 1.5 },
  /** Share of customers who are VIPs (big spenders). */
  vipShare: 0.03,
} as const;

/** What the simulator knows about a customer and Kairos must infer. */
export interface CustomerTraits {
  /** Mean sessions per day. */
  activityRate: number;
  /** Probability that a session ends with an order. */
  purchasePropensity: number;
  /** Probability per day of leaving for good. */
  churnHazard: number;
  /** Local hour (0–23) around which the customer is active and receptive. */
  preferredHour: number;
  timeZone: SimTimeZone;
  /** Probability of opening a message per channel. */
  responsiveness: Record<Channel, number>;
  /** Probability of a click given an open. */
  clickRate: number;
  averageOrderValue: number;
  vip: boolean;
}

function logitNormal(rng: Rng, median: number, sigma: number): number {
  return sigmoid(rng.normal(logit(median), sigma));
}

export function sampleTraits(rng: Rng): CustomerTraits {
  const m = TRAIT_MODEL;
  const vip = rng.chance(m.vipShare);
  const hourCentre = rng.weighted(m.preferredHours.hours, m.preferredHours.weights);
  const preferredHour = (((Math.round(rng.normal(hourCentre, m.preferredHours.spread)) % 24) + 24) %
    24) as number;
  const responsiveness = {} as Record<Channel, number>;
  // A shared engagement factor correlates channels: someone who opens emails tends to open pushes too.
  const engagement = rng.normal(0, 0.6);
  for (const channel of CHANNELS) {
    const own = rng.normal(0, Math.sqrt(m.responsivenessSigma ** 2 - 0.36));
    responsiveness[channel] = sigmoid(logit(m.responsiveness[channel]) + engagement + own);
  }
  return {
    activityRate: rng.logNormal(m.activityRate.median, m.activityRate.sigma),
    purchasePropensity: logitNormal(rng, m.purchasePropensity.median, m.purchasePropensity.sigma),
    churnHazard: rng.logNormal(m.churnHazard.median, m.churnHazard.sigma),
    preferredHour,
    timeZone: rng.weighted(TIME_ZONES, TIME_ZONE_WEIGHTS),
    responsiveness,
    clickRate: logitNormal(rng, m.clickRate.median, m.clickRate.sigma),
    averageOrderValue: rng.logNormal(vip ? 600 : m.averageOrderValue.median, m.averageOrderValue.sigma),
    vip,
  };
}

const HOUR_MS = 3_600_000;

/** The customer's local hour (0–23, fractional) at epoch time `atMs`. */
export function localHour(traits: Pick<CustomerTraits, 'timeZone'>, atMs: number): number {
  const local = atMs + traits.timeZone.offsetMinutes * 60_000;
  return (((local % (24 * HOUR_MS)) + 24 * HOUR_MS) % (24 * HOUR_MS)) / HOUR_MS;
}

/** Distance in hours between two hours of the day, going the short way round the clock. */
export function hourDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 24;
  return Math.min(d, 24 - d);
}

/**
 * Relative activity at a local hour: a floor (people do act at odd hours) plus a bump around the
 * preferred hour. Its maximum is 1, which the session sampler uses for thinning.
 */
export function activityWeight(preferredHour: number, hour: number): number {
  const d = hourDistance(preferredHour, hour);
  return 0.15 + 0.85 * Math.exp(-(d * d) / (2 * 2.5 * 2.5));
}

/** Mean of `activityWeight` over a day, so sessions/day stay `activityRate` on average. */
export const MEAN_ACTIVITY_WEIGHT = (() => {
  let sum = 0;
  for (let i = 0; i < 24 * 60; i++) sum += activityWeight(0, i / 60);
  return sum / (24 * 60);
})();
