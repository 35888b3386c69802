import { inject, injectable, TOKENS, type Logger } from '@kairos/service-kit';
import type { actions } from '@kairos/contracts';
import { activeTraceIds, counter } from '@kairos/telemetry';
import type { ChannelAdapter } from './channels/adapter';
import { ChannelLimits } from './channel-limits';
import { DeliveryError } from './errors';
import { DeliveryLedger, deliveryKey } from './ledger';
import { OutcomePublisher, OutcomeStatus, sourceOf, type OutcomeSource } from './outcomes';
import { selectChannels, type Channel, type SelectionOptions } from './selection';
import { DELIVERY_TOKENS } from './tokens';

const sends = counter('kairos_delivery_sends_total', 'Delivery attempts per channel and result', [
  'channel',
  'result',
]);

export interface RetryPolicy {
  /** Attempts before the consume loop dead-letters (the consumer's maxDeliver). */
  maxDeliver: number;
}

export interface AttemptContext {
  /** 1 on the first delivery of the message. */
  deliveryCount: number;
}

/** What happened to one ActionRequested (for logs and tests). */
export type DeliveryResult =
  | { kind: 'sent'; channel: Channel; unconfirmed: boolean; replayed: boolean }
  | { kind: 'suppressed'; reason: string }
  | { kind: 'failed'; reason: string };

/**
 * Delivers one action: picks channels, and for each in order records intent, sends within the
 * channel's limits, records the result and publishes the outcome. Permanent failures fall through
 * to the next channel; transient ones throw so the consume loop redelivers with backoff.
 */
@injectable()
export class DeliveryService {
  constructor(
    @inject(DELIVERY_TOKENS.Adapters) private readonly adapters: Map<Channel, ChannelAdapter>,
    @inject(DELIVERY_TOKENS.Ledger) private readonly ledger: DeliveryLedger,
    @inject(DELIVERY_TOKENS.Outcomes) private readonly outcomes: OutcomePublisher,
    @inject(DELIVERY_TOKENS.Limits) private readonly limits: ChannelLimits,
    @inject(DELIVERY_TOKENS.SelectionOptions) private readonly selection: SelectionOptions,
    @inject(DELIVERY_TOKENS.RetryPolicy) private readonly retry: RetryPolicy,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  async deliver(action: actions.ActionRequested, ctx: AttemptContext): Promise<DeliveryResult> {
    if (!action.actionId) {
      this.logger.error({ customer: action.customerId }, 'ActionRequested without action_id dropped');
      return { kind: 'failed', reason: 'missing action_id' };
    }
    const traceId = activeTraceIds()?.trace_id ?? action.metadata.trace_id;
    const src: OutcomeSource = sourceOf(action);
    if (traceId && !src.metadata.trace_id) src.metadata = { ...src.metadata, trace_id: traceId };
    const sel = selectChannels(
      {
        customerId: action.customerId,
        channels: action.channels,
        recipient: action.recipient,
        metadata: action.metadata,
        transactional: action.transactional,
        escalation: action.escalation,
      },
      this.selection,
    );
    const log = this.logger.child({ action: action.actionId, customer: action.customerId });
    if (sel.plan.length === 0) {
      const reason = sel.skipped.map((s) => `${s.channel}:${s.reason}`).join(',') || 'no_channels';
      const channel = sel.skipped[0]?.channel ?? 'none';
      await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason);
      log.info({ reason }, 'action suppressed');
      return { kind: 'suppressed', reason };
    }
    const action2 = { ...action, recipient: sel.recipient };
    const failures: string[] = [];
    for (const { channel, address } of sel.plan) {
      const adapter = this.adapters.get(channel);
      if (!adapter) continue;
      const record = await this.ledger.get(action.actionId, channel);
      if (record?.state === 'sent' || record?.state === 'sent_unconfirmed') {
        // Already sent (we crashed or failed after sending): re-publish the outcome, same msg id.
        const unconfirmed = record.state === 'sent_unconfirmed';
        await this.outcomes.publish(
          src,
          channel,
          OutcomeStatus.OUTCOME_STATUS_SENT,
          unconfirmed ? 'unconfirmed' : '',
        );
        return { kind: 'sent', channel, unconfirmed, replayed: true };
      }
      if (record?.state === 'failed') {
        failures.push(`${channel}: ${record.reason ?? 'failed'}`);
        continue;
      }
      if (record?.state === 'intent' && !adapter.idempotent) {
        // Crashed mid-send on a channel without idempotency keys: it may have gone out. Never resend.
        await this.ledger.finish(action.actionId, channel, 'sent_unconfirmed', {
          reason: 'interrupted mid-send',
        });
        await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_SENT, 'unconfirmed');
        log.warn({ channel }, 'send was interrupted; treated as sent (not resent)');
        sends.inc({ channel, result: 'unconfirmed' });
        return { kind: 'sent', channel, unconfirmed: true, replayed: true };
      }
      await this.ledger.intent(action, channel);
      try {
        const result = await this.limits.run(channel, () =>
          adapter.send({
            action: action2,
            channel,
            address,
            idempotencyKey: deliveryKey(action.actionId, channel),
            traceId,
          }),
        );
        await this.ledger.finish(action.actionId, channel, 'sent', {
          providerMessageId: result.providerMessageId,
        });
        await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_SENT);
        sends.inc({ channel, result: 'sent' });
        log.info({ channel }, 'sent');
        return { kind: 'sent', channel, unconfirmed: false, replayed: false };
      } catch (err) {
        const e =
          err instanceof DeliveryError
            ? err
            : new DeliveryError((err as Error).message ?? String(err), 'transient');
        if (e.kind === 'permanent') {
          await this.ledger.finish(action.actionId, channel, 'failed', { reason: e.message });
          await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_FAILED, e.message);
          sends.inc({ channel, result: 'permanent_failure' });
          log.warn({ channel, err: e.message }, 'permanent failure; trying the next channel');
          failures.push(`${channel}: ${e.message}`);
          continue;
        }
        if (e.maybeSent && !adapter.idempotent) {
          await this.ledger.finish(action.actionId, channel, 'sent_unconfirmed', { reason: e.message });
          await this.outcomes.publish(
            src,
            channel,
            OutcomeStatus.OUTCOME_STATUS_SENT,
            `unconfirmed: ${e.message}`,
          );
          sends.inc({ channel, result: 'unconfirmed' });
          log.warn({ channel, err: e.message }, 'send may have gone out; treated as sent (not resent)');
          return { kind: 'sent', channel, unconfirmed: true, replayed: false };
        }
        await this.ledger.finish(action.actionId, channel, 'retry', { reason: e.message });
        sends.inc({ channel, result: 'transient_failure' });
        if (ctx.deliveryCount >= this.retry.maxDeliver) {
          const reason = `gave up after ${ctx.deliveryCount} attempts: ${e.message}`;
          await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_FAILED, reason);
          log.error({ channel, err: e.message }, 'transient failures exhausted the attempts; dead-lettering');
        }
        throw e;
      }
    }
    const reason = failures.join('; ') || 'no adapter';
    log.warn({ reason }, 'every channel failed');
    return { kind: 'failed', reason };
  }
}
