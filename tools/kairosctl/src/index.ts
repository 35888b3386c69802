export { runCli, USAGE } from './cli';
export { EXIT, CliError } from './errors';
export type { Io } from './io';
export { parseProp } from './commands';
export { parseEventLine } from './event-line';
export { lineDiff } from './diff';
