export * from './errors';
export * from './time';
export * from './types';
export * from './schema';
export { compileCel, toCelValue, CelEvaluationError, EVENT_FIELDS } from './cel';
export type { CelScope, CompiledCel, CelCompileResult, ExpectedType, VariableKind } from './cel';
export { boundAliases, compileTriggerDocument, compileWorkflowDocument } from './compile';
export type { WorkflowCompileOptions } from './compile';
export {
  compileDocument,
  loadDefinitionsFromPath,
  parseDefinitions,
  structuralIssues,
  validateSources,
} from './validate';
export type { SourceText, ValidateOptions } from './validate';
export type { TriggerSpec, Pattern, Condition, ConditionContext, EngineEvent } from './patterns';
