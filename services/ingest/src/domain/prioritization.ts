import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { CATEGORY_TOKEN, events, fnv1a32 } from '@kairos/contracts';
import type { PrioritizationRuleSpec } from './rules-file';

export type Decision = { keep: true } | { keep: false; rule: string };

/** Counts what each rule did: passed, dropped, sampled_in, sampled_out. */
export interface DecisionCounter {
  inc(labels: { rule: string; decision: string }): void;
}

interface CompiledRule {
  spec: PrioritizationRuleSpec;
  typeMatches: (type: string) => boolean;
  condition?: (event: events.Event) => boolean;
}

const KEEP: Decision = { keep: true };
const env = celEnv();

/** `*` matches any run of characters (dots included); everything else is literal. */
export function globMatcher(glob: string): (type: string) => boolean {
  if (glob === '*') return () => true;
  if (!glob.includes('*')) return (type) => type === glob;
  const re = new RegExp(
    `^${glob
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return (type) => re.test(type);
}

/** The view of an event CEL conditions see. */
export function celEventView(event: events.Event): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    category: CATEGORY_TOKEN[event.category],
    customerId: event.customerId,
    source: event.source,
    properties: event.properties ?? {},
    occurredAt: event.occurredAt?.getTime() ?? 0,
  };
}

function compileCondition(rule: PrioritizationRuleSpec): (event: events.Event) => boolean {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rule.when!);
  } catch (err) {
    throw new Error(`prioritization rule '${rule.name}': invalid CEL in when: ${(err as Error).message}`);
  }
  const fn = plan(env, parsed);
  // A condition that errors (e.g. a property the event lacks) does not match.
  return (event) => {
    const result = fn({ event: celEventView(event) } as never);
    return !isCelError(result) && result === true;
  };
}

/** Deterministic sampling: the same event id is always kept or always dropped at a given rate. */
export function sampledIn(eventId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return fnv1a32(eventId) / 0x1_0000_0000 < rate;
}

/**
 * Applies the first rule whose type glob and condition match: `pass` keeps the event, `drop` filters
 * it, `sample` keeps the configured fraction. Events no rule matches pass.
 */
export class Prioritizer {
  private readonly rules: CompiledRule[];

  constructor(
    specs: PrioritizationRuleSpec[],
    private readonly counter?: DecisionCounter,
  ) {
    this.rules = specs.map((spec) => ({
      spec,
      typeMatches: globMatcher(spec.type),
      condition: spec.when ? compileCondition(spec) : undefined,
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  decide(event: events.Event): Decision {
    for (const rule of this.rules) {
      if (!rule.typeMatches(event.type)) continue;
      if (rule.condition && !rule.condition(event)) continue;
      const { name, action } = rule.spec;
      if (action === 'pass') {
        this.counter?.inc({ rule: name, decision: 'passed' });
        return KEEP;
      }
      if (action === 'drop') {
        this.counter?.inc({ rule: name, decision: 'dropped' });
        return { keep: false, rule: name };
      }
      const keep = sampledIn(event.id, rule.spec.rate ?? 1);
      this.counter?.inc({ rule: name, decision: keep ? 'sampled_in' : 'sampled_out' });
      return keep ? KEEP : { keep: false, rule: name };
    }
    return KEEP;
  }
}
