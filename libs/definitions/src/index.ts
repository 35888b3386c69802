export * from './errors';
export * from './time';
export * from './types';
export * from './schema';
export { compileCel, toCelValue, CelEvaluationError, EVENT_FIELDS } from './cel';
export { CEL_FALLBACK, type CompiledEval, type JsProgram, type VariableAccess } from './cel-js';
export type { CelScope, CompiledCel, CelCompileResult, ExpectedType, VariableKind } from './cel';
export {
  boundAliases,
  compileTriggerDocument,
  compileWorkflowDocument,
  DEFAULT_BEST_TIME_MAX_MS,
} from './compile';
export type { WorkflowCompileOptions } from './compile';
export {
  compileDocument,
  loadDefinitionsFromPath,
  parseDefinitions,
  structuralIssues,
  validateSources,
} from './validate';
export type { SourceText, ValidateOptions } from './validate';
export * from './patterns';
export {
  createMemoryDefinitionStore,
  definitionKey,
  DefinitionApplyError,
  DEFINITIONS_BUCKET,
  DEFINITIONS_HISTORY,
  DEFINITIONS_READER,
  KvDefinitionStore,
  MemoryKvBackend,
} from './store';
export type {
  ApplyResult,
  DefinitionChange,
  DefinitionStore,
  HistoryEntry,
  KvBackend,
  RawEntry,
  StoredDefinition,
  WatchHandle,
} from './store';
export { NatsKvBackend, openNatsDefinitionStore } from './kv-store';
export type { NatsDefinitionStoreOptions } from './kv-store';
export { DEFINITION_LIMITS } from './limits';
export { WorkflowRegistry } from './workflow-registry';
export type { RegistryLogger, WorkflowSources } from './workflow-registry';
