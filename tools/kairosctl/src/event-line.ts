import { cutPath, events, identifierProblem, illFormedTextAt, quoteInput } from '@kairos/contracts';
import { failed } from './errors';

/**
 * Objects and lists nested in one line, the line itself being level 1: the gRPC decode limit of
 * Struct / ListValue nesting (32) plus the event and profile around properties. Deeper lines are
 * refused before anything walks them recursively.
 */
export const MAX_EVENT_LINE_DEPTH = 34;

/** The path of the first object or list nested deeper than `limit` (iterative, no recursion). */
function tooDeepAt(value: unknown, limit: number): string | undefined {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: '', depth: 1 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limit) return path;
    if (Array.isArray(v)) v.forEach((c, i) => stack.push({ v: c, path: `${path}[${i}]`, depth: depth + 1 }));
    else
      for (const [k, c] of Object.entries(v))
        stack.push({ v: c, path: path ? `${path}.${k}` : k, depth: depth + 1 });
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A time an events file may hold: ISO 8601 text or epoch milliseconds within years 0001..9999. */
function validTime(v: unknown): boolean {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) && ms >= -62_135_596_800_000 && ms <= 253_402_300_799_999;
}

/** The first problem of an event object (proto JSON field names, or their snake_case forms). */
function eventProblem(e: Record<string, unknown>, at: string): string | undefined {
  const field = (camel: string, snake: string) => (camel in e ? e[camel] : e[snake]);
  const type = e.type;
  if (type === undefined || type === '') return `${at}type: required`;
  if (typeof type !== 'string') return `${at}type: expected a string`;
  const customerId = field('customerId', 'customer_id');
  if (customerId === undefined || customerId === '') return `${at}customerId (customer_id): required`;
  if (typeof customerId !== 'string') return `${at}customerId: expected a string`;
  const idProblem = identifierProblem(`${at}customerId`, customerId);
  if (idProblem) return idProblem;
  if (e.id !== undefined && e.id !== '') {
    if (typeof e.id !== 'string') return `${at}id: expected a string`;
    const problem = identifierProblem(`${at}id`, e.id);
    if (problem) return problem;
  }
  const occurredAt = field('occurredAt', 'occurred_at');
  if (occurredAt === undefined || occurredAt === null) return `${at}occurredAt (occurred_at): required`;
  if (!validTime(occurredAt))
    return `${at}occurredAt: expected an ISO 8601 time or epoch ms in years 0001-9999, got ${quoteInput(String(occurredAt))}`;
  if (e.properties !== undefined && e.properties !== null && !isObject(e.properties))
    return `${at}properties: expected an object`;
  if (e.context !== undefined && e.context !== null && !isObject(e.context))
    return `${at}context: expected an object`;
  return undefined;
}

/**
 * One NDJSON line of a `simulate --events` file: an EnrichedEvent ({event, profile}) or a bare Event
 * (proto JSON field names). A line that is not one fails (exit 1) with `file:line: field: problem`.
 */
export function parseEventLine(line: string, lineNo: number, file: string): events.EnrichedEvent {
  const fail = (problem: string) => failed(`${file}:${lineNo}: ${problem}`);
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    throw fail(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw fail('expected an object');
  const deep = tooDeepAt(json, MAX_EVENT_LINE_DEPTH);
  if (deep !== undefined) throw fail(`${cutPath(deep)}: nested deeper than ${MAX_EVENT_LINE_DEPTH} levels`);
  const illFormed = illFormedTextAt(json);
  if (illFormed !== undefined) throw fail(`${illFormed}: not valid UTF-8 (a \\u escape of a lone surrogate)`);
  const wrapped = 'event' in json;
  if (wrapped && !isObject(json.event)) throw fail('event: expected an object');
  if (wrapped && json.profile !== undefined && json.profile !== null && !isObject(json.profile))
    throw fail('profile: expected an object');
  const problem = eventProblem(
    (wrapped ? json.event : json) as Record<string, unknown>,
    wrapped ? 'event.' : '',
  );
  if (problem) throw fail(problem);
  const enriched = wrapped
    ? events.EnrichedEvent.fromJSON(json)
    : events.EnrichedEvent.fromJSON({ event: json });
  const e = enriched.event!;
  if (e.category === events.EventCategory.UNRECOGNIZED)
    throw fail(
      `${wrapped ? 'event.' : ''}category: unknown category ${quoteInput(String((wrapped ? (json.event as Record<string, unknown>) : json).category))}`,
    );
  if (!e.id) e.id = `line-${lineNo}`;
  return enriched;
}
