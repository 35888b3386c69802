/**
 * The run state machine's step: run (cursor) + instruction + facts → decision. One module per
 * step kind (steps/); this only dispatches. The executor gathers the facts a decision needs,
 * applies it, and asks for the next, until one stops the run.
 */
import type { RunCursor } from './cursor';
import type { StepDecision } from './effects';
import { decideEscalate } from './steps/escalate';
import { decideEnd, decideExit } from './steps/exit';
import { decideBranch, decideJump } from './steps/flow';
import { decideSend } from './steps/send';
import { decideWait } from './steps/wait';

export function decideStep(c: RunCursor, nowMs: number): StepDecision {
  const ins = c.program[c.pc];
  if (!ins) return decideEnd(c, nowMs);
  switch (ins.op) {
    case 'jump':
      return decideJump(c, ins);
    case 'branch':
      return decideBranch(c, ins);
    case 'exit':
      return decideExit(c, ins, nowMs);
    case 'wait':
      return decideWait(c, ins, nowMs);
    case 'escalate':
      return decideEscalate(c, ins, nowMs);
    case 'send':
      return decideSend(c, ins, nowMs);
  }
}
