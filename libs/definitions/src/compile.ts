/**
 * Semantic compilation of structurally valid documents into TriggerSpec / WorkflowSpec: CEL with
 * scopes (aliases bound by earlier steps only), alias rules, `absent` placement, trigger references.
 * Every problem is collected as an Issue (path + message); nothing stops at the first one.
 */
import { compileCel, type CelScope, type CompiledCel, type ExpectedType, type VariableKind } from './cel';
import { formatPath, type Issue, type PathSegment } from './errors';
import { patternDepthIssue, patternSizeIssue, windowIssue } from './limits';
import type { Condition, ConditionContext, EngineEvent, Pattern, TriggerSpec } from './patterns';
import { CHANNELS, type Channel } from './schema';
import { BEST_TIME } from './schema-dsl';
import { checkTemplate } from './templates';
import { parseDuration, parsePercent, parseTimeOfDay, type TimeOfDay } from './time';
import type {
  DefinitionDocument,
  EvalOutcome,
  Predicate,
  ValueExpression,
  WorkflowContext,
  WorkflowSpec,
  WorkflowStep,
} from './types';

/** The longest `wait: { until: best_time }` when it names no `max`. */
export const DEFAULT_BEST_TIME_MAX_MS = 24 * 3_600_000;

type Obj = Record<string, any>;

const RESERVED = new Set([
  'bindings',
  'event',
  'profile',
  'trigger',
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

/** Optional structural checks from @kairos/patterns (validatePattern), if it exports one. */
type PatternValidator = (p: Pattern) => readonly unknown[] | void;
let patternValidator: PatternValidator | null | undefined;
function externalPatternValidator(): PatternValidator | null {
  if (patternValidator === undefined) {
    patternValidator = null;
    for (const id of ['@kairos/patterns', '@kairos/patterns/dist/src/validate']) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require(id) as { validatePattern?: PatternValidator };
        if (typeof mod.validatePattern === 'function') {
          patternValidator = mod.validatePattern;
          break;
        }
      } catch {
        // not available (yet): our own checks still apply
      }
    }
  }
  return patternValidator;
}

function asList(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : [];
}

function ms(v: unknown): number {
  return parseDuration(v as string) ?? 0;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Triggers

interface PatternCtx {
  issues: Issue[];
  /** All aliases of the trigger (to say "bound later" instead of "unknown"). */
  allAliases: Set<string>;
}

function cel(
  source: string,
  path: PathSegment[],
  scope: CelScope,
  expected: ExpectedType,
  issues: Issue[],
): CompiledCel | undefined {
  const r = compileCel(source, scope, expected);
  if (!r.ok) {
    for (const message of r.errors) issues.push({ path, message });
    return undefined;
  }
  return r.program;
}

function patternScope(bound: ReadonlySet<string>, all: ReadonlySet<string>): CelScope {
  const variables = new Map<string, VariableKind>([
    ['event', 'event'],
    ['profile', 'map'],
  ]);
  for (const a of bound) variables.set(a, 'event');
  const later = new Set([...all].filter((a) => !bound.has(a)));
  return { variables, laterAliases: later };
}

/** How a trigger condition reads a variable from the engine's context. */
function conditionAccess(name: string): (ctx: ConditionContext) => unknown {
  if (name === 'event') return (ctx) => ctx.event;
  if (name === 'profile') return (ctx) => ctx.profile ?? ctx.event?.profile;
  return (ctx) => ctx.bindings?.[name];
}

function makeCondition(program: CompiledCel): Condition {
  const run = program.bind(conditionAccess);
  return {
    source: program.source,
    evaluate(ctx: ConditionContext): boolean {
      const r = run(ctx);
      if (typeof r !== 'boolean')
        throw new Error(`CEL '${program.source}': expected a boolean, got ${typeof r}`);
      return r;
    },
  };
}

function collectAliases(
  node: unknown,
  path: PathSegment[],
  seen: Map<string, string>,
  issues: Issue[],
): void {
  if (!node || typeof node !== 'object') return;
  const p = node as Obj;
  if (typeof p.as === 'string') {
    const where = formatPath([...path, 'as']);
    if (RESERVED.has(p.as)) {
      issues.push({ path: [...path, 'as'], message: `'${p.as}' is reserved and cannot be used as an alias` });
    } else if (seen.has(p.as)) {
      issues.push({
        path: [...path, 'as'],
        message: `alias '${p.as}' is already bound at ${seen.get(p.as)}`,
      });
    } else seen.set(p.as, where);
  }
  for (const key of ['all', 'any', 'sequence'])
    if (Array.isArray(p[key]))
      p[key].forEach((c: unknown, i: number) => collectAliases(c, [...path, key, i], seen, issues));
}

/** Compiles a pattern; returns it with the aliases definitely bound after it completes. */
function compilePattern(
  p: Obj,
  path: PathSegment[],
  bound: ReadonlySet<string>,
  ctx: PatternCtx,
  absentAllowed: boolean,
): { pattern: Pattern; bound: Set<string> } {
  const out = new Set(bound);
  /** A window's milliseconds; one outside the limits is an issue (an invalid duration was reported). */
  const windowMs = (v: unknown, wpath: PathSegment[]): number => {
    const parsed = ms(v);
    const issue = typeof v === 'string' && parsed > 0 ? windowIssue(parsed, v, wpath) : undefined;
    if (issue) ctx.issues.push(issue);
    return parsed;
  };
  const where = (w: unknown, wpath: PathSegment[]): Condition | undefined => {
    if (typeof w !== 'string') return undefined;
    const prog = cel(w, wpath, patternScope(bound, ctx.allAliases), 'bool', ctx.issues);
    return prog ? makeCondition(prog) : undefined;
  };
  if ('event' in p) {
    if (p.as) out.add(p.as);
    const pattern: Pattern = { kind: 'event', type: p.event };
    if (p.where !== undefined) pattern.where = where(p.where, [...path, 'where']);
    if (p.as !== undefined) pattern.as = p.as;
    return { pattern, bound: out };
  }
  if ('count' in p) {
    const c = p.count as Obj;
    if (p.as) out.add(p.as);
    const pattern: Pattern = {
      kind: 'count',
      type: c.event,
      atLeast: c.atLeast,
      withinMs: windowMs(c.within, [...path, 'count', 'within']),
    };
    if (c.where !== undefined) pattern.where = where(c.where, [...path, 'count', 'where']);
    if (p.as !== undefined) pattern.as = p.as;
    return { pattern, bound: out };
  }
  if ('absent' in p) {
    if (!absentAllowed) {
      ctx.issues.push({
        path: [...path, 'absent'],
        message: 'absent is only allowed as a step of a sequence, after at least one other step',
      });
    }
    const a = p.absent as Obj;
    const inner: Pattern = { kind: 'event', type: a.event };
    if (a.where !== undefined) inner.where = where(a.where, [...path, 'absent', 'where']);
    return {
      pattern: { kind: 'absent', pattern: inner, forMs: windowMs(p.for, [...path, 'for']) },
      bound: out,
    };
  }
  if ('sequence' in p || 'all' in p) {
    const key = 'sequence' in p ? 'sequence' : 'all';
    const children: Pattern[] = [];
    asList(p[key]).forEach((child, i) => {
      const r = compilePattern(child, [...path, key, i], out, ctx, key === 'sequence' && i > 0);
      children.push(r.pattern);
      for (const a of r.bound) out.add(a);
    });
    if (key === 'sequence' && children.length > 0 && children.every((c) => c.kind === 'absent')) {
      // already reported per step
    }
    const withinMs = p.within !== undefined ? windowMs(p.within, [...path, 'within']) : undefined;
    const pattern: Pattern =
      key === 'sequence' ? { kind: 'sequence', steps: children } : { kind: 'all', of: children };
    if (withinMs !== undefined) pattern.withinMs = withinMs;
    return { pattern, bound: out };
  }
  // any
  const children: Pattern[] = [];
  let common: Set<string> | undefined;
  asList(p.any).forEach((child, i) => {
    const r = compilePattern(child, [...path, 'any', i], bound, ctx, false);
    children.push(r.pattern);
    common = common ? new Set([...common].filter((a) => r.bound.has(a))) : r.bound;
  });
  for (const a of common ?? []) out.add(a);
  return { pattern: { kind: 'any', of: children }, bound: out };
}

/** Aliases that are bound whenever the pattern completes. */
export function boundAliases(p: Pattern): Set<string> {
  switch (p.kind) {
    case 'event':
    case 'count':
      return new Set(p.as ? [p.as] : []);
    case 'absent':
      return new Set();
    case 'all':
      return new Set(p.of.flatMap((c) => [...boundAliases(c)]));
    case 'sequence':
      return new Set(p.steps.flatMap((c) => [...boundAliases(c)]));
    case 'any': {
      const sets = p.of.map(boundAliases);
      return new Set([...(sets[0] ?? [])].filter((a) => sets.every((s) => s.has(a))));
    }
  }
}

/** Compiles a structurally valid Trigger document. Issues are appended to `issues`. */
export function compileTriggerDocument(
  doc: DefinitionDocument,
  version: number,
  issues: Issue[],
  structurallyValid = true,
): TriggerSpec {
  const spec = doc.spec as Obj;
  const base: PathSegment[] = ['spec', 'pattern'];
  // Compilation and the engine recurse per pattern level: the limit is checked before either.
  // The size limit is checked on a well-formed pattern: an over-long list is reported by the schema.
  const tooDeep =
    patternDepthIssue(spec.pattern, base) ??
    (structurallyValid ? patternSizeIssue(spec.pattern, base) : undefined);
  if (tooDeep) {
    issues.push(tooDeep);
    // A trigger with issues is never loaded: the empty pattern only keeps the return type.
    return {
      name: doc.metadata.name,
      version,
      priority: 50,
      cooldownMs: 0,
      pattern: { kind: 'any', of: [] },
    };
  }
  const seen = new Map<string, string>();
  collectAliases(spec.pattern, base, seen, issues);
  const ctx: PatternCtx = { issues, allAliases: new Set(seen.keys()) };
  const { pattern } = compilePattern(spec.pattern as Obj, base, new Set(), ctx, false);
  const validate = externalPatternValidator();
  if (validate && structurallyValid && issues.length === 0) {
    try {
      for (const problem of validate(pattern) ?? []) {
        const pr = problem as { path?: string; message?: string };
        issues.push({
          path: base,
          message: pr.message ? `${pr.path ? `${pr.path}: ` : ''}${pr.message}` : String(problem),
        });
      }
    } catch (err) {
      issues.push({ path: base, message: describeError(err) });
    }
  }
  const trigger: TriggerSpec = {
    name: doc.metadata.name,
    version,
    priority: spec.priority ?? 50,
    cooldownMs: spec.cooldown !== undefined ? ms(spec.cooldown) : 0,
    pattern,
  };
  if (spec.category !== undefined) trigger.category = spec.category;
  if (spec.description !== undefined) trigger.description = spec.description;
  return trigger;
}

// ---------------------------------------------------------------------------------------------
// Workflows

export interface WorkflowCompileOptions {
  /** Looks up a trigger by name (from the same set of documents or the store). */
  resolveTrigger?: (name: string) => TriggerSpec | undefined;
  /**
   * 'error' (default): a workflow naming an unknown trigger is an error.
   * 'allow': accepted; aliases are then not checked in its expressions.
   */
  unknownTriggers?: 'error' | 'allow';
}

function outcome<T>(fn: () => T): EvalOutcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/** How a workflow expression reads a variable from its context. */
function workflowAccess(name: string): (ctx: WorkflowContext) => unknown {
  if (name === 'event') return (ctx) => ctx.event;
  if (name === 'profile') return (ctx) => ctx.profile ?? ctx.event?.profile;
  if (name === 'trigger') return (ctx) => ctx.trigger;
  return (ctx) => ctx.bindings?.[name];
}

function makePredicate(program: CompiledCel): Predicate {
  const run = program.bind(workflowAccess);
  const evaluate = (ctx: WorkflowContext): EvalOutcome<boolean> =>
    outcome(() => {
      const r = run(ctx);
      if (typeof r !== 'boolean')
        throw new Error(`CEL '${program.source}': expected a boolean, got ${typeof r}`);
      return r;
    });
  return {
    source: program.source,
    evaluate,
    test: (ctx) => {
      const r = evaluate(ctx);
      return r.ok && r.value;
    },
  };
}

function makeValue(program: CompiledCel): ValueExpression {
  const run = program.bind(workflowAccess);
  return {
    source: program.source,
    evaluate: (ctx) =>
      outcome(() => {
        const r = run(ctx);
        if (typeof r !== 'number')
          throw new Error(`CEL '${program.source}': expected a number, got ${typeof r}`);
        return r;
      }),
  };
}

interface WorkflowCtx {
  issues: Issue[];
  scope: CelScope;
  templateVars: Set<string>;
  lenient: boolean;
}

function predicate(source: unknown, path: PathSegment[], w: WorkflowCtx): Predicate | undefined {
  if (typeof source !== 'string') return undefined;
  const prog = cel(source, path, w.scope, 'bool', w.issues);
  return prog ? makePredicate(prog) : undefined;
}

function checkTpl(text: unknown, path: PathSegment[], w: WorkflowCtx): void {
  if (typeof text !== 'string') return;
  for (const message of checkTemplate(text, w.templateVars, w.lenient)) w.issues.push({ path, message });
}

const ALWAYS_FALSE: Predicate = {
  source: 'false',
  test: () => false,
  evaluate: () => ({ ok: true, value: false }),
};

function compileSteps(steps: unknown[], path: PathSegment[], w: WorkflowCtx): WorkflowStep[] {
  const out: WorkflowStep[] = [];
  (Array.isArray(steps) ? steps : []).forEach((raw, i) => {
    const p: PathSegment[] = [...path, i];
    const id = formatPath(p.slice(1));
    if (raw === 'exit') {
      out.push({ id, kind: 'exit' });
      return;
    }
    if (!raw || typeof raw !== 'object') return;
    const s = raw as Obj;
    if ('wait' in s) {
      const wt = s.wait as Obj;
      if ('duration' in wt) out.push({ id, kind: 'wait', mode: 'duration', durationMs: ms(wt.duration) });
      else if ('until' in wt && wt.until === BEST_TIME)
        out.push({
          id,
          kind: 'wait',
          mode: 'best-time',
          maxDelayMs: wt.max === undefined ? DEFAULT_BEST_TIME_MAX_MS : ms(wt.max),
        });
      else if ('until' in wt) {
        if (wt.max !== undefined)
          w.issues.push({ path: [...p, 'wait', 'max'], message: 'max applies to until: best_time only' });
        out.push({ id, kind: 'wait', mode: 'until', until: parseTimeOfDay(wt.until) as TimeOfDay });
      } else {
        const variants = (wt.variants as Obj[]).map((v) => ({
          name: v.name as string,
          durationMs: ms(v.duration),
          weight: (v.weight as number | undefined) ?? 1,
        }));
        const names = new Set<string>();
        variants.forEach((v, j) => {
          if (names.has(v.name))
            w.issues.push({
              path: [...p, 'wait', 'variants', j, 'name'],
              message: `duplicate variant name '${v.name}'`,
            });
          names.add(v.name);
        });
        if (variants.reduce((a, v) => a + v.weight, 0) <= 0)
          w.issues.push({
            path: [...p, 'wait', 'variants'],
            message: 'expected at least one variant with a weight > 0',
          });
        out.push({ id, kind: 'wait', mode: 'variants', variants });
      }
    } else if ('branch' in s) {
      const b = s.branch as Obj;
      out.push({
        id,
        kind: 'branch',
        when: predicate(b.when, [...p, 'branch', 'when'], w) ?? ALWAYS_FALSE,
        then: compileSteps(b.then as unknown[], [...p, 'branch', 'then'], w),
        else: b.else ? compileSteps(b.else as unknown[], [...p, 'branch', 'else'], w) : [],
      });
    } else if ('send' in s) {
      const sd = s.send as Obj;
      let channels: Channel[] | 'preferred';
      if (sd.channel === 'preferred') channels = 'preferred';
      else channels = (Array.isArray(sd.channel) ? sd.channel : [sd.channel]) as Channel[];
      if (Array.isArray(channels)) {
        const dup = channels.find((c, j) => channels.indexOf(c) !== j);
        if (dup)
          w.issues.push({ path: [...p, 'send', 'channel'], message: `channel '${dup}' is listed twice` });
      }
      if (sd.template === undefined && sd.body === undefined)
        w.issues.push({ path: [...p, 'send'], message: "expected 'template' or an inline 'body'" });
      checkTpl(sd.subject, [...p, 'send', 'subject'], w);
      checkTpl(sd.body, [...p, 'send', 'body'], w);
      const variants = ((sd.variants as Obj[] | undefined) ?? []).map((v, j) => ({
        when: predicate(v.when, [...p, 'send', 'variants', j, 'when'], w) ?? ALWAYS_FALSE,
        template: v.template as string,
      }));
      const step: WorkflowStep = { id, kind: 'send', channels, variants };
      if (sd.template !== undefined) step.template = sd.template;
      if (sd.subject !== undefined) step.subject = sd.subject;
      if (sd.body !== undefined) step.body = sd.body;
      out.push(step);
    } else if ('escalate' in s) {
      const e = s.escalate as Obj;
      const [kind, target] = Object.entries(e.to as Obj)[0] as ['webhook' | 'slack' | 'email', string];
      checkTpl(e.message, [...p, 'escalate', 'message'], w);
      const step: WorkflowStep = { id, kind: 'escalate', to: { kind, target }, message: e.message };
      if (e.when !== undefined) step.when = predicate(e.when, [...p, 'escalate', 'when'], w) ?? ALWAYS_FALSE;
      out.push(step);
    } else if ('exit' in s) {
      const reason = s.exit && typeof s.exit === 'object' ? (s.exit as Obj).reason : undefined;
      out.push(reason !== undefined ? { id, kind: 'exit', reason } : { id, kind: 'exit' });
    }
  });
  return out;
}

/** Compiles a structurally valid Workflow document. Issues are appended to `issues`. */
export function compileWorkflowDocument(
  doc: DefinitionDocument,
  version: number,
  issues: Issue[],
  options: WorkflowCompileOptions = {},
): WorkflowSpec {
  const spec = doc.spec as Obj;
  const triggers: string[] = Array.isArray(spec.trigger) ? spec.trigger : [spec.trigger];
  let aliases: Set<string> | undefined;
  let lenient = false;
  triggers.forEach((name, i) => {
    const t = options.resolveTrigger?.(name);
    if (!t) {
      if (options.unknownTriggers === 'allow') lenient = true;
      else
        issues.push({
          path: Array.isArray(spec.trigger) ? ['spec', 'trigger', i] : ['spec', 'trigger'],
          message: `unknown trigger '${name}' (not among the documents being validated nor the stored definitions)`,
        });
      return;
    }
    const a = boundAliases(t.pattern);
    aliases = aliases ? new Set([...aliases].filter((x) => a.has(x))) : a;
  });
  const dup = triggers.find((t, i) => triggers.indexOf(t) !== i);
  if (dup) issues.push({ path: ['spec', 'trigger'], message: `trigger '${dup}' is listed twice` });
  const aliasList = [...(aliases ?? [])].sort();
  const variables = new Map<string, VariableKind>([
    ['event', 'event'],
    ['profile', 'map'],
    ['trigger', 'map'],
  ]);
  for (const a of aliasList) variables.set(a, 'event');
  const w: WorkflowCtx = {
    issues,
    scope: { variables, lenient },
    templateVars: new Set(variables.keys()),
    lenient,
  };

  const wf: WorkflowSpec = {
    name: doc.metadata.name,
    version,
    labels: doc.metadata.labels ?? {},
    triggers,
    aliases: aliasList,
    priority: spec.priority ?? 50,
    holdoutPercent: spec.holdout !== undefined ? (parsePercent(spec.holdout) ?? 0) : 0,
    transactional: spec.transactional ?? false,
    cost: {},
    steps: [],
  };
  if (spec.description !== undefined) wf.description = spec.description;
  if (spec.conditions !== undefined) wf.conditions = predicate(spec.conditions, ['spec', 'conditions'], w);
  if (spec.frequencyCap) wf.frequencyCap = { max: spec.frequencyCap.max, perMs: ms(spec.frequencyCap.per) };
  if (spec.quietHours) {
    const q = spec.quietHours as Obj;
    const from = parseTimeOfDay(q.from) as TimeOfDay;
    const to = parseTimeOfDay(q.to) as TimeOfDay;
    if (from && to && from.minutes === to.minutes)
      issues.push({ path: ['spec', 'quietHours', 'to'], message: "expected 'to' to differ from 'from'" });
    wf.quietHours = { from, to, action: q.action ?? 'defer' };
  }
  if (spec.conversion) {
    const c = spec.conversion as Obj;
    wf.conversion = { event: c.event, withinMs: ms(c.within) };
    if (c.value !== undefined) {
      const prog = cel(c.value, ['spec', 'conversion', 'value'], w.scope, 'number', issues);
      if (prog) wf.conversion.value = makeValue(prog);
    }
  }
  if (spec.cost) for (const ch of CHANNELS) if (spec.cost[ch] !== undefined) wf.cost[ch] = spec.cost[ch];
  if (spec.settle !== undefined) wf.settleMs = ms(spec.settle);
  wf.steps = compileSteps(spec.steps as unknown[], ['spec', 'steps'], w);
  return wf;
}

export type { EngineEvent };
