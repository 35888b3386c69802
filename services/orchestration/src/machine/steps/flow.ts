/** Control flow of a program: `branch` (a step's `when`) and the `jump` that closes its `then`. */
import type { Instruction } from '../../domain/program';
import type { RunCursor } from '../cursor';
import type { Decided } from '../effects';

const GO_ON: Decided = { effects: [], stop: false };

export function decideBranch(c: RunCursor, ins: Extract<Instruction, { op: 'branch' }>): Decided {
  c.pc = ins.step.when.test(c.ctx) ? c.pc + 1 : ins.elseAt;
  return GO_ON;
}

export function decideJump(c: RunCursor, ins: Extract<Instruction, { op: 'jump' }>): Decided {
  c.pc = ins.to;
  return GO_ON;
}
