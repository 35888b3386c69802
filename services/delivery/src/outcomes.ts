import { actions, OUTCOME_TOKEN, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import type { Clock } from '@kairos/service-kit';

export const OutcomeStatus = actions.OutcomeStatus;
export type OutcomeStatus = actions.OutcomeStatus;

/** The action fields an outcome copies (from the request, or from the ledger for later events). */
export interface OutcomeSource {
  actionId: string;
  runId: string;
  workflow: string;
  trigger: string;
  customerId: string;
  contentVariant: string;
  timingVariant: string;
  transactional: boolean;
  metadata: Record<string, string>;
}

export function sourceOf(a: actions.ActionRequested): OutcomeSource {
  return {
    actionId: a.actionId,
    runId: a.runId,
    workflow: a.workflow,
    trigger: a.trigger,
    customerId: a.customerId,
    contentVariant: a.contentVariant,
    timingVariant: a.timingVariant,
    transactional: a.transactional,
    metadata: a.metadata,
  };
}

/** Cost of a send on `channel`, from metadata `cost_<channel>`; 0 when absent or not a number. */
export function costOf(metadata: Record<string, string>, channel: string): number {
  const v = Number(metadata[`cost_${channel}`]);
  return Number.isFinite(v) ? v : 0;
}

export function outcomeMsgId(status: OutcomeStatus, actionId: string, channel: string): string {
  return `${OUTCOME_TOKEN[status]}:${actionId}:${channel}`;
}

/** Publishes ActionOutcome to `actions.outcome.<status>` with msg id `<status>:<actionId>:<channel>`. */
export class OutcomePublisher {
  constructor(
    private readonly publisher: Publisher,
    private readonly clock: Clock,
  ) {}

  async publish(
    src: OutcomeSource,
    channel: string,
    status: OutcomeStatus,
    reason = '',
  ): Promise<actions.ActionOutcome> {
    // Only a sent message costs money.
    const cost = status === OutcomeStatus.OUTCOME_STATUS_SENT ? costOf(src.metadata, channel) : 0;
    const outcome = actions.ActionOutcome.fromPartial({
      actionId: src.actionId,
      runId: src.runId,
      workflow: src.workflow,
      trigger: src.trigger,
      customerId: src.customerId,
      channel,
      status,
      reason,
      at: new Date(this.clock.now()),
      cost,
      contentVariant: src.contentVariant,
      timingVariant: src.timingVariant,
      transactional: src.transactional,
      metadata: src.metadata,
    });
    await this.publisher.publish(subjects.actionOutcome(status), SCHEMAS.ActionOutcome, outcome, {
      msgId: outcomeMsgId(status, src.actionId, channel),
    });
    return outcome;
  }
}
