/**
 * Quality measures for probabilistic classifiers. Hand-written: the npm statistics packages cover
 * descriptive statistics but none computes ROC AUC or calibration error, and these are a few lines.
 */

/** ROC AUC by the rank-sum (Mann–Whitney) formula; ties get their mean rank. NaN without both classes. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]]) {
        pos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Mean squared error of the probabilities. */
export function brier(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probs.length; i++) sum += (probs[i] - labels[i]) ** 2;
  return probs.length ? sum / probs.length : NaN;
}

export interface CalibrationBin {
  /** Bin bounds on the predicted probability. */
  from: number;
  to: number;
  count: number;
  meanPredicted: number;
  observedRate: number;
}

/** Calibration by deciles of the predicted probability (equal-count bins, 10 by default). */
export function calibrationByDecile(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  const n = probs.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => probs[i] - probs[j]);
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const lo = Math.floor((b * n) / bins);
    const hi = Math.floor(((b + 1) * n) / bins);
    if (hi <= lo) continue;
    let p = 0;
    let y = 0;
    for (let k = lo; k < hi; k++) {
      p += probs[idx[k]];
      y += labels[idx[k]];
    }
    out.push({
      from: probs[idx[lo]],
      to: probs[idx[hi - 1]],
      count: hi - lo,
      meanPredicted: p / (hi - lo),
      observedRate: y / (hi - lo),
    });
  }
  return out;
}

/** Expected calibration error over the decile bins: Σ (count/n)·|observed − predicted|. */
export function expectedCalibrationError(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): number {
  const n = probs.length;
  if (n === 0) return NaN;
  let ece = 0;
  for (const b of calibrationByDecile(probs, labels, bins))
    ece += (b.count / n) * Math.abs(b.observedRate - b.meanPredicted);
  return ece;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
