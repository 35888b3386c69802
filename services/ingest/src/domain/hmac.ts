import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-kairos-signature';
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

export type SignatureCheck =
  { ok: true; signature: string; timestampMs: number } | { ok: false; reason: string };

/** `t=<unix seconds>,v1=<hex hmac-sha256 of "<t>.<body>">` (several v1 entries allow secret rotation). */
export function signPayload(secret: string, body: string | Buffer, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Verifies a signature header against the raw body: format, timestamp within tolerance, HMAC. */
export function verifySignature(
  header: string | undefined,
  body: Buffer,
  secret: string,
  nowMs: number,
  toleranceMs = DEFAULT_TOLERANCE_MS,
): SignatureCheck {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  let t: string | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') candidates.push(value);
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) {
    return { ok: false, reason: `malformed ${SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex>` };
  }
  const timestampMs = Number(t) * 1000;
  if (Math.abs(nowMs - timestampMs) > toleranceMs) {
    return {
      ok: false,
      reason: `signature timestamp ${t} is outside the ${toleranceMs / 1000}s tolerance (server time ${Math.floor(nowMs / 1000)})`,
    };
  }
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  for (const candidate of candidates) {
    if (!/^[0-9a-f]{64}$/i.test(candidate)) continue;
    const given = Buffer.from(candidate, 'hex');
    if (timingSafeEqual(given, expected))
      return { ok: true, signature: candidate.toLowerCase(), timestampMs };
  }
  return { ok: false, reason: 'signature does not match the body' };
}

/**
 * Remembers accepted signatures until their timestamp leaves the tolerance window (after that the
 * timestamp check rejects them anyway), so a captured request cannot be replayed.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly toleranceMs = DEFAULT_TOLERANCE_MS) {}

  /** Reserves the signature; false when it was already used. */
  reserve(signature: string, timestampMs: number, nowMs: number): boolean {
    this.sweep(nowMs);
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, timestampMs + this.toleranceMs);
    return true;
  }

  /** Gives a signature back when its request failed on our side, so the sender's retry is accepted. */
  release(signature: string): void {
    this.seen.delete(signature);
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(nowMs: number): void {
    // Insertion order is roughly expiry order; stop at the first live entry.
    for (const [sig, expiresAt] of this.seen) {
      if (expiresAt > nowMs) break;
      this.seen.delete(sig);
    }
  }
}
