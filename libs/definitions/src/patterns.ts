/** The compiled trigger form comes from @kairos/patterns (libs/patterns/src/ast.ts). */
export type {
  AbsentPattern,
  AllPattern,
  AnyPattern,
  Condition,
  ConditionContext,
  CountPattern,
  EngineEvent,
  EventPattern,
  Pattern,
  SequencePattern,
  TriggerSpec,
} from '@kairos/patterns';
