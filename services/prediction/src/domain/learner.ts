/**
 * Online logistic regression: features standardised by running mean/variance (Welford), weights
 * learnt by Adagrad with L2, probabilities calibrated by Platt scaling refitted on a rolling window
 * of (margin, label) pairs. Pure and deterministic; the whole state serialises to JSON.
 */

export interface LearnerOptions {
  learningRate: number;
  l2: number;
  /** Labelled examples kept for calibration. */
  calibrationWindow: number;
  /** Refit the calibration every this many labels. */
  calibrationEvery: number;
  /**
   * A baseline's log-odds added to the margin (code, not state): the weights then learn corrections
   * to the baseline and, shrunk to 0 by L2 when nothing beats it, leave the baseline's ranking.
   */
  offset?: (x: ArrayLike<number>) => number;
}

export const DEFAULT_LEARNER_OPTIONS: LearnerOptions = {
  learningRate: 0.05,
  l2: 1e-4,
  // Recent pairs only: the margins of an early, untrained model would miscalibrate the fit.
  calibrationWindow: 5_000,
  calibrationEvery: 1_000,
};

export interface Contribution {
  feature: string;
  /** Weight × standardised value: its push on the log-odds. */
  contribution: number;
  value: number;
}

export interface ModelState {
  name: string;
  version: number;
  examples: number;
  positives: number;
  /** Last event time at which the model learnt (epoch ms). */
  updatedAt: number;
  features: string[];
  mean: number[];
  m2: number[];
  weights: number[];
  bias: number;
  gradSq: number[];
  biasGradSq: number;
  platt: { a: number; b: number };
  calibration: { margins: number[]; labels: number[]; next: number };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const VARIANCE_PRIOR = 10;
const Z_CLIP = 6;

/**
 * Fits p = sigmoid(a·m + b) to minimise log loss against Platt's smoothed targets, by Newton's
 * method with a backtracking line search (Lin, Lin & Weng 2007), so it never diverges.
 * Non-finite margins are skipped. Without both classes it returns the identity (a = 1, b = 0).
 */
export function fitPlatt(margins: ArrayLike<number>, labels: ArrayLike<number>): { a: number; b: number } {
  const m: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < margins.length; i++)
    if (Number.isFinite(margins[i])) {
      m.push(margins[i]);
      y.push(labels[i] ? 1 : 0);
    }
  const n = m.length;
  let pos = 0;
  for (const v of y) pos += v;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return { a: 1, b: 0 };
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (neg + 2);
  const t = y.map((v) => (v ? hi : lo));
  // Stable log loss: log(1 + e^z) − t·z.
  const loss = (a: number, b: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const z = a * m[i] + b;
      sum += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - t[i] * z;
    }
    return sum;
  };
  let a = 1;
  let b = 0;
  let f = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let g0 = 0;
    let g1 = 0;
    let h00 = 1e-12;
    let h01 = 0;
    let h11 = 1e-12;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(a * m[i] + b);
      const d = p - t[i];
      const w = p * (1 - p);
      g0 += d * m[i];
      g1 += d;
      h00 += w * m[i] * m[i];
      h01 += w * m[i];
      h11 += w;
    }
    if (Math.abs(g0) < 1e-7 * n && Math.abs(g1) < 1e-7 * n) break;
    const det = h00 * h11 - h01 * h01;
    if (!(Math.abs(det) > 1e-300)) break;
    const da = -(h11 * g0 - h01 * g1) / det;
    const db = -(h00 * g1 - h01 * g0) / det;
    let step = 1;
    let improved = false;
    while (step > 1e-10) {
      const na = a + step * da;
      const nb = b + step * db;
      const nf = loss(na, nb);
      if (nf < f + 1e-4 * step * (g0 * da + g1 * db)) {
        a = na;
        b = nb;
        f = nf;
        improved = true;
        break;
      }
      step /= 2;
    }
    if (!improved) break;
  }
  return { a, b };
}

export class OnlineLogistic {
  readonly options: LearnerOptions;
  private s: ModelState;
  private sinceFit = 0;
  private readonly z: Float64Array;

  constructor(
    name: string,
    features: readonly string[],
    options: Partial<LearnerOptions> = {},
    state?: ModelState,
  ) {
    this.options = { ...DEFAULT_LEARNER_OPTIONS, ...options };
    const d = features.length;
    this.s = state
      ? structuredClone(state)
      : {
          name,
          version: 1,
          examples: 0,
          positives: 0,
          updatedAt: 0,
          features: [...features],
          mean: new Array(d).fill(0),
          m2: new Array(d).fill(0),
          weights: new Array(d).fill(0),
          bias: 0,
          gradSq: new Array(d).fill(1e-8),
          biasGradSq: 1e-8,
          platt: { a: 1, b: 0 },
          calibration: { margins: [], labels: [], next: 0 },
        };
    if (this.s.features.length !== d || this.s.features.some((f, i) => f !== features[i]))
      throw new Error(
        `model ${name}: stored features differ from this build's (${this.s.features.join(',')})`,
      );
    this.z = new Float64Array(d);
  }

  get name(): string {
    return this.s.name;
  }
  get version(): number {
    return this.s.version;
  }
  get examples(): number {
    return this.s.examples;
  }
  get positives(): number {
    return this.s.positives;
  }
  get updatedAt(): number {
    return this.s.updatedAt;
  }

  /**
   * z = (x − mean) / sd, with the variance shrunk towards 1 by `VARIANCE_PRIOR` pseudo-examples
   * and z clipped to ±`Z_CLIP`: a feature that was constant in the first examples would otherwise
   * get a near-zero sd and blow the margins (and the calibration fitted on them) up later.
   */
  private standardise(x: ArrayLike<number>): Float64Array {
    const n = this.s.examples;
    for (let j = 0; j < this.z.length; j++) {
      const sd = Math.sqrt((this.s.m2[j] + VARIANCE_PRIOR) / (n + VARIANCE_PRIOR));
      const z = (x[j] - this.s.mean[j]) / sd;
      this.z[j] = z > Z_CLIP ? Z_CLIP : z < -Z_CLIP ? -Z_CLIP : z;
    }
    return this.z;
  }

  private offset(x: ArrayLike<number>): number {
    return this.options.offset ? this.options.offset(x) : 0;
  }

  /** Uncalibrated log-odds. */
  margin(x: ArrayLike<number>): number {
    const z = this.standardise(x);
    let m = this.s.bias + this.offset(x);
    for (let j = 0; j < z.length; j++) m += this.s.weights[j] * z[j];
    return m;
  }

  /** Calibrated probability. */
  predict(x: ArrayLike<number>): number {
    return sigmoid(this.s.platt.a * this.margin(x) + this.s.platt.b);
  }

  /** Each feature's push on the log-odds, largest magnitude first. */
  contributions(x: ArrayLike<number>, top = Infinity): Contribution[] {
    const z = this.standardise(x);
    const out: Contribution[] = [];
    for (let j = 0; j < z.length; j++)
      out.push({ feature: this.s.features[j], contribution: this.s.weights[j] * z[j], value: x[j] });
    if (this.options.offset) {
      const o = this.offset(x);
      out.push({ feature: 'baseline_log_odds', contribution: o, value: o });
    }
    out.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    return out.slice(0, top);
  }

  /** One labelled example (label 0/1) observed at event time `at`. */
  learn(x: ArrayLike<number>, label: number, at: number): void {
    const s = this.s;
    // Calibration sees the margin before the update: an honest out-of-sample pair.
    const before = this.margin(x);
    const cal = s.calibration;
    if (cal.margins.length < this.options.calibrationWindow) {
      cal.margins.push(before);
      cal.labels.push(label);
    } else {
      cal.margins[cal.next] = before;
      cal.labels[cal.next] = label;
      cal.next = (cal.next + 1) % this.options.calibrationWindow;
    }
    s.examples++;
    s.positives += label;
    s.updatedAt = Math.max(s.updatedAt, at);
    for (let j = 0; j < x.length; j++) {
      const delta = x[j] - s.mean[j];
      s.mean[j] += delta / s.examples;
      s.m2[j] += delta * (x[j] - s.mean[j]);
    }
    const z = this.standardise(x);
    let m = s.bias + this.offset(x);
    for (let j = 0; j < z.length; j++) m += s.weights[j] * z[j];
    const err = sigmoid(m) - label;
    const lr = this.options.learningRate;
    for (let j = 0; j < z.length; j++) {
      const g = err * z[j] + this.options.l2 * s.weights[j];
      s.gradSq[j] += g * g;
      s.weights[j] -= (lr * g) / Math.sqrt(s.gradSq[j]);
    }
    s.biasGradSq += err * err;
    s.bias -= (lr * err) / Math.sqrt(s.biasGradSq);
    if (++this.sinceFit >= this.options.calibrationEvery) this.recalibrate();
  }

  /** Refits Platt scaling on the rolling window and bumps the version. */
  recalibrate(): void {
    this.sinceFit = 0;
    this.s.platt = fitPlatt(this.s.calibration.margins, this.s.calibration.labels);
    this.s.version++;
  }

  toJSON(): ModelState {
    return structuredClone(this.s);
  }

  static fromJSON(state: ModelState, options: Partial<LearnerOptions> = {}): OnlineLogistic {
    return new OnlineLogistic(state.name, state.features, options, state);
  }
}
