/**
 * `wait`: a duration, a local time of day or a timing experiment's variant. A wait already due goes
 * on at once; otherwise the run sleeps on a step timer and resumes at the next instruction.
 */
import { stepIdOf, type Instruction } from '../../domain/program';
import { waitDue } from '../../domain/timing';
import { sleep, type RunCursor } from '../cursor';
import type { Decided } from '../effects';

export function decideWait(c: RunCursor, ins: Extract<Instruction, { op: 'wait' }>, nowMs: number): Decided {
  const due = waitDue(ins.step, c.run._id, nowMs, c.zone);
  if (due.variant) c.timingVariant = due.variant;
  if (due.dueAt > nowMs) {
    const next = c.program[c.pc + 1];
    return {
      effects: sleep(c, nowMs, {
        resumeAt: c.pc + 1,
        resumeStepId: next ? stepIdOf(next) : '',
        dueAt: due.dueAt,
        stepId: ins.step.id,
        set: c.timingVariant ? { timingVariant: c.timingVariant } : {},
        ...(due.variant ? { detail: `timing variant ${due.variant}` } : {}),
      }),
      stop: true,
    };
  }
  if (c.timingVariant && c.timingVariant !== c.run.timingVariant) {
    c.progress.set.timingVariant = c.timingVariant;
    c.run = { ...c.run, timingVariant: c.timingVariant };
  }
  c.pc++;
  return { effects: [], stop: false };
}
