/**
 * `wait`: a duration, a local time of day, a timing experiment's variant or the customer's best
 * hour (asked of prediction first: a fact). A wait already due goes on at once; otherwise the run
 * sleeps on a step timer and resumes at the next instruction.
 */
import { stepIdOf, type Instruction } from '../../domain/program';
import { waitDue, type BestHour } from '../../domain/timing';
import { sleep, type RunCursor } from '../cursor';
import type { Decided, Effect, StepDecision } from '../effects';

type WaitInstruction = Extract<Instruction, { op: 'wait' }>;

export function decideWait(c: RunCursor, ins: WaitInstruction, nowMs: number): StepDecision {
  if (ins.step.mode !== 'best-time') return decideWaitUntil(c, ins, nowMs);
  return {
    need: 'best-hour',
    resume: (best) => {
      if ('unavailable' in best) {
        const note: Effect = {
          do: 'log',
          level: 'warn',
          fields: { runId: c.run._id, step: ins.step.id, err: best.unavailable },
          message: 'best send time unavailable; not waiting',
        };
        const d = decideWaitUntil(c, ins, nowMs);
        return { ...d, effects: [note, ...d.effects] };
      }
      return decideWaitUntil(c, ins, nowMs, best);
    },
  };
}

function decideWaitUntil(c: RunCursor, ins: WaitInstruction, nowMs: number, best?: BestHour): Decided {
  const due = waitDue(ins.step, c.run._id, nowMs, c.zone, best);
  if (due.variant) c.timingVariant = due.variant;
  if (best) c.sendTimeOptimized = true;
  if (due.dueAt > nowMs) {
    const next = c.program[c.pc + 1];
    return {
      effects: sleep(c, nowMs, {
        resumeAt: c.pc + 1,
        resumeStepId: next ? stepIdOf(next) : '',
        dueAt: due.dueAt,
        stepId: ins.step.id,
        set: {
          ...(c.timingVariant ? { timingVariant: c.timingVariant } : {}),
          ...(c.sendTimeOptimized ? { sendTimeOptimized: true } : {}),
        },
        ...(due.variant ? { detail: `timing variant ${due.variant}` } : {}),
        ...(best
          ? {
              detail: `best hour ${String(best.bestHour).padStart(2, '0')}:00 UTC (evidence ${best.evidence.toFixed(1)})`,
            }
          : {}),
      }),
      stop: true,
    };
  }
  if (c.timingVariant && c.timingVariant !== c.run.timingVariant) {
    c.progress.set.timingVariant = c.timingVariant;
    c.run = { ...c.run, timingVariant: c.timingVariant };
  }
  if (c.sendTimeOptimized && !c.run.sendTimeOptimized) {
    c.progress.set.sendTimeOptimized = true;
    c.run = { ...c.run, sendTimeOptimized: true };
  }
  c.pc++;
  return { effects: [], stop: false };
}
