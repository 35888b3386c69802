/** Model quality pooled over several engines (every partition a replica owns). */
import type { ModelReport, PredictionEngine } from './engine';
import { auc, brier, calibrationByDecile, expectedCalibrationError } from './metrics';

/**
 * One report over the union of the engines' out-of-sample windows: each example was scored by its
 * partition's model and baseline before that model learnt from it. Version is the newest of them,
 * examples and positives are summed, `updatedAt` is the latest.
 */
export function pooledReport(model: 'churn' | 'purchase', engines: PredictionEngine[]): ModelReport {
  const scores: number[] = [];
  const baselines: number[] = [];
  const labels: number[] = [];
  let version = 0;
  let examples = 0;
  let positives = 0;
  let updatedAt = -Infinity;
  let baseline = '';
  for (const e of engines) {
    const w = e.evaluationOf(model);
    scores.push(...w.scores);
    baselines.push(...w.baselines);
    labels.push(...w.labels);
    const m = model === 'churn' ? e.churn : e.purchase;
    version = Math.max(version, m.version);
    examples += m.examples;
    positives += m.positives;
    updatedAt = Math.max(updatedAt, m.updatedAt);
    baseline = e.report(model).baseline;
  }
  return {
    model,
    version,
    examples,
    positives,
    updatedAt,
    window: labels.length,
    auc: auc(scores, labels),
    baselineAuc: auc(baselines, labels),
    baseline,
    brier: brier(scores, labels),
    ece: expectedCalibrationError(scores, labels),
    calibration: calibrationByDecile(scores, labels),
  };
}
