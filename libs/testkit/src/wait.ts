export interface WaitForOptions {
  /** Deadline for the whole wait. Default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between two checks. Default 50 ms. */
  intervalMs?: number;
  /** Describes the awaited condition in the timeout error. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the deadline passes.
 * A predicate that throws counts as "not yet"; the last error is reported on timeout.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.message ?? 'condition';
      const cause = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Waits until a server answers `probe` (which throws until it does). `isAlive` returns why the
 * server cannot come up any more (its process exited), which ends the wait with that error at once.
 */
export async function waitForServer(
  probe: () => Promise<void>,
  options: WaitForOptions & { isAlive?: () => string | undefined },
): Promise<void> {
  let deadReason: string | undefined;
  await waitFor(async () => {
    deadReason = options.isAlive?.();
    if (!deadReason) await probe();
    return true;
  }, options);
  if (deadReason) throw new Error(deadReason);
}

/** Promise-based timer used between polls (never as a stand-in for readiness). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Races a promise against a timeout; rejects with `message` when the timeout wins. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
