/**
 * A simulated history of triggered engagement with known ground truth, for analytics tests and
 * `pnpm bench analytics`: trigger firings, the workflow runs they start (a share held out, as
 * orchestration's holdout), the messages sent and their outcomes (delivered, opened, clicked,
 * suppressed, failed), and conversion events. A run that sent a message converts with probability
 * `baseRate + uplift`, any other run (held out, suppressed, failed) with `baseRate`, within the
 * workflow's window, so the true lift and the true attributed value are known exactly.
 */
import { actions, events, triggers } from '@kairos/contracts';
import { Rng } from './prng';

export interface EngagementOptions {
  seed: number;
  /** Start of the simulated period (epoch ms) and its length in days. */
  startMs: number;
  days: number;
  triggers: number;
  /** Average firings per trigger per day (shaped by a daily and weekly cycle). */
  firesPerTriggerPerDay: number;
  holdoutPercent: number;
  baseRate: number;
  /** True absolute uplift of the conversion probability for a run that sent a message. */
  uplift: number;
  /** Conversion value: uniform in [min, max]. */
  value: { min: number; max: number };
  channelCosts: Record<string, number>;
  suppressRate: number;
  failRate: number;
  conversionEvent: string;
  windowMs: number;
}

export const DEFAULT_ENGAGEMENT: EngagementOptions = {
  seed: 7,
  startMs: Date.UTC(2026, 0, 5),
  days: 30,
  triggers: 50,
  firesPerTriggerPerDay: 100,
  holdoutPercent: 10,
  baseRate: 0.05,
  uplift: 0.03,
  value: { min: 20, max: 200 },
  channelCosts: { email: 0.001, push: 0.0005, sms: 0.02 },
  suppressRate: 0.05,
  failRate: 0.02,
  conversionEvent: 'order.completed',
  windowMs: 72 * 3_600_000,
};

export type EngagementMessage =
  | { kind: 'fire'; at: number; message: triggers.TriggerFired }
  | { kind: 'request'; at: number; message: actions.ActionRequested }
  | { kind: 'outcome'; at: number; message: actions.ActionOutcome }
  | { kind: 'event'; at: number; message: events.EnrichedEvent };

export interface EngagementTruth {
  runs: { treated: number; control: number };
  /** Expected treated rate minus control rate, over all runs (suppressed and failed sends included). */
  trueLift: number;
  /** Value of the conversions that followed a sent message in its window (what last touch credits). */
  attributedValue: number;
  messageCost: number;
  sent: number;
  outcomes: number;
  conversions: number;
}

export interface Engagement {
  messages: EngagementMessage[];
  truth: EngagementTruth;
  workflows: Array<{ name: string; trigger: string }>;
}

const HOUR = 3_600_000;
const CHANNELS = ['email', 'push', 'sms'];

/** Relative activity by hour of day and day of week (busier in the day, quieter at weekends). */
function activity(atMs: number): number {
  const d = new Date(atMs);
  const hour = d.getUTCHours();
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  return (hour >= 8 && hour < 22 ? 1.5 : 0.4) * (weekend ? 0.6 : 1);
}

export function simulateEngagement(overrides: Partial<EngagementOptions> = {}): Engagement {
  const o = { ...DEFAULT_ENGAGEMENT, ...overrides };
  const rng = new Rng(o.seed);
  const messages: EngagementMessage[] = [];
  const truth: EngagementTruth = {
    runs: { treated: 0, control: 0 },
    trueLift: 0,
    attributedValue: 0,
    messageCost: 0,
    sent: 0,
    outcomes: 0,
    conversions: 0,
  };
  const workflows = Array.from({ length: o.triggers }, (_, i) => ({
    name: `wf-${i + 1}`,
    trigger: `trigger-${i + 1}`,
  }));
  const sendShare = 1 - o.suppressRate - o.failRate;
  truth.trueLift = o.uplift * sendShare;
  let seq = 0;
  const outcome = (
    base: Partial<actions.ActionOutcome>,
    status: actions.OutcomeStatus,
    at: number,
    extra: Partial<actions.ActionOutcome> = {},
  ) => {
    messages.push({
      kind: 'outcome',
      at,
      message: actions.ActionOutcome.fromPartial({ ...base, status, at: new Date(at), ...extra }),
    });
    truth.outcomes++;
  };
  const convert = (customerId: string, at: number) => {
    const value = Math.round(rng.uniform(o.value.min, o.value.max) * 100) / 100;
    messages.push({
      kind: 'event',
      at,
      message: events.EnrichedEvent.fromPartial({
        event: {
          id: `order-${++seq}`,
          type: o.conversionEvent,
          category: events.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
          customerId,
          occurredAt: new Date(at),
          properties: { revenue: value },
        },
      }),
    });
    truth.conversions++;
    return value;
  };
  for (let day = 0; day < o.days; day++) {
    for (let hour = 0; hour < 24; hour++) {
      const hourStart = o.startMs + (day * 24 + hour) * HOUR;
      for (const wf of workflows) {
        const expected = (o.firesPerTriggerPerDay / 24) * activity(hourStart);
        let n = Math.floor(expected);
        if (rng.chance(expected - n)) n++;
        for (let k = 0; k < n; k++) {
          const at = hourStart + Math.floor(rng.next() * HOUR);
          const customerId = `c${rng.int(1, 50_000_000)}`;
          const fireId = `${wf.trigger}@1/${customerId}/e${++seq}`;
          const runId = `run_${seq}`;
          const actionId = `act_${seq}`;
          messages.push({
            kind: 'fire',
            at,
            message: triggers.TriggerFired.fromPartial({
              id: fireId,
              trigger: wf.trigger,
              triggerVersion: 1,
              customerId,
              firedAt: new Date(at),
              category: 'customer_action',
              completingEventId: `e${seq}`,
              matched: [
                { step: 'event', eventId: `e${seq}`, type: 'cart.item_added', occurredAt: new Date(at) },
              ],
            }),
          });
          const base = { actionId, runId, workflow: wf.name, trigger: wf.trigger, customerId };
          if (rng.chance(o.holdoutPercent / 100)) {
            truth.runs.control++;
            outcome(base, actions.OutcomeStatus.OUTCOME_STATUS_HELD_OUT, at, { reason: 'holdout' });
            if (rng.chance(o.baseRate)) convert(customerId, at + rng.next() * 48 * HOUR);
            continue;
          }
          truth.runs.treated++;
          const roll = rng.next();
          if (roll < o.suppressRate) {
            outcome(base, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, at, { reason: 'frequency_cap' });
            if (rng.chance(o.baseRate)) convert(customerId, at + rng.next() * 48 * HOUR);
            continue;
          }
          const later = rng.chance(0.5);
          const timingVariant = later ? 'later' : 'immediate';
          const sendAt = at + (later ? 2 * HOUR : 0) + 1_000;
          const channel = CHANNELS[rng.int(0, CHANNELS.length - 1)];
          messages.push({
            kind: 'request',
            at: sendAt - 500,
            message: actions.ActionRequested.fromPartial({
              ...base,
              triggerId: fireId,
              step: 'steps[1]',
              channels: [channel],
              timingVariant,
              contentVariant: 'default',
              requestedAt: new Date(sendAt - 500),
            }),
          });
          const sentBase = { ...base, channel, timingVariant, contentVariant: 'default' };
          if (roll < o.suppressRate + o.failRate) {
            outcome(sentBase, actions.OutcomeStatus.OUTCOME_STATUS_FAILED, sendAt, {
              reason: `${channel}: provider error 503`,
            });
            if (rng.chance(o.baseRate)) convert(customerId, at + rng.next() * 48 * HOUR);
            continue;
          }
          const cost = o.channelCosts[channel] ?? 0;
          outcome(sentBase, actions.OutcomeStatus.OUTCOME_STATUS_SENT, sendAt, { cost });
          truth.sent++;
          truth.messageCost += cost;
          if (rng.chance(0.95))
            outcome(sentBase, actions.OutcomeStatus.OUTCOME_STATUS_DELIVERED, sendAt + 30_000);
          const opened = rng.chance(0.3);
          if (opened)
            outcome(sentBase, actions.OutcomeStatus.OUTCOME_STATUS_OPENED, sendAt + rng.next() * 6 * HOUR);
          if (opened && rng.chance(0.2))
            outcome(
              sentBase,
              actions.OutcomeStatus.OUTCOME_STATUS_CLICKED,
              sendAt + 6 * HOUR + rng.next() * HOUR,
            );
          if (rng.chance(o.baseRate + o.uplift))
            truth.attributedValue += convert(customerId, sendAt + 1_000 + rng.next() * 48 * HOUR);
        }
      }
    }
  }
  messages.sort((a, b) => a.at - b.at);
  return { messages, truth, workflows };
}

/** The workflows of a simulation as definition documents (YAML), for the definition store or a directory. */
export function engagementWorkflowsYaml(e: Engagement, o: Partial<EngagementOptions> = {}): string {
  const opts = { ...DEFAULT_ENGAGEMENT, ...o };
  const within = `${Math.round(opts.windowMs / HOUR)}h`;
  return e.workflows
    .map(
      (w) => `apiVersion: kairos/v1
kind: Workflow
metadata:
  name: ${w.name}
spec:
  trigger: ${w.trigger}
  holdout: ${opts.holdoutPercent}%
  conversion: { event: ${opts.conversionEvent}, within: ${within}, value: 'event.properties.revenue' }
  cost: { ${Object.entries(opts.channelCosts)
    .map(([c, v]) => `${c}: ${v}`)
    .join(', ')} }
  steps:
    - send: { channel: email, template: t }
`,
    )
    .join('---\n');
}
