/**
 * The compiled trigger form comes from @kairos/patterns (libs/patterns/src/ast.ts). Imported from the
 * ast module directly until the package index exports these types.
 */
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
} from '@kairos/patterns/dist/src/ast';
