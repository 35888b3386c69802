export { runCli, USAGE } from './cli';
export { EXIT, CliError } from './errors';
export type { Io } from './io';
export { parseEventLine, parseProp } from './commands';
export { lineDiff } from './diff';
