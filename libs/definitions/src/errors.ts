/** One validation problem, located in the source file. */
export interface DefinitionError {
  /** File name as given to the parser (or '<input>'). */
  file: string;
  /** 1-based line; 0 when unknown. */
  line: number;
  /** 1-based column; 0 when unknown. */
  column: number;
  /** Path inside the document, e.g. `spec.pattern.sequence[1].within` ('' for the document itself). */
  path: string;
  /** What was expected / what is wrong. */
  message: string;
  /** Index of the document in a multi-document file (0-based). */
  documentIndex?: number;
}

/** Formats an error as `file.yaml:12:9 spec.pattern.sequence[1].within: expected a duration like 30m, got '30 minutes'`. */
export function formatError(e: DefinitionError): string {
  const loc = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  return e.path ? `${loc} ${e.path}: ${e.message}` : `${loc} ${e.message}`;
}

export function formatErrors(errors: readonly DefinitionError[]): string {
  return errors.map(formatError).join('\n');
}

/** A path segment: object key or array index. */
export type PathSegment = string | number;

/** A key that reads unambiguously in a dotted path: no separator, quote, space or control character. */
const PLAIN_KEY = /^[^\s\p{C}.[\]"']+$/u;

/**
 * Formats a path as `spec.steps[0].send`; a key that would not read as one (empty, blank, holding
 * a dot, bracket, quote or control character) is quoted: `labels[" "]`.
 */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (!PLAIN_KEY.test(seg)) out += `[${JSON.stringify(seg)}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** An issue before it is located in a file. */
export interface Issue {
  path: PathSegment[];
  message: string;
  /** Point at the key of the last path segment instead of its value (unknown fields). */
  atKey?: boolean;
}

/** Thrown by APIs that require valid input (e.g. `DefinitionStore.apply`). */
export class DefinitionValidationError extends Error {
  constructor(readonly errors: DefinitionError[]) {
    super(`${errors.length} definition error(s):\n${formatErrors(errors)}`);
    this.name = 'DefinitionValidationError';
  }
}

/** Describe a value for "got ..." messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}
