/**
 * Test-only fault injection (`KAIROS_FAULT_POINT`): crash tests need the process to die at an exact
 * moment of a send, which a randomly timed kill rarely hits.
 * - `before-send`: the intent is recorded, the provider not yet called.
 * - `after-send`: the provider accepted the message, the result not yet recorded.
 */
export const FAULT_POINTS = ['off', 'before-send', 'after-send'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Called by the delivery service at each fault point; does nothing unless one is configured. */
export type FaultHook = (point: Exclude<FaultPoint, 'off'>) => void;

export const noFaults: FaultHook = () => undefined;

/** A hook that SIGKILLs this process (no cleanup, like `kill -9`) when `configured` is reached. */
export function killAt(configured: FaultPoint, onKill: (point: FaultPoint) => void): FaultHook {
  if (configured === 'off') return noFaults;
  return (point) => {
    if (point !== configured) return;
    onKill(point);
    process.kill(process.pid, 'SIGKILL');
  };
}
