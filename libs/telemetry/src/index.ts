export { startTelemetry, shutdownTelemetry } from './sdk';
export * from './propagation';
export * from './metrics';
export * from './testing';
/** Absolute path of the preload module, for `node --require`. */
export const TELEMETRY_PRELOAD = require.resolve('./register');
