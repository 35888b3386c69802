import pino, { type Logger } from 'pino';
import { activeTraceIds } from '@kairos/telemetry';

export type { Logger };

/** JSON logs with the active trace and span ids on every line. */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => activeTraceIds() ?? {},
    formatters: { level: (label) => ({ level: label }) },
  });
}
