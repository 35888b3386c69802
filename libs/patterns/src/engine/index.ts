export { PatternEngine } from './pattern-engine';
export type { PatternEngineOptions } from './core';
export type { EngineSnapshot } from './snapshot';
export { firedTriggerId } from './fired-id';
export { iso } from './time-format';
