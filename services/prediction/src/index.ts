export * from './domain/features';
export * from './domain/learner';
export * from './domain/bgnbd';
export * from './domain/metrics';
export * from './domain/hysteresis';
export * from './domain/send-time';
export * from './domain/engine';
export * from './domain/offline';
