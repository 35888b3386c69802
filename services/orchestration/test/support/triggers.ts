import { createHash } from 'node:crypto';
import { actions, partitionOf, profiles, SCHEMAS, subjects, triggers } from '@kairos/contracts';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Publisher } from '@kairos/messaging';

let seq = 0;

/** A TriggerFired as pattern-detection publishes it: one matched event bound to `alias`. */
export function fired(opts: {
  trigger: string;
  customerId: string;
  alias: string;
  type?: string;
  properties?: Record<string, unknown>;
  priority?: number;
  profile?: Partial<profiles.Profile>;
  firedAt?: Date;
}): triggers.TriggerFired {
  seq++;
  const id = `tf_${createHash('sha256').update(`${opts.trigger}:${opts.customerId}:${seq}:${process.hrtime.bigint()}`).digest('hex').slice(0, 24)}`;
  const firedAt = opts.firedAt ?? new Date();
  return triggers.TriggerFired.fromPartial({
    id,
    trigger: opts.trigger,
    triggerVersion: 1,
    customerId: opts.customerId,
    firedAt,
    priority: opts.priority ?? 50,
    category: 'customer_action',
    matched: [
      {
        step: 'sequence[0]',
        alias: opts.alias,
        eventId: `ev_${id}`,
        type: opts.type ?? 'cart.item_added',
        occurredAt: firedAt,
        properties: opts.properties ?? {},
      },
    ],
    bindings: { [opts.alias]: opts.properties ?? {} },
    explanation: `${opts.trigger} matched for ${opts.customerId}`,
    profile: profiles.Profile.fromPartial({ customerId: opts.customerId, ...(opts.profile ?? {}) }),
    completingEventId: `ev_${id}`,
  });
}

export async function publishFired(
  publisher: Publisher,
  tf: triggers.TriggerFired,
  partitions = 16,
  msgId = tf.id,
): Promise<void> {
  await publisher.publish(
    subjects.triggerFired(partitionOf(tf.customerId, partitions), tf.trigger),
    SCHEMAS.TriggerFired,
    tf,
    {
      msgId,
    },
  );
}

/** Every ActionRequested and ActionOutcome published, collected from a core subscription. */
export class ActionCollector {
  readonly requested: { subject: string; action: actions.ActionRequested }[] = [];
  readonly outcomes: actions.ActionOutcome[] = [];

  constructor(nc: NatsConnection) {
    const sub = nc.subscribe('actions.>');
    void (async () => {
      for await (const m of sub) {
        if (m.subject.startsWith('actions.requested.'))
          this.requested.push({ subject: m.subject, action: actions.ActionRequested.decode(m.data) });
        else if (m.subject.startsWith('actions.outcome.'))
          this.outcomes.push(actions.ActionOutcome.decode(m.data));
      }
    })();
  }

  requestsFor(customerId: string) {
    return this.requested.filter((r) => r.action.customerId === customerId);
  }
  outcomesFor(customerId: string) {
    return this.outcomes.filter((o) => o.customerId === customerId);
  }
}

/**
 * What the ACTIONS stream holds (what delivery and analytics consume), read with an ordered
 * consumer: a publish JetStream de-duplicated by its message id is not in it.
 */
export async function storedActions(
  nc: NatsConnection,
): Promise<{ requested: actions.ActionRequested[]; outcomes: actions.ActionOutcome[] }> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get('ACTIONS', { filter_subjects: ['actions.>'] });
  const out = { requested: [] as actions.ActionRequested[], outcomes: [] as actions.ActionOutcome[] };
  for (;;) {
    const m = await consumer.next({ expires: 1_000 });
    if (!m) break;
    if (m.subject.startsWith('actions.requested.'))
      out.requested.push(actions.ActionRequested.decode(m.data));
    else if (m.subject.startsWith('actions.outcome.'))
      out.outcomes.push(actions.ActionOutcome.decode(m.data));
    if (m.info.pending === 0) break;
  }
  return out;
}
