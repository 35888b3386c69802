/**
 * Pareto/NBD (Schmittlein, Morrison & Colombo 1987), the other "buy till you die" yardstick: while
 * alive a customer buys as a Poisson process with a gamma(r, α) distributed rate, and its lifetime
 * is exponential with a gamma(s, β) distributed dropout rate, so, unlike BG/NBD, a customer can
 * leave at any moment, not only right after a purchase. The expressions follow Fader, Hardie & Lee,
 * "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005). Fitted by maximum
 * likelihood (Nelder–Mead on log parameters) over the same (x, t_x, T) summaries as BG/NBD.
 */
import { fitPositiveParams, lgamma, type RfmPoint } from './bgnbd';

export interface ParetoNbdParams {
  r: number;
  alpha: number;
  s: number;
  beta: number;
}

/**
 * ln 2F1(a, b; c; z) for 0 ≤ z < 1 by its series (positive terms here: a, b, c > 0). It converges
 * like zᵏ, slowly as z nears 1; past `maxTerms` it gives up and returns NaN, which the fit reads as
 * an impossible point (such z arise only at extreme α/β ratios, far from any fitted population).
 */
export function logHyp2f1(a: number, b: number, c: number, z: number, maxTerms = 2_000): number {
  let term = 1;
  let sum = 1;
  for (let k = 0; k < maxTerms; k++) {
    term *= ((a + k) * (b + k) * z) / ((c + k) * (k + 1));
    sum += term;
    if (term < 1e-14 * sum) return Math.log(sum);
  }
  return NaN;
}

/** ln(e^u − e^v) for u > v. */
const logDiffExp = (u: number, v: number) => u + Math.log1p(-Math.exp(v - u));
/** ln(e^u + e^v). */
const logSumExp = (u: number, v: number) => {
  const m = Math.max(u, v);
  return m + Math.log(Math.exp(u - m) + Math.exp(v - m));
};

/**
 * ln A₀ of the note (eq. 19 and 20): the part of the likelihood for a customer who died between
 * its last purchase t_x and T. The branch on α ≥ β keeps the hypergeometric argument in [0, 1).
 */
function logA0(p: ParetoNbdParams, { x, tx, T }: RfmPoint): number {
  const { r, alpha, s, beta } = p;
  const rsx = r + s + x;
  const [big, b2, shift] = alpha >= beta ? [alpha, s + 1, alpha - beta] : [beta, r + x, beta - alpha];
  const at = (t: number) => logHyp2f1(rsx, b2, rsx + 1, shift / (big + t)) - rsx * Math.log(big + t);
  const head = at(tx);
  const tail = at(T);
  // A₀ > 0 for t_x < T; at t_x = T it vanishes (the customer was seen alive at T).
  return tail < head ? logDiffExp(head, tail) : -Infinity;
}

/** Log-likelihood of one customer's summary (the note's eq. 22). */
export function paretoLogLikelihood(p: ParetoNbdParams, d: RfmPoint): number {
  const { r, alpha, s, beta } = p;
  const { x, T } = d;
  const head = lgamma(r + x) - lgamma(r) + r * Math.log(alpha) + s * Math.log(beta);
  const alive = -(r + x) * Math.log(alpha + T) - s * Math.log(beta + T);
  const died = Math.log(s / (r + s + x)) + logA0(p, d);
  return head + (died === -Infinity ? alive : logSumExp(alive, died));
}

/** Probability that the customer is still alive at T (the note's eq. 23). */
export function paretoPAlive(p: ParetoNbdParams, d: RfmPoint): number {
  const { r, alpha, s, beta } = p;
  const logRatio =
    Math.log(s / (r + s + d.x)) + (r + d.x) * Math.log(alpha + d.T) + s * Math.log(beta + d.T) + logA0(p, d);
  return logRatio === -Infinity ? 1 : 1 / (1 + Math.exp(logRatio));
}

/**
 * Expected purchases in the next `t` time units given the summary (the note's eq. 24):
 * E[rate | alive] × E[time alive within t | alive] × P(alive).
 */
export function paretoExpectedPurchases(p: ParetoNbdParams, d: RfmPoint, t: number): number {
  const { r, alpha, s, beta } = p;
  const rate = (r + d.x) / (alpha + d.T);
  // ∫₀ᵗ ((β+T)/(β+T+u))^s du, whose closed form has a removable singularity at s = 1.
  const k = (beta + d.T) / (beta + d.T + t);
  const span =
    Math.abs(s - 1) < 1e-9 ? -(beta + d.T) * Math.log(k) : ((beta + d.T) * (1 - k ** (s - 1))) / (s - 1);
  return rate * span * paretoPAlive(p, d);
}

export const DEFAULT_PARETO_NBD: ParetoNbdParams = { r: 0.5, alpha: 10, s: 0.5, beta: 10 };

/**
 * Maximum-likelihood parameters for the summaries (customers with T = 0 carry no information).
 * Returns `start` for fewer than 10 customers. `effort` bounds the search: the engine, which refits
 * from the previous week's answer, runs one short round; a one-off fit runs three long ones.
 */
export function fitParetoNbd(
  points: readonly RfmPoint[],
  start: ParetoNbdParams = DEFAULT_PARETO_NBD,
  effort: { rounds: number; iterations: number } = { rounds: 3, iterations: 600 },
): ParetoNbdParams {
  // A box (e^±9, in the data's time unit) keeps the search away from the flat far corners an
  // uninformative sample (few repeat purchases yet) would drift into; restarts finish the climb
  // along the flat (s, β) ridge where Nelder–Mead stalls.
  return fitPositiveParams(
    points,
    { r: start.r, alpha: start.alpha, s: start.s, beta: start.beta },
    paretoLogLikelihood,
    { box: 9, ...effort },
  );
}

/** Total log-likelihood of the summaries (for comparing fits). */
export function paretoTotalLogLikelihood(p: ParetoNbdParams, points: readonly RfmPoint[]): number {
  let sum = 0;
  for (const d of points) sum += paretoLogLikelihood(p, d);
  return sum;
}
