import { CHANNELS, canonicalChannel, type Channel } from './selection';

/**
 * What delivery does with a send it cannot prove went out or not (a crash between recording the
 * intent and recording the result, or a connection lost after the message was handed over):
 * - `at-most-once`: never resend; the action ends with an `UNKNOWN` outcome.
 * - `at-least-once`: resend with the same idempotency key (HTTP `Idempotency-Key`, SMTP
 *   `Message-ID`); a provider that de-duplicates on it delivers the message once.
 */
export const GUARANTEES = ['at-most-once', 'at-least-once'] as const;
export type Guarantee = (typeof GUARANTEES)[number];
export type Guarantees = Record<Channel, Guarantee>;

/**
 * Parses `email=at-least-once,sms=at-most-once` over `defaults` (channels not named keep their
 * default). Returns a message naming the bad part instead of throwing.
 */
export function parseGuarantees(value: string, defaults: Guarantees): Guarantees | string {
  const out: Guarantees = { ...defaults };
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(part);
    if (!m) return `'${part}' is not <channel>=<${GUARANTEES.join('|')}>`;
    const channel = canonicalChannel(m[1]);
    if (!channel) return `unknown channel '${m[1]}' (known: ${CHANNELS.join(', ')})`;
    if (!(GUARANTEES as readonly string[]).includes(m[2])) {
      return `'${m[2]}' for ${channel} is not one of ${GUARANTEES.join(', ')}`;
    }
    out[channel] = m[2] as Guarantee;
  }
  return out;
}
