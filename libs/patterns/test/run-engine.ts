import { PatternEngine } from '../src/engine';
import type { FiredTrigger } from '../src/types';
import type { Op } from './reference-evaluator';

/** Applies the ops in order and collects every firing. */
export function runEngine(engine: PatternEngine, ops: Op[]): FiredTrigger[] {
  const out: FiredTrigger[] = [];
  for (const op of ops)
    out.push(...(op.kind === 'event' ? engine.process(op.event) : engine.advanceTo(op.to)));
  return out;
}
