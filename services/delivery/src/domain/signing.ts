import { createHmac, timingSafeEqual } from 'node:crypto';

/** `X-Kairos-Signature: t=<unix seconds>,v1=<hex hmac-sha256 of "<t>.<body>">` (Stripe-style). */
export const SIGNATURE_HEADER = 'X-Kairos-Signature';

export function signBody(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Verifies a signature header; `toleranceSec` bounds clock skew and replays. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  nowUnixSeconds: number,
  toleranceSec = 300,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing signature' };
  const parts = new Map<string, string[]>();
  for (const kv of header.split(',')) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), kv.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t)) return { ok: false, reason: 'signature has no timestamp' };
  if (Math.abs(nowUnixSeconds - t) > toleranceSec)
    return { ok: false, reason: 'signature timestamp outside tolerance' };
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  for (const v of parts.get('v1') ?? []) {
    const got = Buffer.from(v);
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true };
  }
  return { ok: false, reason: 'signature mismatch' };
}

/** What a tracking token carries. */
export interface TrackingPayload {
  /** The action id. */
  a: string;
  /** The channel. */
  c: string;
  /** The kind: `o` for an open, `c` for a click. */
  k: 'o' | 'c';
  /** The expiry, in unix seconds. */
  e: number;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function tokenMac(secret: string, payloadB64: string, url: string | undefined): Buffer {
  // Click tokens also sign the target URL, so `?u=` cannot be swapped (no open redirect).
  return createHmac('sha256', secret)
    .update(url === undefined ? payloadB64 : `${payloadB64}\n${url}`)
    .digest();
}

/** Creates a tracking token: base64url(JSON payload) "." base64url(HMAC-SHA256). */
export function createTrackingToken(secret: string, payload: TrackingPayload, url?: string): string {
  const p = b64url(JSON.stringify(payload));
  return `${p}.${b64url(tokenMac(secret, p, url))}`;
}

export type TokenCheck =
  | { ok: true; payload: TrackingPayload }
  | { ok: false; status: 404 | 410; reason: string; payload?: TrackingPayload };

/**
 * Verifies signature first (404 when bad), then expiry (410 when past). `secret` may list the
 * current secret and those before a rotation: links signed with any of them verify until they expire.
 */
export function verifyTrackingToken(
  secret: string | readonly string[],
  token: string,
  nowUnixSeconds: number,
  url?: string,
): TokenCheck {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot === token.length - 1) return { ok: false, status: 404, reason: 'malformed token' };
  const p = token.slice(0, dot);
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  const signedBy = (s: string) => {
    const expected = tokenMac(s, p, url);
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  };
  if (!(typeof secret === 'string' ? [secret] : secret).some(signedBy)) {
    return { ok: false, status: 404, reason: 'bad signature' };
  }
  let payload: TrackingPayload;
  try {
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TrackingPayload;
  } catch {
    return { ok: false, status: 404, reason: 'malformed payload' };
  }
  if (typeof payload.a !== 'string' || typeof payload.e !== 'number') {
    return { ok: false, status: 404, reason: 'malformed payload' };
  }
  if (payload.e < nowUnixSeconds) return { ok: false, status: 410, reason: 'expired', payload };
  return { ok: true, payload };
}

export interface TrackingLinks {
  baseUrl: string;
  secret: string;
  actionId: string;
  channel: string;
  expiresAt: number;
}

export function openPixelUrl(l: TrackingLinks): string {
  const token = createTrackingToken(l.secret, { a: l.actionId, c: l.channel, k: 'o', e: l.expiresAt });
  return `${l.baseUrl.replace(/\/$/, '')}/t/o/${token}.gif`;
}

export function clickUrl(l: TrackingLinks, url: string): string {
  const token = createTrackingToken(l.secret, { a: l.actionId, c: l.channel, k: 'c', e: l.expiresAt }, url);
  return `${l.baseUrl.replace(/\/$/, '')}/t/c/${token}?u=${encodeURIComponent(url)}`;
}

const decodeEntities = (s: string) => s.replace(/&amp;/g, '&');
const encodeEntities = (s: string) => s.replace(/&/g, '&amp;');

/**
 * Rewrites every absolute http(s) `href` to a click-tracking link and adds the open pixel
 * (before `</body>` when there is one). Links that are mailto:, anchors or relative stay as they are.
 */
export function addTracking(html: string, l: TrackingLinks): string {
  const rewritten = html.replace(
    /(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi,
    (_m, prefix: string, quote: string, href: string) =>
      `${prefix}${quote}${encodeEntities(clickUrl(l, decodeEntities(href)))}${quote}`,
  );
  const pixel = `<img src="${openPixelUrl(l)}" width="1" height="1" alt="" style="display:none">`;
  return /<\/body>/i.test(rewritten) ? rewritten.replace(/<\/body>/i, `${pixel}</body>`) : rewritten + pixel;
}
