export * from './ast';
export { validatePattern, validateTrigger, type PatternIssue } from './validate';
export {
  PatternEngine,
  firedTriggerId,
  type PatternEngineOptions,
  type EngineSnapshot,
} from './engine/index';
export * from './types';
export { runEngineBenchmark, type EngineBenchmarkOptions, type EngineBenchmarkResult } from './bench';
