import { randomUUID } from 'node:crypto';
import {
  cutInput,
  cutPath,
  EVENT_TYPE_PATTERN,
  events,
  identifierProblem,
  isWellFormedText,
  MAX_IDENTIFIER_LENGTH,
  quoteInput,
  rawPropertiesShape,
} from '@kairos/contracts';

export interface ValidationLimits {
  maxPropertiesBytes: number;
  maxDepth: number;
  maxFutureMs: number;
  maxPastMs: number;
}

/**
 * Limits of an event's `context`: its fields are free text, so without them one event could carry
 * megabytes (past the event store's message size, which would fail the publish instead of the call).
 */
export const CONTEXT_LIMITS = {
  /** Characters of `ip`, `user_agent`, `locale`, `app_version`, `session_id` and each attribute value. */
  maxTextLength: 1_024,
  /** Entries of `attributes`. */
  maxAttributes: 64,
  /** Characters of an attribute key. */
  maxAttributeKeyLength: 128,
} as const;

const CONTEXT_TEXT_FIELDS: Array<[keyof events.EventContext, string]> = [
  ['ip', 'ip'],
  ['userAgent', 'user_agent'],
  ['locale', 'locale'],
  ['appVersion', 'app_version'],
  ['sessionId', 'session_id'],
];

/** The first problem of an event's context, or undefined. */
export function contextProblem(ctx: events.EventContext | undefined, prefix: string): string | undefined {
  if (ctx === undefined) return undefined;
  const { maxTextLength, maxAttributes, maxAttributeKeyLength } = CONTEXT_LIMITS;
  for (const [field, name] of CONTEXT_TEXT_FIELDS) {
    const value = ctx[field] as string;
    if (value.length > maxTextLength)
      return `${prefix}.context.${name}: at most ${maxTextLength} characters, got ${value.length}`;
  }
  let count = 0;
  for (const key in ctx.attributes) {
    if (++count > maxAttributes) return `${prefix}.context.attributes: at most ${maxAttributes} entries`;
    const at = `${prefix}.context.attributes[${JSON.stringify(cutInput(key))}]`;
    if (key.length > maxAttributeKeyLength)
      return `${at}: keys of at most ${maxAttributeKeyLength} characters, got ${key.length}`;
    const value = ctx.attributes[key];
    if (value.length > maxTextLength)
      return `${at}: at most ${maxTextLength} characters, got ${value.length}`;
  }
  return undefined;
}

function formatDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * Measures `properties` in one walk: the UTF-8 size it has as JSON (what it costs downstream) and
 * the nesting depth, stopping as soon as a limit is passed. No serialization, no allocation.
 */
export function measureProperties(
  value: unknown,
  maxBytes: number,
  maxDepth: number,
): { bytes: number; tooDeepAt?: string; notUtf8At?: string; notFiniteAt?: string } {
  let bytes = 0;
  let tooDeepAt: string | undefined;
  let notUtf8At: string | undefined;
  let notFiniteAt: string | undefined;
  const walk = (v: unknown, depth: number, path: string): void => {
    if (bytes > maxBytes || tooDeepAt !== undefined || notUtf8At !== undefined || notFiniteAt !== undefined)
      return;
    switch (typeof v) {
      case 'string':
        if (!isWellFormedText(v)) notUtf8At = path;
        bytes += Buffer.byteLength(v, 'utf8') + 2;
        return;
      case 'number':
        if (!Number.isFinite(v)) notFiniteAt = path;
        bytes += Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v).length : 24;
        return;
      case 'boolean':
        bytes += v ? 4 : 5;
        return;
      case 'object': {
        if (v === null) {
          bytes += 4;
          return;
        }
        if (depth >= maxDepth) {
          tooDeepAt = path;
          return;
        }
        bytes += 2;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            bytes += 1;
            walk(v[i], depth + 1, `${path}[${i}]`);
          }
        } else {
          for (const key in v as Record<string, unknown>) {
            if (!isWellFormedText(key)) notUtf8At ??= `${path} (a key)`;
            bytes += Buffer.byteLength(key, 'utf8') + 4;
            walk((v as Record<string, unknown>)[key], depth + 1, `${path}.${key}`);
          }
        }
        return;
      }
      default:
        bytes += 4;
    }
  };
  if (value !== undefined) {
    for (const key in value as Record<string, unknown>) {
      if (!isWellFormedText(key)) notUtf8At ??= 'properties (a key)';
      bytes += Buffer.byteLength(key, 'utf8') + 4;
      walk((value as Record<string, unknown>)[key], 1, `properties.${key}`);
    }
    bytes += 2;
  }
  return { bytes, tooDeepAt, notUtf8At, notFiniteAt };
}

/**
 * Checks one event and completes it in place: a missing id gets a uuid v4, a missing occurred_at
 * gets `now`. Returns the first problem as `<field>: <rule>, got <value>` (fields prefixed with
 * `prefix`, e.g. `events[3]`), or undefined when the event is valid.
 */
export function validateAndComplete(
  event: events.Event,
  limits: ValidationLimits,
  now: number,
  prefix = 'event',
): string | undefined {
  if (event.id === '') event.id = randomUUID();
  else {
    const problem = identifierProblem(`${prefix}.id`, event.id);
    if (problem) return problem;
  }

  if (event.type === '') return `${prefix}.type: required, e.g. cart.item_added`;
  if (event.type.length > MAX_IDENTIFIER_LENGTH) {
    return `${prefix}.type: at most ${MAX_IDENTIFIER_LENGTH} characters, got ${event.type.length}`;
  }
  if (!EVENT_TYPE_PATTERN.test(event.type)) {
    return `${prefix}.type: expected a dotted lower-case name like cart.item_added, got ${quoteInput(event.type)}`;
  }

  if (event.customerId === '') return `${prefix}.customer_id: required (the customer the event is about)`;
  const customerProblem = identifierProblem(`${prefix}.customer_id`, event.customerId);
  if (customerProblem) return customerProblem;
  if (event.source !== '') {
    const sourceProblem = identifierProblem(`${prefix}.source`, event.source);
    if (sourceProblem) return sourceProblem;
  }

  if (event.category === events.EventCategory.UNRECOGNIZED || !(event.category in events.EventCategory)) {
    return `${prefix}.category: unknown category ${event.category as number}`;
  }
  const ctxProblem = contextProblem(event.context, prefix);
  if (ctxProblem) return ctxProblem;

  if (event.occurredAt === undefined) event.occurredAt = new Date(now);
  else {
    const t = event.occurredAt.getTime();
    if (!Number.isFinite(t)) return `${prefix}.occurred_at: not a valid timestamp`;
    if (t > now + limits.maxFutureMs) {
      return (
        `${prefix}.occurred_at: at most ${formatDuration(limits.maxFutureMs)} in the future, ` +
        `got ${event.occurredAt.toISOString()} (${formatDuration(Math.round((t - now) / 1000) * 1000)} ahead)`
      );
    }
    if (t < now - limits.maxPastMs) {
      return `${prefix}.occurred_at: at most ${formatDuration(limits.maxPastMs)} in the past, got ${event.occurredAt.toISOString()}`;
    }
  }

  // Properties still in their received bytes were measured on the wire, an upper bound of the size
  // and the exact depth: within the limits there means within them here, without decoding. Otherwise
  // the decoded value is measured, for the exact message.
  const shape = rawPropertiesShape(event);
  if (
    shape?.utf8 &&
    shape.finite &&
    shape.depth < limits.maxDepth &&
    shape.jsonBytes <= limits.maxPropertiesBytes
  ) {
    return undefined;
  }
  if (event.properties !== undefined) {
    const { bytes, tooDeepAt, notUtf8At, notFiniteAt } = measureProperties(
      event.properties,
      limits.maxPropertiesBytes,
      limits.maxDepth,
    );
    if (notUtf8At !== undefined) {
      return `${prefix}.${cutPath(notUtf8At)}: not valid UTF-8 (holds a lone surrogate)`;
    }
    if (notFiniteAt !== undefined) {
      return `${prefix}.${cutPath(notFiniteAt)}: must be a finite number (NaN and Infinity have no JSON form)`;
    }
    if (tooDeepAt !== undefined) {
      return `${prefix}.properties: nested deeper than ${limits.maxDepth} levels at ${cutPath(tooDeepAt)}`;
    }
    if (bytes > limits.maxPropertiesBytes) {
      return `${prefix}.properties: at most ${limits.maxPropertiesBytes} bytes serialized, got more than ${bytes}`;
    }
  }
  return undefined;
}

/** Checks a batch's size before looking at its events. */
export function validateBatchSize(count: number, max: number): string | undefined {
  if (count === 0) return 'events: at least one event per batch, got 0';
  if (count > max) return `events: at most ${max} events per batch, got ${count}`;
  return undefined;
}
