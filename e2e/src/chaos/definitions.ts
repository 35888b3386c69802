import type { ChaosTrigger } from './audit';

/** The workflow wait of the order follow-up: messages due from a durable timer. */
export const FOLLOW_UP_WAIT_MS = 5_000;

/**
 * Two triggers whose ground truth is known from the load generator's ledger alone: every accepted
 * `cart.item_added` fires `chaos-cart` and emails at once; every accepted `order.completed` fires
 * `chaos-order` and emails after a durable wait. Both are transactional (no caps, no quiet hours) and
 * have no cooldown, so only re-entry (a customer still inside the workflow) ends a run without a send.
 */
export const CHAOS_TRIGGERS: ChaosTrigger[] = [
  { trigger: 'chaos-cart', eventType: 'cart.item_added', workflow: 'chaos-cart-mail', waitMs: 0 },
  {
    trigger: 'chaos-order',
    eventType: 'order.completed',
    workflow: 'chaos-order-mail',
    waitMs: FOLLOW_UP_WAIT_MS,
  },
];

export const CHAOS_DEFINITIONS = CHAOS_TRIGGERS.map(
  (t) => `
apiVersion: kairos/v1
kind: Trigger
metadata: { name: ${t.trigger} }
spec:
  priority: 50
  pattern:
    event: ${t.eventType}
    as: hit
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: ${t.workflow} }
spec:
  trigger: ${t.trigger}
  transactional: true
  steps:
${t.waitMs ? `    - wait: { duration: ${t.waitMs / 1000}s }\n` : ''}    - send: { channel: email, subject: 'About your {{ event.type }}', body: 'Event {{ event.id }}' }
`,
).join('---\n');
