import type { FaultHook as Hook } from '@kairos/service-kit';

/**
 * Test-only fault injection (`KAIROS_FAULT_POINT`, see @kairos/service-kit faults): the crash test
 * makes the process SIGKILL itself at one exact point, restarts it and checks that the scores
 * survived and no predicted event was lost or doubled. Never set it in production.
 */
export const FAULT_POINTS = [
  'off',
  /** A predicted event was published; the partition's checkpoint does not include its cause yet. */
  'after-predicted-publish',
  /** A checkpoint's chunks are written; its manifest still names the previous generation. */
  'between-chunks-and-manifest',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export type FaultHook = Hook<FaultPoint>;
