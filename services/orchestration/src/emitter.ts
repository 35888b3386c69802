import { actions, OUTCOME_TOKEN, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import { counter, withStoredTraceContext, type StoredTraceContext } from '@kairos/telemetry';

const requested = counter('kairos_orchestration_actions_requested_total', 'ActionRequested published', [
  'workflow',
  'kind',
]);
const outcomes = counter('kairos_orchestration_outcomes_total', 'Run decisions published as ActionOutcome', [
  'workflow',
  'status',
  'reason',
]);

/**
 * Publishes requests to delivery and the decisions analytics must see (suppressed, held out, failed),
 * each under the trace of the run it belongs to (RunDoc.traceContext), so delivery continues the
 * caller's trace even when a timer, not the TriggerFired, moved the run on.
 */
export class ActionEmitter {
  constructor(private readonly publisher: Publisher) {}

  async request(action: actions.ActionRequested, trace?: StoredTraceContext): Promise<void> {
    const channel = action.channels[0] ?? 'preferred';
    await withStoredTraceContext(trace, () =>
      this.publisher.publish(subjects.actionRequested(channel), SCHEMAS.ActionRequested, action, {
        msgId: action.actionId,
      }),
    );
    requested.inc({ workflow: action.workflow, kind: action.escalation ? 'escalation' : 'message' });
  }

  async outcome(outcome: actions.ActionOutcome, trace?: StoredTraceContext): Promise<void> {
    await withStoredTraceContext(trace, () =>
      this.publisher.publish(subjects.actionOutcome(outcome.status), SCHEMAS.ActionOutcome, outcome, {
        msgId: `outcome:${outcome.actionId}:${OUTCOME_TOKEN[outcome.status]}`,
      }),
    );
    outcomes.inc({
      workflow: outcome.workflow,
      status: OUTCOME_TOKEN[outcome.status],
      // Bounded label values: the arbitration winner is in the message, not the metric.
      reason: outcome.reason.split(':')[0].slice(0, 40),
    });
  }
}
