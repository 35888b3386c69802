// Preloaded with `node --require <path>/register.js` so instrumentation patches grpc-js and mongodb
// before the service imports them.
import { startTelemetry } from './sdk';

startTelemetry();
