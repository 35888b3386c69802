/** Definitions and customers shared by the end-to-end tests (processes under /e2e, and the cluster suite). */
import { credentials, Metadata } from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { adminMetadata } from './credentials';

export interface EmailOnCartDefinitions {
  /** The trigger and the workflow, as one YAML stream for `kairosctl apply` or a definitions dir. */
  yaml: string;
  trigger: string;
  workflow: string;
}

/**
 * A trigger that fires when a customer views a product and then adds the same sku to the cart within
 * ten minutes, and a workflow that emails a customer with marketing consent at once. Names start with
 * `prefix` (`<prefix>-viewed-then-carted`, `<prefix>-cart-nudge`).
 */
export function emailOnCartDefinitions(prefix: string): EmailOnCartDefinitions {
  const trigger = `${prefix}-viewed-then-carted`;
  const workflow = `${prefix}-cart-nudge`;
  const yaml = `
apiVersion: kairos/v1
kind: Trigger
metadata: { name: ${trigger} }
spec:
  priority: 60
  pattern:
    sequence:
      - event: product.viewed
        as: view
      - event: cart.item_added
        as: add
        where: "event.properties.sku == view.properties.sku"
    within: 10m
---
apiVersion: kairos/v1
kind: Workflow
metadata: { name: ${workflow} }
spec:
  trigger: ${trigger}
  conditions: "profile.consent.marketing"
  steps:
    - send: { channel: email, template: cart-reminder }
`;
  return { yaml, trigger, workflow };
}

/** A Trigger (YAML) that fires on a customer's `atLeast`-th payment.failed within five minutes. */
export function paymentFailuresTrigger(name: string, atLeast: number): string {
  return `apiVersion: kairos/v1
kind: Trigger
metadata: { name: ${name} }
spec:
  pattern:
    count: { event: payment.failed, atLeast: ${atLeast}, within: 5m }
`;
}

/**
 * Stores a new customer `<prefix>-<now>` with marketing consent and an email address through
 * enrichment's ProfileService at `profileAddr` (host:port), with the admin credential `md` (the
 * test admin's by default), so the workflow above may email them.
 */
export async function newEmailableCustomer(
  profileAddr: string,
  prefix: string,
  md: Metadata = adminMetadata(),
): Promise<{ customerId: string; email: string }> {
  const customerId = `${prefix}-${Date.now()}`;
  const email = `${customerId}@example.test`;
  const client = new profiles.ProfileServiceClient(profileAddr, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) =>
      client.upsert(
        {
          customerId,
          traits: { name: 'Ada' },
          consent: { marketing: true, transactional: true },
          contacts: { email, phone: '', pushTokens: [], webhookUrl: '' },
          timeZone: 'UTC',
          dates: {},
        },
        md,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  } finally {
    client.close();
  }
  return { customerId, email };
}
