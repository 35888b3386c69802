/**
 * The prediction engine for one partition: feature state per customer, training snapshots with
 * delayed labels, the churn and purchase models, the BG/NBD baseline and the threshold gates.
 * Pure and deterministic: time is the EVENT time of the input (the watermark is the newest event
 * time seen), so a replay of the same events gives the same scores and decisions as the live run.
 *
 * Time moves in whole UTC days. When the watermark enters a new day the engine, for each day
 * boundary passed: (1) resolves the examples whose horizon has passed, (2) every
 * `snapshotEveryDays` takes a training snapshot of every known customer and refits BG/NBD, and
 * (3) re-scores churn for active customers, because silence (no event at all) is what raises a
 * churn score. An event arriving then updates its customer's features and re-scores it.
 */
import { expectedPurchases, fitBgNbd, pAlive, DEFAULT_BGNBD, type BgNbdParams } from './bgnbd';
import {
  applyEvent,
  dayOf,
  DAY_MS,
  deserializeState,
  featureVector,
  FeatureStore,
  FEATURE_COUNT,
  FEATURE_NAMES,
  rfmSummary,
  serializeState,
  type CustomerFeatureState,
  type FeatureEvent,
} from './features';
import {
  gate,
  initialGate,
  validateGate,
  type GateOptions,
  type GateState,
  type PredictedEvent,
} from './hysteresis';
import { OnlineLogistic, type Contribution, type LearnerOptions, type ModelState } from './learner';
import { auc, brier, calibrationByDecile, expectedCalibrationError, type CalibrationBin } from './metrics';
import { bestSendHour, hourObservations, populationPrior, type SendTimeEstimate } from './send-time';

export const MODEL_FEATURES = [...FEATURE_NAMES, 'bgnbd_p_alive', 'bgnbd_expected_purchases'] as const;
const D = MODEL_FEATURES.length;

export interface EngineOptions {
  /** Churn: no activity for this many days. */
  churnDays: number;
  /**
   * Horizon of both models: the churn model predicts that the customer's last activity before a
   * `churnDays` silence falls within this many days; the purchase model, an order within it.
   */
  horizonDays: number;
  /** Days between training snapshots. */
  snapshotEveryDays: number;
  /**
   * Bound on the feature state in bytes (`CUSTOMER_STATE_BYTES` per customer); beyond it the least
   * recently active customer is evicted, and its gate state (about 150 bytes) with it.
   */
  maxStateBytes: number;
  /** Bound on examples waiting for their label; snapshots beyond it are skipped (counted). */
  maxPendingExamples: number;
  /** Labels needed before a model's scores fire predicted events (cold start). */
  minExamples: number;
  churnGate: GateOptions;
  purchaseGate: GateOptions;
  learner: Partial<LearnerOptions>;
  /** Customers whose examples train the models (all by default); others are only scored (held out). */
  trains?: (customerId: string) => boolean;
  /** BG/NBD refit sample size. */
  bgnbdSample: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  churnDays: 30,
  horizonDays: 30,
  snapshotEveryDays: 7,
  maxStateBytes: 256 * 1024 * 1024,
  maxPendingExamples: 2_000_000,
  minExamples: 1_000,
  churnGate: { enter: 0.5, exit: 0.35, cooldownMs: 14 * DAY_MS },
  purchaseGate: { enter: 0.7, exit: 0.5, cooldownMs: 7 * DAY_MS },
  learner: {},
  bgnbdSample: 2_000,
};

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * BG/NBD's log-odds of at least one purchase within the horizon, from its expected purchases E (a
 * model input, as log1p): logit(1 − e^(−E)), a Poisson reading of E.
 */
function buyTillYouDieLogOdds(x: ArrayLike<number>): number {
  const p = Math.min(1 - 1e-4, Math.max(1e-4, 1 - Math.exp(-Math.expm1(x[FEATURE_COUNT + 1]))));
  return Math.log(p / (1 - p));
}

interface Pending {
  id: string;
  at: number;
  x: Float64Array;
}

/** FIFO of pending examples (snapshot times only grow, so due times are in order). */
class PendingQueue {
  items: Pending[] = [];
  head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(p: Pending): void {
    this.items.push(p);
  }
  peek(): Pending | undefined {
    return this.items[this.head];
  }
  /** Removes the examples of one customer; returns how many. */
  remove(id: string): number {
    const before = this.size;
    this.items = this.items.slice(this.head).filter((p) => p.id !== id);
    this.head = 0;
    return before - this.size;
  }
  shift(): Pending | undefined {
    const p = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }
}

/**
 * The last `size` labelled examples of a model, each scored by the model (calibrated) and by its
 * baseline BEFORE the model learnt from it: an out-of-sample window for `ModelReport`.
 */
export class EvaluationWindow {
  scores: number[] = [];
  baselines: number[] = [];
  labels: number[] = [];
  next = 0;
  constructor(readonly size = 5_000) {}
  add(score: number, baseline: number, label: number): void {
    if (this.scores.length < this.size) {
      this.scores.push(score);
      this.baselines.push(baseline);
      this.labels.push(label);
      return;
    }
    this.scores[this.next] = score;
    this.baselines[this.next] = baseline;
    this.labels[this.next] = label;
    this.next = (this.next + 1) % this.size;
  }
}

const copyWindow = (w: EvaluationWindow) => ({
  scores: w.scores.slice(),
  baselines: w.baselines.slice(),
  labels: w.labels.slice(),
  next: w.next,
});

export interface ModelReport {
  model: string;
  version: number;
  examples: number;
  positives: number;
  /** Event time of the last label learnt (epoch ms). */
  updatedAt: number;
  /** Examples in the evaluation window the figures below come from. */
  window: number;
  auc: number;
  baselineAuc: number;
  /** What the baseline is. */
  baseline: string;
  brier: number;
  ece: number;
  calibration: CalibrationBin[];
}

export interface CustomerScore {
  customerId: string;
  asOf: number;
  churn: number;
  purchase: number;
  churnModelVersion: number;
  purchaseModelVersion: number;
  /**
   * True while a model has fewer than `minExamples` labels; its score is then a prior: the churn
   * base rate, BG/NBD's probability of a purchase within the horizon.
   */
  coldStart: { churn: boolean; purchase: boolean };
  baseline: { recencyDays: number; pAlive: number; expectedPurchases: number };
  features: Record<string, number>;
  churnContributions: Contribution[];
  purchaseContributions: Contribution[];
}

export interface EngineStats {
  events: number;
  ignored: number;
  examples: number;
  skippedSnapshots: number;
  predicted: number;
}

export class PredictionEngine {
  readonly options: EngineOptions;
  readonly store: FeatureStore;
  churn: OnlineLogistic;
  purchase: OnlineLogistic;
  bgnbd: BgNbdParams = DEFAULT_BGNBD;
  watermark = -Infinity;
  private day = NaN;
  private nextSnapshotDay = NaN;
  private readonly churnPending = new PendingQueue();
  private readonly purchasePending = new PendingQueue();
  /** Gate state per customer; entries leave with the customer's features (evicted together). */
  private readonly gates = new Map<string, { churn: GateState; purchase: GateState }>();
  readonly stats: EngineStats = { events: 0, ignored: 0, examples: 0, skippedSnapshots: 0, predicted: 0 };
  private readonly x = new Float64Array(D);
  private readonly evaluation = { churn: new EvaluationWindow(), purchase: new EvaluationWindow() };
  /** The population's weighted observations per hour, recomputed once per event-time day. */
  private hours: { day: number; size: number; totals: Float64Array } | undefined;

  constructor(options: Partial<EngineOptions> = {}) {
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    const o = this.options;
    for (const [k, v] of [
      ['churnDays', o.churnDays],
      ['horizonDays', o.horizonDays],
      ['snapshotEveryDays', o.snapshotEveryDays],
    ] as const)
      if (!(Number.isInteger(v) && v > 0))
        throw new Error(`${k}: expected a positive whole number of days, got ${v}`);
    validateGate(o.churnGate);
    validateGate(o.purchaseGate);
    this.store = new FeatureStore(o.maxStateBytes, (id) => this.gates.delete(id));
    this.churn = new OnlineLogistic('churn', MODEL_FEATURES, o.learner);
    this.purchase = new OnlineLogistic('purchase', MODEL_FEATURES, this.purchaseLearner());
  }

  /**
   * The purchase model starts from BG/NBD: its margin carries logit(1 − e^(−E[purchases in H])),
   * so the weights learn what the features add to buy-till-you-die, and where they add nothing
   * (a log that is a BG/NBD process) the model keeps its ranking instead of losing to it.
   */
  private purchaseLearner(): Partial<LearnerOptions> {
    return { ...this.options.learner, offset: buyTillYouDieLogOdds };
  }

  /** The model input for a customer as of `asOf` (features + BG/NBD outputs). */
  vector(s: CustomerFeatureState, asOf: number, out = this.x): Float64Array {
    featureVector(s, asOf, out);
    const rfm = rfmSummary(s, asOf);
    out[FEATURE_COUNT] = pAlive(this.bgnbd, rfm);
    out[FEATURE_COUNT + 1] = Math.log1p(expectedPurchases(this.bgnbd, rfm, this.options.horizonDays));
    return out;
  }

  private active(s: CustomerFeatureState, at: number): boolean {
    return at - s.lastAt < this.options.churnDays * DAY_MS;
  }

  /** One event, in event-time order per customer (late events are accepted; see features.ts). */
  process(e: FeatureEvent & { id?: string }): PredictedEvent[] {
    const out: PredictedEvent[] = [];
    if (e.at > this.watermark) this.advanceTo(e.at, out);
    const s = this.store.touch(e.customerId);
    if (!applyEvent(s, e)) {
      this.stats.ignored++;
      return out;
    }
    this.stats.events++;
    this.decide(s, this.watermark, e.id ?? '', out);
    return out;
  }

  /** Moves event time forward (also without events: an idle partition's clock). */
  advanceTo(t: number, out: PredictedEvent[] = []): PredictedEvent[] {
    if (!(t > this.watermark)) return out;
    this.watermark = t;
    const day = dayOf(t);
    if (Number.isNaN(this.day)) {
      this.day = day;
      this.nextSnapshotDay = day + 1;
      return out;
    }
    while (this.day < day) {
      this.day++;
      const boundary = this.day * DAY_MS;
      this.resolve(boundary);
      if (this.day >= this.nextSnapshotDay) {
        this.snapshot(boundary);
        this.nextSnapshotDay = this.day + this.options.snapshotEveryDays;
      }
      for (const s of this.store.values()) if (this.active(s, boundary)) this.decide(s, boundary, '', out);
    }
    return out;
  }

  private resolve(now: number): void {
    const horizon = this.options.horizonDays * DAY_MS;
    // A churn label is known once the horizon AND the silence that defines churn have passed:
    // churned within the horizon ⟺ no activity after `at + horizon` up to now (≥ churnDays of
    // silence). A customer who pauses ≥ churnDays inside the horizon and returns counts as retained.
    const churnDue = horizon + this.options.churnDays * DAY_MS;
    for (let p = this.churnPending.peek(); p && p.at + churnDue <= now; p = this.churnPending.peek()) {
      this.churnPending.shift();
      const s = this.store.get(p.id);
      if (!s) continue;
      const label = s.lastAt <= p.at + horizon ? 1 : 0;
      // Baseline: recency (feature 0 is log1p of the days since the last activity).
      this.evaluation.churn.add(this.churn.predict(p.x), p.x[0], label);
      this.churn.learn(p.x, label, now);
      this.stats.examples++;
    }
    for (let p = this.purchasePending.peek(); p && p.at + horizon <= now; p = this.purchasePending.peek()) {
      this.purchasePending.shift();
      const s = this.store.get(p.id);
      if (!s) continue;
      const label = s.lastOrderAt > p.at ? 1 : 0;
      this.evaluation.purchase.add(this.purchase.predict(p.x), p.x[FEATURE_COUNT + 1], label);
      this.purchase.learn(p.x, label, now);
      this.stats.examples++;
    }
  }

  private snapshot(at: number): void {
    const trains = this.options.trains;
    const sample: Array<{ x: number; tx: number; T: number }> = [];
    const every = Math.max(1, Math.floor(this.store.size / this.options.bgnbdSample));
    let i = 0;
    for (const s of this.store.values()) {
      if (trains && !trains(s.id)) continue;
      if (i++ % every === 0) sample.push(rfmSummary(s, at));
    }
    this.bgnbd = fitBgNbd(sample, this.bgnbd);
    for (const s of this.store.values()) {
      if (trains && !trains(s.id)) continue;
      if (this.churnPending.size + this.purchasePending.size >= this.options.maxPendingExamples) {
        this.stats.skippedSnapshots++;
        return;
      }
      const x = Float64Array.from(this.vector(s, at));
      this.purchasePending.push({ id: s.id, at, x });
      if (this.active(s, at)) this.churnPending.push({ id: s.id, at, x });
    }
  }

  private prior(model: OnlineLogistic): number {
    return model.examples ? model.positives / model.examples : 0;
  }

  /** Scores one customer and runs both gates; appends the decisions to `out`. */
  private decide(s: CustomerFeatureState, at: number, cause: string, out: PredictedEvent[]): void {
    const o = this.options;
    const x = this.vector(s, at);
    let g = this.gates.get(s.id);
    if (!g) {
      g = { churn: initialGate(), purchase: initialGate() };
      this.gates.set(s.id, g);
    }
    for (const [kind, model, opts] of [
      ['churn', this.churn, o.churnGate],
      ['purchase', this.purchase, o.purchaseGate],
    ] as const) {
      if (model.examples < o.minExamples) continue;
      const score = model.predict(x);
      const r = gate(opts, g[kind], score, at);
      g[kind] = r.state;
      if (!r.fire) continue;
      this.stats.predicted++;
      out.push({
        type: kind === 'churn' ? 'churn.predicted' : 'purchase.predicted',
        category: 'predicted',
        customerId: s.id,
        at,
        score,
        model: kind,
        modelVersion: model.version,
        topFeatures: model.contributions(x, 3),
        causeEventId: cause,
      });
    }
  }

  /** A customer's current scores, features and contributions (undefined when unknown). */
  score(customerId: string, asOf = this.watermark): CustomerScore | undefined {
    const s = this.store.get(customerId);
    if (!s) return undefined;
    const x = Float64Array.from(this.vector(s, asOf));
    const rfm = rfmSummary(s, asOf);
    const cold = {
      churn: this.churn.examples < this.options.minExamples,
      purchase: this.purchase.examples < this.options.minExamples,
    };
    return {
      customerId,
      asOf,
      churn: cold.churn ? this.prior(this.churn) : this.churn.predict(x),
      // Before its own labels, the purchase score is BG/NBD's P(a purchase in H) (the offset).
      purchase: cold.purchase ? sigmoid(buyTillYouDieLogOdds(x)) : this.purchase.predict(x),
      churnModelVersion: this.churn.version,
      purchaseModelVersion: this.purchase.version,
      coldStart: cold,
      baseline: {
        recencyDays: Number.isNaN(s.lastAt) ? Infinity : (asOf - s.lastAt) / DAY_MS,
        pAlive: pAlive(this.bgnbd, rfm),
        expectedPurchases: expectedPurchases(this.bgnbd, rfm, this.options.horizonDays),
      },
      features: Object.fromEntries(MODEL_FEATURES.map((n, i) => [n, x[i]])),
      churnContributions: this.churn.contributions(x),
      purchaseContributions: this.purchase.contributions(x),
    };
  }

  /**
   * Replaces the models with stored states (a partition without a checkpoint warm-starts from the
   * newest model another partition or replica stored). Features and labels stay this engine's own.
   */
  adoptModels(states: { churn?: ModelState; purchase?: ModelState }): void {
    if (states.churn) this.churn = OnlineLogistic.fromJSON(states.churn, this.options.learner);
    if (states.purchase) this.purchase = OnlineLogistic.fromJSON(states.purchase, this.purchaseLearner());
  }

  /**
   * Weighted engagement observations per UTC hour summed over every customer (the send-time
   * prior's input). Recomputed when the event-time day or the number of customers changes, so
   * it is deterministic for a replay.
   */
  hourTotals(): Float64Array {
    const h = this.hours;
    if (h && h.day === this.day && h.size === this.store.size) return h.totals;
    const totals = new Float64Array(24);
    for (const s of this.store.values()) {
      const o = hourObservations(s.engagementHours, s.activityHours);
      for (let i = 0; i < 24; i++) totals[i] += o[i];
    }
    this.hours = { day: this.day, size: this.store.size, totals };
    return totals;
  }

  /**
   * The best hour to reach a customer: its own observations smoothed towards `prior` (default this
   * engine's population). An unknown customer gets the prior's best hour with evidence 0.
   */
  sendTime(
    customerId: string,
    prior: ArrayLike<number> = populationPrior(this.hourTotals()),
  ): SendTimeEstimate {
    const s = this.store.get(customerId);
    const obs = s ? hourObservations(s.engagementHours, s.activityHours) : new Float64Array(24);
    return bestSendHour(obs, prior);
  }

  /** A model's out-of-sample window (for reports pooled over several engines). */
  evaluationOf(model: 'churn' | 'purchase'): EvaluationWindow {
    return this.evaluation[model];
  }

  /** Quality of a model on its out-of-sample window of recent labels, beside its baseline. */
  report(model: 'churn' | 'purchase'): ModelReport {
    const m = model === 'churn' ? this.churn : this.purchase;
    const w = this.evaluation[model];
    return {
      model,
      version: m.version,
      examples: m.examples,
      positives: m.positives,
      updatedAt: m.updatedAt,
      window: w.labels.length,
      auc: auc(w.scores, w.labels),
      baselineAuc: auc(w.baselines, w.labels),
      baseline:
        model === 'churn'
          ? 'days since last activity'
          : `BG/NBD expected purchases in ${this.options.horizonDays} days`,
      brier: brier(w.scores, w.labels),
      ece: expectedCalibrationError(w.scores, w.labels),
      calibration: calibrationByDecile(w.scores, w.labels),
    };
  }

  /** Whether the customer counts as churned already (no activity for `churnDays`). */
  isChurned(customerId: string, asOf = this.watermark): boolean {
    const s = this.store.get(customerId);
    return !s || !this.active(s, asOf);
  }

  /** Checkpoint of everything the engine knows (JSON-safe). */
  /**
   * Forgets one customer (erasure): features, gate state and the pending examples taken from it.
   * The models keep what they learnt (weights over all customers, no per-customer data).
   */
  dropCustomer(customerId: string): { customers: number; pending_examples: number } {
    const customers = this.store.delete(customerId) ? 1 : 0;
    this.gates.delete(customerId);
    const pending = this.churnPending.remove(customerId) + this.purchasePending.remove(customerId);
    return { customers, pending_examples: pending };
  }

  toJSON(): EngineCheckpoint {
    const pending = (q: PendingQueue) =>
      q.items.slice(q.head).map((p) => ({ id: p.id, at: p.at, x: Array.from(p.x) }));
    return {
      version: 1,
      watermark: this.watermark,
      day: this.day,
      nextSnapshotDay: this.nextSnapshotDay,
      bgnbd: this.bgnbd,
      models: { churn: this.churn.toJSON(), purchase: this.purchase.toJSON() },
      customers: Array.from(this.store.values(), serializeState),
      gates: Array.from(this.gates, ([id, g]) => [
        id,
        g.churn.raised,
        g.churn.lastFiredAt,
        g.purchase.raised,
        g.purchase.lastFiredAt,
      ]),
      pending: { churn: pending(this.churnPending), purchase: pending(this.purchasePending) },
      stats: { ...this.stats },
      evaluation: {
        churn: copyWindow(this.evaluation.churn),
        purchase: copyWindow(this.evaluation.purchase),
      },
    };
  }

  static fromJSON(c: EngineCheckpoint, options: Partial<EngineOptions> = {}): PredictionEngine {
    const e = new PredictionEngine(options);
    e.watermark = c.watermark ?? -Infinity;
    e.day = c.day ?? NaN;
    e.nextSnapshotDay = c.nextSnapshotDay ?? NaN;
    e.bgnbd = c.bgnbd;
    e.churn = OnlineLogistic.fromJSON(c.models.churn, e.options.learner);
    e.purchase = OnlineLogistic.fromJSON(c.models.purchase, e.purchaseLearner());
    for (const s of c.customers) e.store.set(deserializeState(s));
    for (const [id, cr, cf, pr, pf] of c.gates)
      e.gates.set(id, {
        churn: { raised: cr, lastFiredAt: cf ?? -Infinity },
        purchase: { raised: pr, lastFiredAt: pf ?? -Infinity },
      });
    for (const p of c.pending.churn) e.churnPending.push({ id: p.id, at: p.at, x: Float64Array.from(p.x) });
    for (const p of c.pending.purchase)
      e.purchasePending.push({ id: p.id, at: p.at, x: Float64Array.from(p.x) });
    Object.assign(e.stats, c.stats);
    if (c.evaluation) {
      Object.assign(e.evaluation.churn, c.evaluation.churn);
      Object.assign(e.evaluation.purchase, c.evaluation.purchase);
    }
    return e;
  }
}

export interface EngineCheckpoint {
  version: 1;
  watermark: number;
  day: number;
  nextSnapshotDay: number;
  bgnbd: BgNbdParams;
  models: { churn: ModelState; purchase: ModelState };
  customers: Array<Record<string, unknown>>;
  gates: Array<[string, boolean, number, boolean, number]>;
  pending: {
    churn: Array<{ id: string; at: number; x: number[] }>;
    purchase: Array<{ id: string; at: number; x: number[] }>;
  };
  stats: EngineStats;
  evaluation?: Record<
    'churn' | 'purchase',
    { scores: number[]; baselines: number[]; labels: number[]; next: number }
  >;
}
