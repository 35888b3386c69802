/**
 * BG/NBD ("buy till you die", Fader, Hardie & Lee 2005): purchases follow a Poisson process with a
 * gamma(r, α) distributed rate; after each purchase the customer drops out with a beta(a, b)
 * distributed probability. Fitted by maximum likelihood (Nelder–Mead on log parameters) over the
 * (x, t_x, T) summaries. No npm package implements it (the maintained ones are Python), so it is here.
 */

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

export interface RfmPoint {
  x: number;
  tx: number;
  T: number;
}

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(z) for z > 0 (Lanczos, g = 7). */
export function lgamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lgamma(1 - z);
  z -= 1;
  let x = 0.99999999999980993;
  for (let i = 0; i < 8; i++) x += LANCZOS[i] / (z + i + 1);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/** Log-likelihood of one customer's summary. */
export function logLikelihood(p: BgNbdParams, { x, tx, T }: RfmPoint): number {
  const { r, alpha, a, b } = p;
  const a1 = lgamma(r + x) - lgamma(r) + r * Math.log(alpha);
  const a2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x);
  const a3 = -(r + x) * Math.log(alpha + T);
  if (x === 0) return a1 + a2 + a3;
  const a4 = Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx);
  const m = Math.max(a3, a4);
  return a1 + a2 + m + Math.log(Math.exp(a3 - m) + Math.exp(a4 - m));
}

/** Probability that the customer is still "alive" (has not dropped out). */
export function pAlive(p: BgNbdParams, { x, tx, T }: RfmPoint): number {
  if (x === 0) return 1;
  const ratio = (p.a / (p.b + x - 1)) * Math.exp((p.r + x) * Math.log((p.alpha + T) / (p.alpha + tx)));
  return 1 / (1 + ratio);
}

/** Gauss hypergeometric 2F1(a, b; c; z) by its series (|z| < 1). */
function hyp2f1(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let k = 0; k < 500; k++) {
    term *= ((a + k) * (b + k) * z) / ((c + k) * (k + 1));
    sum += term;
    if (Math.abs(term) < 1e-12 * Math.abs(sum)) break;
  }
  return sum;
}

/** Expected purchases in the next `t` days given the summary. */
export function expectedPurchases(p: BgNbdParams, { x, tx, T }: RfmPoint, t: number): number {
  const { r, alpha, b } = p;
  // The expression has a removable singularity at a = 1; a hair beside it gives the limit.
  const a = Math.abs(p.a - 1) < 1e-6 ? 1 + 1e-6 : p.a;
  const z = t / (alpha + T + t);
  const head = (a + b + x - 1) / (a - 1);
  const tail = 1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  const alive = x > 0 ? (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x) : 0;
  return (head * tail) / (1 + alive);
}

/** Nelder–Mead minimisation. */
export function nelderMead(
  f: (v: number[]) => number,
  start: number[],
  iterations = 400,
  step = 0.5,
): number[] {
  const n = start.length;
  let simplex = [start.slice()];
  for (let i = 0; i < n; i++) {
    const v = start.slice();
    v[i] += step;
    simplex.push(v);
  }
  let values = simplex.map(f);
  for (let it = 0; it < iterations; it++) {
    const order = values.map((_, i) => i).sort((i, j) => values[i] - values[j]);
    simplex = order.map((i) => simplex[i]);
    values = order.map((i) => values[i]);
    if (Math.abs(values[n] - values[0]) < 1e-8 * (1 + Math.abs(values[0]))) break;
    const centroid = new Array(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i][j] / n;
    const along = (k: number) => centroid.map((c, j) => c + k * (simplex[n][j] - c));
    const reflected = along(-1);
    const fr = f(reflected);
    if (fr < values[0]) {
      const expanded = along(-2);
      const fe = f(expanded);
      [simplex[n], values[n]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[n - 1]) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = along(0.5);
      const fc = f(contracted);
      if (fc < values[n]) [simplex[n], values[n]] = [contracted, fc];
      else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i].map((v, j) => simplex[0][j] + 0.5 * (v - simplex[0][j]));
          values[i] = f(simplex[i]);
        }
      }
    }
  }
  const best = values.indexOf(Math.min(...values));
  return simplex[best];
}

export const DEFAULT_BGNBD: BgNbdParams = { r: 0.5, alpha: 10, a: 1.5, b: 3 };

/**
 * Maximum likelihood over positive parameters, searched on their logs by Nelder–Mead, restarted
 * `rounds` times from its last answer with a smaller simplex. A point outside e^±`box`, rejected
 * by `valid`, or with a non-finite log-likelihood counts as impossible. Customers with T = 0 carry
 * no information and are left out; with fewer than 10 left, `start` is returned.
 */
export function fitPositiveParams<P extends object>(
  points: readonly RfmPoint[],
  start: P,
  logLik: (p: P, d: RfmPoint) => number,
  o: { box: number; rounds: number; iterations: number; valid?: (p: P) => boolean },
): P {
  const data = points.filter((p) => p.T > 0);
  if (data.length < 10) return start;
  const names = Object.keys(start) as Array<keyof P>;
  const toParams = (v: number[]) => Object.fromEntries(names.map((n, i) => [n, Math.exp(v[i])])) as P;
  const negLL = (v: number[]) => {
    if (v.some((x) => Math.abs(x) > o.box)) return Infinity;
    const p = toParams(v);
    if (o.valid && !o.valid(p)) return Infinity;
    let sum = 0;
    for (const d of data) {
      sum += logLik(p, d);
      if (Number.isNaN(sum)) return Infinity;
    }
    return Number.isFinite(sum) ? -sum : Infinity;
  };
  let v = names.map((n) => Math.log(start[n] as number));
  for (let round = 0; round < o.rounds; round++)
    v = nelderMead(negLL, v, o.iterations, round === 0 ? 0.5 : 0.1);
  return toParams(v);
}

/** Maximum-likelihood parameters for the summaries (customers with T = 0 carry no information). */
export function fitBgNbd(points: readonly RfmPoint[], start: BgNbdParams = DEFAULT_BGNBD): BgNbdParams {
  return fitPositiveParams(
    points,
    { r: start.r, alpha: start.alpha, a: start.a, b: start.b },
    logLikelihood,
    {
      box: 12,
      rounds: 1,
      iterations: 400,
      // a + b > 1 keeps the expected-purchases series' c = a + b + x − 1 positive for every x.
      valid: (p) => p.a + p.b > 1.01,
    },
  );
}
