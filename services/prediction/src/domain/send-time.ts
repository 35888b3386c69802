/**
 * Send-time optimisation: each customer's best hour (UTC, 0–23) to be reached. Per hour h the rate
 * is a Beta-smoothed share: (n_h + k·π_h) / (n + k), where n_h are the customer's weighted
 * engagement observations in hour h (opens and clicks weigh 1, session starts `activityWeight`),
 * π_h the population's share of hour h, and k the prior strength. A customer without history gets
 * the population's best hour; each observation moves the estimate towards the customer's own.
 * Neighbouring hours are pooled (circular ±1 h kernel) so a single open does not pick its hour alone.
 */

export interface SendTimeOptions {
  priorStrength: number;
  activityWeight: number;
}

export const DEFAULT_SEND_TIME: SendTimeOptions = { priorStrength: 8, activityWeight: 0.25 };

/** Weighted observations per hour for one customer. */
export function hourObservations(
  engagement: ArrayLike<number>,
  activity: ArrayLike<number>,
  o = DEFAULT_SEND_TIME,
) {
  const out = new Float64Array(24);
  for (let h = 0; h < 24; h++) out[h] = engagement[h] + o.activityWeight * activity[h];
  return out;
}

/** The population prior: shares per hour (sum 1), uniform when nothing was observed. */
export function populationPrior(totals: ArrayLike<number>): Float64Array {
  let sum = 0;
  for (let h = 0; h < 24; h++) sum += totals[h];
  const out = new Float64Array(24);
  for (let h = 0; h < 24; h++) out[h] = sum > 0 ? (totals[h] + 1e-6) / (sum + 24e-6) : 1 / 24;
  return out;
}

export interface SendTimeEstimate {
  bestHour: number;
  /** Smoothed share of engagement per hour (sums to 1). */
  hourly: number[];
  /** Weighted observations behind the estimate (0 = prior only). */
  evidence: number;
}

export function bestSendHour(
  observations: ArrayLike<number>,
  prior: ArrayLike<number>,
  o = DEFAULT_SEND_TIME,
): SendTimeEstimate {
  let n = 0;
  for (let h = 0; h < 24; h++) n += observations[h];
  const raw = new Array<number>(24);
  for (let h = 0; h < 24; h++)
    raw[h] = (observations[h] + o.priorStrength * prior[h]) / (n + o.priorStrength);
  const pooled = raw.map((_, h) => 0.25 * raw[(h + 23) % 24] + 0.5 * raw[h] + 0.25 * raw[(h + 1) % 24]);
  let best = 0;
  for (let h = 1; h < 24; h++) if (pooled[h] > pooled[best]) best = h;
  return { bestHour: best, hourly: raw, evidence: n };
}

/** The next time at or after `from` whose UTC hour is `hour`, capped at `from + maxDelayMs`. */
export function nextSendTime(from: number, hour: number, maxDelayMs: number): number {
  const dayStart = Math.floor(from / 86_400_000) * 86_400_000;
  let t = dayStart + hour * 3_600_000;
  if (t < from) t += 86_400_000;
  return Math.min(t, from + maxDelayMs);
}
