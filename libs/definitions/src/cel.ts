/**
 * CEL compilation for conditions and value expressions: parse with @bufbuild/cel, a static check
 * (unknown variables, aliases bound later, unknown functions and event fields, obviously wrong
 * operand/result types) since the library's checker is not public yet, and a planned program that
 * evaluates over plain JS objects through lazy map views (no copying).
 *
 * Numbers: JS numbers are CEL `double`. Comparisons across int/double work natively
 * (`price >= 20` and `price >= 20.0`). For arithmetic, integer literals next to a double or an
 * untyped operand (event/profile data) are compiled as doubles, so `event.properties.qty + 1` works.
 */
import {
  celEnv,
  celList,
  celMap,
  isCelError,
  isCelList,
  isCelMap,
  parse,
  plan,
  type CelValue,
} from '@bufbuild/cel';
import { celCostError, celLimitError } from './limits';
import { compileToJs, type JsProgram } from './cel-js';

type Expr = ReturnType<typeof parse>['expr'];

/** What a declared variable is: an event (event or alias), or a free-form map. */
export type VariableKind = 'event' | 'map';

/** Fields of an event visible to CEL (mirrors EngineEvent). */
export const EVENT_FIELDS = ['id', 'type', 'customerId', 'time', 'properties', 'profile'] as const;

export interface CelScope {
  /** Declared variables in scope. */
  variables: ReadonlyMap<string, VariableKind>;
  /** Aliases declared in the same definition but bound later (for a precise error). */
  laterAliases?: ReadonlySet<string>;
  /** Allow any unknown identifier (used when the trigger of a workflow is not known). */
  lenient?: boolean;
}

export type ExpectedType = 'bool' | 'number' | 'any';

export interface CompiledCel {
  source: string;
  /** Variables the expression references (only these are converted at evaluation). */
  variables: string[];
  /**
   * The expression compiled to JavaScript closures alone (see cel-js.ts), which throw CEL_FALLBACK
   * where the interpreter must decide; undefined when it is outside the compiled subset.
   */
  js?: JsProgram;
  /**
   * Evaluates with variables looked up by name (only referenced ones are asked for); returns a JS
   * value (int results become numbers) or throws CelEvaluationError.
   */
  run(lookup: (name: string) => unknown): unknown;
  /**
   * An evaluator over a context of the caller's type, with each variable read by the function
   * `access(name)` returns (called once per variable here, not per evaluation); results and errors
   * as `run` gives them. The way conditions are evaluated on the hot path.
   */
  bind<C>(access: (name: string) => (ctx: C) => unknown): (ctx: C) => unknown;
  /** Evaluates with the interpreter alone: the reference the compiled path is checked against. */
  interpret(lookup: (name: string) => unknown): unknown;
}

export class CelEvaluationError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`CEL '${source}': ${message}`);
    this.name = 'CelEvaluationError';
  }
}

export type CelCompileResult = { ok: true; program: CompiledCel } | { ok: false; errors: string[] };

const env = celEnv();

const INTERNAL_FUNCS = new Set([
  '_&&_',
  '_||_',
  '_?_:_',
  '_[_]',
  '@not_strictly_false',
  '@in',
  '_[?_]',
  '_?._',
]);
const ORDERING = new Set(['_<_', '_<=_', '_>_', '_>=_']);
const EQUALITY = new Set(['_==_', '_!=_']);
const ARITH = new Set(['_+_', '_-_', '_*_', '_/_', '_%_']);
const RESULT_TYPES: Record<string, T> = {
  size: 'int',
  contains: 'bool',
  startsWith: 'bool',
  endsWith: 'bool',
  matches: 'bool',
  int: 'int',
  uint: 'uint',
  double: 'double',
  string: 'string',
  bool: 'bool',
  bytes: 'bytes',
  timestamp: 'timestamp',
  duration: 'duration',
  type: 'type',
  '@in': 'bool',
  '!_': 'bool',
};

type T =
  | 'bool'
  | 'int'
  | 'uint'
  | 'double'
  | 'string'
  | 'bytes'
  | 'null'
  | 'list'
  | 'map'
  | 'timestamp'
  | 'duration'
  | 'type'
  | 'dyn';

const NUMERIC = new Set<T>(['int', 'uint', 'double']);
const OP_NAMES: Record<string, string> = {
  '_&&_': '&&',
  '_||_': '||',
  '!_': '!',
  '_<_': '<',
  '_<=_': '<=',
  '_>_': '>',
  '_>=_': '>=',
  '_+_': '+',
  '_-_': '-',
  '_*_': '*',
  '_/_': '/',
  '_%_': '%',
};

function opName(f: string): string {
  return OP_NAMES[f] ?? f;
}

function typeName(t: T): string {
  return t === 'dyn' ? 'dynamic' : t;
}

class Checker {
  readonly errors: string[] = [];
  readonly used = new Set<string>();
  constructor(private readonly scope: CelScope) {}

  private err(msg: string) {
    if (!this.errors.includes(msg)) this.errors.push(msg);
  }

  infer(e: Expr, locals: Map<string, T>): T {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr': {
        const c = k.value.constantKind.case;
        switch (c) {
          case 'boolValue':
            return 'bool';
          case 'int64Value':
            return 'int';
          case 'uint64Value':
            return 'uint';
          case 'doubleValue':
            return 'double';
          case 'stringValue':
            return 'string';
          case 'bytesValue':
            return 'bytes';
          case 'nullValue':
            return 'null';
          default:
            return 'dyn';
        }
      }
      case 'identExpr': {
        const name = k.value.name;
        if (locals.has(name)) return locals.get(name)!;
        return this.ident(name);
      }
      case 'selectExpr': {
        const { operand, field, testOnly } = k.value;
        if (operand && operand.exprKind.case === 'identExpr' && !locals.has(operand.exprKind.value.name)) {
          const name = operand.exprKind.value.name;
          const t = this.ident(name);
          if (
            this.scope.variables.get(name) === 'event' &&
            !testOnly &&
            !(EVENT_FIELDS as readonly string[]).includes(field)
          ) {
            this.err(
              `unknown field '${field}' on ${name === 'event' ? 'event' : `alias '${name}'`} (expected one of: ${EVENT_FIELDS.join(', ')})`,
            );
          }
          void t;
        } else if (operand) {
          const t = this.infer(operand, locals);
          if (t !== 'dyn' && t !== 'map' && t !== 'null')
            this.err(`cannot select field '${field}' from a ${typeName(t)}`);
        }
        return testOnly ? 'bool' : 'dyn';
      }
      case 'listExpr':
        for (const el of k.value.elements) this.infer(el, locals);
        return 'list';
      case 'structExpr':
        if (k.value.messageName)
          this.err(`message construction '${k.value.messageName}{...}' is not supported`);
        for (const entry of k.value.entries) {
          if (entry.keyKind.case === 'mapKey') this.infer(entry.keyKind.value, locals);
          if (entry.value) this.infer(entry.value, locals);
        }
        return 'map';
      case 'comprehensionExpr': {
        const c = k.value;
        if (c.iterRange) {
          const rt = this.infer(c.iterRange, locals);
          if (rt !== 'dyn' && rt !== 'list' && rt !== 'map')
            this.err(`cannot iterate over a ${typeName(rt)}`);
        }
        const inner = new Map(locals);
        const accuT = c.accuInit ? this.infer(c.accuInit, locals) : 'dyn';
        inner.set(c.accuVar, accuT);
        if (c.iterVar) inner.set(c.iterVar, 'dyn');
        if (c.iterVar2) inner.set(c.iterVar2, 'dyn');
        if (c.loopCondition) this.infer(c.loopCondition, inner);
        if (c.loopStep) this.infer(c.loopStep, inner);
        return c.result ? this.infer(c.result, inner) : 'dyn';
      }
      case 'callExpr':
        return this.call(e, locals);
      default:
        return 'dyn';
    }
  }

  private ident(name: string): T {
    const kind = this.scope.variables.get(name);
    if (kind) {
      this.used.add(name);
      return 'map';
    }
    if (this.scope.laterAliases?.has(name)) {
      this.err(
        `alias '${name}' is bound by a later step; a condition can only use aliases bound by earlier steps`,
      );
    } else if (this.scope.lenient) {
      this.used.add(name);
      return 'dyn';
    } else {
      this.err(`unknown variable '${name}' (available: ${[...this.scope.variables.keys()].join(', ')})`);
    }
    return 'dyn';
  }

  private call(e: Expr, locals: Map<string, T>): T {
    if (e.exprKind.case !== 'callExpr') return 'dyn';
    const call = e.exprKind.value;
    const f = call.function;
    if (!INTERNAL_FUNCS.has(f) && !env.funcs.find(f)) {
      this.err(`unknown function '${f}'`);
    }
    const targetT = call.target ? this.infer(call.target, locals) : undefined;
    const argT = call.args.map((a) => this.infer(a, locals));
    if (targetT !== undefined && ['contains', 'startsWith', 'endsWith', 'matches'].includes(f)) {
      if (targetT !== 'dyn' && targetT !== 'string')
        this.err(`${f}() needs a string, got a ${typeName(targetT)}`);
    }
    if (f === '_&&_' || f === '_||_' || f === '!_') {
      for (const t of argT)
        if (t !== 'bool' && t !== 'dyn')
          this.err(`operator ${opName(f)} expects booleans, got a ${typeName(t)}`);
      return 'bool';
    }
    if (EQUALITY.has(f)) return 'bool';
    if (ORDERING.has(f)) {
      const [a, b] = argT;
      if (a !== 'dyn' && b !== 'dyn' && a !== b && !(NUMERIC.has(a) && NUMERIC.has(b))) {
        this.err(`cannot compare a ${typeName(a)} with a ${typeName(b)} using ${opName(f)}`);
      }
      return 'bool';
    }
    if (ARITH.has(f)) {
      // Integer literals next to a double or untyped operand become doubles (JS numbers are doubles).
      if (f !== '_%_') {
        call.args.forEach((arg, i) => {
          const other = argT[1 - i];
          if (argT[i] === 'int' && (other === 'double' || other === 'dyn') && isIntLiteral(arg)) {
            toDoubleLiteral(arg);
            argT[i] = 'double';
          }
        });
      }
      const [a, b] = argT;
      if (a === 'dyn' || b === 'dyn') return 'dyn';
      if (NUMERIC.has(a) && NUMERIC.has(b)) {
        if (a !== b)
          this.err(
            `operator ${opName(f)} cannot mix ${a} and ${b}; write ${a === 'int' ? 'double(x)' : 'int(x)'}`,
          );
        return a;
      }
      if (f === '_+_' && a === b && ['string', 'list', 'bytes', 'duration'].includes(a)) return a;
      if (f === '_+_' && a === 'timestamp' && b === 'duration') return 'timestamp';
      if (f === '_-_' && a === 'timestamp') return b === 'timestamp' ? 'duration' : 'timestamp';
      this.err(`operator ${opName(f)} cannot be applied to a ${typeName(a)} and a ${typeName(b)}`);
      return 'dyn';
    }
    if (f === '-_') {
      const [a] = argT;
      if (a !== 'dyn' && !NUMERIC.has(a) && a !== 'duration') this.err(`cannot negate a ${typeName(a)}`);
      return a;
    }
    if (f === '_?_:_') {
      const [c, a, b] = argT;
      if (c !== 'bool' && c !== 'dyn')
        this.err(`the condition of ?: must be a boolean, got a ${typeName(c)}`);
      return a === b ? a : 'dyn';
    }
    if (f.startsWith('get')) return 'int';
    return RESULT_TYPES[f] ?? 'dyn';
  }
}

function isIntLiteral(e: Expr): boolean {
  return e.exprKind.case === 'constExpr' && e.exprKind.value.constantKind.case === 'int64Value';
}

function toDoubleLiteral(e: Expr): void {
  if (e.exprKind.case === 'constExpr' && e.exprKind.value.constantKind.case === 'int64Value') {
    const v = Number(e.exprKind.value.constantKind.value);
    e.exprKind.value.constantKind = { case: 'doubleValue', value: v };
  }
}

function parseMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // "<input>:1:4: found ( but expecting end of input" -> "syntax error at 1:4: found ..."
  const m = /<input>:(\d+):(\d+): (.*)$/s.exec(msg);
  return m ? `CEL syntax error at ${m[1]}:${m[2]}: ${m[3]}` : `CEL syntax error: ${msg}`;
}

/** Parses and statically checks a CEL expression, and plans it for evaluation. */
export function compileCel(source: string, scope: CelScope, expected: ExpectedType): CelCompileResult {
  // The parser, checker and planner recurse per level of the expression.
  const overLimit = celLimitError(source);
  if (overLimit) return { ok: false, errors: [overLimit] };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    return { ok: false, errors: [parseMessage(err)] };
  }
  const tooCostly = celCostError(parsed.expr);
  if (tooCostly) return { ok: false, errors: [tooCostly] };
  const checker = new Checker(scope);
  const t = checker.infer(parsed.expr, new Map());
  if (expected === 'bool' && t !== 'bool' && t !== 'dyn') {
    checker.errors.push(`expected a boolean condition, got an expression of type ${typeName(t)}`);
  }
  if (expected === 'number' && !NUMERIC.has(t) && t !== 'dyn') {
    checker.errors.push(`expected a numeric expression, got an expression of type ${typeName(t)}`);
  }
  if (checker.errors.length) return { ok: false, errors: checker.errors };
  return { ok: true, program: program(source, parsed, [...checker.used]) };
}

/** Plans the interpreter and, within the subset, the compiled closures with the interpreter behind. */
function program(source: string, parsed: ReturnType<typeof parse>, variables: string[]): CompiledCel {
  const fn = plan(env, parsed);
  const interpret = (lookup: (name: string) => unknown): unknown => {
    const ctx: Record<string, CelValue> = {};
    for (const name of variables) {
      const v = lookup(name);
      if (v !== undefined && v !== null) ctx[name] = toCelValue(v);
    }
    const r = fn(ctx);
    if (isCelError(r)) throw new CelEvaluationError(source, r.message);
    return fromCel(r);
  };
  const js = compileToJs(parsed.expr);
  const bind = <C>(access: (name: string) => (ctx: C) => unknown): ((ctx: C) => unknown) => {
    const readers = new Map(variables.map((name) => [name, access(name)]));
    const slow = (ctx: C): unknown => interpret((name) => readers.get(name)?.(ctx));
    if (js === undefined) return slow;
    const fast = js(access);
    return (ctx) => {
      try {
        return fast(ctx);
      } catch {
        // CEL_FALLBACK, or anything the input's own code threw: the interpreter decides.
        return slow(ctx);
      }
    };
  };
  const run = bind<(name: string) => unknown>((name) => (lookup) => lookup(name));
  return { source, variables, js, run, bind, interpret };
}

// ---------------------------------------------------------------------------------------------
// JS -> CEL conversion: lazy views, no copies of objects.

class ObjectView implements ReadonlyMap<string, unknown> {
  constructor(private readonly obj: Record<string, unknown>) {}
  get size(): number {
    let n = 0;
    for (const k in this.obj)
      if (Object.prototype.hasOwnProperty.call(this.obj, k) && this.obj[k] !== undefined) n++;
    return n;
  }
  get(key: unknown): unknown {
    if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(this.obj, key)) return undefined;
    const v = this.obj[key];
    return v === undefined ? undefined : toCelValue(v);
  }
  has(key: unknown): boolean {
    return this.get(key) !== undefined;
  }
  *keys(): MapIterator<string> {
    for (const k of Object.keys(this.obj)) if (this.obj[k] !== undefined) yield k;
  }
  *values(): MapIterator<unknown> {
    for (const k of this.keys()) yield toCelValue(this.obj[k]);
  }
  *entries(): MapIterator<[string, unknown]> {
    for (const k of this.keys()) yield [k, toCelValue(this.obj[k])];
  }
  forEach(
    cb: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries();
  }
}

/**
 * Converts a plain JS value to a CEL input: objects become lazy map views, arrays lists, Dates epoch
 * milliseconds (double), undefined null. Numbers stay doubles; bigints are ints.
 */
export function toCelValue(v: unknown): CelValue {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return v as CelValue;
    case 'undefined':
      return null;
    case 'object':
      if (v === null) return null;
      if (isCelMap(v) || isCelList(v) || v instanceof Uint8Array) return v as CelValue;
      if (Array.isArray(v)) return celList(v.map(toCelValue));
      if (v instanceof Date) return v.getTime();
      if (v instanceof Map) return celMap(v as Map<string, never>);
      return celMap(new ObjectView(v as Record<string, unknown>) as unknown as ReadonlyMap<string, never>);
    default:
      return null;
  }
}

/** Converts a CEL result to plain JS (ints -> numbers, lists -> arrays, maps -> objects). */
export function fromCel(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (isCelList(v)) return [...v].map(fromCel);
  if (isCelMap(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) out[String(k)] = fromCel(val);
    return out;
  }
  if (
    typeof v === 'object' &&
    v !== null &&
    'value' in v &&
    typeof (v as { value: unknown }).value === 'bigint'
  )
    return Number((v as { value: bigint }).value);
  return v;
}
