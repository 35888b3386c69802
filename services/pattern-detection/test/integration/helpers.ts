import assert from 'node:assert/strict';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { SCHEMAS, STREAMS, type triggers } from '@kairos/contracts';
import type { NatsConnection } from '@kairos/messaging';

export { enriched, publishEnriched, type EventInput } from '@kairos/testkit';

/** Every TriggerFired stored in the TRIGGERS stream (what downstream services would consume). */
export async function readFired(nc: NatsConnection): Promise<triggers.TriggerFired[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAMS.TRIGGERS.name);
  const total = info.state.messages;
  if (total === 0) return [];
  const consumer = await jetstream(nc).consumers.get(STREAMS.TRIGGERS.name, {
    filter_subjects: ['triggers.fired.>'],
    deliver_policy: DeliverPolicy.All,
  });
  const out: triggers.TriggerFired[] = [];
  const batch = await consumer.fetch({ max_messages: total, expires: 2_000 });
  for await (const m of batch) {
    out.push(SCHEMAS.TriggerFired.type.decode(m.data));
    if (m.info.pending === 0) break;
  }
  return out;
}

export function firedFor(all: triggers.TriggerFired[], trigger: string, customer?: string) {
  return all.filter((f) => f.trigger === trigger && (customer === undefined || f.customerId === customer));
}

/** The only firing of `trigger` for `customer` in `all`; fails the test when there are none or several. */
export function onlyFired(
  all: triggers.TriggerFired[],
  trigger: string,
  customer: string,
): triggers.TriggerFired {
  const fired = firedFor(all, trigger, customer);
  assert.equal(fired.length, 1, `${trigger} fired ${fired.length} times for ${customer}`);
  return fired[0];
}

export const TRIGGERS_YAML = `
apiVersion: kairos/v1
kind: Trigger
metadata: { name: cart-abandoned }
spec:
  priority: 60
  cooldown: 24h
  pattern:
    sequence:
      - event: cart.item_added
        as: add
        where: 'event.properties.price >= 20.0'
      - absent:
          event: order.completed
        for: 2s
---
apiVersion: kairos/v1
kind: Trigger
metadata: { name: high-purchase-intent }
spec:
  priority: 70
  cooldown: 7d
  pattern:
    all:
      - event: product.viewed
        as: view
      - event: pricing.viewed
      - event: review.read
        where: 'event.properties.sku == view.properties.sku'
    within: 10m
---
apiVersion: kairos/v1
kind: Trigger
metadata: { name: payment-failures }
spec:
  priority: 90
  category: system
  pattern:
    count:
      event: payment.failed
      atLeast: 3
      within: 5m
---
apiVersion: kairos/v1
kind: Trigger
metadata: { name: price-drop-on-viewed-item }
spec:
  priority: 40
  pattern:
    sequence:
      - event: product.viewed
        as: view
      - event: catalog.price_changed
        where: 'event.properties.sku == view.properties.sku && event.properties.new_price < event.properties.old_price'
    within: 14d
`;
