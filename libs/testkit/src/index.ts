export * from './wait';
export { freePort } from './ports';
export { findBinary, kairosBinDir } from './binaries';
export { containerRuntimeAvailable } from './container-runtime';
export { ManagedProcess } from './process';
export type { ExitInfo, ManagedProcessOptions } from './process';
export * from './nats';
export * from './mongo';
export * from './fixtures';
