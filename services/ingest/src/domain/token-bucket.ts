/**
 * A token bucket: `capacity` tokens, refilled continuously at `ratePerSecond`. A request for more
 * tokens than the bucket holds is admitted when the bucket is full and leaves it in debt, so a large
 * batch is slowed down rather than refused forever.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    if (now > this.updatedAt) {
      this.tokens = Math.min(
        this.capacity,
        this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond,
      );
      this.updatedAt = now;
    }
  }

  /** Takes `count` tokens and returns 0, or takes none and returns the ms to wait before retrying. */
  take(count: number, now: number): number {
    this.refill(now);
    const needed = Math.min(count, this.capacity);
    if (this.tokens >= needed) {
      this.tokens -= count;
      return 0;
    }
    return Math.max(1, Math.ceil(((needed - this.tokens) / this.ratePerSecond) * 1000));
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}
