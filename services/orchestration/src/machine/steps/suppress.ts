/** A step that does not message (quiet hours, frequency cap): its SUPPRESSED outcome; the run goes on. */
import { actions } from '@kairos/contracts';
import type { RunCursor } from '../cursor';
import { outcome, type Decided } from '../effects';

export function suppressStep(
  c: RunCursor,
  nowMs: number,
  stepId: string,
  actionId: string,
  reason: string,
  metadata: Record<string, string> = {},
): Decided {
  c.progress.events.push({
    at: new Date(nowMs),
    event: 'suppressed',
    step: stepId,
    actionId,
    detail: reason,
  });
  c.pc++;
  return {
    effects: [
      outcome(c.run, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason, nowMs, actionId, metadata),
    ],
    stop: false,
  };
}
