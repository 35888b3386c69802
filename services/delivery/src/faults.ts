import type { FaultHook as Hook } from '@kairos/service-kit';

/**
 * Test-only fault injection (`KAIROS_FAULT_POINT`, see @kairos/service-kit faults): crash tests need
 * the process to die at an exact moment of a send, which a randomly timed kill rarely hits.
 * - `before-send`: the intent is recorded, the provider not yet called.
 * - `after-send`: the provider accepted the message, the result not yet recorded.
 */
export const FAULT_POINTS = ['off', 'before-send', 'after-send'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Called by the delivery service at each fault point; does nothing unless one is armed. */
export type FaultHook = Hook<FaultPoint>;
