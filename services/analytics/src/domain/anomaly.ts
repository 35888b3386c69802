/**
 * Anomalies in a volume series: a seasonal baseline with a robust z-score.
 *
 * For the bucket at index i, the baseline is the median of the values one, two, … `seasons` (4)
 * periods earlier, at least `minSeasons` (3) of them: the same hour in earlier weeks, or on earlier
 * days, so daily and weekly cycles are part of the expectation rather than anomalies. The residual
 * r = x − baseline is scaled by the robust spread of the recent residuals (estimated again every
 * SPREAD_BLOCK buckets): 1.4826 · MAD (the MAD of a normal sample times 1.4826 estimates its
 * standard deviation), floored by √max(baseline, 1) (Poisson noise) so a flat series does not flag
 * every wobble. |z| ≥ threshold (3.5, as Iglewicz and Hoaglin's modified z-score) flags a spike
 * (z > 0) or a drop (z < 0).
 */
import { jStat } from 'jstat';
import type { Granularity } from './buckets';

export interface AnomalyOptions {
  /** Seasonal periods in buckets, tried longest first (e.g. 168 = a week of hours, then 24). */
  periods: number[];
  /** How many earlier periods make a baseline (at least `minSeasons` of them must exist). */
  seasons: number;
  minSeasons: number;
  /** How many recent residuals estimate the spread. */
  spreadWindow: number;
  threshold: number;
}

/** Periods by bucket size: weekly then daily for hours, weekly for days, daily for minutes. */
export const SEASONAL_PERIODS: Record<Granularity, number[]> = {
  minute: [1_440],
  hour: [168, 24],
  day: [7],
};

export function anomalyOptions(g: Granularity, overrides: Partial<AnomalyOptions> = {}): AnomalyOptions {
  return {
    periods: SEASONAL_PERIODS[g],
    seasons: 4,
    minSeasons: 3,
    spreadWindow: 48,
    threshold: 3.5,
    ...overrides,
  };
}

export interface Anomaly {
  index: number;
  value: number;
  baseline: number;
  z: number;
  kind: 'spike' | 'drop';
}

/** MAD → standard deviation of a normal sample. */
const MAD_SCALE = 1.4826;

/**
 * The seasonal period a series supports: the longest of `o.periods` with at least `minSeasons`
 * whole periods of history after its first non-zero bucket (a new installation learns its weekly
 * cycle after three weeks, its daily cycle after three days); the median of three or more peers
 * is not moved by one outlier among them. Undefined: too little history to judge.
 */
export function seasonalPeriod(
  values: readonly number[],
  o: AnomalyOptions,
): { period: number; start: number } | undefined {
  let start = values.findIndex((v) => v !== 0);
  if (start < 0) start = 0;
  const history = values.length - start;
  for (const period of o.periods) if (history > o.minSeasons * period) return { period, start };
  return undefined;
}

/** Baseline of index i: median of the values whole periods earlier (from `start` on), or undefined without enough. */
export function seasonalBaseline(
  values: readonly number[],
  i: number,
  o: AnomalyOptions,
): number | undefined {
  const season = seasonalPeriod(values, o);
  if (!season) return undefined;
  return baselineAt(values, i, season.period, season.start, o);
}

function baselineAt(
  values: readonly number[],
  i: number,
  period: number,
  start: number,
  o: AnomalyOptions,
): number | undefined {
  if (peers.length < o.seasons) peers = new Float64Array(o.seasons);
  let n = 0;
  for (let k = 1; k <= o.seasons && i - k * period >= start; k++) peers[n++] = values[i - k * period];
  if (n < o.minSeasons) return undefined;
  // The median of a few values, sorted in place in a scratch array (a series has thousands of buckets).
  return median(peers, n);
}

/** Scratch space of baselineAt: no array is allocated per bucket. */
let peers = new Float64Array(8);

/** The median of the first `n` values of `a`, which it sorts in place. */
function median(a: Float64Array, n: number): number {
  for (let j = 1; j < n; j++) {
    const v = a[j];
    let k = j - 1;
    for (; k >= 0 && a[k] > v; k--) a[k + 1] = a[k];
    a[k + 1] = v;
  }
  const mid = n >> 1;
  return n % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
}

/** How often (in buckets) the spread is estimated again, from the `spreadWindow` buckets before. */
export const SPREAD_BLOCK = 24;

/**
 * The flagged anomalies among the buckets from `fromIndex` on (earlier buckets serve as history).
 * The spread of the buckets of one block of SPREAD_BLOCK uses the residuals of the `spreadWindow`
 * buckets before the block, so a spike does not widen its own yardstick, and a long series costs
 * one MAD per block rather than one per bucket.
 */
export function detectAnomalies(values: readonly number[], o: AnomalyOptions, fromIndex = 0): Anomaly[] {
  const season = seasonalPeriod(values, o);
  if (!season) return [];
  const first = Math.max(0, fromIndex - o.spreadWindow - SPREAD_BLOCK);
  // NaN: no baseline (too little history before the bucket).
  const residuals = new Float64Array(values.length).fill(NaN);
  for (let i = first; i < values.length; i++) {
    const b = baselineAt(values, i, season.period, season.start, o);
    if (b !== undefined) residuals[i] = values[i] - b;
  }
  const out: Anomaly[] = [];
  let blockScale = 0;
  let block = -1;
  for (let i = fromIndex; i < values.length; i++) {
    const r = residuals[i];
    if (Number.isNaN(r)) continue;
    const baseline = values[i] - r;
    // The spread is at least the Poisson floor, so |z| is at most |r| / floor: under the threshold,
    // the bucket is no anomaly whatever the MAD, and most blocks never need theirs.
    if (Math.abs(r) / Math.sqrt(Math.max(baseline, 1)) < o.threshold) continue;
    const blockStart = i - (i % SPREAD_BLOCK);
    if (blockStart !== block) {
      block = blockStart;
      const recent: number[] = [];
      for (let j = Math.max(0, blockStart - o.spreadWindow); j < blockStart; j++) {
        const rj = residuals[j];
        if (!Number.isNaN(rj)) recent.push(rj);
      }
      blockScale = recent.length >= 3 ? MAD_SCALE * jStat.meddev(recent) : 0;
    }
    const scale = Math.max(blockScale, Math.sqrt(Math.max(baseline, 1)));
    const z = r / scale;
    if (Math.abs(z) >= o.threshold) {
      out.push({ index: i, value: values[i], baseline, z, kind: z > 0 ? 'spike' : 'drop' });
    }
  }
  return out;
}
