import type { profiles, triggers } from '@kairos/contracts';
import type { EngineEvent, WorkflowContext } from '@kairos/definitions';

type Obj = Record<string, unknown>;

/**
 * The profile as expressions and templates see it: camelCase fields with every default filled in,
 * so `profile.consent.marketing` is `false` rather than an error when consent was never given.
 */
export function profileView(p: profiles.Profile | undefined, customerId: string): Obj {
  const counters = p?.counters;
  return {
    customerId: p?.customerId || customerId,
    traits: (p?.traits as Obj | undefined) ?? {},
    consent: { marketing: p?.consent?.marketing ?? false, transactional: p?.consent?.transactional ?? false },
    preferences: {
      preferredChannel: p?.preferences?.preferredChannel ?? '',
      optedOutChannels: p?.preferences?.optedOutChannels ?? [],
    },
    contacts: {
      email: p?.contacts?.email ?? '',
      phone: p?.contacts?.phone ?? '',
      pushTokens: p?.contacts?.pushTokens ?? [],
      webhookUrl: p?.contacts?.webhookUrl ?? '',
    },
    timeZone: p?.timeZone ?? '',
    journeyStage: p?.journeyStage ?? '',
    counters: {
      firstSeen: counters?.firstSeen?.toISOString() ?? '',
      lastSeen: counters?.lastSeen?.toISOString() ?? '',
      totalEvents: counters?.totalEvents ?? 0,
      eventsByType: counters?.eventsByType ?? {},
      purchases: counters?.purchases ?? 0,
      lifetimeValue: counters?.lifetimeValue ?? 0,
    },
    dates: p?.dates ?? {},
  };
}

function toEngineEvent(m: triggers.MatchedEvent, customerId: string): EngineEvent {
  return {
    id: m.eventId,
    type: m.type,
    customerId,
    time: m.occurredAt?.getTime() ?? 0,
    properties: (m.properties as Obj | undefined) ?? {},
  };
}

/**
 * Alias -> bound event: from `bindings` (pattern-detection puts the whole event there; a bare
 * properties map is accepted too), replaced by the `matched` entry that carries the alias.
 */
export function boundEvents(tf: triggers.TriggerFired): Record<string, EngineEvent> {
  const out: Record<string, EngineEvent> = {};
  for (const [alias, value] of Object.entries((tf.bindings as Obj | undefined) ?? {})) {
    const v = (value ?? {}) as Obj;
    const props = v.properties && typeof v.properties === 'object' ? (v.properties as Obj) : v;
    out[alias] = {
      id: typeof v.id === 'string' ? v.id : '',
      type: typeof v.type === 'string' ? v.type : '',
      customerId: tf.customerId,
      time: typeof v.time === 'number' ? v.time : 0,
      properties: props,
    };
  }
  for (const m of tf.matched) if (m.alias) out[m.alias] = toEngineEvent(m, tf.customerId);
  return out;
}

/** What a workflow knows about the firing (`trigger.*` in expressions and templates). */
export function triggerView(tf: triggers.TriggerFired): Obj {
  return {
    id: tf.id,
    name: tf.trigger,
    version: tf.triggerVersion,
    customerId: tf.customerId,
    firedAt: tf.firedAt?.toISOString() ?? '',
    priority: tf.priority,
    category: tf.category,
    explanation: tf.explanation,
  };
}

/** Plain-data snapshot of a firing, stored with the run so a resumed run sees the same context. */
export interface RunContextSnapshot {
  bindings: Record<string, EngineEvent>;
  event?: EngineEvent;
  trigger: Obj;
}

export function snapshotOf(tf: triggers.TriggerFired): RunContextSnapshot {
  const last = tf.matched[tf.matched.length - 1];
  const snap: RunContextSnapshot = { bindings: boundEvents(tf), trigger: triggerView(tf) };
  if (last) snap.event = toEngineEvent(last, tf.customerId);
  return snap;
}

export function workflowContext(snapshot: RunContextSnapshot, profile: Obj): WorkflowContext {
  const ctx: WorkflowContext = { profile, bindings: snapshot.bindings, trigger: snapshot.trigger };
  if (snapshot.event) ctx.event = snapshot.event;
  return ctx;
}

/** Recipient addresses for a customer message, from the profile's contact points. */
export function recipientOf(profile: Obj): Record<string, string> {
  const c = (profile.contacts ?? {}) as {
    email?: string;
    phone?: string;
    pushTokens?: string[];
    webhookUrl?: string;
  };
  const out: Record<string, string> = {};
  if (c.email) out.email = c.email;
  if (c.phone) out.phone = c.phone;
  if (c.pushTokens?.length) out.push_token = c.pushTokens[0];
  if (c.webhookUrl) out.webhook_url = c.webhookUrl;
  return out;
}
