// `pnpm bench prediction`: the loadgen population over `days` simulated days flows, event by event,
// into the prediction engine (the domain the service runs per partition). Only the events reach the
// engine; the simulator's ground truth (churn times, next purchases, preferred hours) is read only to
// score the results, on held-out customers whose examples never train the models.
import {
  auc,
  bestSendHour,
  brier,
  DAY_MS,
  expectedCalibrationError,
  hourObservations,
  median,
  populationPrior,
  PredictionEngine,
  type PredictedEvent,
} from '@kairos/prediction';
import {
  baseConversionProbability,
  createPopulation,
  DEFAULT_REACTION_OPTIONS,
  hash32,
  hourDistance,
  localHour,
  openProbability,
  type CustomerTraits,
} from '@kairos/loadgen';
import { table as formatTable } from './table';

export interface PredictionBenchOptions {
  customers: number;
  days: number;
  seed: number;
  /** Days (from the start) at which held-out customers are scored against the ground truth. */
  evaluationDays: number[];
  horizonDays: number;
  churnDeclineDays: number;
  /** Share of customers held out of training. */
  heldOut: number;
}

export const DEFAULT_PREDICTION_BENCH: PredictionBenchOptions = {
  customers: 6_000,
  days: 210,
  seed: 16,
  evaluationDays: [100, 110, 120, 130, 140, 150],
  horizonDays: 30,
  churnDeclineDays: 21,
  heldOut: 0.3,
};

interface Scored {
  churn: number[];
  /** Customer and evaluation time of each churn score: labels are known only at the end of the run. */
  churnAt: Array<[string, number]>;
  churnRecency: number[];
  churnNotAlive: number[];
  purchase: number[];
  purchaseLabel: number[];
  purchaseBgnbd: number[];
  purchaseRecency: number[];
}

const round = (x: number, d = 3) => (Number.isFinite(x) ? Number(x.toFixed(d)) : NaN);

export async function runPredictionBenchmark(
  options: Partial<PredictionBenchOptions> = {},
): Promise<{ figures: Record<string, number>; table: string }> {
  const o = { ...DEFAULT_PREDICTION_BENCH, ...options };
  const population = createPopulation({
    seed: o.seed,
    customers: o.customers,
    horizonDays: o.horizonDays,
    churnDeclineDays: o.churnDeclineDays,
  });
  const start = population.options.startTime;
  const heldOut = (id: string) => hash32(`holdout|${id}`) / 2 ** 32 < o.heldOut;
  const engine = new PredictionEngine({
    churnDays: o.horizonDays,
    horizonDays: o.horizonDays,
    trains: (id) => !heldOut(id),
  });
  const traits = new Map<string, CustomerTraits>(population.customers.map((c) => [c.id, c.traits]));
  const churnAt = new Map<string, number>(population.customers.map((c) => [c.id, c.churnAt]));
  const scored: Scored = {
    churn: [],
    churnAt: [],
    churnRecency: [],
    churnNotAlive: [],
    purchase: [],
    purchaseLabel: [],
    purchaseBgnbd: [],
    purchaseRecency: [],
  };
  const churnFires: PredictedEvent[] = [];
  // Send time: the hours at which held-out customers' events happen after the last evaluation
  // (each one a moment a trigger could fire and a message be sent right away).
  const lastEval = start + Math.max(...o.evaluationDays) * DAY_MS;
  const triggerHours = new Map<string, number[]>();
  let bestHours = new Map<string, number>();
  // The customer's final activity: when its churn is "no activity for N days", churn begins here.
  const lastEventAt = new Map<string, number>();
  // CPU time (user + system) of the process inside the engine: on a shared machine wall time
  // would count the time other processes held the core.
  let engineCpuUs = 0;
  let events = 0;
  const end = start + o.days * DAY_MS;
  const checkpoints = [...o.evaluationDays.map((d) => start + d * DAY_MS), end].sort((a, b) => a - b);
  for (const until of checkpoints) {
    for (;;) {
      const batch = population.nextEvents({ until, count: 4096 });
      const t0 = process.cpuUsage();
      for (const e of batch) {
        const fired = engine.process({
          id: e.id,
          customerId: e.customerId,
          type: e.type,
          at: e.occurredAt,
          category: e.category,
          revenue: typeof e.properties.revenue === 'number' ? e.properties.revenue : undefined,
        });
        for (const f of fired) if (f.type === 'churn.predicted' && heldOut(f.customerId)) churnFires.push(f);
      }
      const used = process.cpuUsage(t0);
      engineCpuUs += used.user + used.system;
      events += batch.length;
      for (const e of batch) {
        lastEventAt.set(e.customerId, e.occurredAt);
        if (e.occurredAt < lastEval || !heldOut(e.customerId)) continue;
        const list = triggerHours.get(e.customerId) ?? [];
        list.push(e.occurredAt);
        triggerHours.set(e.customerId, list);
      }
      if (batch.length < 4096) break;
    }
    for (const f of engine.advanceTo(until))
      if (f.type === 'churn.predicted' && heldOut(f.customerId)) churnFires.push(f);
    if (until === end) break;
    const truth = new Map(population.groundTruth(until).map((t) => [t.customerId, t]));
    for (const s of engine.store.values()) {
      if (!heldOut(s.id)) continue;
      const score = engine.score(s.id, until)!;
      const t = truth.get(s.id)!;
      // Purchase: every customer seen so far; label = an organic order within the horizon.
      scored.purchase.push(score.purchase);
      scored.purchaseLabel.push(t.nextPurchaseAt ? 1 : 0);
      scored.purchaseBgnbd.push(score.baseline.expectedPurchases);
      scored.purchaseRecency.push(-score.features.days_since_order);
      // Churn: customers not yet churned by the operational rule (active within churnDays).
      if (engine.isChurned(s.id, until)) continue;
      scored.churn.push(score.churn);
      scored.churnAt.push([s.id, until]);
      scored.churnRecency.push(score.baseline.recencyDays);
      scored.churnNotAlive.push(1 - score.baseline.pAlive);
    }
    if (until === lastEval) bestHours = sendTimeEstimates(engine, heldOut);
  }

  // Churn label: the simulator made the customer leave before the run ended, and its final
  // activity (where the churn silence begins) falls within the horizon after the evaluation time.
  const churned = (id: string, by: number) => churnAt.get(id)! <= end && lastEventAt.get(id)! <= by;
  const churnLabel = scored.churnAt.map(([id, at]) => (churned(id, at + o.horizonDays * DAY_MS) ? 1 : 0));
  // Lead time and precision of churn.predicted (held-out customers, first fire per customer).
  const firstFire = new Map<string, number>();
  for (const f of churnFires) if (!firstFire.has(f.customerId)) firstFire.set(f.customerId, f.at);
  const leads: number[] = [];
  let churnersInRange = 0;
  for (const c of population.customers) {
    if (!heldOut(c.id) || c.churnAt > end || !lastEventAt.has(c.id)) continue;
    const last = lastEventAt.get(c.id)!;
    if (last < start + 45 * DAY_MS) continue;
    churnersInRange++;
    const fired = churnFires.find((f) => f.customerId === c.id && f.at >= last - 60 * DAY_MS);
    if (fired) leads.push((last - fired.at) / DAY_MS);
  }
  const judged = churnFires.filter((f) => f.at <= end - o.horizonDays * DAY_MS);
  const correct = judged.filter((f) => churned(f.customerId, f.at + o.horizonDays * DAY_MS)).length;

  // Send time, from the simulator's reaction model: expected open and conversion probability of a
  // message sent when the customer's event happens (trigger time) versus at the estimated best hour.
  let openAtTrigger = 0;
  let openAtBest = 0;
  let convAtTrigger = 0;
  let convAtBest = 0;
  const up = DEFAULT_REACTION_OPTIONS;
  for (const [id, times] of triggerHours) {
    const tr = traits.get(id)!;
    const best = bestHours.get(id);
    if (best === undefined) continue;
    const conv = (at: number) =>
      baseConversionProbability(tr) +
      (hourDistance(localHour(tr, at), tr.preferredHour) <= up.wellTimedWindowHours ? up.uplift : 0);
    for (const at of times) {
      const sendAt = Math.floor(at / DAY_MS) * DAY_MS + best * 3_600_000 + 1_800_000;
      const pOpenAtTrigger = openProbability(tr, 'email', localHour(tr, at));
      const pOpenAtBest = openProbability(tr, 'email', localHour(tr, sendAt));
      openAtTrigger += pOpenAtTrigger;
      openAtBest += pOpenAtBest;
      convAtTrigger += pOpenAtTrigger * tr.clickRate * Math.min(1, conv(at));
      convAtBest += pOpenAtBest * tr.clickRate * Math.min(1, conv(sendAt));
    }
  }

  const seconds = engineCpuUs / 1e6;
  const churnBaselines = {
    recency: auc(scored.churnRecency, churnLabel),
    pAlive: auc(scored.churnNotAlive, churnLabel),
  };
  const purchaseBaselines = {
    bgnbd: auc(scored.purchaseBgnbd, scored.purchaseLabel),
    recency: auc(scored.purchaseRecency, scored.purchaseLabel),
  };
  const churnEce = expectedCalibrationError(scored.churn, churnLabel);
  const purchaseEce = expectedCalibrationError(scored.purchase, scored.purchaseLabel);
  const figures: Record<string, number> = {
    churn_auc: round(auc(scored.churn, churnLabel)),
    churn_baseline_auc: round(Math.max(churnBaselines.recency, churnBaselines.pAlive)),
    purchase_auc: round(auc(scored.purchase, scored.purchaseLabel)),
    purchase_baseline_auc: round(Math.max(purchaseBaselines.bgnbd, purchaseBaselines.recency)),
    churn_lead_time_days: round(median(leads), 1),
    churn_precision: round(judged.length ? correct / judged.length : NaN),
    calibration_ece: round(Math.max(churnEce, purchaseEce)),
    send_time_open_lift: round(openAtTrigger ? openAtBest / openAtTrigger - 1 : NaN),
    send_time_conversion_lift: round(convAtTrigger ? convAtBest / convAtTrigger - 1 : NaN),
    prediction_events_per_s: Math.round(events / seconds),
  };
  const rows: string[][] = [
    ['churn AUC (model)', String(figures.churn_auc), '>= 0.85'],
    ['churn AUC baseline: recency', String(round(churnBaselines.recency)), ''],
    ['churn AUC baseline: 1 - BG/NBD P(alive)', String(round(churnBaselines.pAlive)), ''],
    ['purchase AUC (model)', String(figures.purchase_auc), '>= 0.80'],
    ['purchase AUC baseline: BG/NBD E[purchases]', String(round(purchaseBaselines.bgnbd)), ''],
    ['purchase AUC baseline: days since order', String(round(purchaseBaselines.recency)), ''],
    ['churn Brier / ECE', `${round(brier(scored.churn, churnLabel))} / ${round(churnEce)}`, 'ECE <= 0.05'],
    [
      'purchase Brier / ECE',
      `${round(brier(scored.purchase, scored.purchaseLabel))} / ${round(purchaseEce)}`,
      'ECE <= 0.05',
    ],
    ['scored (churn / purchase)', `${scored.churn.length} / ${scored.purchase.length}`, ''],
    ['churn.predicted (held out)', String(churnFires.length), ''],
    ['churners predicted before 60 d', `${leads.length} of ${churnersInRange}`, ''],
    ['median lead time (days)', String(figures.churn_lead_time_days), '>= 7'],
    ['churn precision at threshold', String(figures.churn_precision), ''],
    ['send-time open lift', String(figures.send_time_open_lift), '>= 0.10'],
    ['send-time conversion lift', String(figures.send_time_conversion_lift), ''],
    ['events / s (one core, engine only)', String(figures.prediction_events_per_s), '>= 50000'],
    ['events / training examples', `${events} / ${engine.churn.examples + engine.purchase.examples}`, ''],
  ];
  const table = formatTable(
    `prediction: ${o.customers} customers, ${o.days} simulated days, ${Math.round(o.heldOut * 100)}% held out`,
    ['figure', 'value', 'target'],
    rows,
  );
  return { figures, table };
}

/** Best UTC hour per held-out customer, with the training customers' hours as the population prior. */
function sendTimeEstimates(engine: PredictionEngine, heldOut: (id: string) => boolean): Map<string, number> {
  const totals = new Float64Array(24);
  for (const s of engine.store.values()) {
    if (heldOut(s.id)) continue;
    const obs = hourObservations(s.engagementHours, s.activityHours);
    for (let h = 0; h < 24; h++) totals[h] += obs[h];
  }
  const prior = populationPrior(totals);
  const out = new Map<string, number>();
  for (const s of engine.store.values())
    if (heldOut(s.id))
      out.set(s.id, bestSendHour(hourObservations(s.engagementHours, s.activityHours), prior).bestHour);
  return out;
}
