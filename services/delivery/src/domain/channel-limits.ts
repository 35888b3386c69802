import type { Clock } from '@kairos/service-kit';
import { Semaphore, TokenBucket, type RateSpec } from './limits';

/** Per-channel token buckets (rate) and per-provider semaphores (concurrency). */
export class ChannelLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly semaphores = new Map<string, Semaphore>();

  constructor(
    rates: Record<string, RateSpec>,
    private readonly concurrency: Record<string, number>,
    private readonly defaultConcurrency: number,
    clock: Clock,
  ) {
    for (const [channel, r] of Object.entries(rates))
      this.buckets.set(channel, new TokenBucket(r.ratePerSec, r.capacity, clock));
  }

  private semaphore(channel: string): Semaphore {
    let s = this.semaphores.get(channel);
    if (!s) {
      s = new Semaphore(this.concurrency[channel] ?? this.defaultConcurrency);
      this.semaphores.set(channel, s);
    }
    return s;
  }

  concurrencyOf(channel: string): number {
    return this.concurrency[channel] ?? this.defaultConcurrency;
  }

  /** Waits for a rate token, then runs `fn` inside the provider's concurrency limit. */
  async run<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    await this.buckets.get(channel)?.take();
    return this.semaphore(channel).run(fn);
  }
}
