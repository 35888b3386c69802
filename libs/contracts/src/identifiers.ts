// Identifier rules shared by every API edge (gRPC services, webhooks, kairosctl); see
// docs/operations.md "Identifiers and request limits".

/** Longest identifier (event id, customer id, event type, trigger or workflow name...), in UTF-16 code units. */
export const MAX_IDENTIFIER_LENGTH = 128;
/** How much of a caller's input an error message quotes. */
export const MAX_QUOTED_INPUT = 64;

/** Whitespace or control characters (C0, DEL, C1, Unicode spaces, line/paragraph separators). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_ID_CHAR = /[\s\u0000-\u001f\u007f-\u009f]/;

const wellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed;

/**
 * True when `text` has no lone surrogate, i.e. it encodes to UTF-8 without loss (a lone surrogate
 * from a JSON `\udcff` escape would be encoded as U+FFFD, merging distinct values).
 */
export function isWellFormedText(text: string): boolean {
  return wellFormed.call(text);
}

/** Where in a JSON-like value a string or key holds a lone surrogate (`a.b[2]`), or undefined. */
export function illFormedTextAt(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isWellFormedText(value) ? undefined : path || '(value)';
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = illFormedTextAt(value[i], `${path}[${i}]`);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (!isWellFormedText(key)) return `${path || '(value)'} (a key)`;
    const at = illFormedTextAt(v, here);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * The problem with an identifier as `<field>: <rule>`, or undefined when it is valid: non-empty,
 * well-formed text of at most `max` code units, without whitespace or control characters.
 */
export function identifierProblem(
  field: string,
  value: string,
  max = MAX_IDENTIFIER_LENGTH,
): string | undefined {
  if (value === '') return `${field}: required`;
  if (value.length > max) return `${field}: at most ${max} characters, got ${value.length}`;
  if (!isWellFormedText(value)) return `${field}: not valid UTF-8 (holds a lone surrogate)`;
  const bad = BAD_ID_CHAR.exec(value);
  if (bad)
    return `${field}: must not contain whitespace or control characters, found one at index ${bad.index}`;
  return undefined;
}

/** `value` cut to `max` code units, with `…` where it was cut (never inside a surrogate pair). */
export function cutInput(value: string, max = MAX_QUOTED_INPUT): string {
  if (value.length <= max) return value;
  let cut = value.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * A field path for an error message: past 200 code units it keeps its head and tail (where the
 * field that broke the rule is named), since keys in it are the caller's input.
 */
export function cutPath(path: string): string {
  return path.length > 200 ? `${path.slice(0, 120)}…${path.slice(-60)}` : path;
}

/** `value` quoted for an error message, cut to MAX_QUOTED_INPUT code units (the caller sent it). */
export function quoteInput(value: string): string {
  if (value.length <= MAX_QUOTED_INPUT) return `'${value}'`;
  return `'${cutInput(value)}' (${value.length} characters)`;
}
