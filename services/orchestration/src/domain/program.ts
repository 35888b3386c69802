import type {
  BranchStep,
  EscalateStep,
  ExitStep,
  SendStep,
  WaitStep,
  WorkflowSpec,
  WorkflowStep,
} from '@kairos/definitions';

/**
 * A workflow's steps flattened into a linear program with jumps, so a run's position is one number
 * (persisted with the run) rather than a path through nested branches.
 */
export type Instruction =
  | { op: 'wait'; step: WaitStep }
  | { op: 'send'; step: SendStep }
  | { op: 'escalate'; step: EscalateStep }
  | { op: 'exit'; step: ExitStep }
  /** Evaluates `step.when`; continues at pc+1 when true, at `elseAt` otherwise. */
  | { op: 'branch'; step: BranchStep; elseAt: number }
  | { op: 'jump'; to: number; stepId: string };

export function stepIdOf(i: Instruction): string {
  return i.op === 'jump' ? i.stepId : i.step.id;
}

export function compileProgram(steps: readonly WorkflowStep[]): Instruction[] {
  const out: Instruction[] = [];
  const emit = (list: readonly WorkflowStep[]) => {
    for (const step of list) {
      switch (step.kind) {
        case 'branch': {
          const branch: Instruction = { op: 'branch', step, elseAt: -1 };
          out.push(branch);
          emit(step.then);
          const jump: Instruction = { op: 'jump', to: -1, stepId: `${step.id}.end` };
          out.push(jump);
          branch.elseAt = out.length;
          emit(step.else);
          jump.to = out.length;
          break;
        }
        case 'wait':
        case 'send':
        case 'escalate':
        case 'exit':
          // One instruction named after the step kind (the cast pairs each kind with its step type).
          out.push({ op: step.kind, step } as Instruction);
          break;
      }
    }
  };
  emit(steps);
  return out;
}

const programs = new WeakMap<WorkflowSpec, Instruction[]>();

export function programOf(workflow: WorkflowSpec): Instruction[] {
  let p = programs.get(workflow);
  if (!p) {
    p = compileProgram(workflow.steps);
    programs.set(workflow, p);
  }
  return p;
}

/**
 * Where a run resumes after the workflow may have been reloaded: the same pc if it still holds the
 * same step, else the pc of that step id in the new version, else undefined (the run cannot resume).
 */
export function resumePc(program: readonly Instruction[], pc: number, stepId: string): number | undefined {
  if (pc >= program.length) return pc;
  if (program[pc] && stepIdOf(program[pc]) === stepId) return pc;
  const found = program.findIndex((i) => stepIdOf(i) === stepId);
  return found >= 0 ? found : undefined;
}
