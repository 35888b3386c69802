// Builders shared by the engine's unit tests: events, conditions, triggers and a runner.
import type { Condition, EngineEvent, Pattern, TriggerSpec } from '../src/ast';
import type { PatternEngine } from '../src/engine/index';
import type { FiredTrigger } from '../src/types';

export const MIN = 60_000;

export function ev(
  id: string,
  type: string,
  time: number,
  properties: Record<string, unknown> = {},
  customerId = 'c1',
): EngineEvent {
  return { id, type, customerId, time, properties };
}

export function cond(source: string, evaluate: Condition['evaluate']): Condition {
  return { source, evaluate };
}

export function trigger(name: string, pattern: Pattern, extra: Partial<TriggerSpec> = {}): TriggerSpec {
  return { name, version: 1, priority: 50, cooldownMs: 0, pattern, ...extra };
}

/** Feeds events (and `{ advance }` steps) and returns every firing. */
export function run(engine: PatternEngine, inputs: Array<EngineEvent | { advance: number }>): FiredTrigger[] {
  const out: FiredTrigger[] = [];
  for (const i of inputs) out.push(...('advance' in i ? engine.advanceTo(i.advance) : engine.process(i)));
  return out;
}

export const ids = (f: FiredTrigger): string[] =>
  f.matched.filter((m) => m.event !== undefined).map((m) => m.event!.id);

export const priceAtLeast = (n: number) =>
  cond(`event.properties.price >= ${n}`, (c) => (c.event.properties.price as number) >= n);
export const sameSku = (alias: string) =>
  cond(
    `event.properties.sku == ${alias}.properties.sku`,
    (c) => c.event.properties.sku === c.bindings[alias].properties.sku,
  );

/** A leaf matching one event of `type` (`extra`: alias, condition). */
export const event = (type: string, extra: Partial<Extract<Pattern, { kind: 'event' }>> = {}): Pattern => ({
  kind: 'event',
  type,
  ...extra,
});

/** The steps in order. */
export const sequence = (...steps: Pattern[]): Pattern => ({ kind: 'sequence', steps });

/** No event of `type` for `forMs`. */
export const absent = (type: string, forMs: number): Pattern => ({
  kind: 'absent',
  pattern: { kind: 'event', type },
  forMs,
});
