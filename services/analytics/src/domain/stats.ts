/**
 * Statistics of two proportions (treated versus holdout), with jStat's normal distribution:
 * - Wilson score interval of one proportion (Wilson 1927);
 * - Newcombe's hybrid score interval of a difference of proportions (Newcombe 1998, method 10),
 *   the default: it keeps its coverage with small counts and rates near 0 or 1, where the Wald
 *   interval does not;
 * - the Wald interval of the difference, for comparison;
 * - Katz's log interval of the ratio of proportions (relative lift = ratio − 1);
 * - the two-proportion z-test with pooled variance (two-sided p-value).
 */
import { jStat } from 'jstat';

export interface Interval {
  low: number;
  high: number;
}

/** The standard normal quantile for a two-sided interval of `confidence` (1.959964 for 0.95). */
export function zFor(confidence: number): number {
  return jStat.normal.inv(1 - (1 - confidence) / 2, 0, 1);
}

export function normalCdf(z: number): number {
  return jStat.normal.cdf(z, 0, 1);
}

/** Wilson score interval of x successes in n trials; [0, 1] when n = 0. */
export function wilson(x: number, n: number, confidence = 0.95): Interval {
  if (n <= 0) return { low: 0, high: 1 };
  const z = zFor(confidence);
  const p = x / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const denom = 1 + z2 / n;
  return { low: Math.max(0, (centre - spread) / denom), high: Math.min(1, (centre + spread) / denom) };
}

/**
 * Newcombe's method 10 interval of p1 − p2: with Wilson limits (l1, u1), (l2, u2),
 * low = d − √((p1 − l1)² + (u2 − p2)²), high = d + √((u1 − p1)² + (p2 − l2)²).
 */
export function newcombeDifference(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  confidence = 0.95,
): Interval {
  const p1 = n1 > 0 ? x1 / n1 : 0;
  const p2 = n2 > 0 ? x2 / n2 : 0;
  const a = wilson(x1, n1, confidence);
  const b = wilson(x2, n2, confidence);
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2),
    high: d + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2),
  };
}

/** Wald interval of p1 − p2: d ± z·√(p1(1−p1)/n1 + p2(1−p2)/n2). */
export function waldDifference(x1: number, n1: number, x2: number, n2: number, confidence = 0.95): Interval {
  if (n1 <= 0 || n2 <= 0) return { low: -1, high: 1 };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const z = zFor(confidence);
  return { low: p1 - p2 - z * se, high: p1 - p2 + z * se };
}

/**
 * Katz log interval of the ratio p1/p2, returned as relative lift (ratio − 1):
 * exp(ln(RR) ± z·√(1/x1 − 1/n1 + 1/x2 − 1/n2)) − 1. Undefined (null) when either group has no success.
 */
export function relativeLiftInterval(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  confidence = 0.95,
): Interval | null {
  if (x1 <= 0 || x2 <= 0 || n1 <= 0 || n2 <= 0) return null;
  const rr = x1 / n1 / (x2 / n2);
  const se = Math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2);
  const z = zFor(confidence);
  return { low: Math.exp(Math.log(rr) - z * se) - 1, high: Math.exp(Math.log(rr) + z * se) - 1 };
}

export interface ZTest {
  z: number;
  /** Two-sided. */
  pValue: number;
}

/** Two-proportion z-test, pooled: z = (p1 − p2) / √(p(1−p)(1/n1 + 1/n2)), p = (x1 + x2)/(n1 + n2). */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ZTest {
  if (n1 <= 0 || n2 <= 0) return { z: 0, pValue: 1 };
  const p = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  if (se === 0) return { z: 0, pValue: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, pValue: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) };
}

export interface Comparison {
  treated: { n: number; x: number; rate: number };
  control: { n: number; x: number; rate: number };
  /** p1 − p2. */
  absoluteLift: number;
  absoluteCi: Interval;
  /** p1/p2 − 1, null when the control rate is 0. */
  relativeLift: number | null;
  relativeCi: Interval | null;
  test: ZTest;
  significant: boolean;
  method: string;
}

/** Treated (x1 of n1) against control (x2 of n2): the lift with its intervals and test at 5%. */
export function compareProportions(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  confidence = 0.95,
): Comparison {
  const r1 = n1 > 0 ? x1 / n1 : 0;
  const r2 = n2 > 0 ? x2 / n2 : 0;
  const test = twoProportionZTest(x1, n1, x2, n2);
  return {
    treated: { n: n1, x: x1, rate: r1 },
    control: { n: n2, x: x2, rate: r2 },
    absoluteLift: r1 - r2,
    absoluteCi: newcombeDifference(x1, n1, x2, n2, confidence),
    relativeLift: r2 > 0 ? r1 / r2 - 1 : null,
    relativeCi: relativeLiftInterval(x1, n1, x2, n2, confidence),
    test,
    significant: n1 > 0 && n2 > 0 && test.pValue < 1 - confidence,
    method: 'newcombe-wilson; katz-log; two-proportion-z',
  };
}
