import { createHash } from 'node:crypto';
import { events } from '@kairos/contracts';
import { categoryOf } from './classification';
import type { ApiKeySpec, RateLimitSpec, RulesFile } from './rules-file';
import { TokenBucket } from './token-bucket';

/** Who is calling: resolved from an API key, or the anonymous principal when authentication is off. */
export interface Principal {
  name: string;
  /** Stamped on events that do not name an allowed source themselves. */
  source: string;
  allowedSources?: ReadonlySet<string>;
  allowedCategories?: ReadonlySet<events.EventCategory>;
  bucket?: TokenBucket;
  /** Local development without keys: events may carry any source. */
  anySource?: boolean;
}

export type AuthResult =
  { ok: true; principal: Principal } | { ok: false; code: 'unauthenticated'; message: string };

export const ANONYMOUS: Principal = { name: 'anonymous', source: 'anonymous', anySource: true };

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Extracts the key from `authorization: Bearer <key>` or `x-api-key: <key>`. */
export function keyFromHeaders(
  authorization: string | undefined,
  apiKey: string | undefined,
): string | undefined {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m) return m[1];
  }
  return apiKey?.trim() || undefined;
}

function bucketFor(limit: RateLimitSpec | undefined, now: number): TokenBucket | undefined {
  if (!limit) return undefined;
  return new TokenBucket(limit.eventsPerSecond, limit.burst ?? limit.eventsPerSecond, now);
}

/**
 * API keys are looked up by their sha256 (the configuration never holds a key). With no keys
 * configured authentication is off and every call runs as the anonymous principal.
 */
export class Authenticator {
  private readonly byHash = new Map<string, Principal>();
  private readonly anonymous: Principal;

  constructor(rules: Pick<RulesFile, 'apiKeys' | 'defaultRateLimit'>, now: number) {
    for (const spec of rules.apiKeys)
      this.byHash.set(spec.sha256, this.principalOf(spec, rules.defaultRateLimit, now));
    this.anonymous = { ...ANONYMOUS, bucket: bucketFor(rules.defaultRateLimit, now) };
  }

  get enabled(): boolean {
    return this.byHash.size > 0;
  }

  private principalOf(spec: ApiKeySpec, fallback: RateLimitSpec | undefined, now: number): Principal {
    return {
      name: spec.name,
      source: spec.source ?? spec.name,
      allowedSources: spec.allowedSources ? new Set(spec.allowedSources) : undefined,
      allowedCategories: spec.allowedCategories ? new Set(spec.allowedCategories.map(categoryOf)) : undefined,
      bucket: bucketFor(spec.rateLimit ?? fallback, now),
    };
  }

  authenticate(key: string | undefined): AuthResult {
    if (!this.enabled) return { ok: true, principal: this.anonymous };
    if (!key) {
      return {
        ok: false,
        code: 'unauthenticated',
        message: 'missing API key: send metadata "authorization: Bearer <key>" or "x-api-key: <key>"',
      };
    }
    const principal = this.byHash.get(sha256Hex(key));
    if (!principal) return { ok: false, code: 'unauthenticated', message: 'unknown API key' };
    return { ok: true, principal };
  }
}

/** Checks what a principal may send; returns the problem or undefined. Sets `source` on the event. */
export function authorizeEvent(
  principal: Principal,
  event: events.Event,
  prefix: string,
): string | undefined {
  if (event.source === '') event.source = principal.source;
  else if (
    event.source !== principal.source &&
    !principal.anySource &&
    !principal.allowedSources?.has(event.source)
  ) {
    return `${prefix}.source: API key '${principal.name}' may not send events as source '${event.source}'`;
  }
  if (principal.allowedCategories && !principal.allowedCategories.has(event.category)) {
    const allowed = [...principal.allowedCategories].map((c) => events.eventCategoryToJSON(c)).join(', ');
    return `${prefix}.category: API key '${principal.name}' may not send ${events.eventCategoryToJSON(event.category)} events (allowed: ${allowed})`;
  }
  return undefined;
}
