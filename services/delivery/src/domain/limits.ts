import type { Clock } from '@kairos/service-kit';

/**
 * Token bucket: `capacity` tokens, refilled continuously at `ratePerSec`. `tryTake` is pure
 * bookkeeping against the clock (unit-testable); `take` waits until a token is available.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    private readonly clock: Clock,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    if (!(ratePerSec > 0) || !(capacity >= 1))
      throw new Error('token bucket needs rate > 0 and capacity >= 1');
    this.tokens = capacity;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }

  /** Takes a token if one is there; otherwise returns the wait (ms) until one will be. */
  tryTake(): { ok: true } | { ok: false; waitMs: number } {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000) };
  }

  /** Waits for a token; callers are served in arrival order. */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const r = this.tryTake();
        if (r.ok) return;
        await this.sleep(Math.max(1, r.waitMs));
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

/** Counting semaphore bounding concurrent calls to one provider. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error('semaphore limit must be >= 1');
  }

  get inUse(): number {
    return this.active;
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export interface RateSpec {
  ratePerSec: number;
  /** Burst size: one second's worth of tokens (at least 1). */
  capacity: number;
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Parses a comma-separated list of `<channel>=<value>` entries, each value read by `parse`
 * (undefined: invalid). Returns an error string naming the first invalid entry and `expected`.
 */
function parseChannelMap<T>(
  value: string,
  parse: (v: string) => T | undefined,
  expected: string,
): Record<string, T> | string {
  const out: Record<string, T> = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z_-]+)=(.*)$/.exec(part);
    const parsed = m ? parse(m[2]) : undefined;
    if (!m || parsed === undefined) return `'${part}' is not <channel>=${expected}`;
    out[m[1]] = parsed;
  }
  return out;
}

/** Parses `email=50/s,sms=10/s,push=600/m` into per-channel rates. Returns an error string when invalid. */
export function parseRateLimits(value: string): Record<string, RateSpec> | string {
  return parseChannelMap(
    value,
    (v) => {
      const m = /^(\d+(?:\.\d+)?)\/(s|m|h)$/.exec(v);
      if (!m || Number(m[1]) <= 0) return undefined;
      const ratePerSec = Number(m[1]) / UNIT_SEC[m[2]];
      return { ratePerSec, capacity: Math.max(1, Math.floor(ratePerSec)) };
    },
    '<count>/<s|m|h>',
  );
}

/** Parses `email=10,sms=20` into per-provider concurrency limits. */
export function parseConcurrency(value: string): Record<string, number> | string {
  return parseChannelMap(
    value,
    (v) => (/^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : undefined),
    '<positive integer>',
  );
}
