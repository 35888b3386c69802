import type { FaultHook as Hook } from '@kairos/service-kit';

/**
 * Test-only fault injection (`KAIROS_FAULT_POINT`, see @kairos/service-kit faults): crash tests make
 * the process SIGKILL itself at one exact point between two durable effects, then restart it and
 * check that the run still reaches its next step. Never set it in production.
 */
export const FAULT_POINTS = [
  'off',
  /** A run that won arbitration is written `running`; its first step has not run. */
  'after-arbitration',
  /** A run that lost arbitration is written `suppressed`; its outcome is not published. */
  'after-arbitration-loss',
  /** A settle window's timer is written; the window itself is not opened yet. */
  'between-settle-timer-and-window',
  /** A step timer resumed its run (written `running`); the next step has not run. */
  'after-timer-resume',
  /** A step's action was published; the run's progress is not written yet. */
  'after-step-send',
  /** A run is written `failed`; its FAILED outcome is not published. */
  'after-run-failed',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Called by the orchestrator at each fault point; does nothing unless one is armed. */
export type FaultHook = Hook<FaultPoint>;
