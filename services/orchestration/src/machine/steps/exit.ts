/** `exit`: the run completes here, with the step's reason. */
import type { Instruction } from '../../domain/program';
import { complete, type RunCursor } from '../cursor';
import type { Decided } from '../effects';

export function decideExit(c: RunCursor, ins: Extract<Instruction, { op: 'exit' }>, nowMs: number): Decided {
  const reason = ins.step.reason ?? 'exit';
  return {
    effects: complete(
      c,
      nowMs,
      { reason, pc: c.pc, stepId: ins.step.id },
      { at: new Date(nowMs), event: 'completed', step: ins.step.id, detail: reason },
    ),
    stop: true,
  };
}

/** The end of the program: the run completes. */
export function decideEnd(c: RunCursor, nowMs: number): Decided {
  return {
    effects: complete(c, nowMs, { pc: c.pc, stepId: '' }, { at: new Date(nowMs), event: 'completed' }),
    stop: true,
  };
}
