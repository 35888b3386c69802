/** Canonical channel names (the profile's `preferred_channel` vocabulary plus `slack`). */
export const CHANNELS = ['email', 'sms', 'push', 'webhook', 'in_app', 'slack'] as const;
export type Channel = (typeof CHANNELS)[number];

const ALIASES: Record<string, Channel> = { inapp: 'in_app', 'in-app': 'in_app', inbox: 'in_app' };

export function canonicalChannel(name: string): Channel | undefined {
  const n = name.trim().toLowerCase();
  if ((CHANNELS as readonly string[]).includes(n)) return n as Channel;
  return ALIASES[n];
}

/** Recipient keys per channel (as orchestration fills `ActionRequested.recipient`). */
export const ADDRESS_KEY: Record<Channel, string | undefined> = {
  email: 'email',
  sms: 'phone',
  push: 'push_token',
  webhook: 'webhook_url',
  slack: 'slack_webhook',
  in_app: undefined,
};

/** A named escalation target: a Slack URL, or recipient overrides per channel key. */
export type EscalationTargets = Record<string, Record<string, string>>;

export interface SelectionInput {
  customerId: string;
  channels: string[];
  recipient: Record<string, string>;
  metadata: Record<string, string>;
  transactional: boolean;
  escalation: boolean;
}

export interface SelectionOptions {
  /** Channels whose adapter is configured (e.g. sms needs a provider URL). */
  available: ReadonlySet<Channel>;
  /** Fallback order after the preferred channel when `preferred` is requested. */
  defaultOrder: Channel[];
  escalationTargets: EscalationTargets;
  /** Slack webhook for escalations without their own. */
  defaultSlackUrl?: string;
}

export interface PlannedSend {
  channel: Channel;
  /** The address used (email, phone, token, URL; customer id for in_app). */
  address: string;
}

export interface Skipped {
  channel: string;
  reason: string;
}

export interface Selection {
  plan: PlannedSend[];
  skipped: Skipped[];
  /** Recipient after escalation-target resolution. */
  recipient: Record<string, string>;
}

const truthy = (v: string | undefined) => v !== undefined && /^(true|1|yes)$/i.test(v.trim());

/**
 * Decides which channels to try, in order. `preferred` expands to the customer's preferred channel
 * followed by the default order. Marketing messages need `consent_marketing=true` and skip
 * `opted_out_channels`; transactional messages and escalations only need reachability. A channel
 * without an address (or without a configured adapter) is skipped.
 */
export function selectChannels(input: SelectionInput, opts: SelectionOptions): Selection {
  const recipient = resolveRecipient(input, opts);
  const preferred = canonicalChannel(input.metadata.preferred_channel ?? recipient.preferred_channel ?? '');
  const requested: string[] = [];
  for (const c of input.channels) {
    if (c.trim().toLowerCase() === 'preferred') {
      if (preferred) requested.push(preferred);
      requested.push(...opts.defaultOrder);
    } else requested.push(c);
  }
  const plan: PlannedSend[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  const needsConsent = !input.transactional && !input.escalation;
  const consented = truthy(input.metadata.consent_marketing);
  const optedOut = new Set(
    (input.metadata.opted_out_channels ?? '')
      .split(',')
      .map((c) => canonicalChannel(c))
      .filter((c): c is Channel => c !== undefined),
  );
  for (const name of requested) {
    const channel = canonicalChannel(name);
    const key = channel ?? name;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!channel) {
      skipped.push({ channel: name, reason: 'unknown_channel' });
      continue;
    }
    if (needsConsent && !consented) {
      skipped.push({ channel, reason: 'no_marketing_consent' });
      continue;
    }
    if (needsConsent && optedOut.has(channel)) {
      skipped.push({ channel, reason: 'opted_out' });
      continue;
    }
    if (!opts.available.has(channel)) {
      skipped.push({ channel, reason: 'channel_not_configured' });
      continue;
    }
    const addressKey = ADDRESS_KEY[channel];
    const address = addressKey ? recipient[addressKey]?.trim() : input.customerId;
    if (!address) {
      skipped.push({ channel, reason: 'unreachable' });
      continue;
    }
    plan.push({ channel, address });
  }
  return { plan, skipped, recipient };
}

/** Escalations may name a target (`recipient.target` or metadata `escalation_target`) mapped by config. */
function resolveRecipient(input: SelectionInput, opts: SelectionOptions): Record<string, string> {
  const recipient = { ...input.recipient };
  const targetName = recipient.target ?? input.metadata.escalation_target;
  const target = targetName ? opts.escalationTargets[targetName] : undefined;
  if (target) for (const [k, v] of Object.entries(target)) if (!recipient[k]) recipient[k] = v;
  if (input.escalation && !recipient.slack_webhook && opts.defaultSlackUrl)
    recipient.slack_webhook = opts.defaultSlackUrl;
  return recipient;
}

/** Parses `KAIROS_ESCALATION_TARGETS`: `{"sales-desk": "<slack url>"}` or `{"sales-desk": {"email": "..."}}`. */
export function parseEscalationTargets(json: string): EscalationTargets | string {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'expected a JSON object of targets';
  const out: EscalationTargets = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === 'string') out[name] = { slack_webhook: v };
    else if (v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string')) {
      out[name] = v as Record<string, string>;
    } else return `target '${name}' must be a URL string or an object of strings`;
  }
  return out;
}
