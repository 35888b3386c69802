import type { TriggerSpec } from '../src/ast';
import { PatternEngine, type PatternEngineOptions } from '../src/engine/index';
import type { FiredTrigger } from '../src/types';
import type { Op } from './reference-evaluator';

/** Applies the ops in order and collects every firing. */
export function runEngine(engine: PatternEngine, ops: Op[]): FiredTrigger[] {
  const out: FiredTrigger[] = [];
  for (const op of ops)
    out.push(...(op.kind === 'event' ? engine.process(op.event) : engine.advanceTo(op.to)));
  return out;
}

/**
 * Runs the ops straight through one engine, and again with `interrupt` applied between op `cut`
 * (modulo their count + 1) and the next: it returns the engine that goes on (the same one after a
 * reload, a restored copy after a checkpoint). Both lists of firings, for the caller to compare.
 */
export function runInterrupted(
  triggers: TriggerSpec[],
  options: PatternEngineOptions,
  ops: Op[],
  cut: number,
  interrupt: (engine: PatternEngine) => PatternEngine,
): { straight: FiredTrigger[]; interrupted: FiredTrigger[] } {
  const k = cut % (ops.length + 1);
  const straight = runEngine(new PatternEngine(triggers, options), ops);
  const first = new PatternEngine(triggers, options);
  const before = runEngine(first, ops.slice(0, k));
  const after = runEngine(interrupt(first), ops.slice(k));
  return { straight, interrupted: [...before, ...after] };
}

/** A checkpoint round trip: a new engine restored from the JSON of `engine`'s snapshot. */
export function restoredCopy(triggers: TriggerSpec[], options: PatternEngineOptions) {
  return (engine: PatternEngine): PatternEngine => {
    const restored = new PatternEngine(triggers, options);
    restored.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    return restored;
  };
}

/** runInterrupted with a checkpoint round trip (restoredCopy) between op `cut` and the next. */
export function runRestoredAt(
  triggers: TriggerSpec[],
  options: PatternEngineOptions,
  ops: Op[],
  cut: number,
): { straight: FiredTrigger[]; interrupted: FiredTrigger[] } {
  return runInterrupted(triggers, options, ops, cut, restoredCopy(triggers, options));
}
