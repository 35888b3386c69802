/**
 * Suppression and failure reasons, grouped into categories a marketer reads: caps, quiet hours,
 * arbitration, re-entry, consent, holdout, channel errors. The reasons are those orchestration and
 * delivery write (`frequency_cap`, `quiet_hours`, `lost_arbitration_to:<workflow>`,
 * `already_in_workflow:<run>`, delivery's `<channel>:no_marketing_consent,...`, provider errors).
 */
import type { Status } from './facts';

export const REASON_CATEGORIES = [
  'caps',
  'quiet_hours',
  'arbitration',
  'reentry',
  'consent',
  'holdout',
  'channel_unavailable',
  'channel_error',
  'other',
] as const;
export type ReasonCategory = (typeof REASON_CATEGORIES)[number];

/** The category of one reason part (without a `<channel>:` prefix). */
function categoryOfPart(part: string): ReasonCategory | undefined {
  if (part.startsWith('frequency_cap') || part.startsWith('cooldown')) return 'caps';
  if (part.startsWith('quiet_hours')) return 'quiet_hours';
  if (part.startsWith('lost_arbitration_to:')) return 'arbitration';
  if (part.startsWith('already_in_workflow:')) return 'reentry';
  if (part === 'no_marketing_consent' || part === 'opted_out') return 'consent';
  if (part === 'holdout') return 'holdout';
  if (
    part === 'channel_not_configured' ||
    part === 'unreachable' ||
    part === 'unknown_channel' ||
    part === 'no_channels'
  )
    return 'channel_unavailable';
  return undefined;
}

/**
 * Category of an outcome's reason. Delivery lists one reason per channel tried
 * (`push:unreachable,email:no_marketing_consent`): the most telling one wins, consent first.
 */
export function reasonCategory(status: Status, reason: string): ReasonCategory {
  if (status === 'held_out') return 'holdout';
  const direct = categoryOfPart(reason);
  if (direct) return direct;
  const parts = reason.split(',').map((p) => {
    const colon = p.indexOf(':');
    return categoryOfPart(colon >= 0 ? p.slice(colon + 1).trim() : p.trim());
  });
  for (const want of ['consent', 'caps', 'quiet_hours', 'channel_unavailable'] as const)
    if (parts.includes(want)) return want;
  if (status === 'failed' || status === 'unknown') return 'channel_error';
  return 'other';
}
