/**
 * The facts analytics keeps, decoded from what flows on NATS. Times are epoch ms. They are plain
 * data: the store persists them, the aggregates fold them, the reports read them.
 */

/** Outcome statuses by their subject token (`actions.outcome.<status>`). */
export const STATUSES = [
  'sent',
  'delivered',
  'opened',
  'clicked',
  'failed',
  'suppressed',
  'held_out',
  'unknown',
] as const;
export type Status = (typeof STATUSES)[number];

/** What names an action: the action, its run, workflow, trigger and customer. */
export interface ActionRef {
  actionId: string;
  runId: string;
  workflow: string;
  trigger: string;
  customerId: string;
}

/** One ActionOutcome. Its id (`<status>:<actionId>:<channel>`) makes a redelivered one count once. */
export interface OutcomeFact extends ActionRef {
  id: string;
  channel: string;
  status: Status;
  reason: string;
  at: number;
  cost: number;
  contentVariant: string;
  timingVariant: string;
  /** Sent at a time chosen by send-time optimisation (metadata `send_time_optimized=true`). */
  sto: boolean;
}

/** One ActionRequested: links the action to its trigger firing. */
export interface RequestFact extends ActionRef {
  triggerId: string;
  step: string;
  requestedAt: number;
  escalation: boolean;
}

/** One TriggerFired. */
export interface FireFact {
  id: string;
  trigger: string;
  customerId: string;
  category: string;
  /** Type of the event that completed the match ('' for an absence). */
  eventType: string;
  at: number;
}

/** A conversion event (a workflow's `conversion.event`), with its value per workflow that counts it. */
export interface ConversionFact {
  id: string;
  customerId: string;
  type: string;
  at: number;
  /** Workflow → value of this conversion by that workflow's `conversion.value` (0 without one). */
  values: Record<string, number>;
}

/** A batch campaign send (`campaign.sent` system event): the non-triggered comparison group. */
export interface CampaignSendFact {
  id: string;
  customerId: string;
  campaign: string;
  at: number;
}

/** What analytics needs of a workflow definition. */
export interface WorkflowInfo {
  name: string;
  triggers: string[];
  conversion?: { event: string; withinMs: number };
  holdoutPercent: number;
  cost: Record<string, number>;
}
