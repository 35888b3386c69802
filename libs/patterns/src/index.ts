export * from './ast';
export { validatePattern, validateTrigger, type PatternIssue } from './validate';
export {
  PatternEngine,
  firedTriggerId,
  type PatternEngineOptions,
  type EngineSnapshot,
} from './engine/index';
export * from './types';
export {
  runEngineBenchmark,
  type EngineBenchmarkOptions,
  type EngineBenchmarkPath,
  type EngineBenchmarkPathResult,
  type EngineBenchmarkResult,
} from './bench';
export { benchmarkEvents, benchmarkTriggers } from './bench-workload';
