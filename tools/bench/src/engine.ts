// The `engine` suite: the pattern engine in-process over the same 50 triggers compiled two ways,
// from YAML with CEL conditions through @kairos/definitions (as users write them) and as the
// workload's JavaScript closures, over the same events; both paths must fire the same.
import { stringify } from 'yaml';
import { formatDuration, parseDefinitions } from '@kairos/definitions';
import {
  benchmarkTriggers,
  runEngineBenchmark,
  type EngineBenchmarkOptions,
  type EngineBenchmarkResult,
  type Pattern,
  type TriggerSpec,
} from '@kairos/patterns';

/** The YAML form of a compiled pattern; conditions are their CEL source. */
export function patternDocument(p: Pattern): Record<string, unknown> {
  const where = (w: { source: string } | undefined) => (w === undefined ? {} : { where: w.source });
  const as = (a: string | undefined) => (a === undefined ? {} : { as: a });
  const within = (ms: number | undefined) => (ms === undefined ? {} : { within: formatDuration(ms) });
  switch (p.kind) {
    case 'event':
      return { event: p.type, ...as(p.as), ...where(p.where) };
    case 'count':
      return {
        count: { event: p.type, atLeast: p.atLeast, within: formatDuration(p.withinMs), ...where(p.where) },
        ...as(p.as),
      };
    case 'absent':
      return { absent: { event: p.pattern.type, ...where(p.pattern.where) }, for: formatDuration(p.forMs) };
    case 'sequence':
      return { sequence: p.steps.map(patternDocument), ...within(p.withinMs) };
    case 'all':
      return { all: p.of.map(patternDocument), ...within(p.withinMs) };
    case 'any':
      return { any: p.of.map(patternDocument) };
  }
}

/** A Trigger document (YAML text) that compiles to the given trigger. */
export function triggerYaml(t: TriggerSpec): string {
  const spec: Record<string, unknown> = { priority: t.priority };
  if (t.cooldownMs > 0) spec.cooldown = formatDuration(t.cooldownMs);
  if (t.category !== undefined) spec.category = t.category;
  if (t.description !== undefined) spec.description = t.description;
  spec.pattern = patternDocument(t.pattern);
  return stringify({ apiVersion: 'kairos/v1', kind: 'Trigger', metadata: { name: t.name }, spec });
}

/** Compiles triggers' YAML through @kairos/definitions, as the pattern-detection service does. */
export function compileFromYaml(triggers: TriggerSpec[]): TriggerSpec[] {
  const text = triggers.map(triggerYaml).join('---\n');
  const r = parseDefinitions(text, 'bench-triggers.yaml');
  if (r.errors.length > 0)
    throw new Error(`bench triggers do not compile: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.documents.map((d, i) => {
    if (d.kind !== 'Trigger') throw new Error(`bench document ${i} is a ${d.kind}`);
    return { ...d.trigger, version: triggers[i].version };
  });
}

export interface EngineSuiteResult extends EngineBenchmarkResult {
  /** YAML/CEL path. */
  engine_events_per_s: number;
  /** The same triggers with JavaScript closures as conditions. */
  engine_native_events_per_s: number;
}

/** Runs both paths over the same events; the YAML/CEL path is the first (its state is reported). */
export async function runEngineSuite(options: EngineBenchmarkOptions = {}): Promise<EngineSuiteResult> {
  const native = benchmarkTriggers(options.triggers ?? 50);
  const r = await runEngineBenchmark({
    ...options,
    paths: [
      { name: 'yaml/cel', triggers: compileFromYaml(native) },
      { name: 'native', triggers: native },
    ],
  });
  const [cel, js] = r.paths;
  return { ...r, engine_events_per_s: cel.events_per_s, engine_native_events_per_s: js.events_per_s };
}
