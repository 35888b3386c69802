import { createHash } from 'node:crypto';

/** Hex SHA-256 of the parts joined by NUL (no part can smuggle a separator into another). */
export function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** Uniform position in [0, 1) from the first 48 bits of SHA-256 over the parts. */
export function unitInterval(...parts: string[]): number {
  return parseInt(digest(...parts).slice(0, 12), 16) / 2 ** 48;
}

/** Run id: one per (trigger firing, workflow), so a redelivered TriggerFired finds the same run. */
export function runIdFor(triggerFiredId: string, workflow: string): string {
  return `run_${digest('run', triggerFiredId, workflow).slice(0, 32)}`;
}

/** Action id: one per (run, step path), so a retried step publishes the same action. */
export function actionIdFor(runId: string, stepPath: string): string {
  return `act_${digest('action', runId, stepPath).slice(0, 32)}`;
}
