import type { DefinitionError } from './errors';
import type { EngineEvent, TriggerSpec } from './patterns';
import type { Channel, DefinitionKind } from './schema';
import type { TimeOfDay } from './time';

/** A definition document as written (the YAML as plain data). */
export interface DefinitionDocument {
  apiVersion: 'kairos/v1';
  kind: DefinitionKind;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface SourceLocation {
  file: string;
  /** 0-based index of the document in its file. */
  documentIndex: number;
  /** 1-based line of the document start. */
  line: number;
}

/** What a workflow expression can see at runtime. */
export interface WorkflowContext {
  /** Profile snapshot (plain object). */
  profile?: Record<string, unknown>;
  /** Events bound by the trigger's aliases. */
  bindings?: Readonly<Record<string, EngineEvent>>;
  /**
   * `event`: for `conditions`/steps the trigger's last matched event; for `conversion.value` the
   * conversion event.
   */
  event?: EngineEvent;
  /** Information about the firing (name, priority, firedAt, ...). */
  trigger?: Record<string, unknown>;
}

export type EvalOutcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** A compiled CEL condition. Evaluation errors make it false (`test`) and are reported by `evaluate`. */
export interface Predicate {
  source: string;
  test(ctx: WorkflowContext): boolean;
  evaluate(ctx: WorkflowContext): EvalOutcome<boolean>;
}

/** A compiled CEL value expression (numbers). */
export interface ValueExpression {
  source: string;
  evaluate(ctx: WorkflowContext): EvalOutcome<number>;
}

interface StepBase {
  /** Stable id of the step inside the workflow, e.g. `steps[2]` or `steps[1].then[0]`. */
  id: string;
}

export interface WaitVariant {
  name: string;
  durationMs: number;
  /** Relative weight (default 1). */
  weight: number;
}

export type WaitStep = StepBase & { kind: 'wait' } & (
    | { mode: 'duration'; durationMs: number }
    | { mode: 'until'; until: TimeOfDay }
    /** Until the customer's best hour (UTC) to be reached, at most `maxDelayMs` from now. */
    | { mode: 'best-time'; maxDelayMs: number }
    | { mode: 'variants'; variants: WaitVariant[] }
  );

export interface BranchStep extends StepBase {
  kind: 'branch';
  when: Predicate;
  then: WorkflowStep[];
  else: WorkflowStep[];
}

export interface SendVariant {
  when: Predicate;
  template: string;
}

export interface SendStep extends StepBase {
  kind: 'send';
  /** Ordered fallback list, or 'preferred' (the customer's preferred channel). */
  channels: Channel[] | 'preferred';
  template?: string;
  /** The first variant whose condition holds replaces `template`. */
  variants: SendVariant[];
  /** Inline Liquid templates. */
  subject?: string;
  body?: string;
}

export type EscalationTarget = { kind: 'webhook' | 'slack' | 'email'; target: string };

export interface EscalateStep extends StepBase {
  kind: 'escalate';
  when?: Predicate;
  to: EscalationTarget;
  /** Liquid template. */
  message: string;
}

export interface ExitStep extends StepBase {
  kind: 'exit';
  reason?: string;
}

export type WorkflowStep = WaitStep | BranchStep | SendStep | EscalateStep | ExitStep;

export interface WorkflowSpec {
  name: string;
  /** Increases on every applied change (0 when not from the store). */
  version: number;
  labels: Record<string, string>;
  description?: string;
  /** Trigger names that start this workflow. */
  triggers: string[];
  /** Aliases of the trigger(s) visible to expressions (bound by every listed trigger). */
  aliases: string[];
  conditions?: Predicate;
  /** 0-100, default 50. */
  priority: number;
  /** Control-group percentage 0-100 (default 0). */
  holdoutPercent: number;
  transactional: boolean;
  frequencyCap?: { max: number; perMs: number };
  quietHours?: { from: TimeOfDay; to: TimeOfDay; action: 'defer' | 'drop' };
  conversion?: { event: string; withinMs: number; value?: ValueExpression };
  cost: Partial<Record<Channel, number>>;
  /** Arbitration settle window. */
  settleMs?: number;
  steps: WorkflowStep[];
}

export type CompiledDefinition =
  | {
      kind: 'Trigger';
      name: string;
      document: DefinitionDocument;
      source?: SourceLocation;
      trigger: TriggerSpec;
    }
  | {
      kind: 'Workflow';
      name: string;
      document: DefinitionDocument;
      source?: SourceLocation;
      workflow: WorkflowSpec;
    };

export interface ValidationResult {
  /** Documents that validated (all of them when `errors` is empty). */
  documents: CompiledDefinition[];
  errors: DefinitionError[];
}
