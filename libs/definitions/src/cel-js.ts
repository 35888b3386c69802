/**
 * Compiles the subset of CEL that conditions use into plain JavaScript closures, built once per
 * expression, so that evaluating a condition costs about what a hand-written function does.
 *
 * The subset: literals (bool, int, double, string, null, lists of them), variables and field access
 * on plain objects, `has()`, indexing, `==` `!=` `<` `<=` `>` `>=`, `&&` `||` `!` `?:`, `in`, arithmetic
 * (`+` `-` `*` `/` `%`, unary `-`), `size`, `contains`, `startsWith`, `endsWith`, `int` and `double`.
 * An expression with anything else is not compiled (the interpreter runs it).
 *
 * Values are CEL's as the interpreter sees them through `toCelValue`: numbers are doubles, bigints
 * ints, arrays lists, plain objects maps (a key whose value is undefined is absent), Dates doubles
 * of epoch milliseconds. The closures compute what the interpreter computes for these values,
 * operation by operation (with the JavaScript operators its overloads use). Whenever they meet
 * anything else — an error in CEL's terms (a missing key, operands with no overload, an int
 * overflow, division by zero) or a value of another kind — they throw `CEL_FALLBACK`, and the caller
 * runs the interpreter on the same input, which then gives the result or the error. The compiled
 * path therefore never decides an outcome that involves an error; it only skips the interpreter
 * where none is involved. The unit properties compare both on generated expressions and input.
 */
import type { parse } from '@bufbuild/cel';

type Expr = ReturnType<typeof parse>['expr'];

/** Thrown by a compiled expression that cannot decide: the interpreter must evaluate the input. */
export const CEL_FALLBACK: unique symbol = Symbol('cel-fallback');

/** Evaluates over a caller's context; throws CEL_FALLBACK where the interpreter must decide. */
export type CompiledEval = (ctx: any) => unknown;

/** How a variable is read from the caller's context. */
export type VariableAccess = (name: string) => CompiledEval;

/** Builds the closures of an expression for a way of reading its variables. */
export type JsProgram = (access: VariableAccess) => CompiledEval;

type Binary = (a: unknown, b: unknown) => unknown;

const MIN_INT = -(2n ** 63n);
const MAX_INT = 2n ** 63n - 1n;

function fallback(): never {
  throw CEL_FALLBACK;
}

/** An int result, or the interpreter when it overflows (CEL errors there). */
function int(v: bigint): bigint {
  return v >= MIN_INT && v <= MAX_INT ? v : fallback();
}

/** A plain object: what `toCelValue` turns into a map view of its own keys. */
function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A JS value as the CEL value the interpreter would see (see `toCelValue`): scalars as they are,
 * undefined (and functions, symbols) null, Dates their epoch milliseconds, arrays and plain objects
 * as they are (read lazily); anything else (Maps, bytes, class instances, CEL values) goes to the
 * interpreter.
 */
function value(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return v;
    case 'object':
      if (v === null || Array.isArray(v) || isPlainObject(v)) return v;
      return v instanceof Date ? v.getTime() : fallback();
    default:
      return null;
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return typeof v !== 'object' || v === null;
}

function isNumber(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

/** The value of a present key of a map, or undefined when it is absent. */
function entry(map: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * Presence as `has()` and `in` see it: the interpreter's map views count a value they see as null
 * (null, a function) absent.
 */
function present(map: Record<string, unknown>, key: string): boolean {
  const v = entry(map, key);
  return v !== undefined && value(v) !== null;
}

function select(operand: unknown, field: string): unknown {
  if (!isMap(operand)) return fallback();
  const v = entry(operand, field);
  return v === undefined ? fallback() : value(v);
}

/** CEL equality of two values (numbers across int and double); composites go to the interpreter. */
function equals(a: unknown, b: unknown): boolean {
  // Composites first: a list holding NaN is not equal to itself.
  if (!isScalar(a) || !isScalar(b)) return fallback();
  if (a === b) return true;
  // Loose equality compares an int (bigint) with a double exactly, as the interpreter's equals does.
  return isNumber(a) && isNumber(b) && a == b;
}

/** An ordering operator with the interpreter's overloads: ints compared with doubles as doubles. */
function ordering(op: (a: never, b: never) => boolean): Binary {
  return (a, b) => {
    const ta = typeof a;
    const tb = typeof b;
    if (ta === tb) {
      if (ta === 'number' || ta === 'string' || ta === 'bigint' || ta === 'boolean')
        return op(a as never, b as never);
    } else if (ta === 'number' && tb === 'bigint') return op(a as never, Number(b) as never);
    else if (ta === 'bigint' && tb === 'number') return op(Number(a) as never, b as never);
    return fallback();
  };
}

/** Arithmetic on two doubles or two ints (checked for overflow); nothing else is compiled. */
function arithmetic(
  onDoubles: (a: number, b: number) => number,
  onInts: (a: bigint, b: bigint) => bigint,
): Binary {
  return (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return onDoubles(a, b);
    if (typeof a === 'bigint' && typeof b === 'bigint') return onInts(a, b);
    return fallback();
  };
}

const addNumbers = arithmetic(
  (x, y) => x + y,
  (x, y) => int(x + y),
);

const DOUBLE_ORDERINGS = new Map<string, (a: number, b: number) => boolean>([
  ['_<_', (a, b) => a < b],
  ['_<=_', (a, b) => a <= b],
  ['_>_', (a, b) => a > b],
  ['_>=_', (a, b) => a >= b],
]);

/** Binary operators by CEL function name (`&&`, `||`, `==`, `!=`, `in`, `[]` are built apart). */
const BINARY = new Map<string, Binary>([
  ['_<_', ordering((a, b) => a < b)],
  ['_<=_', ordering((a, b) => a <= b)],
  ['_>_', ordering((a, b) => a > b)],
  ['_>=_', ordering((a, b) => a >= b)],
  ['_+_', (a, b) => (typeof a === 'string' && typeof b === 'string' ? a + b : addNumbers(a, b))],
  [
    '_-_',
    arithmetic(
      (x, y) => x - y,
      (x, y) => int(x - y),
    ),
  ],
  [
    '_*_',
    arithmetic(
      (x, y) => x * y,
      (x, y) => int(x * y),
    ),
  ],
  [
    '_/_',
    arithmetic(
      (x, y) => x / y,
      (x, y) => (y === 0n ? fallback() : int(x / y)),
    ),
  ],
  ['_%_', (a, b) => (typeof a === 'bigint' && typeof b === 'bigint' && b !== 0n ? a % b : fallback())],
]);

function size(v: unknown): bigint {
  if (typeof v === 'string') {
    let codePoints = 0;
    for (const _ of v) codePoints++;
    return BigInt(codePoints);
  }
  if (Array.isArray(v)) return BigInt(v.length);
  if (isMap(v)) {
    let n = 0;
    for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k) && v[k] !== undefined) n++;
    return BigInt(n);
  }
  return fallback();
}

/** Global functions and operators of one argument. */
const UNARY = new Map<string, (v: unknown) => unknown>([
  ['size', size],
  [
    'int',
    (v) =>
      typeof v === 'bigint'
        ? v
        : typeof v === 'number' && v > Number(MIN_INT) && v < Number(MAX_INT)
          ? BigInt(Math.trunc(v))
          : fallback(),
  ],
  ['double', (v) => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : fallback())],
  ['!_', (v) => (typeof v === 'boolean' ? !v : fallback())],
  ['-_', (v) => (typeof v === 'number' ? -v : typeof v === 'bigint' ? int(-v) : fallback())],
]);

function strings(op: (s: string, arg: string) => boolean): Binary {
  return (s, arg) => (typeof s === 'string' && typeof arg === 'string' ? op(s, arg) : fallback());
}

/** Methods of one argument on a string receiver. */
const METHODS = new Map<string, Binary>([
  ['contains', strings((s, a) => s.includes(a))],
  ['startsWith', strings((s, a) => s.startsWith(a))],
  ['endsWith', strings((s, a) => s.endsWith(a))],
]);

/** Names the interpreter may read as types rather than variables: left to it. */
const TYPE_NAMES = new Set([
  'bool',
  'bytes',
  'double',
  'dyn',
  'int',
  'list',
  'map',
  'null_type',
  'string',
  'type',
  'uint',
]);

function contained(needle: unknown, haystack: unknown): boolean {
  if (Array.isArray(haystack)) {
    for (const element of haystack) if (equals(value(element), needle)) return true;
    return false;
  }
  if (isMap(haystack) && typeof needle === 'string') return present(haystack, needle);
  return fallback();
}

function index(operand: unknown, key: unknown): unknown {
  if (Array.isArray(operand)) {
    if (typeof key !== 'bigint' || key < 0n || key >= BigInt(operand.length)) return fallback();
    return value(operand[Number(key)]);
  }
  if (isMap(operand) && typeof key === 'string') return select(operand, key);
  return fallback();
}

/** The value of a literal, or undefined for kinds outside the subset (bytes, uint). */
function literal(e: Expr): { value: unknown } | undefined {
  if (e.exprKind.case !== 'constExpr') return undefined;
  const k = e.exprKind.value.constantKind;
  switch (k.case) {
    case 'boolValue':
    case 'doubleValue':
    case 'stringValue':
    case 'int64Value':
      return { value: k.value };
    case 'nullValue':
      return { value: null };
    default:
      return undefined;
  }
}

/**
 * Reads a path of fields (`properties.price` of `event`) in one closure rather than one per field:
 * conditions are mostly such paths.
 */
function readPath(of: CompiledEval, fields: string[]): CompiledEval {
  if (fields.length === 1) {
    const [a] = fields;
    return (ctx) => select(of(ctx), a);
  }
  if (fields.length === 2) {
    const [a, b] = fields;
    return (ctx) => select(select(of(ctx), a), b);
  }
  return (ctx) => {
    let v = of(ctx);
    for (const f of fields) v = select(v, f);
    return v;
  };
}

/** Builds the closures of `e`, or undefined when `e` is outside the compiled subset. */
function build(e: Expr, access: VariableAccess): CompiledEval | undefined {
  const k = e.exprKind;
  switch (k.case) {
    case 'constExpr': {
      const c = literal(e)?.value;
      return c === undefined ? undefined : () => c;
    }
    case 'identExpr': {
      if (TYPE_NAMES.has(k.value.name)) return undefined;
      const read = access(k.value.name);
      return (ctx) => {
        const v = read(ctx);
        return v === undefined || v === null ? fallback() : value(v);
      };
    }
    case 'selectExpr': {
      const { operand, field, testOnly } = k.value;
      if (!operand) return undefined;
      if (testOnly) {
        const of = build(operand, access);
        return (
          of &&
          ((ctx) => {
            const m = of(ctx);
            return isMap(m) ? present(m, field) : fallback();
          })
        );
      }
      const fields = [field];
      let root = operand;
      while (
        root.exprKind.case === 'selectExpr' &&
        !root.exprKind.value.testOnly &&
        root.exprKind.value.operand
      ) {
        fields.unshift(root.exprKind.value.field);
        root = root.exprKind.value.operand;
      }
      const of = build(root, access);
      return of && readPath(of, fields);
    }
    case 'listExpr': {
      if (k.value.optionalIndices.length > 0) return undefined;
      const items = k.value.elements.map((el) => build(el, access));
      if (items.some((i) => i === undefined)) return undefined;
      const evals = items as CompiledEval[];
      return (ctx) => evals.map((i) => i(ctx));
    }
    case 'callExpr':
      return call(e, access);
    default:
      return undefined;
  }
}

/**
 * `&&` (decided by a false side) and `||` (by a true side): the decisive value on the left decides,
 * whatever the right side is (an error included), as in CEL; every other case but two booleans is
 * the interpreter's (a decisive right side after an error on the left included).
 */
function logical(l: CompiledEval, r: CompiledEval, decisive: boolean): CompiledEval {
  return (ctx) => {
    const x = l(ctx);
    if (x === decisive) return decisive;
    if (x !== !decisive) return fallback();
    const y = r(ctx);
    return typeof y === 'boolean' ? y : fallback();
  };
}

function call(e: Expr, access: VariableAccess): CompiledEval | undefined {
  if (e.exprKind.case !== 'callExpr') return undefined;
  const { function: f, target, args } = e.exprKind.value;
  const receiver = target ? build(target, access) : undefined;
  if (target && !receiver) return undefined;
  const built = args.map((a) => build(a, access));
  if (built.some((b) => b === undefined)) return undefined;
  const a = built as CompiledEval[];
  if (receiver) {
    const method = METHODS.get(f);
    if (method && a.length === 1) {
      const [arg] = a;
      return (ctx) => method(receiver(ctx), arg(ctx));
    }
    return f === 'size' && a.length === 0 ? (ctx) => size(receiver(ctx)) : undefined;
  }
  if (a.length === 1) {
    const [x] = a;
    const unary = UNARY.get(f);
    return unary ? (ctx) => unary(x(ctx)) : undefined;
  }
  if (a.length === 3 && f === '_?_:_') {
    const [c, yes, no] = a;
    return (ctx) => {
      const v = c(ctx);
      return v === true ? yes(ctx) : v === false ? no(ctx) : fallback();
    };
  }
  if (a.length !== 2) return undefined;
  const [l, r] = a;
  switch (f) {
    case '_&&_':
      return logical(l, r, false);
    case '_||_':
      return logical(l, r, true);
    case '_==_':
      return (ctx) => equals(l(ctx), r(ctx));
    case '_!=_':
      return (ctx) => !equals(l(ctx), r(ctx));
    case '@in':
      return (ctx) => contained(l(ctx), r(ctx));
    case '_[_]':
      return (ctx) => index(l(ctx), r(ctx));
  }
  const bound = literal(args[1])?.value;
  if (typeof bound === 'number' || typeof bound === 'bigint') {
    const compare = compareWithNumber(f, l, bound);
    if (compare) return compare;
  }
  const op = BINARY.get(f);
  return op ? (ctx) => op(l(ctx), r(ctx)) : undefined;
}

/**
 * `x >= 40` (the usual threshold): a double operand meets the literal as a double at once (the
 * interpreter's (double, int) overloads convert the int the same way); other operands take the
 * generic way. Undefined for operators other than orderings.
 */
function compareWithNumber(f: string, l: CompiledEval, n: number | bigint): CompiledEval | undefined {
  const onDoubles = DOUBLE_ORDERINGS.get(f);
  if (onDoubles === undefined) return undefined;
  const generic = BINARY.get(f) as Binary;
  const d = Number(n);
  return (ctx) => {
    const a = l(ctx);
    return typeof a === 'number' ? onDoubles(a, d) : generic(a, n);
  };
}

/** A result as the interpreter returns it (ints as numbers); composite results go to it. */
function result(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  return isScalar(v) ? v : fallback();
}

/**
 * Compiles a parsed and checked expression (the checker turns some int literals into doubles) into
 * a JsProgram, or returns undefined when it uses anything outside the compiled subset.
 */
export function compileToJs(expr: Expr): JsProgram | undefined {
  if (build(expr, () => () => undefined) === undefined) return undefined;
  return (access) => {
    const root = build(expr, access) as CompiledEval;
    return (ctx) => result(root(ctx));
  };
}
