/**
 * Time buckets. A fact is counted in the bucket of its own time (an outcome's `at`, a fire's
 * `fired_at`), never of the time it arrived, so a late outcome lands where it belongs. Buckets are
 * aligned to UTC.
 */
export const GRANULARITIES = ['minute', 'hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const BUCKET_MS: Record<Granularity, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Start (epoch ms, UTC) of the bucket holding `atMs`. */
export function bucketStart(atMs: number, g: Granularity): number {
  const size = BUCKET_MS[g];
  return Math.floor(atMs / size) * size;
}

/** Every bucket start from the bucket of `fromMs` up to the one before `toMs` (exclusive end). */
export function bucketStarts(fromMs: number, toMs: number, g: Granularity): number[] {
  const out: number[] = [];
  const size = BUCKET_MS[g];
  for (let t = bucketStart(fromMs, g); t < toMs; t += size) out.push(t);
  return out;
}

/**
 * Counts per bucket, kept sparse: bucket start → count. Adding is O(1); a series over a range is
 * dense (zeros filled) so charts and the anomaly rule see the empty buckets too.
 */
export class BucketCounts {
  private readonly counts = new Map<number, number>();

  constructor(readonly granularity: Granularity) {}

  add(atMs: number, n = 1): void {
    const b = bucketStart(atMs, this.granularity);
    this.counts.set(b, (this.counts.get(b) ?? 0) + n);
  }

  /** Dense counts for the buckets of [fromMs, toMs). */
  series(fromMs: number, toMs: number): number[] {
    return bucketStarts(fromMs, toMs, this.granularity).map((b) => this.counts.get(b) ?? 0);
  }

  /** Sum into `into` (same length as bucketStarts(fromMs, toMs)). */
  addSeriesInto(into: number[], fromMs: number, toMs: number): void {
    const size = BUCKET_MS[this.granularity];
    const first = bucketStart(fromMs, this.granularity);
    for (const [b, n] of this.counts) {
      if (b < first || b >= toMs) continue;
      into[(b - first) / size] += n;
    }
  }

  /** Drops buckets that start before `beforeMs`; returns how many were dropped. */
  dropBefore(beforeMs: number): number {
    let dropped = 0;
    for (const b of this.counts.keys()) {
      if (b < beforeMs) {
        this.counts.delete(b);
        dropped++;
      }
    }
    return dropped;
  }

  entries(): IterableIterator<[number, number]> {
    return this.counts.entries();
  }

  get size(): number {
    return this.counts.size;
  }
}
