/**
 * Test-only fault injection. A crash test makes a process SIGKILL itself at one exact point between
 * two durable effects (a randomly timed kill rarely hits it), restarts it and checks that nothing
 * was lost or doubled. Each service lists its points, `off` first; the setting
 * `KAIROS_FAULT_POINT` names the one armed, and is `off` (no fault) unless a test sets it.
 */
import { env } from './config';

/** A service's fault points: `off`, then the points where its process may be killed. */
export type FaultPoints = readonly ['off', ...string[]];

/** A point where a process may be killed (any point of the list but `off`). */
export type ArmedPoint<P extends string> = Exclude<P, 'off'>;

/** Called by a service at each of its fault points; does nothing unless that point is armed. */
export type FaultHook<P extends string> = (point: ArmedPoint<P>) => void;

/** The hook of a process with no fault armed. */
export const noFaults: FaultHook<string> = () => undefined;

/** The `KAIROS_FAULT_POINT` setting of a service: one of `points`, `off` by default. */
export function faultPointSetting<const T extends FaultPoints>(points: T) {
  return env.enumOf<T[number]>(points, 'off');
}

/**
 * The hook that, at the `configured` point, logs the point and SIGKILLs this process: no cleanup,
 * no drain, like `kill -9` or a lost machine. `off` (or undefined) returns `noFaults`.
 */
export function killAt<P extends string>(
  configured: P | undefined,
  logger: { warn(fields: object, message: string): void },
): FaultHook<P> {
  if (configured === undefined || configured === 'off') return noFaults;
  return (point) => {
    if (point !== configured) return;
    logger.warn({ point }, 'fault injection: SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  };
}
