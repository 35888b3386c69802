/**
 * Size and nesting limits of definitions (docs/definitions.md, "Limits"). Parsing, validation and
 * compilation recurse over documents, patterns and CEL expressions, so each limit is checked by an
 * iterative scan before anything recurses: input past a limit is a definition error naming the
 * limit, never a stack overflow or a YAML exception, at every entry point (files, `kairosctl`, the
 * store, PatternService.Simulate).
 */
import type { parse as parseCel } from '@bufbuild/cel';
import type { CST } from 'yaml';
import type { Issue, PathSegment } from './errors';

export const DEFINITION_LIMITS = {
  /** Mappings and lists nested in one document, the document's top-level mapping being level 1. */
  maxDocumentDepth: 64,
  /** Patterns nested in a trigger's `spec.pattern` (`all`/`any`/`sequence`), the pattern being level 1. */
  maxPatternDepth: 16,
  /**
   * YAML alias budget per document (the yaml library's `maxAliasCount`): how many nodes aliases may
   * copy in all. It stops "billion laughs" documents that expand exponentially.
   */
  maxAliasCount: 100,
  /**
   * Characters in one CEL expression. It bounds operator chains too (`a + b + ...` nests one level
   * per operator): about 1,200 levels exhaust a default Node.js stack.
   */
  maxCelLength: 1_024,
  /** Parentheses, brackets and braces nested in one CEL expression. */
  maxCelNesting: 32,
  /**
   * Estimated cost of one CEL evaluation, in steps: each node of the expression costs one, a
   * comprehension (`all`, `exists`, `map`, `filter`) multiplies its body by the size of its range
   * (the literal list's length, or maxCelListSize for event and profile data).
   */
  maxCelCost: 1_000_000,
  /** Elements a list from event or profile data is assumed to hold when estimating CEL cost. */
  maxCelListSize: 10_000,
  /** Patterns in one `all`, `any` or `sequence` list. */
  maxPatternItems: 32,
  /** Event, count and absent patterns in one trigger, at every level together. */
  maxPatternEvents: 64,
  /** `count.atLeast`: the engine keeps up to this many timestamps per customer. */
  maxCountAtLeast: 1_000,
  /** Shortest pattern window (`within`, `for`, `count.within`): shorter ones expire before they match. */
  minWindowMs: 1_000,
  /** Longest pattern window: state is kept per customer for as long. */
  maxWindowMs: 366 * 86_400_000,
  /** Steps in one workflow step list (`steps`, `then`, `else`). */
  maxWorkflowSteps: 100,
} as const;

type Collection = CST.BlockMap | CST.BlockSequence | CST.FlowCollection;

function isCollection(t: CST.Token | null | undefined): t is Collection {
  return !!t && (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection');
}

/**
 * The source offset of the first collection of a parsed (not yet composed) YAML document nested
 * deeper than `limit`, or undefined. Composing such a document would recurse once per level.
 */
export function yamlTooDeepAt(
  doc: CST.Document,
  limit: number = DEFINITION_LIMITS.maxDocumentDepth,
): number | undefined {
  const stack: Array<{ token: Collection; depth: number }> = [];
  if (isCollection(doc.value)) stack.push({ token: doc.value, depth: 1 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (depth > limit) return token.offset;
    for (const item of token.items) {
      // A block sequence's items have no key; a mapping's key may itself be a collection.
      const key = 'key' in item ? item.key : undefined;
      if (isCollection(key)) stack.push({ token: key, depth: depth + 1 });
      if (isCollection(item.value)) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * The path of the first mapping or list of a document value (from YAML or stored JSON) nested
 * deeper than `limit`, or undefined. Terminates on cyclic values (YAML aliases can make them).
 */
export function valueTooDeepAt(
  value: unknown,
  limit: number = DEFINITION_LIMITS.maxDocumentDepth,
): PathSegment[] | undefined {
  const stack: Array<{ value: unknown; path: PathSegment[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (path.length >= limit) return path;
    if (Array.isArray(v)) v.forEach((c, i) => stack.push({ value: c, path: [...path, i] }));
    else for (const [k, c] of Object.entries(v)) stack.push({ value: c, path: [...path, k] });
  }
  return undefined;
}

/** The issue for a document nested deeper than the limit, at `path`. */
export function documentDepthIssue(path: PathSegment[]): Issue {
  return {
    path,
    message: `nesting deeper than ${DEFINITION_LIMITS.maxDocumentDepth} levels of mappings and lists`,
  };
}

const PATTERN_LISTS = ['all', 'any', 'sequence'] as const;

/**
 * The issue for the first pattern under `path` nested deeper than maxPatternDepth, or undefined.
 * Only the pattern operators are followed; anything not shaped like a pattern is left to validation.
 */
export function patternDepthIssue(pattern: unknown, path: PathSegment[]): Issue | undefined {
  const limit = DEFINITION_LIMITS.maxPatternDepth;
  const stack: Array<{ node: unknown; path: PathSegment[]; depth: number }> = [
    { node: pattern, path, depth: 1 },
  ];
  while (stack.length > 0) {
    const { node, path: at, depth } = stack.pop()!;
    if (!node || typeof node !== 'object' || Array.isArray(node)) continue;
    if (depth > limit)
      return { path: at, message: `pattern nesting deeper than ${limit} levels (all, any, sequence)` };
    for (const key of PATTERN_LISTS) {
      const children = (node as Record<string, unknown>)[key];
      if (Array.isArray(children))
        children.forEach((c, i) => stack.push({ node: c, path: [...at, key, i], depth: depth + 1 }));
    }
  }
  return undefined;
}

/**
 * The issue for a pattern holding more than maxPatternEvents event, count and absent patterns, or
 * undefined. Run after patternDepthIssue (so the walk is bounded).
 */
export function patternSizeIssue(pattern: unknown, path: PathSegment[]): Issue | undefined {
  const limit = DEFINITION_LIMITS.maxPatternEvents;
  let leaves = 0;
  const stack: unknown[] = [pattern];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!node || typeof node !== 'object' || Array.isArray(node)) continue;
    let operator = false;
    for (const key of PATTERN_LISTS) {
      const children = (node as Record<string, unknown>)[key];
      if (Array.isArray(children)) {
        operator = true;
        stack.push(...children);
      }
    }
    if (!operator && ++leaves > limit)
      return { path, message: `more than ${limit} event, count and absent patterns in one trigger` };
  }
  return undefined;
}

/** The issue for a pattern window outside [minWindowMs, maxWindowMs], or undefined. */
export function windowIssue(ms: number, text: string, path: PathSegment[]): Issue | undefined {
  const { minWindowMs, maxWindowMs } = DEFINITION_LIMITS;
  if (ms < minWindowMs) return { path, message: `expected a window of at least 1s, got '${text}'` };
  if (ms > maxWindowMs) return { path, message: `expected a window of at most 366d, got '${text}'` };
  return undefined;
}

const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
const IDENT = /[A-Za-z0-9_]/;

/**
 * Why a CEL expression is over the limits, or undefined: its length, or how deeply its parentheses,
 * brackets and braces nest (outside string literals). Checked before parsing, which recurses per
 * level.
 */
export function celLimitError(source: string): string | undefined {
  const { maxCelLength, maxCelNesting } = DEFINITION_LIMITS;
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '"' || ch === "'") {
      // A prefix of r/R (raw: no escapes) and b/B (bytes) may precede the quote.
      let p = i;
      while (p > 0 && /[rRbB]/.test(source[p - 1]) && i - p < 2) p--;
      const raw = (p === 0 || !IDENT.test(source[p - 1])) && /[rR]/.test(source.slice(p, i));
      const quote = source.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      let j = i + quote.length;
      while (j < source.length && !source.startsWith(quote, j)) j += !raw && source[j] === '\\' ? 2 : 1;
      i = j + quote.length - 1;
    } else if (OPEN.has(ch)) {
      if (++depth > maxCelNesting)
        return `CEL expression nesting deeper than ${maxCelNesting} levels of parentheses, brackets and braces`;
    } else if (CLOSE.has(ch) && depth > 0) depth--;
  }
  if (source.length > maxCelLength)
    return `CEL expression longer than ${maxCelLength} characters (${source.length})`;
  return undefined;
}

type CelExpr = ReturnType<typeof parseCel>['expr'];

/** How many elements a comprehension iterates: a literal's own size, else the data bound. */
function rangeSize(range: CelExpr | undefined): number {
  const kind = range?.exprKind;
  if (kind?.case === 'listExpr') return kind.value.elements.length;
  if (kind?.case === 'structExpr' && !kind.value.messageName) return kind.value.entries.length;
  return DEFINITION_LIMITS.maxCelListSize;
}

/**
 * The estimated evaluation cost of a parsed CEL expression (see DEFINITION_LIMITS.maxCelCost): one
 * step per node, a comprehension's condition and step once per element of its range. The estimate
 * is an upper bound for data within the list bound; nesting is bounded by maxCelLength.
 */
export function celCost(expr: CelExpr | undefined): number {
  if (!expr) return 0;
  const k = expr.exprKind;
  switch (k.case) {
    case 'selectExpr':
      return 1 + celCost(k.value.operand);
    case 'callExpr':
      return 1 + celCost(k.value.target) + k.value.args.reduce((n, a) => n + celCost(a), 0);
    case 'listExpr':
      return 1 + k.value.elements.reduce((n, e) => n + celCost(e), 0);
    case 'structExpr':
      return (
        1 +
        k.value.entries.reduce(
          (n, e) => n + celCost(e.value) + (e.keyKind.case === 'mapKey' ? celCost(e.keyKind.value) : 0),
          0,
        )
      );
    case 'comprehensionExpr': {
      const c = k.value;
      const body = celCost(c.loopCondition) + celCost(c.loopStep);
      return (
        1 + celCost(c.iterRange) + celCost(c.accuInit) + rangeSize(c.iterRange) * body + celCost(c.result)
      );
    }
    default:
      return 1;
  }
}

/** Why a parsed CEL expression may cost too much to evaluate, or undefined. */
export function celCostError(expr: CelExpr): string | undefined {
  const cost = celCost(expr);
  if (cost <= DEFINITION_LIMITS.maxCelCost) return undefined;
  return (
    `CEL expression may cost up to ${cost.toExponential(1)} evaluation steps, more than the limit of ` +
    `${DEFINITION_LIMITS.maxCelCost} (a comprehension over event or profile data counts ` +
    `${DEFINITION_LIMITS.maxCelListSize} elements; avoid nesting them)`
  );
}
