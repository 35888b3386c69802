import { inject, injectable, TOKENS, type Logger } from '@kairos/service-kit';
import type { actions } from '@kairos/contracts';
import { activeTraceIds, counter } from '@kairos/telemetry';
import type { ChannelAdapter } from './channels/adapter';
import { ChannelLimits } from './domain/channel-limits';
import { DeliveryError } from './domain/errors';
import type { FaultHook } from './faults';
import type { Guarantees } from './domain/guarantees';
import { DeliveryLedger, deliveryKey, isUnknown } from './ledger';
import { OutcomePublisher, OutcomeStatus, sourceOf, type OutcomeSource } from './outcomes';
import { selectChannels, type Channel, type SelectionOptions } from './domain/selection';
import { DELIVERY_TOKENS } from './tokens';

const sends = counter('kairos_delivery_sends_total', 'Delivery attempts per channel and result', [
  'channel',
  'result',
]);
const interrupted = counter(
  'kairos_delivery_interrupted_total',
  'Sends found interrupted after a crash (intent recorded, no result), by how they were resolved',
  ['channel', 'resolution'],
);

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
  | { kind: 'sent'; channel: Channel; replayed: boolean }
  /** The send may or may not have reached the provider (see guarantees.ts). */
  | { kind: 'unknown'; channel: Channel; reason: string; replayed: boolean }
  | { kind: 'suppressed'; reason: string }
  | { kind: 'failed'; reason: string };

/**
 * Delivers one action: picks channels, and for each in order records intent, sends within the
 * channel's limits, records the result and publishes the outcome. Permanent failures fall through
 * to the next channel; transient ones throw so the consume loop redelivers with backoff. A send
 * that may or may not have gone out is resent with the same key on an at-least-once channel, and
 * ends UNKNOWN (never SENT, never another channel) on an at-most-once one.
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
    @inject(DELIVERY_TOKENS.Guarantees) private readonly guarantees: Guarantees,
    @inject(DELIVERY_TOKENS.FaultHook) private readonly fault: FaultHook,
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
      if (record?.state === 'sent') {
        // Already sent (we crashed or failed after sending): re-publish the outcome, same msg id.
        await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_SENT);
        return { kind: 'sent', channel, replayed: true };
      }
      if (record && isUnknown(record.state)) {
        await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_UNKNOWN, record.reason ?? '');
        return { kind: 'unknown', channel, reason: record.reason ?? '', replayed: true };
      }
      if (record?.state === 'failed') {
        failures.push(`${channel}: ${record.reason ?? 'failed'}`);
        continue;
      }
      if (record?.state === 'intent') {
        // A crash between the intent and the result: the provider may or may not have the message.
        const guarantee = this.guarantees[channel];
        interrupted.inc({ channel, resolution: guarantee === 'at-least-once' ? 'resent' : 'unknown' });
        if (guarantee === 'at-most-once') {
          const reason = 'interrupted mid-send; not resent (at-most-once)';
          await this.ledger.finish(action.actionId, channel, 'unknown', { reason });
          await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_UNKNOWN, reason);
          sends.inc({ channel, result: 'unknown' });
          log.warn({ channel }, 'send was interrupted; outcome unknown (at-most-once: not resent)');
          return { kind: 'unknown', channel, reason, replayed: true };
        }
        log.warn(
          { channel },
          'send was interrupted; resending with the same idempotency key (at-least-once)',
        );
      }
      await this.ledger.intent(action, channel);
      this.fault('before-send');
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
        this.fault('after-send');
        await this.ledger.finish(action.actionId, channel, 'sent', {
          providerMessageId: result.providerMessageId,
        });
        await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_SENT);
        sends.inc({ channel, result: 'sent' });
        log.info({ channel }, 'sent');
        return { kind: 'sent', channel, replayed: false };
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
        if (e.maybeSent && this.guarantees[channel] === 'at-most-once') {
          const reason = `may have been sent; not resent (at-most-once): ${e.message}`;
          await this.ledger.finish(action.actionId, channel, 'unknown', { reason });
          await this.outcomes.publish(src, channel, OutcomeStatus.OUTCOME_STATUS_UNKNOWN, reason);
          sends.inc({ channel, result: 'unknown' });
          log.warn({ channel, err: e.message }, 'send may have gone out; outcome unknown (not resent)');
          return { kind: 'unknown', channel, reason, replayed: false };
        }
        await this.ledger.finish(action.actionId, channel, 'retry', { reason: e.message });
        sends.inc({ channel, result: 'transient_failure' });
        if (ctx.deliveryCount >= this.retry.maxDeliver) {
          const reason = `gave up after ${ctx.deliveryCount} attempts: ${e.message}`;
          // A last attempt that may have reached the provider must not be reported as not sent.
          const status = e.maybeSent
            ? OutcomeStatus.OUTCOME_STATUS_UNKNOWN
            : OutcomeStatus.OUTCOME_STATUS_FAILED;
          await this.outcomes.publish(src, channel, status, reason);
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
