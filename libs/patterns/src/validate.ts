import type { Pattern, TriggerSpec } from './ast';

/** One reason a pattern or trigger is rejected; `path` uses the same step paths as explanations. */
export interface PatternIssue {
  path: string;
  message: string;
}

const RESERVED_ALIASES = new Set(['event', 'profile', 'bindings']);
const ALIAS_SYNTAX = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isPositiveDuration(ms: unknown): boolean {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0;
}

/**
 * Checks the structural rules the engine relies on (see docs/definitions.md, "Pattern semantics"):
 * `absent` only as a non-first step of a `sequence`; positive durations; `count.atLeast` a positive
 * integer; non-empty `all`/`any`/`sequence`; aliases unique per trigger and not reserved.
 * Returns an empty list when the pattern is valid.
 */
export function validatePattern(pattern: Pattern): PatternIssue[] {
  const issues: PatternIssue[] = [];
  const aliases = new Map<string, string>();

  const checkAlias = (alias: string | undefined, path: string): void => {
    if (alias === undefined) return;
    if (!ALIAS_SYNTAX.test(alias)) issues.push({ path, message: `alias '${alias}' must be an identifier` });
    else if (RESERVED_ALIASES.has(alias)) issues.push({ path, message: `alias '${alias}' is reserved` });
    const seen = aliases.get(alias);
    if (seen !== undefined) issues.push({ path, message: `alias '${alias}' is already bound at ${seen}` });
    else aliases.set(alias, path);
  };

  const visit = (
    p: Pattern,
    path: string,
    parent: { kind: Pattern['kind']; position: number } | null,
  ): void => {
    if (p === null || typeof p !== 'object') {
      issues.push({ path, message: 'expected a pattern' });
      return;
    }
    const childPrefix = parent === null ? p.kind : `${path}.${p.kind}`;
    switch (p.kind) {
      case 'event':
        if (typeof p.type !== 'string' || p.type.length === 0)
          issues.push({ path, message: 'event type must be a non-empty string' });
        checkAlias(p.as, path);
        return;
      case 'count':
        if (typeof p.type !== 'string' || p.type.length === 0)
          issues.push({ path, message: 'count event type must be a non-empty string' });
        if (!Number.isInteger(p.atLeast) || p.atLeast < 1)
          issues.push({ path, message: 'count.atLeast must be an integer >= 1' });
        if (!isPositiveDuration(p.withinMs))
          issues.push({ path, message: 'count.within must be a positive duration' });
        checkAlias(p.as, path);
        return;
      case 'absent':
        if (parent === null || parent.kind !== 'sequence') {
          issues.push({
            path,
            message: 'absent must be a step of a sequence (it is measured from the previous step)',
          });
        } else if (parent.position === 0) {
          issues.push({
            path,
            message: 'absent cannot be the first step of a sequence: it needs a previous step',
          });
        }
        if (!isPositiveDuration(p.forMs))
          issues.push({ path, message: 'absent.for must be a positive duration' });
        if (p.pattern === undefined || p.pattern === null || p.pattern.kind !== 'event') {
          issues.push({ path, message: 'absent takes a single event pattern' });
        } else {
          if (typeof p.pattern.type !== 'string' || p.pattern.type.length === 0)
            issues.push({ path, message: 'absent event type must be a non-empty string' });
          if (p.pattern.as !== undefined)
            issues.push({ path, message: 'absent cannot bind an alias (no event is matched)' });
        }
        return;
      case 'sequence':
      case 'all':
      case 'any': {
        const children = p.kind === 'sequence' ? p.steps : p.of;
        if (!Array.isArray(children) || children.length === 0) {
          issues.push({
            path,
            message: `${p.kind} needs at least one ${p.kind === 'sequence' ? 'step' : 'pattern'}`,
          });
          return;
        }
        if (p.kind !== 'any' && p.withinMs !== undefined && !isPositiveDuration(p.withinMs))
          issues.push({ path, message: `${p.kind}.within must be a positive duration` });
        children.forEach((c, i) => visit(c, `${childPrefix}[${i}]`, { kind: p.kind, position: i }));
        return;
      }
      default:
        issues.push({ path, message: `unknown pattern kind '${(p as { kind: unknown }).kind}'` });
    }
  };
  visit(pattern, pattern && typeof pattern === 'object' ? pattern.kind : 'pattern', null);
  return issues;
}

/** validatePattern plus the per-trigger settings (name, version, priority 0-100, cooldown >= 0). */
export function validateTrigger(spec: TriggerSpec): PatternIssue[] {
  const issues: PatternIssue[] = [];
  if (typeof spec.name !== 'string' || spec.name.length === 0)
    issues.push({ path: 'name', message: 'name must be a non-empty string' });
  if (!Number.isInteger(spec.version) || spec.version < 0)
    issues.push({ path: 'version', message: 'version must be a non-negative integer' });
  if (typeof spec.priority !== 'number' || !(spec.priority >= 0 && spec.priority <= 100))
    issues.push({ path: 'priority', message: 'priority must be between 0 and 100' });
  if (typeof spec.cooldownMs !== 'number' || !(spec.cooldownMs >= 0) || !Number.isFinite(spec.cooldownMs))
    issues.push({ path: 'cooldown', message: 'cooldown must be a duration >= 0' });
  for (const issue of validatePattern(spec.pattern))
    issues.push({ path: `pattern.${issue.path}`, message: issue.message });
  return issues;
}
